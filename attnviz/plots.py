"""Plot builders: pure functions that return a fresh figure (`Figure`: plotly's JSON as plain data). No streamlit here.

Colours are colour-blind safe: matrices use a diverging blue–white–orange scale centred on zero (or a
sequential one for weights that cannot be negative) and categorical colours come from Okabe & Ito.
Every value is also in the hover text, so nothing is conveyed by colour alone.

Figures are assembled as plain dicts and handed on as they are: building plotly's object tree (go.Figure) for each
figure, and copying it back out as JSON for the browser, costs more than a page computes, on every rerun of every
student's page. `Figure.plotly()` gives the validated go.Figure for whoever wants plotly's object model; the tests
validate every builder's output that way.
"""

from __future__ import annotations

import copy
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from attnviz.host import to_host
from attnviz.labels import unique_labels

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
ARROW_COLOURS = (OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[5], OKABE_ITO[3], OKABE_ITO[7])
# Every colour scale is given as explicit stops, never by name: the plotly.js that Streamlit ships knows only its own
# short list of names (`PLOTLY_JS_SCALES`) and draws an unknown one, e.g. "Inferno", as a grey-to-red default.
DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#fdb863"], [1.0, "#b35806"]]
# cividis (Nuñez, Anderton & Renslow 2018): blue to yellow, readable with every common colour-vision deficiency
CIVIDIS = [[i / 9, c] for i, c in enumerate(("#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678",
                                             "#a59c74", "#c3b369", "#e1cc55", "#fee838"))]  # fmt: skip
# inferno (matplotlib): black through purple and red to pale yellow; lightness alone orders the values. Its first
# colour is written rgb(0,0,4), not #000004: Streamlit's chart theme replaces the colours #000001 to #000024 (and
# plotly's default ones) in a figure's JSON with its own, so #000004 was drawn as a pale red.
INFERNO = [[i / 9, c] for i, c in enumerate(("rgb(0,0,4)", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446",
                                             "#ed6925", "#fb9b06", "#f7d13d", "#fcffa4"))]  # fmt: skip
SEQUENTIAL = CIVIDIS
# high contrast: the same hues as DIVERGING with darker ends and a wider lightness range; inferno for weights
HIGH_CONTRAST_DIVERGING = [[0.0, "#08306b"], [0.25, "#4a98c9"], [0.5, "#ffffff"], [0.75, "#f98e2b"], [1.0, "#7f2704"]]
HIGH_CONTRAST_SEQUENTIAL = INFERNO
# the scale names plotly.js itself knows (src/components/colorscale/scales.js); any other name is drawn as a default
PLOTLY_JS_SCALES = frozenset({
    "Greys", "YlGnBu", "Greens", "YlOrRd", "Bluered", "RdBu", "Reds", "Blues", "Picnic", "Rainbow", "Portland", "Jet",
    "Hot", "Blackbody", "Earth", "Electric", "Viridis", "Cividis",
})  # fmt: skip
CELL_TEXT_MAX = 14  # write the value in every cell when the matrix is at most this many rows and columns
NARROW_CELL_TEXT_MAX = 10  # the same for a heatmap that shares the width with another
TOP_K_ABOVE = 30  # a wider attention map keeps only its strongest keys per row (see `auto_top_k`)
TOP_K = 5  # how many keys per row it keeps
MARKERS = ("circle", "diamond", "square", "triangle-up", "x", "star")  # shape as well as colour tells series apart

Spec = dict[str, Any]


class Figure:
    """A plotly figure as plain data: ``spec = {"data": [trace, ...], "layout": {...}}``, what plotly.js draws.

    Arrays in it are numpy arrays or lists. Builders return a fresh one each call, so it is the caller's.
    """

    __slots__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def to_dict(self) -> Spec:
        """A deep copy of the spec."""
        return copy.deepcopy(self.spec)

    def plotly(self) -> go.Figure:
        """The figure as plotly's object model, every property validated (raises on an invalid one)."""
        return go.Figure(self.spec)

    def __repr__(self) -> str:
        kinds = [trace.get("type", "?") for trace in self.spec.get("data", [])]
        return f"Figure({kinds}, title={self.spec.get('layout', {}).get('title', {}).get('text', '')!r})"


def _safe(labels: Sequence[object]) -> list[str]:
    """Plotly reads a few HTML tags in labels; learner text must show as text."""
    return [html.escape(str(label), quote=False) for label in labels]


def _array(x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        x = to_host(x)  # type: ignore[arg-type]
    return np.asarray(x, dtype=np.float64)


def _figure(data: list[Spec], layout: Spec, title: str, height: int) -> Figure:
    base: Spec = {
        "title": {"text": html.escape(title, quote=False), "x": 0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 50 if title else 10, "b": 10},
        "font": {"size": 15},
        "hoverlabel": {"font": {"size": 15}},
        # no plotly template: Streamlit draws its own chart theme over the figure whatever template it has, and
        # plotly's default one is three quarters of a small figure's JSON, copied, encoded and sent on every rerun
        "template": {},
    }
    return Figure({"data": data, "layout": base | layout})


def high_contrast_scale(scale: object) -> list | None:
    """The high-contrast version of one of this module's colour scales (`DIVERGING`, `SEQUENTIAL`), or None for any
    other scale (a single colour, a palette of categories), which stays as it is."""
    if scale == DIVERGING:
        return HIGH_CONTRAST_DIVERGING
    if scale == SEQUENTIAL:
        return HIGH_CONTRAST_SEQUENTIAL
    return None


# Numbers in cells. plotly.js sizes them itself when the trace sets no size (its heatmap `textfont.size` is "auto",
# src/traces/heatmap/plot.js): the largest size at which the widest number fits the narrowest cell, at most the
# figure's font size, measured on the figure as drawn (so on a phone as on a projector). `cell_font_size` is that
# rule; `heatmap` uses it, with the width the figure gets on a 1280-pixel screen, to leave the numbers out where
# even there they would be smaller than `CELL_FONT_MIN` (hovering a cell always gives its value).
LINE_SPACING = 1.3  # plotly.js's line height in font sizes; a digit is about half of it wide
CELL_FONT_MIN = 7  # px: smaller numbers are left out
PAGE_WIDTH = 980  # px: the main column of a 1280-pixel screen with the sidebar open, what a full-width figure gets
# px taken from that width by the colour bar with its numbers and title, the row axis's title, the plot's margins
# and the gap between two figures side by side (measured: a 10 × 10 map in half of it has 210 px of cells)
_AROUND = 220


# said under a heatmap whose numbers do not fit its cells
CELLS_NOTE = {"text": "The cells are too small for their numbers: hover a cell to read it.", "xref": "paper",
              "yref": "paper", "x": 0, "xanchor": "left", "y": 0, "yanchor": "top", "yshift": -6, "showarrow": False,
              "font": {"size": 13}}  # fmt: skip


def cells_fit(spec: Spec, trace: Spec, decimals: int) -> bool:
    """Whether numbers with ``decimals`` decimals fit the cells of a heatmap ``trace`` of the figure ``spec`` (made by
    `heatmap`, whose layout says what share of the page it gets) at `CELL_FONT_MIN` or more on a 1280-pixel screen."""
    z = _array(trace.get("z"))
    if z.ndim != 2 or not z.size:
        return False
    layout = spec.get("layout", {})
    share = float((layout.get("meta") or {}).get("attnviz_share", 1.0))
    area = _plot_area(float(layout.get("height") or 450), z.shape[0], trace.get("y") or [""], narrow=share < 1,
                      title=bool((layout.get("title") or {}).get("text")))  # fmt: skip
    return cell_font_size(*area, *z.shape, _widest_number(z, decimals)) >= CELL_FONT_MIN


def cell_font_size(
    width: float, height: float, n_rows: int, n_cols: int, chars: int, *, cap: float = 15, gap: float = 1
) -> int:
    """The font size (px) plotly.js gives the numbers in a heatmap's cells when the trace leaves the size "auto".

    Args:
        width, height: the plot area (px) the n_rows × n_cols cells share.
        chars: characters of the longest number written, e.g. 5 for "-0.25".
        cap: the figure's font size, which plotly.js never exceeds.
        gap: the white line between cells (xgap, ygap).
    Returns:
        0 when nothing fits.
    """
    if min(n_rows, n_cols, chars) < 1:
        return 0
    across = (width / n_cols - gap) / chars / (LINE_SPACING / 2)
    down = (height / n_rows - gap) / LINE_SPACING
    return max(0, min(math.floor(across), math.floor(down), math.floor(cap)))


def _plot_area(height: float, n_rows: int, rows: Sequence[str], *, narrow: bool, title: bool) -> tuple[float, float]:
    """The plot area (width, height) of a heatmap on a 1280-pixel screen: the figure's share of the page, less the row
    labels and the colour bar; its height less the title and the column labels."""
    width = PAGE_WIDTH / (2 if narrow else 1) - _AROUND - 8 * max((len(r) for r in rows), default=1)
    return max(width, 1.0), max(height - (50 if title else 10) - 60, 1.0)


def _widest_number(z: np.ndarray, decimals: int) -> int:
    finite = z[np.isfinite(z)]
    if not finite.size:
        return 1
    return max(len(f"{float(v):.{decimals}f}") for v in (finite.min(), finite.max()))


def auto_top_k(n_cols: int) -> int | None:
    """How many keys per row a heatmap of ``n_cols`` columns should keep: all (None) up to `TOP_K_ABOVE`."""
    return TOP_K if n_cols > TOP_K_ABOVE else None


def top_k_per_row(matrix: object, k: int) -> np.ndarray:
    """Keep the ``k`` largest finite values of each row; every other cell becomes NaN (drawn as a gap).

    Args:
        matrix: (R, C).
    Returns:
        (R, C) float64.
    """
    z = _array(matrix)  # (R, C)
    if k < 1:
        raise ValueError("k must be 1 or more")
    ranked = np.where(np.isfinite(z), z, -np.inf)  # (R, C)
    keep = np.argsort(-ranked, axis=1, kind="stable")[:, :k]  # (R, k)
    out = np.full_like(z, np.nan)
    rows = np.arange(z.shape[0])[:, None]
    out[rows, keep] = z[rows, keep]
    return out


def _category_axis(labels: list[str], **extra: Any) -> Spec:
    """A positional axis with word labels: repeated words stay apart."""
    positions = list(range(len(labels)))
    return {"tickmode": "array", "tickvals": positions, "ticktext": labels, "showgrid": False} | extra


def heatmap(
    matrix: object,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    title: str = "",
    row_title: str = "",
    col_title: str = "",
    value_name: str = "value",
    diverging: bool = True,
    cell_text: bool | None = None,
    decimals: int = 2,
    height: int | None = None,
    col_tick_step: int = 1,
    top_k: int | None = None,
    row_notes: Sequence[str] | None = None,
    zrange: tuple[float, float] | None = None,
    narrow: bool = False,
    col_groups: int = 0,
    row_groups: int = 0,
    highlight_rows: Sequence[int] = (),
    zmax: float | None = None,
    overlay: object | None = None,
    overlay_name: str = "left out",
    boxes: Sequence[tuple[int, int, int, int]] = (),
) -> Figure:
    """A labelled matrix. Hover shows the row token, the column token and the value.

    Args:
        matrix: (R, C) values; NaN and ±inf cells (masked, or left out by ``top_k``) are drawn as gaps.
        rows, cols: R and C labels (repeats are fine: the axes are positional).
        diverging: centre the colour scale on zero (for scores that can be negative).
        cell_text: write values in the cells; default when the matrix is small enough to read.
        col_tick_step: label every n-th column only (for long strips); the columns then sit below the matrix.
        top_k: keep only the k largest values of each row (for long sentences: a readable map, not a wall).
        row_notes: R short texts written at the right end of the rows, e.g. each row's sum.
        zrange: fixed colour range (low, high), e.g. (0, 1) for attention weights.
        narrow: the figure gets half a page (two side by side): values only up to `NARROW_CELL_TEXT_MAX`
            columns, smaller, and column labels slanted as soon as they would touch.
        col_groups, row_groups: draw a divider every n columns / rows (e.g. between the heads of a concat).
        highlight_rows: rows to frame, e.g. the word a question is about.
        zmax: top of a sequential scale (e.g. 1 for weights); default the data's own range.
        overlay: (R, C) bool, cells to cover in translucent grey (what a sparse pattern leaves out); the values
            stay readable beneath, and the hover says so.
        boxes: (row_start, row_stop, col_start, col_stop) rectangles to frame, e.g. the tile being computed.
    """
    z = _array(matrix)  # (R, C)
    if top_k is not None:
        z = top_k_per_row(z, top_k)
    z = np.where(np.isfinite(z), z, np.nan)  # JSON has no inf; a gap says "nothing here"
    n_rows, n_cols = z.shape
    # category axes need distinct labels; hover then names the two words without per-cell data
    rows, cols = _safe(unique_labels(rows)), _safe(unique_labels(cols))
    if cell_text is None:
        cell_text = max(n_rows, n_cols) <= (NARROW_CELL_TEXT_MAX if narrow else CELL_TEXT_MAX)
    wanted_text = cell_text
    slanted = n_cols > 8 or (narrow and (n_cols > 6 or sum(len(c) for c in cols) > 24))
    finite = z[np.isfinite(z)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    trace: Spec = {
        "type": "heatmap",
        "z": z,
        "x": cols,
        "y": rows,
        "colorscale": DIVERGING if diverging else SEQUENTIAL,
        "hovertemplate": (
            f"{html.escape(row_title or 'row')}: <b>%{{y}}</b><br>"
            f"{html.escape(col_title or 'column')}: <b>%{{x}}</b><br>"
            f"{html.escape(value_name)}: <b>%{{z:.{decimals}f}}</b><extra></extra>"
        ),
        "colorbar": {"thickness": 14, "title": {"text": html.escape(value_name), "side": "right"}},
        # white lines between cells, except where cells are so small that the lines would wash them out
        "xgap": 1 if n_cols <= 60 else 0,
        "ygap": 1 if n_rows <= 60 else 0,
        "hoverongaps": False,
    }
    if zrange is not None:
        trace |= {"zmin": zrange[0], "zmax": zrange[1]}
    elif diverging:
        trace |= {"zmid": 0.0, "zmin": -limit, "zmax": limit}
    elif zmax is not None:
        trace |= {"zmin": 0.0, "zmax": zmax}
    if cell_text:
        area = _plot_area(height or min(900, 140 + (34 if n_rows <= 20 else 22) * n_rows), n_rows, rows,
                          narrow=narrow, title=bool(title))  # fmt: skip
        fits = cell_font_size(*area, n_rows, n_cols, _widest_number(z, decimals)) >= CELL_FONT_MIN
        if fits:  # no size: plotly.js fits the numbers to the cells as drawn (see `cell_font_size`)
            trace["texttemplate"] = f"%{{z:.{decimals}f}}"
        cell_text = fits  # otherwise a note under the map says so
    layout = {
        "xaxis": {
            "type": "category",
            "title": {"text": col_title},
            "side": "top",
            "showgrid": False,
            # upright where they fit; where they would not (a phone), plotly.js turns them ("auto") and makes room
            **({"tickangle": -45} if slanted else {"automargin": True}),
        },
        "yaxis": {"type": "category", "title": {"text": row_title}, "autorange": "reversed", "showgrid": False},
    }
    if title:
        # labels above the matrix, slanted here or turned by plotly.js on a narrow screen, would run into the title:
        # the title gets its own room at the top. Slanted labels leave the column axis unnamed (the hover names it),
        # since its name would sit on the title's line
        if slanted:
            layout["xaxis"]["title"] = {"text": ""}
        layout["title"] = {"text": html.escape(title, quote=False), "x": 0, "xanchor": "left", "automargin": True,
                           "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 6}}  # fmt: skip
    if col_tick_step > 1:
        ticks = cols[::col_tick_step]
        layout["xaxis"] |= {"side": "bottom", "tickangle": 0, "tickmode": "array", "tickvals": ticks, "ticktext": ticks}
    if row_notes is not None:
        # the notes sit in a margin of their own, right of the matrix; the colour bar moves below it
        layout["annotations"] = [
            {"x": 1.0, "xref": "paper", "xanchor": "left", "xshift": 6, "y": r, "yref": "y", "showarrow": False,
             "text": html.escape(str(note), quote=False), "font": {"size": 13}}
            for r, note in zip(rows, row_notes, strict=True)
        ]  # fmt: skip
        trace["colorbar"] |= {"orientation": "h", "y": -0.02, "yanchor": "top", "len": 0.6, "thickness": 12}
        layout["margin"] = {"l": 10, "r": 80, "t": 50 if title else 10, "b": 70}
    shapes: list[Spec] = []
    for size, count, vertical in ((col_groups, n_cols, True), (row_groups, n_rows, False)):
        for edge in range(size, count, size) if size > 0 else ():
            ends = {"x0": edge - 0.5, "x1": edge - 0.5, "y0": -0.5, "y1": n_rows - 0.5}
            if not vertical:
                ends = {"x0": -0.5, "x1": n_cols - 0.5, "y0": edge - 0.5, "y1": edge - 0.5}
            shapes.append({"type": "line", "xref": "x", "yref": "y", "line": {"color": "#000000", "width": 2}} | ends)
    for r in highlight_rows:
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": -0.5, "x1": n_cols - 0.5, "y0": r - 0.5, "y1": r + 0.5,
            "line": {"color": OKABE_ITO[5], "width": 3},
        })  # fmt: skip
    for r0, r1, c0, c1 in boxes:
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": c0 - 0.5, "x1": c1 - 0.5, "y0": r0 - 0.5, "y1": r1 - 0.5,
            "line": {"color": OKABE_ITO[5], "width": 4},
        })  # fmt: skip
    if shapes:
        layout["shapes"] = shapes
    data = [trace]
    if overlay is not None:
        cover = np.where(np.asarray(overlay, dtype=bool), 1.0, np.nan)  # (R, C) 1 where covered, a gap elsewhere
        data.append({
            "type": "heatmap", "z": cover, "x": cols, "y": rows, "showscale": False, "opacity": 0.72,
            "colorscale": [[0.0, "#6b6b6b"], [1.0, "#6b6b6b"]], "xgap": trace["xgap"], "ygap": trace["ygap"],
            "hoverongaps": False, "name": html.escape(overlay_name), "customdata": z,
            "hovertemplate": f"{html.escape(row_title or 'row')}: <b>%{{y}}</b><br>"
                             f"{html.escape(col_title or 'column')}: <b>%{{x}}</b><br>"
                             f"{html.escape(value_name)}: <b>%{{customdata:.{decimals}f}}</b> "
                             f"({html.escape(overlay_name)})<extra></extra>",
        })  # fmt: skip
    auto_height = 140 + (34 if n_rows <= 20 else 22) * n_rows
    if wanted_text and not cell_text:
        layout["annotations"] = [*layout.get("annotations", []), CELLS_NOTE]
        layout["margin"] = (layout.get("margin") or {"l": 10, "r": 10, "t": 50 if title else 10}) | {"b": 34}
    # a hint for whoever writes numbers into the cells later (app_support.show): the share of the page it gets
    layout["meta"] = {"attnviz_share": 0.5 if narrow else 1.0}
    return _figure(data, layout, title, height or min(900, auto_height))


@dataclass(frozen=True)
class Series:
    """One line (or set of points) of a `lines` chart."""

    name: str  # legend entry
    x: object  # (N,)
    y: object  # (N,)
    mode: str = "lines"  # "lines", "markers" or "lines+markers"
    dash: str = "solid"  # "solid", "dash", "dot"
    colour: int | None = None  # index into OKABE_ITO; default the series' position
    band: tuple[object, object] | None = None  # (low, high) (N,) each: a shaded range around the line


def lines(
    series: Sequence[Series],
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    log_x: bool = False,
    log_y: bool = False,
    x_range: tuple[float, float] | None = None,
    x_ticks: Sequence[float] | None = None,
    height: int = 360,
    marks: Sequence[tuple[float, float, str]] = (),
) -> Figure:
    """Lines and points on shared axes (loss curves, a measurement against its formula).

    A logarithmic axis is labelled at the given ``x_ticks`` (x) or at powers of ten (y), never at plotly's
    in-between 2s and 5s, which read like a linear scale. ``marks`` (x, y, text) are labelled points, e.g. where
    two curves cross.
    """
    data = []
    for n, s in enumerate(series):
        colour = OKABE_ITO[(n if s.colour is None else s.colour) % len(OKABE_ITO)]
        name = html.escape(s.name, quote=False)
        if s.band is not None:
            x = _array(s.x).ravel()
            # the band is one closed shape: along the top, then back along the bottom
            data.append({
                "type": "scatter", "mode": "lines", "name": f"{name} (range)", "fill": "toself",
                "x": np.concatenate([x, x[::-1]]),
                "y": np.concatenate([_array(s.band[1]).ravel(), _array(s.band[0]).ravel()[::-1]]),
                "line": {"width": 0, "color": colour}, "fillcolor": colour, "opacity": 0.2, "hoverinfo": "skip",
            })  # fmt: skip
        data.append({
            "type": "scatter", "mode": s.mode, "name": name, "x": _array(s.x).ravel(), "y": _array(s.y).ravel(),
            "line": {"color": colour, "dash": s.dash, "width": 3},
            "marker": {"color": colour, "size": 10, "symbol": MARKERS[n % len(MARKERS)]},
            "hovertemplate": f"{name}<br>{html.escape(x_title or 'x')}: %{{x}}<br>"
                             f"{html.escape(y_title or 'y')}: %{{y:.3g}}<extra></extra>",
        })  # fmt: skip
    x_axis: Spec = {"title": {"text": x_title}, "type": "log" if log_x else "linear"}
    if x_range is not None:
        x_axis["range"] = list(x_range)
    if x_ticks is not None:
        x_axis |= {"tickmode": "array", "tickvals": list(x_ticks), "ticktext": [f"{t:g}" for t in x_ticks]}
    elif log_x:
        x_axis["dtick"] = 1
    y_axis: Spec = {"title": {"text": y_title}, "type": "log" if log_y else "linear"}
    if log_y:
        y_axis["dtick"] = 1
    layout = {
        "xaxis": x_axis,
        "yaxis": y_axis,
        "legend": {"orientation": "h", "y": -0.25, "x": 0},
    }
    if marks:
        layout["annotations"] = [
            {"x": float(np.log10(x)) if log_x else x, "y": float(np.log10(y)) if log_y else y, "text": html.escape(t),
             "showarrow": True, "arrowhead": 2, "ax": 0, "ay": -36, "font": {"size": 13},
             "bgcolor": "rgba(255,255,255,0.85)"}
            for x, y, t in marks
        ]  # fmt: skip
    return _figure(data, layout, title, height)


def moves(
    before: object,
    after: object,
    labels: Sequence[str],
    *,
    names: tuple[str, str] = ("before", "after"),
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2"),
    height: int = 520,
) -> Figure:
    """The same words at two moments in one 2-D view: a point before, a point after, an arrow between.

    Args:
        before, after: (N, 2) coordinates in one shared projection.
        labels: N words; the label sits on the "after" point (the arrow leads to it), the hover names both.
    """
    a, b = _array(before), _array(after)  # (N, 2) each
    words = _safe(labels)
    data = []
    for n, (coords, name) in enumerate(((a, names[0]), (b, names[1]))):
        data.append({
            "type": "scatter", "mode": "markers" if n == 0 else "markers+text", "x": coords[:, 0], "y": coords[:, 1],
            "name": html.escape(name, quote=False), "text": words, "textposition": "top center",
            "marker": {"color": OKABE_ITO[n], "size": 10, "symbol": MARKERS[n]},
            "hovertemplate": f"<b>%{{text}}</b> ({html.escape(name, quote=False)})<extra></extra>",
        })  # fmt: skip
    arrows = [
        {"x": b[i, 0], "y": b[i, 1], "ax": a[i, 0], "ay": a[i, 1], "xref": "x", "yref": "y", "axref": "x",
         "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1.2, "arrowwidth": 1.5,
         "arrowcolor": "#888", "standoff": 5, "startstandoff": 5}
        for i in range(len(words))
    ]  # fmt: skip
    layout = {
        "legend": {"orientation": "h", "y": -0.15},
        "annotations": arrows,
        "xaxis": {"title": {"text": axis_titles[0]}, "zeroline": False},
        "yaxis": {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
    }
    return _figure(data, layout, title, height)


def query_key_moves(
    before: object,
    q: object,
    k: object,
    labels: Sequence[str],
    *,
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2"),
    height: int = 560,
) -> Figure:
    """Words, their queries and their keys in one 2-D view: an arrow from each word to its query (M_Q) and one
    to its key (M_K), so that a query can be seen landing near another word's key.

    Args:
        before, q, k: (N, 2) coordinates in one shared projection.
        labels: N words; queries are labelled "q word", keys "k word", the plain words only on hover.
    """
    a, qq, kk = _array(before), _array(q), _array(k)  # (N, 2) each
    words = _safe(labels)
    sets = ((a, "word vectors I", "", 7), (qq, "queries Q = I·M_Q", "q ", 0), (kk, "keys K = I·M_K", "k ", 1))
    placed = _label_positions(np.concatenate([qq, kk]), [f"q {w}" for w in words] + [f"k {w}" for w in words], ())
    where = ["top center"] * len(words), placed[: len(words)], placed[len(words) :]
    data = []
    for n, (coords, name, prefix, colour) in enumerate(sets):
        data.append({
            "type": "scatter", "mode": "markers" if n == 0 else "markers+text", "x": coords[:, 0],
            "y": coords[:, 1], "name": name, "text": [prefix + w for w in words],
            "textposition": where[n],
            "textfont": {"color": OKABE_ITO[colour] if n else "#555555"},
            "marker": {"color": OKABE_ITO[colour] if n else "#AAAAAA", "size": 10 if n else 7,
                       "symbol": MARKERS[n]},
            "hovertemplate": f"<b>%{{text}}</b> ({name})<extra></extra>" if n else "<b>%{text}</b><extra></extra>",
        })  # fmt: skip
    arrows = [
        {"x": end[i, 0], "y": end[i, 1], "ax": a[i, 0], "ay": a[i, 1], "xref": "x", "yref": "y", "axref": "x",
         "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1, "arrowwidth": 1.2,
         "arrowcolor": OKABE_ITO[colour], "opacity": 0.45, "standoff": 4, "startstandoff": 3}
        for end, colour in ((qq, 0), (kk, 1))
        for i in range(len(words))
    ]  # fmt: skip
    layout = {
        "legend": {"orientation": "h", "y": -0.12},
        "annotations": arrows,
        "xaxis": {"title": {"text": axis_titles[0]}, "zeroline": False},
        "yaxis": {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
    }
    return _figure(data, layout, title, height)


def matrix(
    m: object,
    *,
    title: str = "",
    row_title: str = "row",
    col_title: str = "column",
    value_name: str = "value",
    height: int = 420,
) -> Figure:
    """A weight matrix drawn as a picture: numbered axes, no cell text (M_Q is 50×50 or 384×32).

    Args:
        m: (R, C) values; the colour scale is diverging and centred on zero.
    """
    z = np.round(_array(m), 4)  # (R, C); four decimals are plenty for a picture and halve the page's JSON
    finite = z[np.isfinite(z)]
    limit = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    trace: Spec = {
        "type": "heatmap",
        "z": z,
        "colorscale": DIVERGING,
        "zmid": 0.0,
        "zmin": -limit,
        "zmax": limit,
        "hovertemplate": (
            f"{html.escape(row_title)} %{{y}}, {html.escape(col_title)} %{{x}}<br>"
            f"{html.escape(value_name)}: <b>%{{z:.3f}}</b><extra></extra>"
        ),
        "colorbar": {"thickness": 12},
    }
    layout = {
        "xaxis": {"title": {"text": col_title}, "side": "top", "showgrid": False, "zeroline": False},
        "yaxis": {"title": {"text": row_title}, "autorange": "reversed", "showgrid": False, "zeroline": False},
    }
    if z.shape[0] == z.shape[1]:  # a square matrix is drawn square, so the identity's diagonal runs at 45°
        layout["yaxis"] |= {"scaleanchor": "x", "constrain": "domain"}
        layout["xaxis"] |= {"constrain": "domain"}
    return _figure([trace], layout, title, height)


def strip(
    vectors: object,
    labels: Sequence[str],
    *,
    title: str = "",
    value_name: str = "value",
    height: int | None = None,
) -> Figure:
    """The raw numbers of a few vectors, one row each: (N, D) as a short, wide heatmap."""
    z = _array(vectors)  # (N, D)
    return heatmap(
        z,
        labels,
        [str(i) for i in range(z.shape[1])],
        title=title,
        row_title="word",
        col_title="dimension",
        value_name=value_name,
        cell_text=False,
        height=height if height is not None else 120 + 40 * z.shape[0],
        col_tick_step=5,
    )


def bars(
    labels: Sequence[str],
    values: object,
    *,
    title: str = "",
    value_name: str = "value",
    x_title: str = "",
    highlight: Sequence[int] = (),
    horizontal: bool = False,
    decimals: int = 2,
    height: int = 360,
    reference: tuple[str, float] | None = None,
) -> Figure:
    """A bar per label; ``highlight`` marks some bars in the second colour and with a hatch pattern.

    ``reference`` (name, value) draws a dotted line across the bars at that value, e.g. a uniform baseline.
    """
    y = _array(values).ravel()  # (N,)
    names = _safe(labels)
    marked = set(highlight)
    positions = list(range(len(y)))
    value_axis = "x" if horizontal else "y"
    trace: Spec = {
        "type": "bar",
        "orientation": "h" if horizontal else "v",
        "x": y if horizontal else positions,
        "y": positions if horizontal else y,
        "marker": {
            "color": [OKABE_ITO[1] if i in marked else OKABE_ITO[0] for i in positions],
            "pattern": {"shape": ["/" if i in marked else "" for i in positions]},
        },
        "customdata": names,
        "text": [f"{v:.{decimals}f}" for v in y],
        "textposition": "outside" if len(y) <= 20 else "none",
        "cliponaxis": False,
        "hovertemplate": (
            f"<b>%{{customdata}}</b><br>{html.escape(value_name)}: %{{{value_axis}:.{decimals}f}}<extra></extra>"
        ),
    }
    # room beyond the longest bar for the value written next to it
    low, high = min(0.0, float(y.min(initial=0.0))), max(0.0, float(y.max(initial=0.0)))
    if reference is not None:
        low, high = min(low, reference[1]), max(high, reference[1])
    span = (high - low) or 1.0
    value_range = [low - 0.18 * span if low < 0 else 0.0, high + 0.18 * span if high > 0 else 0.0]
    value_spec = {"title": {"text": value_name}, "zeroline": True, "zerolinewidth": 2, "range": value_range}
    if horizontal:
        layout = {"yaxis": _category_axis(names, autorange="reversed"), "xaxis": value_spec}
    else:
        layout = {
            "xaxis": _category_axis(names, title={"text": x_title}, tickangle=-45 if len(y) > 10 else 0),
            "yaxis": value_spec,
        }
    if reference is not None:
        name, value = html.escape(reference[0], quote=False), float(reference[1])
        line = {"type": "line", "line": {"color": "#555555", "dash": "dot", "width": 2}}
        note = {"text": name, "showarrow": False, "font": {"size": 12, "color": "#555555"}}
        if horizontal:
            line |= {"xref": "x", "yref": "paper", "x0": value, "x1": value, "y0": 0, "y1": 1}
            note |= {"xref": "x", "yref": "paper", "x": value, "y": 1, "xanchor": "left", "yanchor": "bottom"}
        else:
            line |= {"xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": value, "y1": value}
            note |= {"xref": "paper", "yref": "y", "x": 1, "y": value, "xanchor": "right", "yanchor": "bottom"}
        layout |= {"shapes": [line], "annotations": [note]}
    return _figure([trace], layout, title, height)


def ranking(
    pairs: Sequence[tuple[str, float]], *, title: str = "", value_name: str = "cosine", highlight_first: bool = False
) -> Figure:
    """A ranked list of (word, score) pairs, best at the top: neighbours, analogy answers."""
    return bars(
        [w for w, _ in pairs],
        [v for _, v in pairs],
        title=title,
        value_name=value_name,
        horizontal=True,
        highlight=[0] if highlight_first and pairs else [],
        decimals=3,
        height=80 + 30 * max(len(pairs), 1),
    )


def _label_positions(xy: np.ndarray, names: list[str], arrows: Sequence[tuple[int, int]]) -> list[str]:
    """A text position for each 2-D point's label that keeps labels off each other and off arriving arrowheads.

    Greedy: each label in turn takes the first of four places whose rough box (characters × a char width, in data
    units) overlaps no label already placed; a point that an arrow ends on puts its label on the far side first.
    """
    span = np.ptp(xy, axis=0) if len(xy) > 1 else np.ones(2)
    span = np.where(span > 0, span, 1.0)
    char_w, line_h = 0.022 * span[0], 0.09 * span[1]
    arriving = {b: xy[b] - xy[a] for a, b in arrows}  # the direction each arrow comes in from
    places = {
        "top center": (0.0, 1.0), "bottom center": (0.0, -1.0), "middle right": (1.0, 0.0), "middle left": (-1.0, 0.0),
    }  # fmt: skip
    boxes: list[tuple[float, float, float, float]] = []
    out = []
    for i, name in enumerate(names):
        w, h = char_w * max(len(name), 1), line_h
        order = list(places)
        if i in arriving:  # put the label where the arrow does not come from
            d = arriving[i] / span
            order.sort(key=lambda p: places[p][0] * d[0] + places[p][1] * d[1])
            order.reverse()
        chosen, box = order[0], None
        for place in order:
            dx, dy = places[place]
            cx, cy = xy[i, 0] + dx * (w / 2 + char_w), xy[i, 1] + dy * line_h
            cand = (cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)
            clash = any(c[0] < cand[1] and cand[0] < c[1] and c[2] < cand[3] and cand[2] < c[3] for c in boxes)
            if not clash:
                chosen, box = place, cand
                break
        if box is None:
            dx, dy = places[chosen]
            cx, cy = xy[i, 0] + dx * (w / 2 + char_w), xy[i, 1] + dy * line_h
            box = (cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)
        boxes.append(box)
        out.append(chosen)
    return out


def scatter(
    coords: object,
    labels: Sequence[str],
    *,
    arrows: Sequence[tuple[int, int]] = (),
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2", "PC 3"),
    height: int = 520,
) -> Figure:
    """Labelled points in 2-D or 3-D with arrows from one point to another.

    Args:
        coords: (N, 2) or (N, 3).
        arrows: (from, to) index pairs; each arrow gets its own colour and a legend entry "a → b".
    """
    xyz = _array(coords)  # (N, 2|3)
    names = _safe(labels)
    three_d = xyz.shape[1] == 3
    kind = "scatter3d" if three_d else "scatter"
    positions = "top center" if three_d else _label_positions(xyz, names, arrows)

    def xyz_of(idx: list[int]) -> Spec:
        out = {"x": xyz[idx, 0], "y": xyz[idx, 1]}
        return out | {"z": xyz[idx, 2]} if three_d else out

    points: Spec = {
        "type": kind,
        "mode": "markers+text",
        "text": names,
        "textposition": positions,
        "marker": {"size": 5 if three_d else 9, "color": OKABE_ITO[2]},
        "hovertemplate": "<b>%{text}</b><extra></extra>",
        "showlegend": False,
    } | xyz_of(list(range(len(names))))
    data = [points]
    annotations = []
    for n, (a, b) in enumerate(arrows):
        colour = ARROW_COLOURS[n % len(ARROW_COLOURS)]
        name = f"{names[a]} → {names[b]}"
        # the shaft as a trace, so that the arrow has a legend entry and a hover label
        data.append(
            {
                "type": kind,
                "mode": "lines",
                "line": {"color": colour, "width": 6 if three_d else 3},
                "name": name,
                "hoverinfo": "name",
            }
            | xyz_of([a, b])
        )
        tip = xyz[b] - xyz[a]
        if three_d:
            data.append({
                "type": "cone", "x": [xyz[b, 0]], "y": [xyz[b, 1]], "z": [xyz[b, 2]],
                "u": [tip[0]], "v": [tip[1]], "w": [tip[2]], "sizemode": "absolute",
                "sizeref": 0.12 * float(np.linalg.norm(tip) or 1), "anchor": "tip",
                "colorscale": [[0, colour], [1, colour]], "showscale": False, "hoverinfo": "skip", "name": name,
            })  # fmt: skip
        else:
            annotations.append({
                "x": xyz[b, 0], "y": xyz[b, 1], "ax": xyz[a, 0], "ay": xyz[a, 1],
                "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "showarrow": True,
                "arrowhead": 3, "arrowsize": 1.4, "arrowwidth": 3, "arrowcolor": colour, "standoff": 6,
            })  # fmt: skip
    layout: Spec = {"legend": {"orientation": "h", "y": -0.15}, "annotations": annotations}
    if three_d:
        layout["scene"] = {f"{a}axis": {"title": {"text": t}} for a, t in zip("xyz", axis_titles, strict=False)}
        # the default camera sits so close that the axis titles fall outside the figure: step back
        layout["scene"]["camera"] = {"eye": {"x": 1.7, "y": 1.7, "z": 1.1}}
        layout["margin"] = {"l": 0, "r": 0, "t": 50 if title else 10, "b": 0}
    else:
        # room around the points for their labels, which plotly's autorange does not count
        low, high = xyz.min(axis=0), xyz.max(axis=0)
        pad = 0.18 * np.where(high > low, high - low, 1.0)
        layout["xaxis"] = {"title": {"text": axis_titles[0]}, "zeroline": False,
                           "range": [float(low[0] - pad[0]), float(high[0] + pad[0])]}  # fmt: skip
        layout["yaxis"] = {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1,
                           "range": [float(low[1] - pad[1]), float(high[1] + pad[1])]}  # fmt: skip
    return _figure(data, layout, title, height)


def distributions(
    groups: Mapping[str, object], *, title: str = "", value_name: str = "score", height: int = 380
) -> Figure:
    """Overlaid histograms of several groups of scores, each with its mean drawn as a dashed line."""
    data, shapes = [], []
    for n, (name, values) in enumerate(groups.items()):
        v = _array(values).ravel()
        colour = OKABE_ITO[n % len(OKABE_ITO)]
        label = html.escape(name)
        data.append({
            "type": "histogram", "x": v, "name": f"{label} ({v.size} pairs)", "opacity": 0.6,
            "marker": {"color": colour}, "histnorm": "probability", "nbinsx": 40,
            "hovertemplate": f"{label}<br>{html.escape(value_name)}: %{{x}}<br>share: %{{y:.1%}}<extra></extra>",
        })  # fmt: skip
        mean = float(v.mean()) if v.size else 0.0
        shapes.append({
            "type": "line", "xref": "x", "yref": "paper", "x0": mean, "x1": mean, "y0": 0, "y1": 1,
            "line": {"color": colour, "dash": "dash", "width": 3},
        })  # fmt: skip
    layout = {
        "barmode": "overlay",
        "legend": {"orientation": "h", "y": 1.12, "x": 0},
        "shapes": shapes,
        "xaxis": {"title": {"text": value_name}},
        "yaxis": {"title": {"text": "share of pairs"}, "tickformat": ".0%"},
    }
    return _figure(data, layout, title, height)


# ----------------------------------------------------------------------------------------------------------
# Lesson 5: several heads at once, the head view, the multi-head diagram, lines across layers
# ----------------------------------------------------------------------------------------------------------


def _axis_key(kind: str, n: int) -> str:
    """Layout key of the n-th (0-based) x or y axis: "xaxis", "xaxis2", …"""
    return f"{kind}axis" if n == 0 else f"{kind}axis{n + 1}"


def _axis_ref(kind: str, n: int) -> str:
    """Trace reference of the n-th (0-based) axis: "x", "x2", …"""
    return kind if n == 0 else f"{kind}{n + 1}"


def heatmap_grid(
    maps: object,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    n_cols: int,
    names: Sequence[str],
    titles: Sequence[str] | None = None,
    row_headers: Sequence[str] = (),
    col_headers: Sequence[str] = (),
    title: str = "",
    row_title: str = "row",
    col_title: str = "column",
    value_name: str = "weight",
    zmax: float = 1.0,
    show_ticks: bool = False,
    highlight: int | None = None,
    panel_height: int = 120,
) -> Figure:
    """Small heatmaps in a grid, one shared colour scale, built as one figure with an axis pair per panel.

    Args:
        maps: (N, R, C) the panels, laid out row by row, ``n_cols`` to a row.
        rows, cols: R and C labels shared by every panel (shown on hover; as ticks with ``show_ticks``).
        names: N panel names for the hover text, e.g. "layer 2 · head 5".
        titles: N titles written above the panels (or None).
        row_headers, col_headers: one label per grid row (left) and per grid column (top), e.g. "layer 1".
        zmax: top of the shared sequential scale (weights: 1).
        show_ticks: write the row labels left of the first column and the column labels under every panel.
        highlight: index of a panel to frame (the one shown large elsewhere).
        panel_height: height of one panel in pixels.
    """
    z = _array(maps)  # (N, R, C)
    n = z.shape[0]
    n_cols = max(1, min(n_cols, n))
    n_rows = -(-n // n_cols)
    rows_l, cols_l = _safe(unique_labels(rows)), _safe(unique_labels(cols))
    # vertical room in pixels: titles above a panel, rotated tick labels below it
    label_px = 12 + 7 * max((len(c) for c in cols_l), default=1) if show_ticks else 0
    gap_px = (22 if titles else 8) + label_px
    top_px = (50 if title else 10) + (24 if col_headers else 0) + (22 if titles else 0)
    plot_px = n_rows * panel_height + (n_rows - 1) * gap_px
    bottom_px = 10 + label_px
    gap_x = 0.02 if not show_ticks else 0.035
    width = (1.0 - gap_x * (n_cols - 1)) / n_cols
    data: list[Spec] = []
    layout: Spec = {
        "coloraxis": {
            "colorscale": SEQUENTIAL,
            "cmin": 0.0,
            "cmax": zmax,
            "colorbar": {"thickness": 12, "title": {"text": html.escape(value_name), "side": "right"}},
        },
        "annotations": [],
        "shapes": [],
    }
    for i in range(n):
        r, c = divmod(i, n_cols)
        y1 = 1.0 - r * (panel_height + gap_px) / plot_px
        y0 = y1 - panel_height / plot_px
        x0 = c * (width + gap_x)
        name = html.escape(names[i], quote=False)
        data.append({
            "type": "heatmap", "z": z[i], "x": cols_l, "y": rows_l, "coloraxis": "coloraxis",
            "xaxis": _axis_ref("x", i), "yaxis": _axis_ref("y", i), "xgap": 0.5, "ygap": 0.5,
            "hovertemplate": (
                f"<b>{name}</b><br>{html.escape(row_title)}: <b>%{{y}}</b><br>{html.escape(col_title)}: "
                f"<b>%{{x}}</b><br>{html.escape(value_name)}: <b>%{{z:.2f}}</b><extra></extra>"
            ),
        })  # fmt: skip
        tick = {"tickfont": {"size": 11}, "ticks": ""}
        layout[_axis_key("x", i)] = {
            "type": "category", "domain": [x0, x0 + width], "anchor": _axis_ref("y", i), "showgrid": False,
            "showticklabels": show_ticks, "tickangle": -90, "side": "bottom", "fixedrange": True,
        } | tick  # fmt: skip
        layout[_axis_key("y", i)] = {
            "type": "category", "domain": [max(0.0, y0), min(1.0, y1)], "anchor": _axis_ref("x", i),
            "autorange": "reversed", "showgrid": False, "showticklabels": show_ticks and c == 0, "fixedrange": True,
        } | tick  # fmt: skip
        if titles:
            layout["annotations"].append({
                "text": html.escape(titles[i], quote=False), "xref": "paper", "yref": "paper", "showarrow": False,
                "x": x0 + width / 2, "y": y1, "yanchor": "bottom", "xanchor": "center", "font": {"size": 13},
            })  # fmt: skip
        if r == 0 and c < len(col_headers):
            layout["annotations"].append({
                "text": html.escape(col_headers[c], quote=False), "xref": "paper", "yref": "paper",
                "showarrow": False, "x": x0 + width / 2, "y": 1.0, "yanchor": "bottom", "xanchor": "center",
                "yshift": 22 if titles else 2, "font": {"size": 12},
            })  # fmt: skip
        if c == 0 and r < len(row_headers):
            layout["annotations"].append({
                "text": html.escape(row_headers[r], quote=False), "xref": "paper", "yref": "paper",
                "showarrow": False, "x": 0.0, "y": (y0 + y1) / 2, "xanchor": "right", "yanchor": "middle",
                "xshift": -6, "font": {"size": 12},
            })  # fmt: skip
    if highlight is not None and 0 <= highlight < n:
        ref = _axis_ref("x", highlight), _axis_ref("y", highlight)
        layout["shapes"].append({
            "type": "rect", "xref": f"{ref[0]} domain", "yref": f"{ref[1]} domain",
            "x0": -0.06, "x1": 1.06, "y0": -0.06, "y1": 1.06, "line": {"color": OKABE_ITO[5], "width": 3},
        })  # fmt: skip
    fig = _figure(data, layout, title, top_px + plot_px + bottom_px)
    fig.spec["layout"]["margin"] = {
        "l": 70 if row_headers else (10 if not show_ticks else 80),
        "r": 10,
        "t": top_px,
        "b": 10,
    }
    return fig


def head_view(
    queries: Sequence[str],
    keys: Sequence[str],
    weights: object,
    *,
    focus: int | None = None,
    top_k: int = 3,
    keep: Sequence[int] | None = None,
    title: str = "",
    value_name: str = "weight",
) -> Figure:
    """Tokens in two columns, lines from a query on the left to the keys it attends to on the right.

    A line's width and opacity grow with its weight. With ``focus`` the lines are that token's row of the
    map; without it every token draws lines to its ``top_k`` strongest keys.

    Args:
        queries, keys: T and S labels (the same sentence for self-attention).
        weights: (T, S).
        focus: the query to draw from, or None for every query.
        keep: which token positions to draw (in order) when a long sentence would not fit; default all.
    """
    w = _array(weights)  # (T, S)
    q_names, k_names = _safe(queries), _safe(keys)
    shown = list(range(max(len(q_names), len(k_names)))) if keep is None else sorted(set(keep))
    slot = {t: n for n, t in enumerate(shown)}  # token position → row on screen
    n_shown = len(shown)
    row_px = int(min(28, max(14, 1000 / max(n_shown, 1))))
    font = 15 if row_px >= 24 else (13 if row_px >= 18 else 11)
    shapes: list[Spec] = []

    def line(i: int, j: int, weight: float, colour: str) -> None:
        if weight < 0.005 or i not in slot or j not in slot:
            return  # too faint to see
        shapes.append({
            "type": "line", "xref": "x", "yref": "y", "x0": 0.03, "x1": 0.97, "y0": slot[i], "y1": slot[j],
            "line": {"color": colour, "width": 0.5 + 9 * weight}, "opacity": float(min(1.0, 0.15 + weight)),
            "layer": "below",
        })  # fmt: skip

    if focus is not None:
        for j in range(w.shape[1]):
            line(focus, j, float(w[focus, j]), OKABE_ITO[5])
    else:
        for i in shown:
            if i < w.shape[0]:
                for j in np.argsort(-w[i])[:top_k]:
                    line(i, int(j), float(w[i, j]), OKABE_ITO[0])

    def column(names: list[str], x: float, side: str, hover: str, custom: list[float] | None) -> Spec:
        idx = [t for t in shown if t < len(names)]
        colours = [OKABE_ITO[5] if side == "left" and t == focus else "#222222" for t in idx]
        spec: Spec = {
            "type": "scatter", "mode": "markers+text", "x": [x] * len(idx), "y": [slot[t] for t in idx],
            "text": [names[t] for t in idx], "textposition": f"middle {side}",
            "textfont": {"size": font, "color": colours}, "marker": {"size": 8, "color": colours},
            "hovertemplate": hover, "showlegend": False, "cliponaxis": False,
        }  # fmt: skip
        if custom is not None:
            spec["customdata"] = [custom[t] for t in idx]
        return spec

    if focus is not None:
        source = html.escape(q_names[focus], quote=False)
        row = [float(v) for v in w[focus]]
        right = column(
            k_names, 1.0, "right", f"{source} → <b>%{{text}}</b><br>{html.escape(value_name)}: %{{customdata:.3f}}"
            "<extra></extra>", row,
        )  # fmt: skip
    else:
        right = column(k_names, 1.0, "right", "<b>%{text}</b> (key)<extra></extra>", None)
    left = column(q_names, 0.0, "left", "<b>%{text}</b> (query)<extra></extra>", None)
    layout = {
        "shapes": shapes,
        "xaxis": {"range": [-0.75, 1.75], "visible": False, "fixedrange": True},
        "yaxis": {"range": [n_shown - 0.5, -0.8], "visible": False, "fixedrange": True},
        "annotations": [
            {
                "text": text,
                "x": x,
                "y": -0.8,
                "xref": "x",
                "yref": "y",
                "showarrow": False,
                "xanchor": anchor,
                "yanchor": "bottom",
                "font": {"size": 12, "color": "#555555"},
            }
            for text, x, anchor in (("attends from", 0.0, "right"), ("attends to", 1.0, "left"))
        ],
        "plot_bgcolor": "white",
    }
    return _figure([left, right], layout, title, (80 if title else 40) + row_px * (n_shown + 1))


def category_lines(
    x_labels: Sequence[str],
    series: Mapping[str, object],
    *,
    title: str = "",
    y_title: str = "",
    y_range: Sequence[float] | None = None,
    decimals: int = 3,
    height: int = 360,
    baseline: tuple[str, float] | None = None,
) -> Figure:
    """One line per series over shared categories (e.g. layers), each with its own colour, marker and dash.

    A single series has its values written at its points; with several, the values are in the hover only, so
    that labels never sit on another line.

    Args:
        series: name → values, one value per x label.
        baseline: (name, value) drawn as a dotted horizontal line, e.g. what a uniform head would give.
    """
    names_x = _safe(x_labels)
    dashes = ("solid", "dash", "dot", "dashdot")
    symbols = ("circle", "square", "diamond", "triangle-up")
    write_values = len(series) == 1
    data = []
    for n, (name, values) in enumerate(series.items()):
        label = html.escape(name, quote=False)
        data.append({
            "type": "scatter", "mode": "lines+markers+text" if write_values else "lines+markers",
            "x": list(range(len(names_x))), "y": _array(values).ravel(), "name": label, "customdata": names_x,
            "text": [f"{v:.{decimals}f}" for v in _array(values).ravel()], "textposition": "top center",
            "line": {"color": OKABE_ITO[n % len(OKABE_ITO)], "width": 3, "dash": dashes[n % len(dashes)]},
            "marker": {"size": 9, "symbol": symbols[n % len(symbols)]},
            "hovertemplate": f"{label}<br>%{{customdata}}: <b>%{{y:.{decimals}f}}</b><extra></extra>",
        })  # fmt: skip
    shapes = []
    annotations = []
    if baseline is not None:
        shapes.append({
            "type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": baseline[1], "y1": baseline[1],
            "line": {"color": "#555555", "dash": "dot", "width": 2},
        })  # fmt: skip
        annotations.append({
            "text": html.escape(baseline[0], quote=False), "xref": "paper", "yref": "y", "x": 1, "y": baseline[1],
            "xanchor": "right", "yanchor": "bottom", "showarrow": False, "font": {"size": 12, "color": "#555555"},
        })  # fmt: skip
    if y_range is None and series:
        # room above the highest point for its written value, and a little below the lowest
        every = np.concatenate([_array(v).ravel() for v in series.values()])
        every = every[np.isfinite(every)]
        if every.size:
            low, high = float(every.min()), float(every.max())
            pad = max(0.08 * (high - low), 0.01)
            y_range = (low - pad, high + (2.5 if write_values else 1.0) * pad)
    layout = {
        "xaxis": _category_axis(names_x),
        "yaxis": {"title": {"text": y_title}} | ({"range": list(y_range)} if y_range is not None else {}),
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "shapes": shapes,
        "annotations": annotations,
    }
    return _figure(data, layout, title, height)


def multihead_diagram(t: int, d_model: int, n_heads: int, head_dim: int) -> Figure:
    """The toy layer as boxes and arrows with the shapes written on them, one lane per head.

    I (T×D) → Q_h, K_h, V_h (T×Dh) → A_h = softmax(Q_h·K_hᵀ/√Dh) (T×T) → O_h = A_h·V_h (T×Dh)
    → concat (T×H·Dh) → ·W_O (H·Dh×D) → O (T×D).

    Compact so that it reads on a phone (about 350 px wide): every label is two short lines in 11 px type, and
    the columns stand 1.45 units apart, so a box is about 45 px wide there.
    """
    sub = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
    lane_px = 44
    mid = (n_heads - 1) / 2
    shapes: list[Spec] = []
    notes: list[Spec] = []
    font = {"size": 11, "color": "#111111"}
    x_in, x_qkv, x_a, x_o, x_cat, x_out = 0.0, 1.45, 2.9, 4.35, 5.8, 7.25  # the columns

    def box(x: float, y0: float, y1: float, text: str, colour: str, w: float = 1.0) -> None:
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": x - w / 2, "x1": x + w / 2, "y0": y0 - 0.4,
            "y1": y1 + 0.4, "line": {"color": colour, "width": 2}, "fillcolor": "rgba(255,255,255,0.9)",
        })  # fmt: skip
        notes.append({"text": text, "x": x, "y": (y0 + y1) / 2, "xref": "x", "yref": "y", "showarrow": False,
                      "font": font})  # fmt: skip

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        notes.append({
            "x": x1, "y": y1, "ax": x0, "ay": y0, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
            "showarrow": True, "arrowhead": 2, "arrowsize": 1, "arrowwidth": 1.5, "arrowcolor": "#555555",
            "text": "",
        })  # fmt: skip

    def step(x: float, text: str) -> None:
        notes.append({"text": text, "x": x, "y": -0.75, "xref": "x", "yref": "y", "showarrow": False,
                      "yanchor": "bottom", "font": font})  # fmt: skip

    box(x_in, mid, mid, f"I<br>{t} × {d_model}", "#333333")
    step((x_in + x_qkv) / 2 + 0.1, f"· M<sub>Q,K,V</sub><br>({d_model} × {head_dim} each)")
    step((x_qkv + x_a) / 2 + 0.1, f"Q·Kᵀ/√{head_dim},<br>softmax<br>→ A ({t} × {t})")
    step((x_a + x_o) / 2 + 0.1, f"A·V<br>({t} × {head_dim})")
    step((x_o + x_cat) / 2, "side<br>by side")
    step((x_cat + x_out) / 2, f"· W<sub>O</sub><br>({n_heads * head_dim} × {d_model})")
    for h in range(n_heads):
        colour = OKABE_ITO[h % len(OKABE_ITO)] if OKABE_ITO[h % len(OKABE_ITO)] != "#F0E442" else "#B8A800"
        n = str(h + 1).translate(sub)
        arrow(x_in + 0.5, mid, x_qkv - 0.5, h)
        box(x_qkv, h, h, f"Q{n} K{n} V{n}<br>{t}×{head_dim}", colour)
        arrow(x_qkv + 0.5, h, x_a - 0.5, h)
        box(x_a, h, h, f"A{n}<br>{t}×{t}", colour)
        arrow(x_a + 0.5, h, x_o - 0.5, h)
        box(x_o, h, h, f"O{n}<br>{t}×{head_dim}", colour)
        arrow(x_o + 0.5, h, x_cat - 0.5, mid)
    box(x_cat, mid, mid, f"concat<br>{t} × {n_heads * head_dim}", "#333333")
    arrow(x_cat + 0.5, mid, x_out - 0.5, mid)
    box(x_out, mid, mid, f"O<br>{t} × {d_model}", "#333333")
    layout = {
        "shapes": shapes,
        "annotations": notes,
        "xaxis": {"range": [-0.55, 7.8], "visible": False, "fixedrange": True},
        "yaxis": {"range": [n_heads - 0.45, -1.75], "visible": False, "fixedrange": True},
        "plot_bgcolor": "white",
        "showlegend": False,
        "margin": {"l": 4, "r": 4, "t": 10, "b": 4},
    }
    return _figure([], layout, "", 100 + lane_px * n_heads)


def grouped_bars(
    labels: Sequence[str],
    series: Mapping[str, object],
    *,
    title: str = "",
    value_name: str = "value",
    decimals: int = 2,
    height: int = 360,
    reference: tuple[str, float] | None = None,
) -> Figure:
    """Horizontal bars, one group per label and one bar per series (colour and hatch tell the series apart).

    Args:
        series: name → one value per label.
        reference: (name, value) drawn as a dotted vertical line, e.g. a uniform baseline.
    """
    names = _safe(labels)
    patterns = ("", "/", ".", "x")
    data = []
    top = 0.0
    for n, (name, values) in enumerate(series.items()):
        v = _array(values).ravel()  # (N,)
        top = max(top, float(np.nanmax(v, initial=0.0)))
        label = html.escape(name, quote=False)
        data.append({
            "type": "bar", "orientation": "h", "x": v, "y": list(range(len(names))), "name": label,
            "customdata": names, "marker": {"color": OKABE_ITO[n % len(OKABE_ITO)],
                                            "pattern": {"shape": patterns[n % len(patterns)]}},
            "text": [f"{x:.{decimals}f}" for x in v], "textposition": "outside", "cliponaxis": False,
            "hovertemplate": f"<b>%{{customdata}}</b><br>{label}: %{{x:.{decimals}f}}<extra></extra>",
        })  # fmt: skip
    if reference is not None:
        top = max(top, float(reference[1]))
    layout: Spec = {
        "barmode": "group",
        "yaxis": _category_axis(names, autorange="reversed"),
        "xaxis": {"title": {"text": value_name}, "range": [0.0, 1.2 * top if top > 0 else 1.0]},
        "legend": {"orientation": "h", "y": -0.25, "x": 0},
    }
    if reference is not None:
        value = float(reference[1])
        layout["shapes"] = [{
            "type": "line", "xref": "x", "yref": "paper", "x0": value, "x1": value, "y0": 0, "y1": 1,
            "line": {"color": "#555555", "dash": "dot", "width": 2},
        }]  # fmt: skip
        layout["annotations"] = [{
            "text": html.escape(reference[0], quote=False), "xref": "x", "yref": "paper", "x": value, "y": 1,
            "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 12, "color": "#555555"},
        }]  # fmt: skip
    return _figure(data, layout, title, height)


def heatmap_mosaic(
    maps: object,
    labels: Sequence[str],
    *,
    row_headers: Sequence[str],
    col_headers: Sequence[str],
    title: str = "",
    value_name: str = "weight",
    zmax: float = 1.0,
    highlight: tuple[int, int] | None = None,
    panel_height: int | None = None,
) -> Figure:
    """A grid of small square maps drawn as ONE heatmap with empty lines between the panels.

    One trace instead of one per panel: a 6 × 12 grid built trace by trace costs plotly about 60 ms per
    rerun. Hover names the panel with the words: "the (layer 2)" → "cat (head 3)".

    Args:
        maps: (R, C, G, G) one G×G map per grid cell, e.g. (layers, heads, tokens, tokens).
        labels: G token labels, shared by every map.
        row_headers, col_headers: R and C names, e.g. "layer 1" and "head 1".
        highlight: (r, c) of a panel to frame.
        panel_height: pixels per grid row; default grows with G from 64 to 96.
    """
    z = _array(maps)  # (R, C, G, G)
    n_r, n_c, g, _ = z.shape
    step = g + 1  # a panel and the empty line after it
    gap = 0.5 if g <= 16 else 0  # white lines between cells would wash out cells of a pixel or two
    big = np.full((n_r * step - 1, n_c * step - 1), np.nan, dtype=np.float32)  # (R·(G+1)−1, C·(G+1)−1)
    for r in range(n_r):
        for c in range(n_c):
            big[r * step : r * step + g, c * step : c * step + g] = z[r, c]
    words = _safe(unique_labels(labels))
    heads = [html.escape(h, quote=False) for h in col_headers]
    rows = [html.escape(h, quote=False) for h in row_headers]
    # category axes need distinct labels: the gap lines get their own (never shown: ticks are off)
    x = [f"{words[k]} ({heads[c]})" if k < g else f"gap {c}" for c in range(n_c) for k in range(step)][:-1]
    y = [f"{words[k]} ({rows[r]})" if k < g else f"gap {r}" for r in range(n_r) for k in range(step)][:-1]
    trace: Spec = {
        "type": "heatmap", "z": big, "x": x, "y": y, "colorscale": SEQUENTIAL, "zmin": 0.0, "zmax": zmax,
        "hoverongaps": False, "xgap": gap, "ygap": gap,
        "colorbar": {"thickness": 12, "title": {"text": html.escape(value_name), "side": "right"}},
        "hovertemplate": f"word: <b>%{{y}}</b><br>attends to: <b>%{{x}}</b><br>{html.escape(value_name)}: "
        "<b>%{z:.2f}</b><extra></extra>",
    }  # fmt: skip
    notes: list[Spec] = [
        {"text": heads[c], "x": c * step + (g - 1) / 2, "y": 0, "xref": "x", "yref": "paper", "yanchor": "bottom",
         "showarrow": False, "font": {"size": 12}}
        for c in range(n_c)
    ] + [
        {"text": rows[r], "x": 0, "y": r * step + (g - 1) / 2, "xref": "paper", "yref": "y", "xanchor": "right",
         "xshift": -6, "showarrow": False, "font": {"size": 12}}
        for r in range(n_r)
    ]  # fmt: skip
    for note in notes[:n_c]:
        note["y"] = 1.0
    shapes = []
    if highlight is not None:
        r, c = highlight
        shapes.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": c * step - 0.9, "x1": c * step + g - 0.1,
            "y0": r * step - 0.9, "y1": r * step + g - 0.1, "line": {"color": OKABE_ITO[5], "width": 3},
        })  # fmt: skip
    layout = {
        "xaxis": {"type": "category", "showticklabels": False, "showgrid": False, "fixedrange": True, "ticks": ""},
        "yaxis": {"type": "category", "showticklabels": False, "showgrid": False, "fixedrange": True, "ticks": "",
                  "autorange": "reversed"},
        "annotations": notes,
        "shapes": shapes,
        "plot_bgcolor": "white",
    }  # fmt: skip
    panel_height = panel_height or int(min(96, max(64, 2 * g)))
    fig = _figure([trace], layout, title, (50 if title else 10) + 30 + n_r * panel_height + 10)
    fig.spec["layout"]["margin"] = {"l": 70, "r": 10, "t": (50 if title else 10) + 24, "b": 10}
    return fig


def token_buckets(labels: Sequence[str], buckets: object, *, title: str = "", n_buckets: int | None = None) -> Figure:
    """Tokens coloured by the bucket a hash put them in, one row per round of hashing.

    The bucket number is written in every cell as well, so nothing depends on telling colours apart.

    Args:
        labels: T tokens.
        buckets: (R, T) integer buckets.
        n_buckets: how many buckets there can be (fixes the colours across rounds); default the largest seen + 1.
    """
    b = np.asarray(_array(buckets), dtype=np.int64)  # (R, T)
    n_rounds, t = b.shape
    count = int(n_buckets if n_buckets is not None else (b.max(initial=0) + 1))
    colours = OKABE_ITO[:7]  # not the black: the token is written in black on top
    palette = [colours[i % len(colours)] for i in range(max(count, 1))]
    # a discrete scale: bucket i takes the band [i/count, (i+1)/count] of the colour scale
    scale: list[list[object]] = []
    for i, colour in enumerate(palette):
        scale += [[i / len(palette), colour], [(i + 1) / len(palette), colour]]
    names = _safe(labels)
    text = [[f"{names[j]}<br>bucket {b[r, j]}" for j in range(t)] for r in range(n_rounds)]
    trace: Spec = {
        "type": "heatmap", "z": b.astype(float), "x": list(range(t)), "y": [f"round {r + 1}" for r in range(n_rounds)],
        "zmin": -0.5, "zmax": len(palette) - 0.5, "colorscale": scale, "showscale": False, "xgap": 2, "ygap": 2,
        "opacity": 0.8,
        "text": text, "texttemplate": "%{text}", "textfont": {"size": 13, "color": "#000000"},
        "hovertemplate": "%{y}: %{text}<extra></extra>",
    }  # fmt: skip
    layout = {
        "xaxis": _category_axis(names, showticklabels=False),  # the tokens are written in the cells
        "yaxis": {"type": "category", "autorange": "reversed", "showgrid": False},
    }
    return _figure([trace], layout, title, 110 + 70 * n_rounds)
