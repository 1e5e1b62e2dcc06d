"""The head census as a figure: a layers × heads grid of labels (`attnviz.census`), each cell a link to its head.

The label order is `attnviz.census.LABELS` (a test holds the two together); it is read from the colours here, so
that the plots stay free of torch.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from attnviz.plots._base import Figure

# one colour per label, Okabe & Ito's where they fit; every cell also names its label, so colour is never alone
LABEL_COLOURS = {
    "previous-token": "#0072B2",
    "next-token": "#56B4E9",
    "self": "#009E73",
    "sink": "#999999",
    "broad": "#E69F00",
    "local": "#F0E442",
    "mixed": "#F2F2F2",
}
SHORT = {
    "previous-token": "prev",
    "next-token": "next",
    "self": "self",
    "sink": "sink",
    "broad": "broad",
    "local": "local",
    "mixed": "mixed",
}
LABELS = tuple(LABEL_COLOURS)  # the order of `attnviz.census.LABELS`
_DARK_TEXT = {"next-token", "broad", "local", "mixed"}  # light backgrounds: black text; the others white


def census_grid(
    labels: Sequence[Sequence[str]],
    hover: Sequence[Sequence[str]],
    links: Sequence[Sequence[str]] | None = None,
    *,
    title: str = "",
    height: int = 360,
) -> Figure:
    """One cell per head, coloured and named by its label; with ``links``, the name is a link (same tab).

    Args:
        labels: [layer][head] labels from `attnviz.census.LABELS`.
        hover: [layer][head] the figures behind each label, shown on hover (plain text; escaped here).
        links: [layer][head] URLs of each head's view, or None for no links.
    """
    n_layers, n_heads = len(labels), len(labels[0]) if labels else 0
    n = len(LABELS)
    index = {label: i for i, label in enumerate(LABELS)}
    z = [[index[label] for label in row] for row in labels]  # (L, H) label numbers
    scale = []
    for i, label in enumerate(LABELS):  # a step scale: label i fills [i/n, (i+1)/n]
        scale += [[i / n, LABEL_COLOURS[label]], [(i + 1) / n, LABEL_COLOURS[label]]]
    heads = [str(h + 1) for h in range(n_heads)]
    layers = [str(layer + 1) for layer in range(n_layers)]
    cells = {
        "type": "heatmap",
        "z": z,
        "x": heads,
        "y": layers,
        "zmin": -0.5,
        "zmax": n - 0.5,
        "colorscale": scale,
        "showscale": False,
        "xgap": 2,
        "ygap": 2,
        "text": [[html.escape(t, quote=False).replace("\n", "<br>") for t in row] for row in hover],
        "hovertemplate": "layer %{y} · head %{x}<br>%{text}<extra></extra>",
        "showlegend": False,
    }
    annotations = _names(labels, links, heads, layers)
    legend = _legend(labels)
    layout = {
        "title": {"text": html.escape(title, quote=False), "x": 0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "xaxis": {
            "title": {"text": "head"},
            "side": "top",
            "tickmode": "array",
            "tickvals": heads,  # every head numbered, not every other
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        "yaxis": {
            "title": {"text": "layer"},
            "autorange": "reversed",
            "tickmode": "array",
            "tickvals": layers,
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        "annotations": annotations,
        "legend": {"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0, "font": {"size": 11}},
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    return Figure({"data": [cells, *legend], "layout": layout})


def _names(
    labels: Sequence[Sequence[str]], links: Sequence[Sequence[str]] | None, heads: list[str], layers: list[str]
) -> list[dict]:
    """Each cell's label as text (a link to the head's view with ``links``), in a colour readable on its cell."""
    annotations = []
    for layer in range(len(labels)):
        for head in range(len(heads)):
            label = labels[layer][head]
            colour = "#000000" if label in _DARK_TEXT else "#FFFFFF"
            text = SHORT[label]
            if links is not None:  # a link's own colour (plotly's blue) would be unreadable on half the labels
                href = html.escape(links[layer][head], quote=True)
                text = f'<a href="{href}" target="_self" style="color:{colour}">{text}</a>'
            annotations.append(
                {
                    "x": heads[head],
                    "y": layers[layer],
                    "text": text,
                    "showarrow": False,
                    "font": {"size": 12, "color": colour},
                    # without it, plotly's drag layer over the plot area takes the click and the link never gets it
                    "captureevents": links is not None,
                }
            )
    return annotations


def _legend(labels: Sequence[Sequence[str]]) -> list[dict]:
    """One legend entry per label present, with its count: the key to the colours."""
    counts = {label: sum(row.count(label) for row in labels) for label in LABELS}
    return [
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "markers",
            "marker": {"symbol": "square", "size": 12, "color": LABEL_COLOURS[label], "line": {"width": 1}},
            "name": f"{label} ({counts[label]})",
            "hoverinfo": "skip",
        }
        for label in LABELS
        if counts[label]
    ]
