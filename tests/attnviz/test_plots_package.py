"""The plots package as a whole (attnviz/plots/__init__.py): every name the single module `attnviz/plots.py` had is
still importable from `attnviz.plots`, its modules stay small, and the core knows no pages and no Streamlit."""

import ast
import importlib
from pathlib import Path

import pytest

from attnviz import plots

PACKAGE = Path(plots.__file__).parent
# every top-level name of attnviz/plots.py before it became a package (callers elsewhere may use any of them)
FORMER = (
    "OKABE_ITO", "ARROW_COLOURS", "DIVERGING", "CIVIDIS", "INFERNO", "SEQUENTIAL", "HIGH_CONTRAST_DIVERGING",
    "HIGH_CONTRAST_SEQUENTIAL", "PLOTLY_JS_SCALES", "CELL_TEXT_MAX", "NARROW_CELL_TEXT_MAX", "TOP_K_ABOVE", "TOP_K",
    "MARKERS", "Spec", "Figure", "_safe", "_array", "_figure", "high_contrast_scale", "LINE_SPACING",
    "CELL_FONT_MIN", "PAGE_WIDTH", "_AROUND", "CELLS_NOTE", "cells_fit", "cell_font_size", "_plot_area",
    "_widest_number", "auto_top_k", "top_k_per_row", "_category_axis", "heatmap", "Series", "lines", "moves",
    "query_key_moves", "matrix", "strip", "bars", "ranking", "_label_positions", "scatter", "distributions",
    "_axis_key", "_axis_ref", "heatmap_grid", "head_view", "category_lines", "multihead_diagram", "grouped_bars",
    "heatmap_mosaic", "token_buckets",
)  # fmt: skip
MODULES = sorted(p for p in PACKAGE.glob("*.py"))


def test_every_former_name_is_importable_from_the_package():
    missing = [name for name in FORMER if not hasattr(plots, name)]
    assert not missing
    public = [name for name in FORMER if not name.startswith("_")]
    assert set(public) <= set(plots.__all__)
    assert {"attention_map", "styled", "PRESENT_FONT", "CELLS_VIEW_MAX"} <= set(plots.__all__)
    assert all(hasattr(plots, name) for name in plots.__all__)
    assert plots.CELL_TEXT_MAX == 14 and plots.CELLS_VIEW_MAX == 20, "a figure's own cells, and the view setting's"


def test_the_package_has_a_module_per_kind_of_figure():
    names = {p.stem for p in MODULES}
    assert {"_base", "cells", "heatmaps", "grids", "lines", "bars", "scatter", "heads", "theme"} <= names
    for stem in names - {"__init__"}:
        importlib.import_module(f"attnviz.plots.{stem}")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_and_functions_stay_small_enough_to_hold(path):
    """No module over 400 lines; no function over 80 lines (signature and docstring included)."""
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 80
    ]
    assert not long


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_core_knows_no_pages_and_no_streamlit(path):
    text = path.read_text(encoding="utf-8")
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert "streamlit" not in imported and "app_support" not in imported
    lowered = text.lower()
    assert "lesson" not in lowered and "l6_" not in lowered
