"""Plot builders: pure functions that return a fresh plotly Figure. No streamlit here.

Colours are colour-blind safe: matrices use a diverging blue–white–orange scale centred on zero (or a
sequential one for weights that cannot be negative) and categorical colours come from Okabe & Ito.
Every value is also in the hover text, so nothing is conveyed by colour alone.

Figures are assembled as plain dicts and wrapped without plotly's property validation, which costs
15–20 ms a figure and would be paid on every rerun; the tests validate every builder's output instead.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from attnviz.labels import unique_labels

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
ARROW_COLOURS = (OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[5], OKABE_ITO[3], OKABE_ITO[7])
DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#fdb863"], [1.0, "#b35806"]]
SEQUENTIAL = "Cividis"
CELL_TEXT_MAX = 14  # write the value in every cell when the matrix is at most this many rows and columns
NARROW_CELL_TEXT_MAX = 10  # the same for a heatmap that shares the width with another
TOP_K_ABOVE = 30  # a wider attention map keeps only its strongest keys per row (see `auto_top_k`)
TOP_K = 5  # how many keys per row it keeps
MARKERS = ("circle", "diamond", "square", "triangle-up", "x", "star")  # shape as well as colour tells series apart

Spec = dict[str, Any]


def _safe(labels: Sequence[object]) -> list[str]:
    """Plotly reads a few HTML tags in labels; learner text must show as text."""
    return [html.escape(str(label), quote=False) for label in labels]


def _array(x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(x, dtype=np.float64)


def _figure(data: list[Spec], layout: Spec, title: str, height: int) -> go.Figure:
    base: Spec = {
        "title": {"text": html.escape(title, quote=False), "x": 0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 50 if title else 10, "b": 10},
        "font": {"size": 15},
        "hoverlabel": {"font": {"size": 15}},
    }
    return go.Figure({"data": data, "layout": base | layout}, _validate=False)


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
) -> go.Figure:
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
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
    }
    if zrange is not None:
        trace |= {"zmin": zrange[0], "zmax": zrange[1]}
    elif diverging:
        trace |= {"zmid": 0.0, "zmin": -limit, "zmax": limit}
    if cell_text:
        trace |= {"texttemplate": f"%{{z:.{decimals}f}}", "textfont": {"size": 12 if narrow else 13}}
    layout = {
        "xaxis": {
            "type": "category",
            "title": {"text": col_title},
            "side": "top",
            "showgrid": False,
            "tickangle": -45 if slanted else 0,
        },
        "yaxis": {"type": "category", "title": {"text": row_title}, "autorange": "reversed", "showgrid": False},
    }
    if slanted and title:
        # slanted labels above the matrix would run into the title: give the title its own room at the top, and
        # leave the column axis unnamed (the hover names it), since its name would sit on the title's line
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
    auto_height = 140 + (34 if n_rows <= 20 else 22) * n_rows
    return _figure([trace], layout, title, height or min(900, auto_height))


@dataclass(frozen=True)
class Series:
    """One line (or set of points) of a `lines` chart."""

    name: str  # legend entry
    x: object  # (N,)
    y: object  # (N,)
    mode: str = "lines"  # "lines", "markers" or "lines+markers"
    dash: str = "solid"  # "solid", "dash", "dot"
    colour: int | None = None  # index into OKABE_ITO; default the series' position


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
) -> go.Figure:
    """Lines and points on shared axes (loss curves, a measurement against its formula).

    A logarithmic axis is labelled at the given ``x_ticks`` (x) or at powers of ten (y), never at plotly's
    in-between 2s and 5s, which read like a linear scale.
    """
    data = []
    for n, s in enumerate(series):
        colour = OKABE_ITO[(n if s.colour is None else s.colour) % len(OKABE_ITO)]
        name = html.escape(s.name, quote=False)
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
) -> go.Figure:
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


def matrix(
    m: object,
    *,
    title: str = "",
    row_title: str = "row",
    col_title: str = "column",
    value_name: str = "value",
    height: int = 420,
) -> go.Figure:
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
) -> go.Figure:
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
) -> go.Figure:
    """A bar per label; ``highlight`` marks some bars in the second colour and with a hatch pattern."""
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
    return _figure([trace], layout, title, height)


def scatter(
    coords: object,
    labels: Sequence[str],
    *,
    arrows: Sequence[tuple[int, int]] = (),
    title: str = "",
    axis_titles: Sequence[str] = ("PC 1", "PC 2", "PC 3"),
    height: int = 520,
) -> go.Figure:
    """Labelled points in 2-D or 3-D with arrows from one point to another.

    Args:
        coords: (N, 2) or (N, 3).
        arrows: (from, to) index pairs; each arrow gets its own colour and a legend entry "a → b".
    """
    xyz = _array(coords)  # (N, 2|3)
    names = _safe(labels)
    three_d = xyz.shape[1] == 3
    kind = "scatter3d" if three_d else "scatter"

    def xyz_of(idx: list[int]) -> Spec:
        out = {"x": xyz[idx, 0], "y": xyz[idx, 1]}
        return out | {"z": xyz[idx, 2]} if three_d else out

    points: Spec = {
        "type": kind,
        "mode": "markers+text",
        "text": names,
        "textposition": "top center",
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
    else:
        layout["xaxis"] = {"title": {"text": axis_titles[0]}, "zeroline": False}
        layout["yaxis"] = {"title": {"text": axis_titles[1]}, "zeroline": False, "scaleanchor": "x", "scaleratio": 1}
    return _figure(data, layout, title, height)


def distributions(
    groups: Mapping[str, object], *, title: str = "", value_name: str = "score", height: int = 380
) -> go.Figure:
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
