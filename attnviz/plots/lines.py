"""Lines over shared axes: measurements against formulas, values across layers."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from attnviz.plots._base import MARKERS, OKABE_ITO, Figure, Spec, _array, _category_axis, _figure, _safe


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
    under = coincident(series)
    for n, s in enumerate(series):
        colour = OKABE_ITO[(n if s.colour is None else s.colour) % len(OKABE_ITO)]
        name = html.escape(s.name, quote=False)
        line: Spec = {"color": colour, "dash": s.dash, "width": 3}
        if under[n] is not None:  # drawn over an earlier line: dashed, so that the one beneath shows through
            name += f", same line as {html.escape(series[under[n]].name, quote=False)}"
            line |= {"dash": ("dash", "dot", "dashdot")[sum(u is not None for u in under[:n]) % 3], "width": 2.5}
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
            "line": line,
            "marker": {"color": colour, "size": 10 if under[n] is None else 7, "symbol": MARKERS[n % len(MARKERS)]},
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


def coincident(series: Sequence[Series]) -> list[int | None]:
    """For each series, the first earlier one with the same points (x and y equal to 1 part in a billion), whose line
    it would hide; None where there is none. `lines` draws such a series dashed and names the line it lies on."""
    points = [(_array(s.x).ravel(), _array(s.y).ravel()) for s in series]
    out: list[int | None] = []
    for n, (x, y) in enumerate(points):
        same = (
            m for m in range(n)
            if out[m] is None and points[m][0].shape == x.shape and points[m][1].shape == y.shape
            and np.allclose(points[m][0], x, rtol=1e-9, atol=0) and np.allclose(points[m][1], y, rtol=1e-9, atol=0)
        )  # fmt: skip
        out.append(next(same, None))
    return out


def coincident_groups(series: Sequence[Series]) -> list[list[str]]:
    """The names of the series whose lines lie on one another (see `coincident`), a group per line, in order."""
    under = coincident(series)
    return [
        [series[first].name] + [s.name for s, u in zip(series, under, strict=True) if u == first]
        for first in sorted({u for u in under if u is not None})
    ]


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
