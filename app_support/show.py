"""How every page shows things: the one import the pages use (``from app_support import show``).

Pages call these instead of ``st.header`` / ``st.plotly_chart`` so that classroom features (exports named after the
sentence and settings, presenter mode, the palette) live in one place. Each concern has its own module, re-exported
here: the view settings and their CSS (`app_support.view`), sections and presenter mode's steps (`steps`), the link
to this view and file names (`links`), charts (`charts`), CSV downloads (`downloads`). The figure theming for the
view settings (`styled`) is below.
"""

from __future__ import annotations

import re

import numpy as np

from app_support.charts import chart, prefetch_charts
from app_support.downloads import matrix_csv, matrix_download
from app_support.links import (
    LOOPBACK,
    SKIP_PARAMS,
    current_params,
    file_stem,
    link,
    query_string,
    refresh_link,
    share_link,
    unused,
)
from app_support.steps import begin_page, section, step
from app_support.view import (
    CELLS,
    CONTRAST,
    OWN_HTML,
    PRESENT,
    VIEW_PARAMS,
    page_style,
    presenting,
    view_settings,
)
from attnviz import plots

__all__ = [
    "CELLS",
    "CELL_TEXT_MAX",
    "CONTRAST",
    "HIGH_CONTRAST_DIVERGING",
    "HIGH_CONTRAST_SEQUENTIAL",
    "LOOPBACK",
    "OWN_HTML",
    "PRESENT",
    "PRESENT_FONT",
    "SKIP_PARAMS",
    "VIEW_PARAMS",
    "begin_page",
    "chart",
    "current_params",
    "file_stem",
    "link",
    "matrix_csv",
    "matrix_download",
    "page_style",
    "prefetch_charts",
    "presenting",
    "query_string",
    "refresh_link",
    "section",
    "share_link",
    "step",
    "styled",
    "unused",
    "view_settings",
]

CELL_TEXT_MAX = 20  # "numbers in cells" writes values in heatmaps up to this many rows and columns
PRESENT_FONT = 20  # figure font size in presenter mode (the page's own text is scaled by `_PRESENT_CSS`)
HIGH_CONTRAST_DIVERGING, HIGH_CONTRAST_SEQUENTIAL = plots.HIGH_CONTRAST_DIVERGING, plots.HIGH_CONTRAST_SEQUENTIAL


# --- figures ------------------------------------------------------------------------------------------------------
_DECIMALS = re.compile(r"%\{z:\.(\d+)f\}")


def _shape(z: object) -> tuple[int, ...]:
    """The shape of a heatmap's z: a list of rows, an array, or plotly's packed {"bdata", "shape"} form."""
    if isinstance(z, dict):
        return tuple(int(n) for n in str(z.get("shape", "")).split(",") if n.strip())
    return np.shape(z) if z is not None else ()


def styled(fig: plots.Figure, *, cells: bool = False, contrast: bool = False, present: bool = False) -> plots.Figure:
    """The figure as the view settings want it: values written in the cells of small heatmaps, high-contrast
    scales and lines, presenter-size type.

    Returns the figure itself when no setting changes it (no copy is made), else a new figure.
    """
    if not (cells or contrast or present):
        return fig
    spec = fig.to_dict()  # a copy: the original is left alone
    spec.setdefault("layout", {})
    for trace in spec.get("data", []):
        kind = trace.get("type")
        if kind == "heatmap":
            shape = _shape(trace.get("z"))
            if cells and "texttemplate" not in trace and len(shape) == 2 and max(shape) <= CELL_TEXT_MAX:
                found = _DECIMALS.search(str(trace.get("hovertemplate", "")))
                decimals = int(found.group(1)) if found else 2
                notes = spec["layout"].get("annotations") or []
                if plots.cells_fit(spec, trace, decimals):
                    # no font size: plotly.js fits the numbers to the cells as drawn, and picks a dark or light font
                    trace["texttemplate"] = f"%{{z:.{decimals}f}}"
                elif plots.CELLS_NOTE not in notes:
                    spec["layout"]["annotations"] = [*notes, plots.CELLS_NOTE]
                    spec["layout"]["margin"] = (spec["layout"].get("margin") or {}) | {"b": 34}
            stronger = plots.high_contrast_scale(trace.get("colorscale")) if contrast else None
            if stronger is not None:  # the value scales only: a grey cover or a palette of categories stays
                trace["colorscale"] = stronger
        elif contrast and kind in {"scatter", "scattergl"}:
            # only plotly's default widths and sizes grow: a width or size the figure set may carry a value (the
            # head view draws stronger attention as thicker lines)
            trace.setdefault("line", {}).setdefault("width", 3.5)
            trace.setdefault("marker", {}).setdefault("size", 9)
        elif contrast and kind == "bar":
            trace.setdefault("marker", {})["line"] = {"color": "#000000", "width": 1.5}
    if contrast:
        for name, axis in spec["layout"].items():  # a colour scale shared by several traces (a grid of maps)
            if name.startswith("coloraxis") and isinstance(axis, dict):
                stronger = plots.high_contrast_scale(axis.get("colorscale"))
                if stronger is not None:
                    axis["colorscale"] = stronger
        _black_type(spec)
    if present:
        _presenter_type(spec)
    return plots.Figure(spec)


def _black_type(spec: dict) -> None:
    """Black text everywhere in a figure on white: Streamlit's chart theme greys its axis titles and ticks, so
    each part gets an explicit colour."""
    black = {"color": "#000000"}
    layout = spec["layout"]
    layout |= {"paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff"}
    layout["font"] = (layout.get("font") or {}) | black
    if isinstance(layout.get("title"), dict):
        layout["title"]["font"] = (layout["title"].get("font") or {}) | black
    for name, axis in layout.items():
        if isinstance(axis, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            axis["tickfont"] = (axis.get("tickfont") or {}) | black
            axis["color"] = "#000000"
            if isinstance(axis.get("title"), dict):
                axis["title"]["font"] = (axis["title"].get("font") or {}) | black
    legend = layout.get("legend") or {}
    layout["legend"] = legend | {"font": (legend.get("font") or {}) | black}
    for trace in spec.get("data", []):
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"]["tickfont"] = (trace["colorbar"].get("tickfont") or {}) | black
            if isinstance(trace["colorbar"].get("title"), dict):
                trace["colorbar"]["title"]["font"] = (trace["colorbar"]["title"].get("font") or {}) | black


def _sized(font: object, size: int) -> dict:
    return (font if isinstance(font, dict) else {}) | {"size": size}


def _presenter_type(spec: dict) -> None:
    """Large type in every part of a figure: Streamlit's chart theme sets its own sizes for titles, ticks and
    legends, so each gets an explicit size (the layout's font alone would not reach them)."""
    layout = spec["layout"]
    size = max(int(_sized(layout.get("font"), 15)["size"]), PRESENT_FONT)
    small = size - 2  # ticks and notes
    layout["font"] = _sized(layout.get("font"), size)
    layout["hoverlabel"] = {"font": {"size": size}}
    title = layout.get("title")
    if isinstance(title, dict):
        title["font"] = _sized(title.get("font"), size + 2)
    for name, axis in layout.items():
        if isinstance(axis, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            axis["tickfont"] = _sized(axis.get("tickfont"), small)
            if isinstance(axis.get("title"), dict):
                axis["title"]["font"] = _sized(axis["title"].get("font"), size)
    legend = layout.get("legend") or {}
    layout["legend"] = legend | {"font": _sized(legend.get("font"), small)}
    for note in layout.get("annotations") or []:
        if isinstance(note, dict):
            note["font"] = _sized(note.get("font"), max(int(_sized(note.get("font"), small)["size"]), small))
    for trace in spec.get("data", []):
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"]["tickfont"] = _sized(trace["colorbar"].get("tickfont"), small)
    if isinstance(layout.get("height"), int | float):
        layout["height"] = int(min(1100, layout["height"] * 1.25))
