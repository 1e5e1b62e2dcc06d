"""Figures of paragraph mode: the block-averaged overview of a long T×T map (see `attnviz.paragraph`).

The full map stays the page's own `plots.heatmap` (plotly: drag to zoom, double-click to zoom out); this adds the
overview that can be read at a glance, with labels thinned so that none overlap.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from attnviz import plots
from attnviz.labels import unique_labels
from attnviz.paragraph import Blocks, thin_labels

OVERVIEW_HEIGHT = 560  # px, on every screen
CELL_TEXT_MAX = 8  # values in the cells up to this many blocks: more would be too small to read on a phone
FONT_PX = 15  # the figures' font size (`plots._figure`)
PHONE_PLOT_PX = 150  # the narrowest plot area: a phone, beside the row labels and the colour bar


def _as_drawn(labels: Sequence[str]) -> list[str]:
    """Category names as `plots.heatmap` writes them (distinct, escaped), to name its ticks."""
    return [html.escape(str(label), quote=False) for label in unique_labels(labels)]


def block_overview(
    blocks: Blocks,
    labels: Sequence[str],
    *,
    weights: bool,
    title: str = "",
    row_title: str = "",
    col_title: str = "block looked at",
    decimals: int = 2,
    height: int = OVERVIEW_HEIGHT,
) -> plots.Figure:
    """A (B, B) heatmap of a map averaged over blocks of tokens.

    Args:
        blocks: from `attnviz.paragraph.block_average`.
        labels: B row labels, e.g. from `attnviz.paragraph.block_labels` (which start with the block's number);
            columns are named by the number. On either axis only every n-th label is written when more would
            overlap (`thin_labels`); the hover names every cell.
        weights: the map holds attention weights: a cell is what a token of the row block gives the whole column
            block, on average (rows sum to 1); otherwise the mean of the cells between the two blocks.
    """
    z = blocks.total if weights else blocks.mean  # (B, B)
    spans = [str(n + 1) for n in range(len(blocks.starts))]  # block numbers, as the rows begin
    fig = plots.heatmap(
        z,
        labels,
        spans,
        title=title,
        row_title=row_title,
        col_title=col_title,
        value_name="weight" if weights else "mean",
        diverging=not weights,
        zmax=float(z.max()) if weights and z.size else None,
        decimals=decimals,
        height=height,
        cell_text=len(labels) <= CELL_TEXT_MAX,
    )
    # thin both axes: the rows by line height over the plot's height, the columns (upright) by their width on a phone
    rows, cols = _as_drawn(labels), _as_drawn(spans)
    keep_rows = thin_labels(rows, height - 170, font_px=FONT_PX)
    widest = max((len(html.unescape(c)) for c in cols), default=1)
    keep_cols = thin_labels(cols, PHONE_PLOT_PX, label_px=0.6 * FONT_PX * widest + 6)
    # the colour bar lies under the map, so that on a phone the map keeps the width beside the row labels
    fig.spec["data"][0]["colorbar"] |= {"orientation": "h", "y": -0.02, "yanchor": "top", "len": 0.8, "thickness": 12,
                                        "title": {"text": fig.spec["data"][0]["colorbar"]["title"]["text"],
                                                  "side": "top"}}  # fmt: skip
    layout = fig.spec["layout"]
    layout["margin"] = layout.get("margin", {}) | {"b": 70}
    layout["yaxis"] |= {"tickmode": "array", "tickvals": [rows[i] for i in keep_rows],
                        "ticktext": [rows[i] for i in keep_rows]}  # fmt: skip
    layout["xaxis"] |= {"tickmode": "array", "tickvals": [cols[i] for i in keep_cols],
                        "ticktext": [cols[i] for i in keep_cols], "tickangle": 0}  # fmt: skip
    return fig
