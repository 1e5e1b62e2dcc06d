"""The look the classroom view settings give a figure: numbers written in the cells of small heatmaps, high-contrast
scales, lines and black type, presenter-size type. Pure functions of the figure: no streamlit here (the settings
themselves, sidebar toggles bound to the URL, live in `app_support.show`)."""

from __future__ import annotations

import re

import numpy as np

from attnviz.plots._base import Figure, Spec, high_contrast_scale
from attnviz.plots.cells import CELLS_NOTE, cells_fit

CELLS_VIEW_MAX = 20  # "numbers in cells" writes values in heatmaps up to this many rows and columns
PRESENT_FONT = 20  # figure font size in presenter mode (the page's own text is scaled by the app's presenter CSS)
_DECIMALS = re.compile(r"%\{z:\.(\d+)f\}")


def styled(fig: Figure, *, cells: bool = False, contrast: bool = False, present: bool = False) -> Figure:
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
            if cells:
                _write_cells(spec, trace)
            stronger = high_contrast_scale(trace.get("colorscale")) if contrast else None
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
                stronger = high_contrast_scale(axis.get("colorscale"))
                if stronger is not None:
                    axis["colorscale"] = stronger
        black_type(spec)
    if present:
        presenter_type(spec)
    return Figure(spec)


def _shape(z: object) -> tuple[int, ...]:
    """The shape of a heatmap's z: a list of rows, an array, or plotly's packed {"bdata", "shape"} form."""
    if isinstance(z, dict):
        return tuple(int(n) for n in str(z.get("shape", "")).split(",") if n.strip())
    return np.shape(z) if z is not None else ()


def _write_cells(spec: Spec, trace: Spec) -> None:
    """Write its values in a heatmap trace of at most `CELLS_VIEW_MAX` rows and columns that has none yet, with the
    decimals its hover uses, where they fit the cells; where they do not, a note under the figure says so."""
    shape = _shape(trace.get("z"))
    if "texttemplate" in trace or len(shape) != 2 or max(shape) > CELLS_VIEW_MAX:
        return
    found = _DECIMALS.search(str(trace.get("hovertemplate", "")))
    decimals = int(found.group(1)) if found else 2
    notes = spec["layout"].get("annotations") or []
    if cells_fit(spec, trace, decimals):
        # no font size: plotly.js fits the numbers to the cells as drawn, and picks a dark or light font
        trace["texttemplate"] = f"%{{z:.{decimals}f}}"
    elif CELLS_NOTE not in notes:
        spec["layout"]["annotations"] = [*notes, CELLS_NOTE]
        spec["layout"]["margin"] = (spec["layout"].get("margin") or {}) | {"b": 34}


def black_type(spec: Spec) -> None:
    """Black text everywhere in a figure on white, in place: Streamlit's chart theme greys its axis titles and
    ticks, so each part gets an explicit colour."""
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


def sized(font: object, size: int) -> dict:
    """A font spec (or nothing) with its size set to ``size``."""
    return (font if isinstance(font, dict) else {}) | {"size": size}


def presenter_type(spec: Spec) -> None:
    """Large type in every part of a figure, in place, and a figure 1.25 times as tall (at most 1100 px):
    Streamlit's chart theme sets its own sizes for titles, ticks and legends, so each gets an explicit size (the
    layout's font alone would not reach them)."""
    layout = spec["layout"]
    size = max(int(sized(layout.get("font"), 15)["size"]), PRESENT_FONT)
    small = size - 2  # ticks and notes
    layout["font"] = sized(layout.get("font"), size)
    layout["hoverlabel"] = {"font": {"size": size}}
    title = layout.get("title")
    if isinstance(title, dict):
        title["font"] = sized(title.get("font"), size + 2)
    for name, axis in layout.items():
        if isinstance(axis, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            axis["tickfont"] = sized(axis.get("tickfont"), small)
            if isinstance(axis.get("title"), dict):
                axis["title"]["font"] = sized(axis["title"].get("font"), size)
    legend = layout.get("legend") or {}
    layout["legend"] = legend | {"font": sized(legend.get("font"), small)}
    for note in layout.get("annotations") or []:
        if isinstance(note, dict):
            note["font"] = sized(note.get("font"), max(int(sized(note.get("font"), small)["size"]), small))
    for trace in spec.get("data", []):
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"]["tickfont"] = sized(trace["colorbar"].get("tickfont"), small)
    if isinstance(layout.get("height"), int | float):
        layout["height"] = int(min(1100, layout["height"] * 1.25))
