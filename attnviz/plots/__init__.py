"""Plot builders: pure functions that return a fresh figure (`Figure`: plotly's JSON as plain data). No streamlit here.

One module per kind of figure; every public name is importable from here (`from attnviz import plots`, then
`plots.heatmap(...)`):

- `_base`: the `Figure`, the colour scales and palettes, the helpers every builder shares;
- `cells`: whether numbers fit a heatmap's cells;
- `heatmaps`: `heatmap`, its `attention_map` preset, `matrix`, `strip`, keeping the top k of each row;
- `grids`: many small maps in one figure (`heatmap_grid`, `heatmap_mosaic`);
- `lines`: `lines` of `Series`, `category_lines`;
- `bars`: `bars`, `ranking`, `grouped_bars`, `distributions`;
- `scatter`: `scatter`, `moves`, `query_key_moves`;
- `heads`: `head_view`, `multihead_diagram`, `token_buckets`;
- `theme`: `styled`, the look the classroom view settings give any figure (cells, high contrast, presenter type).
"""

# ruff: noqa: I001  (the helpers below are imported apart from the public names, on purpose)
from attnviz.plots._base import (
    ARROW_COLOURS,
    CIVIDIS,
    DIVERGING,
    HIGH_CONTRAST_DIVERGING,
    HIGH_CONTRAST_SEQUENTIAL,
    INFERNO,
    MARKERS,
    OKABE_ITO,
    PLOTLY_JS_SCALES,
    SCREEN_HEIGHT,
    SEQUENTIAL,
    Figure,
    Spec,
    high_contrast_scale,
)
from attnviz.plots.bars import bars, distributions, grouped_bars, ranking
from attnviz.plots.cells import (
    CELL_FONT_MIN,
    CELL_TEXT_MAX,
    CELLS_NOTE,
    LINE_SPACING,
    NARROW_CELL_TEXT_MAX,
    PAGE_WIDTH,
    cell_font_size,
    cells_fit,
)
from attnviz.plots.census import LABEL_COLOURS, census_grid
from attnviz.plots.grids import heatmap_grid, heatmap_mosaic
from attnviz.plots.heads import head_view, multihead_diagram, token_buckets
from attnviz.plots.heatmaps import TOP_K, TOP_K_ABOVE, attention_map, auto_top_k, heatmap, matrix, strip, top_k_per_row
from attnviz.plots.lines import Series, category_lines, coincident, coincident_groups, lines
from attnviz.plots.scatter import moves, query_key_moves, scatter
from attnviz.plots.theme import CELLS_VIEW_MAX, PRESENT_FONT, styled

# the builders' shared helpers stay importable from here, as they were from the single module `attnviz/plots.py`
from attnviz.plots._base import _array, _axis_key, _axis_ref, _category_axis, _figure, _safe  # noqa: F401
from attnviz.plots.cells import _AROUND, _plot_area, _widest_number  # noqa: F401
from attnviz.plots.scatter import _label_positions  # noqa: F401

__all__ = [
    "ARROW_COLOURS",
    "CELLS_NOTE",
    "CELLS_VIEW_MAX",
    "CELL_FONT_MIN",
    "CELL_TEXT_MAX",
    "CIVIDIS",
    "DIVERGING",
    "HIGH_CONTRAST_DIVERGING",
    "HIGH_CONTRAST_SEQUENTIAL",
    "INFERNO",
    "LABEL_COLOURS",
    "LINE_SPACING",
    "MARKERS",
    "NARROW_CELL_TEXT_MAX",
    "OKABE_ITO",
    "PAGE_WIDTH",
    "PLOTLY_JS_SCALES",
    "PRESENT_FONT",
    "SCREEN_HEIGHT",
    "SEQUENTIAL",
    "TOP_K",
    "TOP_K_ABOVE",
    "Figure",
    "Series",
    "Spec",
    "attention_map",
    "auto_top_k",
    "bars",
    "category_lines",
    "cell_font_size",
    "cells_fit",
    "census_grid",
    "coincident",
    "coincident_groups",
    "distributions",
    "grouped_bars",
    "head_view",
    "heatmap",
    "heatmap_grid",
    "heatmap_mosaic",
    "high_contrast_scale",
    "lines",
    "matrix",
    "moves",
    "multihead_diagram",
    "query_key_moves",
    "ranking",
    "scatter",
    "strip",
    "styled",
    "token_buckets",
    "top_k_per_row",
]
