"""Labelled matrices: the heatmap of scores or weights, its attention-map preset, a weight matrix as a picture, a
strip of vectors."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attnviz.labels import unique_labels
from attnviz.plots._base import DIVERGING, OKABE_ITO, SCREEN_HEIGHT, SEQUENTIAL, Figure, Spec, _array, _figure, _safe
from attnviz.plots.cells import (
    CELL_FONT_MIN,
    CELL_TEXT_MAX,
    CELLS_NOTE,
    NARROW_CELL_TEXT_MAX,
    _plot_area,
    _widest_number,
    cell_font_size,
)

TOP_K_ABOVE = 30  # a wider attention map keeps only its strongest keys per row (see `auto_top_k`)
TOP_K = 5  # how many keys per row it keeps


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
    hover = _Hover(row_title, col_title, value_name, decimals)
    trace = _value_trace(z, rows, cols, hover, diverging=diverging, zrange=zrange, zmax=zmax)
    height = height or min(SCREEN_HEIGHT, 140 + (34 if n_rows <= 20 else 22) * n_rows)
    if cell_text is None:
        cell_text = max(n_rows, n_cols) <= (NARROW_CELL_TEXT_MAX if narrow else CELL_TEXT_MAX)
    written = cell_text and _numbers_fit(z, rows, decimals, height, narrow, bool(title))
    if written:  # no size: plotly.js fits the numbers to the cells as drawn (see `cell_font_size`)
        trace["texttemplate"] = f"%{{z:.{decimals}f}}"
    layout = _heatmap_axes(cols, row_title, col_title, title, slanted=_slanted(cols, narrow), tick_step=col_tick_step)
    if _thin_labels(layout, rows, cols, height, narrow=narrow, title=bool(title), tick_step=col_tick_step) and title:
        layout["title"]["subtitle"] = {"text": ZOOM_NOTE, "font": {"size": 13}}
    if row_notes is not None:
        _add_row_notes(layout, trace, rows, row_notes, bool(title))
    shapes = _dividers(n_rows, n_cols, col_groups, row_groups) + _frames(n_rows, n_cols, highlight_rows, boxes)
    if shapes:
        layout["shapes"] = shapes
    data = [trace]
    if overlay is not None:
        data.append(_overlay_trace(overlay, z, trace, hover, overlay_name))
    if cell_text and not written:  # the numbers were wanted but do not fit: a note under the map says so
        layout["annotations"] = [*layout.get("annotations", []), CELLS_NOTE]
        layout["margin"] = (layout.get("margin") or {"l": 10, "r": 10, "t": 50 if title else 10}) | {"b": 34}
    # a hint for whoever writes numbers into the cells later (`theme.styled`): the share of the page it gets
    layout["meta"] = {"attnviz_share": 0.5 if narrow else 1.0}
    return _figure(data, layout, title, height)


def attention_map(
    weights: object,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    row_title: str = "query",
    col_title: str = "key",
    value_name: str = "weight",
    diverging: bool = False,
    zmax: float | None = 1.0,
    **options: Any,
) -> Figure:
    """An attention map: weights from 0 to 1 on the sequential scale, queries down and keys across.

    The preset of `heatmap` for softmax weights (every other `heatmap` argument passes through ``options``). An
    approximation whose weights can be negative asks for ``diverging=True, zmax=None``.

    Args:
        weights: (T, S) one row of weights per query.
        rows, cols: T query and S key labels.
    """
    return heatmap(weights, rows, cols, row_title=row_title, col_title=col_title, value_name=value_name,
                   diverging=diverging, zmax=zmax, **options)  # fmt: skip


@dataclass(frozen=True)
class _Hover:
    """What a heatmap's hover names: the row, the column and the value, with its decimals."""

    row_title: str
    col_title: str
    value_name: str
    decimals: int

    def template(self, value: str = "z", note: str = "") -> str:
        """The hover text; ``value`` is the trace field holding the number, ``note`` follows it in brackets."""
        after = f" ({html.escape(note)})" if note else ""
        return (
            f"{html.escape(self.row_title or 'row')}: <b>%{{y}}</b><br>"
            f"{html.escape(self.col_title or 'column')}: <b>%{{x}}</b><br>"
            f"{html.escape(self.value_name)}: <b>%{{{value}:.{self.decimals}f}}</b>{after}<extra></extra>"
        )


def _value_trace(
    z: np.ndarray, rows: list[str], cols: list[str], hover: _Hover, *, diverging: bool,
    zrange: tuple[float, float] | None, zmax: float | None,
) -> Spec:  # fmt: skip
    """The heatmap trace of the values (R, C), with its colour scale and range: ``zrange`` if given, else centred on
    zero when ``diverging``, else from 0 to ``zmax`` if given (plotly's own range otherwise)."""
    n_rows, n_cols = z.shape
    trace: Spec = {
        "type": "heatmap",
        "z": z,
        "x": cols,
        "y": rows,
        "colorscale": DIVERGING if diverging else SEQUENTIAL,
        "hovertemplate": hover.template(),
        "colorbar": {"thickness": 14, "title": {"text": html.escape(hover.value_name), "side": "right"}},
        # white lines between cells, except where cells are so small that the lines would wash them out
        "xgap": 1 if n_cols <= 60 else 0,
        "ygap": 1 if n_rows <= 60 else 0,
        "hoverongaps": False,
    }
    finite = z[np.isfinite(z)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    if zrange is not None:
        trace |= {"zmin": zrange[0], "zmax": zrange[1]}
    elif diverging:
        trace |= {"zmid": 0.0, "zmin": -limit, "zmax": limit}
    elif zmax is not None:
        trace |= {"zmin": 0.0, "zmax": zmax}
    return trace


def _numbers_fit(z: np.ndarray, rows: list[str], decimals: int, height: float, narrow: bool, title: bool) -> bool:
    """Whether the values, written with ``decimals`` decimals, fit the cells on a 1280-pixel screen at
    `CELL_FONT_MIN` or more."""
    n_rows, n_cols = z.shape
    area = _plot_area(height, n_rows, rows, narrow=narrow, title=title)
    return cell_font_size(*area, n_rows, n_cols, _widest_number(z, decimals)) >= CELL_FONT_MIN


def _slanted(cols: list[str], narrow: bool) -> bool:
    """Whether the column labels are slanted: many columns, or labels that would touch in half a page."""
    n_cols = len(cols)
    return n_cols > 8 or (narrow and (n_cols > 6 or sum(len(c) for c in cols) > 24))


def _heatmap_axes(
    cols: list[str], row_title: str, col_title: str, title: str, *, slanted: bool, tick_step: int
) -> Spec:
    """The layout's category axes (rows read downwards, column labels on top) and the title's room."""
    layout: Spec = {
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
    if tick_step > 1:
        ticks = cols[::tick_step]
        layout["xaxis"] |= {"side": "bottom", "tickangle": 0, "tickmode": "array", "tickvals": ticks, "ticktext": ticks}
    return layout


MAX_COLUMN_LABELS = 40  # on a full-width map; a half-width one gets half as many
ROW_LABEL_PX = 14  # the least height a row label needs so that it does not overlap the next
# said under the title of a map whose labels are thinned (`_thin_labels`): plotly.js zooms on a drag, with a mouse or
# a finger, and goes back on a double-click (a double tap)
ZOOM_NOTE = "Drag over the map to zoom in; double-click to zoom out."


def _thin_labels(
    layout: Spec, rows: list[str], cols: list[str], height: float, *, narrow: bool, title: bool, tick_step: int
) -> bool:
    """Label every k-th row or column where all of them would overlap (a paragraph's 200 tokens), by telling plotly.js
    how many labels have room (``nticks``): it labels every k-th category, and more as a drag zooms in, until every
    label in view is drawn. The hover names every cell.

    Returns:
        whether labels were left out (the map then says how to zoom: `ZOOM_NOTE`).
    """
    thinned = False
    most = MAX_COLUMN_LABELS // (2 if narrow else 1)
    if tick_step == 1 and len(cols) > most:
        layout["xaxis"] |= {"tickmode": "auto", "nticks": most}
        thinned = True
    room = max(height - (50 if title else 10) - 60, 1.0)  # the plot area's height, as in `_plot_area`
    if len(rows) * ROW_LABEL_PX > room:
        layout["yaxis"] |= {"tickmode": "auto", "nticks": max(int(room) // ROW_LABEL_PX, 2)}
        thinned = True
    return thinned


def _add_row_notes(layout: Spec, trace: Spec, rows: list[str], notes: Sequence[str], title: bool) -> None:
    """Write a note at the right end of each row, in a margin of its own; the colour bar moves below the map."""
    layout["annotations"] = [
        {"x": 1.0, "xref": "paper", "xanchor": "left", "xshift": 6, "y": r, "yref": "y", "showarrow": False,
         "text": html.escape(str(note), quote=False), "font": {"size": 13}}
        for r, note in zip(rows, notes, strict=True)
    ]  # fmt: skip
    trace["colorbar"] |= {"orientation": "h", "y": -0.02, "yanchor": "top", "len": 0.6, "thickness": 12}
    layout["margin"] = {"l": 10, "r": 80, "t": 50 if title else 10, "b": 70}


def _dividers(n_rows: int, n_cols: int, col_groups: int, row_groups: int) -> list[Spec]:
    """Black lines every ``col_groups`` columns and every ``row_groups`` rows (none for 0)."""
    lines: list[Spec] = []
    for size, count, vertical in ((col_groups, n_cols, True), (row_groups, n_rows, False)):
        for edge in range(size, count, size) if size > 0 else ():
            ends = {"x0": edge - 0.5, "x1": edge - 0.5, "y0": -0.5, "y1": n_rows - 0.5}
            if not vertical:
                ends = {"x0": -0.5, "x1": n_cols - 0.5, "y0": edge - 0.5, "y1": edge - 0.5}
            lines.append({"type": "line", "xref": "x", "yref": "y", "line": {"color": "#000000", "width": 2}} | ends)
    return lines


def _frames(
    n_rows: int, n_cols: int, highlight_rows: Sequence[int], boxes: Sequence[tuple[int, int, int, int]]
) -> list[Spec]:
    """Orange frames around whole rows and around (row_start, row_stop, col_start, col_stop) boxes."""
    frames: list[Spec] = []
    for r in highlight_rows:
        frames.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": -0.5, "x1": n_cols - 0.5, "y0": r - 0.5, "y1": r + 0.5,
            "line": {"color": OKABE_ITO[5], "width": 3},
        })  # fmt: skip
    for r0, r1, c0, c1 in boxes:
        frames.append({
            "type": "rect", "xref": "x", "yref": "y", "x0": c0 - 0.5, "x1": c1 - 0.5, "y0": r0 - 0.5, "y1": r1 - 0.5,
            "line": {"color": OKABE_ITO[5], "width": 4},
        })  # fmt: skip
    return frames


def _overlay_trace(overlay: object, z: np.ndarray, trace: Spec, hover: _Hover, name: str) -> Spec:
    """A translucent grey cover over the cells where ``overlay`` (R, C) is true; its hover still gives the value."""
    cover = np.where(np.asarray(overlay, dtype=bool), 1.0, np.nan)  # (R, C) 1 where covered, a gap elsewhere
    return {
        "type": "heatmap", "z": cover, "x": trace["x"], "y": trace["y"], "showscale": False, "opacity": 0.72,
        "colorscale": [[0.0, "#6b6b6b"], [1.0, "#6b6b6b"]], "xgap": trace["xgap"], "ygap": trace["ygap"],
        "hoverongaps": False, "name": html.escape(name), "customdata": z,
        "hovertemplate": hover.template("customdata", name),
    }  # fmt: skip


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
        height=height if height is not None else min(SCREEN_HEIGHT, 120 + 40 * z.shape[0]),  # fits a screen
        col_tick_step=5,
    )
