"""Numbers written in a heatmap's cells: when they are written, and when they fit the cells as drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from attnviz.plots._base import Spec, _array

CELL_TEXT_MAX = 14  # write the value in every cell when the matrix is at most this many rows and columns
NARROW_CELL_TEXT_MAX = 10  # the same for a heatmap that shares the width with another

# Numbers in cells. plotly.js sizes them itself when the trace sets no size (its heatmap `textfont.size` is "auto",
# src/traces/heatmap/plot.js): the largest size at which the widest number fits the narrowest cell, at most the
# figure's font size, measured on the figure as drawn (so on a phone as on a projector). `cell_font_size` is that
# rule; `heatmap` uses it, with the width the figure gets on a 1280-pixel screen, to leave the numbers out where
# even there they would be smaller than `CELL_FONT_MIN` (hovering a cell always gives its value). On a narrower
# window, or a phone, plotly.js shrinks them further: there the page's CSS hides the ones it draws too small
# (app_support.kit.screens), so that numbers drop out rather than shrink below a readable size.
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
