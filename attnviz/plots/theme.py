"""The look the classroom view settings give a figure: numbers written in the cells of small heatmaps, high-contrast
scales, lines and black type, presenter-size type, light ink on the dark theme's background. Pure functions of the
figure: no streamlit here (the settings themselves, sidebar toggles bound to the URL, live in `kit.view`)."""

from __future__ import annotations

import re

import numpy as np

from attnviz.plots._base import Figure, Spec, high_contrast_scale
from attnviz.plots.cells import CELLS_NOTE, cells_fit

CELLS_VIEW_MAX = 20  # "numbers in cells" writes values in heatmaps up to this many rows and columns
PRESENT_FONT = 20  # figure font size in presenter mode (the page's own text is scaled by the app's presenter CSS)
# The dark theme: the figure stands on the page's own background (Streamlit's chart theme draws the axes, ticks and
# titles in the theme's text colour), so the builders' own dark inks drawn on the paper get light ones, each at
# least 4.5:1 on the dark background (tests/attnviz/plots/test_theme_dark.py). Ink on a heatmap's cells (written
# in a colour chosen for the cell) and inside the white boxes of the head diagram stays.
DARK_BACKGROUND = "#0e1117"  # .streamlit/config.toml, [theme.dark]
DARK_INK = {"#000000": "#ffffff", "#222222": "#e6e6e6", "#333333": "#d0d0d0", "#555555": "#c4c4c4"}
AXIS_INK = "#555867"  # the light theme's tick labels and axis titles: 7.05:1 on white (Streamlit's gray80)
_WHITE_BOXES = {"rgba(255,255,255,0.85)": "rgba(14,17,23,0.85)"}  # a note's box over the lines
_DECIMALS = re.compile(r"%\{z:\.(\d+)f\}")


def styled(
    fig: Figure, *, cells: bool = False, contrast: bool = False, present: bool = False, dark: bool = False
) -> Figure:
    """The figure as the view settings want it: values written in the cells of small heatmaps, high-contrast
    scales and lines, presenter-size type, light ink for the dark theme (`dark`).

    Returns the figure itself when no setting changes it (no copy is made), else a new figure.
    """
    if not (cells or contrast or present or dark):
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
            trace.setdefault("marker", {})["line"] = {"color": "#ffffff" if dark else "#000000", "width": 1.5}
    if contrast:
        for name, axis in spec["layout"].items():  # a colour scale shared by several traces (a grid of maps)
            if name.startswith("coloraxis") and isinstance(axis, dict):
                stronger = high_contrast_scale(axis.get("colorscale"))
                if stronger is not None:
                    axis["colorscale"] = stronger
        black_type(spec, ink="#ffffff" if dark else "#000000", paper="#000000" if dark else "#ffffff")
    if dark:
        dark_ink(spec)
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


def _light(colour: object) -> object:
    """`DARK_INK`'s light ink for one of the builders' dark ones (a colour or a list of them); others stay."""
    if isinstance(colour, list):
        return [_light(c) for c in colour]
    return DARK_INK.get(colour.lower(), colour) if isinstance(colour, str) else colour


def dark_ink(spec: Spec) -> None:
    """Light ink for the dark theme, in place: the notes, reference lines and arrows drawn on the paper, and the
    lines, markers and words of scatter and bar traces. A heatmap's cells and what is written on them keep theirs."""
    layout = spec["layout"]
    heatmaps = any(trace.get("type") == "heatmap" for trace in spec.get("data", []))
    if not heatmaps and str(layout.get("plot_bgcolor", "")).lower() in {"white", "#ffffff", "#fff"}:
        layout["plot_bgcolor"] = DARK_BACKGROUND  # the head view's words, now light, stood on white (a map's white
        # lines between its cells stay)
    for note in layout.get("annotations") or []:
        if isinstance(note, dict):
            if isinstance(note.get("font"), dict) and "color" in note["font"]:
                note["font"]["color"] = _light(note["font"]["color"])
            if "arrowcolor" in note:
                note["arrowcolor"] = _light(note["arrowcolor"])
            if note.get("bgcolor") in _WHITE_BOXES:
                note["bgcolor"] = _WHITE_BOXES[note["bgcolor"]]
    for shape in layout.get("shapes") or []:
        line = shape.get("line") if isinstance(shape, dict) else None
        if isinstance(line, dict) and str(line.get("color", "")).lower() == "#555555":  # a dotted reference line
            line["color"] = _light(line["color"])
    legend = layout.get("legend")
    if isinstance(legend, dict) and legend.get("bgcolor") in _WHITE_BOXES:
        legend["bgcolor"] = _WHITE_BOXES[legend["bgcolor"]]
    for trace in spec.get("data", []):
        if trace.get("type") not in {"scatter", "scattergl", "bar"}:
            continue
        for part in ("line", "marker", "textfont"):
            if isinstance(trace.get(part), dict) and "color" in trace[part]:
                trace[part]["color"] = _light(trace[part]["color"])


def black_type(spec: Spec, *, ink: str = "#000000", paper: str = "#ffffff") -> None:
    """Black text everywhere in a figure on white (or ``ink`` on ``paper``), in place: Streamlit's chart theme
    greys its axis titles and ticks, so each part gets an explicit colour."""
    layout = spec["layout"]
    layout |= {"paper_bgcolor": paper, "plot_bgcolor": paper}
    layout["font"] = (layout.get("font") or {}) | {"color": ink}
    if isinstance(layout.get("title"), dict):
        layout["title"]["font"] = (layout["title"].get("font") or {}) | {"color": ink}
    for name, axis in layout.items():
        if isinstance(axis, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            axis["color"] = ink
    axis_type(spec, ink)


def axis_type(spec: Spec, ink: str = AXIS_INK) -> None:
    """The text around a figure's plot in ``ink``, in place: tick labels, axis titles, the legend, colour bars.
    Streamlit's chart theme draws them in its grey #808495, 3.72:1 on white (WCAG AA asks 4.5:1); `AXIS_INK` is
    7.05:1. The figure's title and the words in its cells keep their colours."""
    colour = {"color": ink}
    layout = spec["layout"]
    bars = [t["colorbar"] for t in spec.get("data", []) if isinstance(t.get("colorbar"), dict)]
    for name, part in layout.items():
        if isinstance(part, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            part["tickfont"] = (part.get("tickfont") or {}) | colour
            if isinstance(part.get("title"), dict):
                part["title"]["font"] = (part["title"].get("font") or {}) | colour
        elif isinstance(part, dict) and name.startswith("coloraxis"):  # a colour bar shared by a grid of maps
            bars.append(part.setdefault("colorbar", {}))
    legend = layout.get("legend") or {}
    layout["legend"] = legend | {"font": (legend.get("font") or {}) | colour}
    for bar in bars:
        bar["tickfont"] = (bar.get("tickfont") or {}) | colour
        if isinstance(bar.get("title"), dict):
            bar["title"]["font"] = (bar["title"].get("font") or {}) | colour


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
