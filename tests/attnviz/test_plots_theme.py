"""The look the classroom view settings give a figure (attnviz/plots/theme.py): numbers in cells, high contrast,
presenter type. Pure functions of the figure, tested without Streamlit."""

import copy

import numpy as np
import pytest

from attnviz import plots
from attnviz.plots import theme
from tests.attnviz.plots_checks import valid


def heat(n: int, *, diverging: bool = True, decimals: int = 2, narrow: bool = False) -> plots.Figure:
    words = [f"w{i}" for i in range(n)]
    z = np.random.default_rng(n).normal(size=(n, n))
    return plots.heatmap(z, words, words, cell_text=False, diverging=diverging, decimals=decimals, narrow=narrow)


def test_nothing_asked_nothing_copied_and_the_original_is_left_alone():
    fig = heat(4)
    assert theme.styled(fig) is fig and plots.styled is theme.styled
    before = copy.deepcopy(fig.spec)
    for flags in ({"cells": True}, {"contrast": True}, {"present": True}):
        out = theme.styled(fig, **flags)
        assert out is not fig and isinstance(out, plots.Figure)
        valid(out)
    assert repr(fig.spec) == repr(before)


def test_high_contrast_gives_the_contrast_scales_and_black_type():
    diverging = theme.styled(heat(4), contrast=True).spec
    assert diverging["data"][0]["colorscale"] == plots.HIGH_CONTRAST_DIVERGING
    weights = theme.styled(plots.attention_map(np.eye(3), list("abc"), list("abc")), contrast=True).spec
    assert weights["data"][0]["colorscale"] == plots.HIGH_CONTRAST_SEQUENTIAL == plots.INFERNO
    layout = diverging["layout"]
    assert layout["font"]["color"] == "#000000" and layout["paper_bgcolor"] == layout["plot_bgcolor"] == "#ffffff"
    assert layout["xaxis"]["tickfont"]["color"] == "#000000" and layout["yaxis"]["color"] == "#000000"
    assert diverging["data"][0]["colorbar"]["tickfont"]["color"] == "#000000"
    assert diverging["data"][0]["colorbar"]["title"]["font"]["color"] == "#000000"
    bars = theme.styled(plots.bars(["a", "b"], [1.0, 2.0]), contrast=True).spec["data"][0]
    assert bars["marker"]["line"] == {"color": "#000000", "width": 1.5}, "bars get a black outline"
    line = theme.styled(plots.lines([plots.Series("a", [1, 2], [3, 4])]), contrast=True).spec["data"][0]
    assert line["line"]["width"] == 3, "a width the figure set is kept (it may carry a value)"
    bare = theme.styled(plots.Figure({"data": [{"type": "scatter", "x": [1], "y": [2]}], "layout": {}}), contrast=True)
    assert bare.spec["data"][0]["line"]["width"] == 3.5 and bare.spec["data"][0]["marker"]["size"] == 9


def test_present_sets_the_font_sizes_and_a_taller_figure():
    fig = plots.lines([plots.Series("a", [1, 2], [3, 4])], title="t", x_title="x", marks=[(1, 3, "here")])
    spec = theme.styled(fig, present=True).spec
    layout = spec["layout"]
    assert theme.PRESENT_FONT == plots.PRESENT_FONT == 20
    assert layout["font"]["size"] == theme.PRESENT_FONT and layout["hoverlabel"]["font"]["size"] == theme.PRESENT_FONT
    assert layout["title"]["font"]["size"] == theme.PRESENT_FONT + 2
    assert layout["xaxis"]["tickfont"]["size"] == theme.PRESENT_FONT - 2
    assert layout["xaxis"]["title"]["font"]["size"] == theme.PRESENT_FONT
    assert layout["legend"]["font"]["size"] == theme.PRESENT_FONT - 2
    assert layout["annotations"][0]["font"]["size"] == theme.PRESENT_FONT - 2, "a 13 px note grows to the ticks' size"
    assert layout["height"] == int(fig.spec["layout"]["height"] * 1.25)
    tall = plots.heatmap(np.ones((40, 40)), [str(i) for i in range(40)], [str(i) for i in range(40)], height=1000)
    assert theme.styled(tall, present=True).spec["layout"]["height"] == 1100, "at most 1100 px"
    assert "color" not in layout["font"], "presenter mode alone changes no colour"


def test_cells_writes_values_only_when_they_fit():
    roomy = theme.styled(heat(6, decimals=1), cells=True).spec
    assert roomy["data"][0]["texttemplate"] == "%{z:.1f}", "the hover's decimals"
    assert "textfont" not in roomy["data"][0], "no size: plotly.js fits the numbers to the cells"
    assert plots.CELLS_NOTE not in roomy["layout"].get("annotations", [])
    too_many = heat(theme.CELLS_VIEW_MAX + 1)
    out = theme.styled(too_many, cells=True).spec
    assert "texttemplate" not in out["data"][0] and plots.CELLS_NOTE not in out["layout"].get("annotations", [])
    crowded = theme.styled(heat(18, narrow=True), cells=True).spec  # 18 columns of "-1.23" in half a page
    assert "texttemplate" not in crowded["data"][0]
    assert crowded["layout"]["annotations"].count(plots.CELLS_NOTE) == 1 and crowded["layout"]["margin"]["b"] == 34
    again = theme.styled(plots.Figure(crowded), cells=True).spec
    assert again["layout"]["annotations"].count(plots.CELLS_NOTE) == 1, "the note is written once"
    own = plots.heatmap(np.ones((3, 3)), list("abc"), list("abc"), decimals=3)
    assert theme.styled(own, cells=True).spec["data"][0]["texttemplate"] == "%{z:.3f}", "its own numbers stay"
    vectors = theme.styled(plots.lines([plots.Series("a", [1, 2], [3, 4])]), cells=True).spec
    assert "texttemplate" not in vectors["data"][0], "only heatmaps get numbers"


@pytest.mark.parametrize(
    ("z", "shape"),
    [([[1, 2, 3], [4, 5, 6]], (2, 3)), (np.zeros((4, 5)), (4, 5)), ({"bdata": "AAAA", "shape": "7, 8"}, (7, 8)),
     (None, ())],
)  # fmt: skip
def test_the_shape_of_a_heatmap_in_every_form_plotly_sends(z, shape):
    assert tuple(theme._shape(z)) == shape


def test_sized_sets_only_the_size():
    assert theme.sized({"color": "#000000", "size": 9}, 20) == {"color": "#000000", "size": 20}
    assert theme.sized(None, 12) == {"size": 12}
