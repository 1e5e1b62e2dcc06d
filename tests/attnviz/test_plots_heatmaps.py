"""Heatmaps, weight matrices, strips and the numbers in their cells (attnviz/plots/heatmaps.py, cells.py)."""

import numpy as np
import torch

from attnviz import plots
from tests.attnviz.plots_checks import valid


def test_heatmap_labels_hover_and_repeats():
    m = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    fig = valid(plots.heatmap(m, ["the", "the"], ["a", "<b>x</b>"], value_name="dot", row_title="word"))
    hm = fig.data[0]
    assert np.allclose(hm.z, m.numpy())
    # repeated words stay apart on category axes; labels are escaped, not read as HTML
    assert list(hm.y) == ["the", "the·2"]
    assert list(hm.x) == ["a", "&lt;b&gt;x&lt;/b&gt;"]
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    assert "dot" in hm.hovertemplate and "%{y}" in hm.hovertemplate and "%{x}" in hm.hovertemplate
    assert hm.texttemplate  # small matrices show their values in the cells
    assert hm.zmid == 0 and hm.zmin == -3 and hm.zmax == 3


def test_heatmap_big_has_no_cell_text():
    fig = valid(plots.heatmap(np.ones((30, 30)), [str(i) for i in range(30)], [str(i) for i in range(30)]))
    assert fig.data[0].texttemplate is None


def test_strip():
    fig = valid(plots.strip(np.zeros((3, 50)), ["a", "b", "c"]))
    assert fig.data[0].z.shape == (3, 50)


def test_top_k_per_row_keeps_the_largest():
    m = np.array([[1.0, 5.0, 3.0, -np.inf], [0.0, 0.0, 2.0, 1.0]])
    out = plots.top_k_per_row(m, 2)
    assert np.array_equal(np.isnan(out), [[True, False, False, True], [True, True, False, False]])
    assert out[0, 1] == 5.0 and out[1, 3] == 1.0
    assert plots.auto_top_k(plots.TOP_K_ABOVE) is None and plots.auto_top_k(plots.TOP_K_ABOVE + 1) == plots.TOP_K


def test_heatmap_long_rows_masks_and_notes():
    n = 40
    m = np.arange(n * n, dtype=float).reshape(n, n)
    fig = valid(plots.heatmap(m, [f"w{i}" for i in range(n)], [f"w{i}" for i in range(n)], top_k=5))
    z = np.array(fig.data[0].z, dtype=float)
    assert (np.isfinite(z).sum(axis=1) == 5).all()  # five keys a row, the rest are gaps
    assert fig.data[0].texttemplate is None and fig.data[0].hoverongaps is False
    masked = np.array([[1.0, -np.inf], [0.5, 2.0]])
    fig = valid(plots.heatmap(masked, ["a", "b"], ["a", "b"], row_notes=["Σ 1.000", "Σ 1.000"], zrange=(0, 1)))
    assert np.isnan(fig.data[0].z[0][1])  # -inf (masked) is drawn as a gap, not sent as JSON infinity
    assert [a.text for a in fig.layout.annotations] == ["Σ 1.000", "Σ 1.000"]
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
    assert fig.data[0].colorbar.orientation == "h"


def test_matrix():
    fig = valid(plots.matrix(np.eye(50), title="M_Q (50 × 50)"))
    assert np.array(fig.data[0].z).shape == (50, 50) and fig.data[0].zmid == 0
    tall = valid(plots.matrix(np.random.default_rng(0).normal(size=(384, 32))))
    assert np.array(tall.data[0].z).shape == (384, 32)


def test_heatmap_dividers_highlight_and_fixed_scale():
    fig = valid(plots.heatmap(np.random.default_rng(0).random((4, 6)), list("abcd"), list("uvwxyz"), col_groups=2,
                              row_groups=2, highlight_rows=[1], diverging=False, zmax=1.0))  # fmt: skip
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(s.x0 for s in lines if s.x0 == s.x1) == [1.5, 3.5]  # between columns 2|3 and 4|5
    assert [s.y0 for s in lines if s.y0 == s.y1] == [1.5]
    assert [s.y0 for s in fig.layout.shapes if s.type == "rect"] == [0.5]
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == 1


def test_cell_font_size_is_plotly_js_auto_rule():
    # 10 columns of "-0.25" in 440 px: (44 - 1) / 5 characters / 0.65 = 13.2 → 13; 36 px rows allow 26; cap 15
    assert plots.cell_font_size(440, 360, 10, 10, 5) == 13
    assert plots.cell_font_size(440, 360, 10, 10, 4) == 15, "never above the figure's font size"
    assert plots.cell_font_size(440, 360, 10, 10, 4, cap=20) == 16
    assert plots.cell_font_size(440, 60, 10, 10, 4) == 3, "short rows limit it too"
    assert plots.cell_font_size(250, 360, 10, 10, 4) == 9, "a phone: smaller, and still inside the cell"
    assert plots.cell_font_size(10, 10, 20, 20, 4) == 0
    assert plots.cell_font_size(440, 360, 0, 10, 4) == 0
    # whatever it returns, the widest number fits the cell (a digit is at most 0.65 of the size wide)
    for width in (120, 250, 440, 900):
        for n in (3, 10, 20):
            size = plots.cell_font_size(width, 400, n, n, 5)
            assert size * 0.65 * 5 <= width / n - 1 + 1e-9


def test_heatmap_numbers_fit_the_cells_or_a_note_says_why():
    words = [f"w{i}" for i in range(10)]
    small = plots.heatmap(np.random.default_rng(0).normal(size=(10, 10)), words, words, narrow=True)
    trace = valid(small).data[0]
    assert trace.texttemplate and trace.textfont.size is None, "plotly.js sizes the numbers to the cells"
    assert small.spec["layout"]["meta"] == {"attnviz_share": 0.5}
    assert plots.CELLS_NOTE not in small.spec["layout"].get("annotations", [])
    wide = [f"word{i}" for i in range(20)]
    crowded = plots.heatmap(np.random.default_rng(0).normal(size=(20, 20)), wide, wide, narrow=True, cell_text=True)
    assert valid(crowded).data[0].texttemplate is None, "20 columns in half a page: too small to read"
    assert plots.CELLS_NOTE in crowded.spec["layout"]["annotations"]
    full = plots.heatmap(np.random.default_rng(0).normal(size=(20, 20)), wide, wide, cell_text=True)
    assert valid(full).data[0].texttemplate, "the same matrix across the whole page fits"
    # "numbers in cells" (plots.styled, the view setting) asks the same question of a figure made without them
    big = plots.heatmap(np.random.default_rng(0).normal(size=(18, 18)), wide[:18], wide[:18], narrow=True)
    styled = plots.styled(big, cells=True).to_dict()
    assert "texttemplate" not in styled["data"][0] and plots.CELLS_NOTE in styled["layout"]["annotations"]
    roomy = plots.styled(plots.heatmap(np.ones((18, 18)), wide[:18], wide[:18]), cells=True).to_dict()
    assert roomy["data"][0]["texttemplate"] == "%{z:.2f}" and "size" not in roomy["data"][0].get("textfont", {})


def test_attention_map_is_the_weights_preset_of_heatmap():
    """Every attention map in the course is `heatmap` with the weights' look: sequential scale from 0 to 1, queries
    down, keys across, "weight" in the hover and on the colour bar; other arguments pass through unchanged."""
    rng = np.random.default_rng(4)
    w = rng.random((6, 6))
    words = [f"w{i}" for i in range(6)]
    fig = valid(plots.attention_map(w, words, words, title="A"))
    trace = fig.data[0]
    assert (trace.zmin, trace.zmax) == (0, 1) and trace.zmid is None
    assert plots.attention_map(w, words, words).spec["data"][0]["colorscale"] == plots.SEQUENTIAL
    assert trace.colorbar.title.text == "weight" and "query: <b>%{y}</b>" in trace.hovertemplate
    assert "key: <b>%{x}</b>" in trace.hovertemplate and fig.layout.yaxis.title.text == "query"
    cover = np.eye(6, dtype=bool)
    options = {
        "title": "t",
        "narrow": True,
        "top_k": 3,
        "overlay": cover,
        "overlay_name": "outside",
        "boxes": [(0, 2, 0, 2)],
    }
    made = plots.attention_map(w, words, words, **options).spec
    by_hand = plots.heatmap(w, words, words, row_title="query", col_title="key", value_name="weight",
                            diverging=False, zmax=1.0, **options).spec  # fmt: skip
    assert repr(made) == repr(by_hand), "the preset is exactly these arguments of heatmap"
    # the page's fixed range (0, 1) draws the same trace as the preset's zmax=1
    ranged = plots.heatmap(w, words, words, row_title="query", col_title="key", value_name="weight", diverging=False,
                           zrange=(0.0, 1.0)).spec  # fmt: skip
    assert repr(plots.attention_map(w, words, words).spec) == repr(ranged)
    titled = valid(plots.attention_map(w, words, words, row_title="word", col_title="attends to"))
    assert titled.layout.yaxis.title.text == "word" and "attends to" in titled.data[0].hovertemplate
    # an approximation with negative weights asks for the diverging scale, centred on zero
    signed = valid(plots.attention_map(w - 0.5, words, words, diverging=True, zmax=None)).data[0]
    assert signed.zmid == 0 and signed.zmin == -signed.zmax


def test_heatmap_overlay_hover_names_the_cover():
    w = np.array([[0.25, 0.75], [1.0, 0.0]])
    fig = valid(plots.heatmap(w, ["a", "b"], ["a", "b"], row_title="q", col_title="k", value_name="weight",
                              overlay=[[False, True], [False, False]], overlay_name="<left out>"))  # fmt: skip
    cover = fig.data[1]
    assert np.isnan(cover.z[0][0]) and cover.z[0][1] == 1.0 and cover.showscale is False
    assert "(&lt;left out&gt;)" in cover.hovertemplate and "%{customdata:.2f}" in cover.hovertemplate
    assert (
        cover.hovertemplate.replace("customdata", "z").replace(" (&lt;left out&gt;)", "") == fig.data[0].hovertemplate
    )


def test_a_paragraphs_map_fits_a_screen_and_its_labels_do_not_overlap():
    """208 tokens (a paragraph): the word-vector strip fits a screen (it was 8,440 px tall, then 900) and the maps
    label only as many rows and columns as have room, leaving plotly.js to label every k-th one (and more as a drag
    zooms in: no fixed list of labels); the title says how to zoom. The hover still names every cell."""
    words = [f"w{i}" for i in range(208)]
    strip = valid(plots.strip(np.zeros((208, 50)), words, title="vectors"))
    assert strip.layout.height <= plots.SCREEN_HEIGHT <= 740  # 1280×800 less Streamlit's 60-px header
    assert strip.layout.yaxis.tickmode == "auto" and strip.layout.yaxis.tickvals is None
    assert 20 <= strip.layout.yaxis.nticks < 208
    assert (strip.layout.height - 110) / strip.layout.yaxis.nticks >= plots.heatmaps.ROW_LABEL_PX  # each has room
    assert strip.layout.title.subtitle.text == plots.heatmaps.ZOOM_NOTE
    square = valid(plots.heatmap(np.zeros((208, 208)), words, words, title="S"))
    assert square.layout.height <= plots.SCREEN_HEIGHT
    assert square.layout.xaxis.nticks <= plots.heatmaps.MAX_COLUMN_LABELS and square.layout.xaxis.tickvals is None
    assert square.layout.yaxis.nticks * plots.heatmaps.ROW_LABEL_PX <= square.layout.height
    assert square.layout.title.subtitle.text == plots.heatmaps.ZOOM_NOTE
    assert list(square.data[0].x) == words and list(square.data[0].y) == words  # every cell is still there
    half = valid(plots.heatmap(np.zeros((208, 208)), words, words, narrow=True))
    assert half.layout.xaxis.nticks <= plots.heatmaps.MAX_COLUMN_LABELS // 2
    small = valid(plots.heatmap(np.zeros((8, 8)), words[:8], words[:8], title="S"))
    assert small.layout.xaxis.nticks is None and small.layout.yaxis.nticks is None  # a sentence: every label
    assert not small.layout.title.subtitle.text  # and nothing to zoom for
