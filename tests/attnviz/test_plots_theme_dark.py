"""The dark theme's figures (`attnviz.plots.styled(..., dark=True)`): the builders' dark inks drawn on the paper
become light ones readable on the dark page; what is written on a heatmap's cells keeps its colour."""

import tomllib
from pathlib import Path

import numpy as np

from attnviz import plots
from attnviz.plots.theme import AXIS_INK, DARK_BACKGROUND, DARK_INK, axis_type, dark_ink

ROOT = Path(__file__).resolve().parents[2]


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: str, b: str) -> float:
    """WCAG 2.1's contrast ratio of two colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_dark_background_is_the_themes_and_every_light_ink_reads_on_it():
    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]["dark"]
    assert theme["backgroundColor"] == DARK_BACKGROUND
    for dark, light in DARK_INK.items():
        assert ratio(light, DARK_BACKGROUND) >= 4.5, (dark, light)
        assert ratio(dark, DARK_BACKGROUND) < 4.5, f"{dark} needed no light ink"


def test_notes_lines_and_words_on_the_paper_turn_light():
    fig = plots.bars(["a", "b"], [1.0, 2.0], title="t", reference=("mean", 1.5))
    notes = [n for n in fig.spec["layout"]["annotations"] if n.get("font", {}).get("color")]
    assert notes and all(n["font"]["color"] == "#555555" for n in notes)
    styled = plots.styled(fig, dark=True).spec
    assert all(n["font"]["color"] == DARK_INK["#555555"] for n in styled["layout"]["annotations"] if "font" in n)
    assert all(s["line"]["color"] == DARK_INK["#555555"] for s in styled["layout"]["shapes"])
    assert fig.spec["layout"]["annotations"][0]["font"]["color"] == "#555555", "the original is left alone"


def test_a_black_series_turns_white_and_cell_text_stays():
    spec = {
        "data": [
            {"type": "scatter", "line": {"color": "#000000"}, "textfont": {"color": ["#222222", "#D55E00"]}},
            {"type": "heatmap", "z": [[1.0]], "textfont": {"color": "#000000"}},
        ],
        "layout": {"annotations": [{"text": "on a cell", "font": {"color": "#FFFFFF"}}]},
    }
    dark_ink(spec)
    assert spec["data"][0]["line"]["color"] == "#ffffff"
    assert spec["data"][0]["textfont"]["color"] == ["#e6e6e6", "#D55E00"]
    assert spec["data"][1]["textfont"]["color"] == "#000000"
    assert spec["layout"]["annotations"][0]["font"]["color"] == "#FFFFFF"


def test_high_contrast_on_the_dark_theme_is_white_on_black():
    fig = plots.attention_map(np.eye(2), ["a", "b"], ["a", "b"], title="A")
    layout = plots.styled(fig, contrast=True, dark=True).spec["layout"]
    assert layout["paper_bgcolor"] == "#000000" and layout["font"]["color"] == "#ffffff"
    assert layout["xaxis"]["tickfont"]["color"] == "#ffffff"
    light = plots.styled(fig, contrast=True).spec["layout"]
    assert light["paper_bgcolor"] == "#ffffff" and light["font"]["color"] == "#000000"


def test_no_setting_no_copy():
    fig = plots.bars(["a"], [1.0])
    assert plots.styled(fig) is fig and plots.styled(fig, dark=True) is not fig


def test_axis_text_of_the_light_theme_is_readable():
    """Streamlit's chart theme draws tick labels and axis titles in #808495, 3.72:1 on white; `axis_type` gives
    them `AXIS_INK`, colour bars of a grid of maps (a shared colour axis) included."""
    assert ratio("#808495", "#ffffff") < 4.5 <= 7 <= ratio(AXIS_INK, "#ffffff")
    fig = plots.heatmap_grid(np.ones((2, 3, 3)) / 3, ["a", "b", "c"], ["a", "b", "c"], n_cols=2, names=["h1", "h2"])
    axis_type(fig.spec)
    layout = fig.spec["layout"]
    assert layout["xaxis"]["tickfont"]["color"] == AXIS_INK and layout["yaxis2"]["tickfont"]["color"] == AXIS_INK
    assert layout["coloraxis"]["colorbar"]["tickfont"]["color"] == AXIS_INK
    assert layout["legend"]["font"]["color"] == AXIS_INK


def test_the_head_views_words_stand_on_the_dark_page_not_on_white():
    """The head view draws its words on a white plot area; on the dark theme they are light, so it turns dark."""
    fig = plots.head_view(["a", "b"], ["a", "b"], np.array([[0.9, 0.1], [0.2, 0.8]]), title="h")
    assert fig.spec["layout"]["plot_bgcolor"] == "white"
    layout = plots.styled(fig, dark=True).spec["layout"]
    assert layout["plot_bgcolor"] == DARK_BACKGROUND
    grid = plots.heatmap_grid(np.ones((2, 3, 3)) / 3, ["a", "b", "c"], ["a", "b", "c"], n_cols=2, names=["1", "2"])
    grid.spec["layout"]["plot_bgcolor"] = "white"  # as the mosaic of all heads has it
    assert plots.styled(grid, dark=True).spec["layout"]["plot_bgcolor"] == "white", "white lines between cells"
