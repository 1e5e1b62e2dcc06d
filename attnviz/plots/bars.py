"""Bars and histograms: one value per label, groups of values per label, distributions of scores."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np

from attnviz.plots._base import OKABE_ITO, Figure, Spec, _array, _category_axis, _figure, _safe


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
