import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from attnviz import plots


def colour_scales(spec: object) -> list[object]:
    """Every ``colorscale`` anywhere in a figure's spec (traces, colour axes, markers)."""
    found = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "colorscale":
                found.append(value)
            else:
                found += colour_scales(value)
    elif isinstance(spec, list | tuple):
        for value in spec:
            found += colour_scales(value)
    return found


def drawn_as_given(scale: object) -> bool:
    """A colour scale the browser's plotly.js draws as meant: explicit stops from 0 to 1, or one of its own names.
    (plotly.py accepts many more names, e.g. "Inferno", which plotly.js silently replaces by a grey-to-red one.)"""
    if isinstance(scale, str):
        return scale in plots.PLOTLY_JS_SCALES
    stops = [float(at) for at, _ in scale]
    return len(stops) >= 2 and stops[0] == 0.0 and stops[-1] == 1.0 and stops == sorted(stops)


def valid(fig: plots.Figure) -> go.Figure:
    """Builders skip plotly's object model for speed; here every property is checked (go.Figure raises), and every
    colour scale is one the browser draws as meant."""
    assert isinstance(fig, plots.Figure)
    for scale in colour_scales(fig.spec):
        assert drawn_as_given(scale), scale
    return fig.plotly()


def test_plotly_js_scale_names_are_those_streamlit_ships():
    """`plots.PLOTLY_JS_SCALES` is the list in the plotly.js bundled with Streamlit (its `scales` object)."""
    import re
    from pathlib import Path

    import streamlit

    bundles = list((Path(streamlit.__file__).parent / "static").rglob("PlotlyChart*.js"))
    assert bundles, "Streamlit's plotly.js bundle not found"
    text = "".join(b.read_text(encoding="utf-8", errors="replace") for b in bundles)
    shipped = set(re.findall(r"\b([A-Z][A-Za-z]+):\[\[0,`(?:rgb|#)", text))
    assert shipped == plots.PLOTLY_JS_SCALES
    assert "Inferno" not in shipped  # the name the high-contrast view used to pass


def test_no_colour_is_one_streamlit_replaces():
    """Streamlit's chart theme rewrites some colours in a figure's JSON (its placeholders #000001… and plotly's
    default palette) to its own; a scale or palette that contains one is drawn with another colour."""
    import re
    from pathlib import Path

    import streamlit

    text = "".join(
        b.read_text(encoding="utf-8", errors="replace")
        for b in (Path(streamlit.__file__).parent / "static").rglob("PlotlyChart*.js")
    )
    start = text.index("`#000001`")
    replaced = {c.lower() for c in re.findall(r"`(#[0-9a-fA-F]{6})`", text[start - 200 : start + 3000])}
    assert {"#000001", "#000004", "#000024"} <= replaced
    ours = [c for scale in (plots.DIVERGING, plots.CIVIDIS, plots.INFERNO, plots.HIGH_CONTRAST_DIVERGING)
            for _, c in scale] + list(plots.OKABE_ITO)  # fmt: skip
    assert not {c.lower() for c in ours} & replaced


def test_every_colour_scale_is_explicit_stops_in_every_view():
    """One figure from each builder that colours by value, as drawn and restyled for high contrast: no scale is a
    name (not even one plotly.js knows), and high contrast swaps the value scales for its own."""
    from app_support import show

    rng = np.random.default_rng(3)
    words = ["the", "cat", "sat"]
    figures = [
        plots.heatmap(rng.normal(size=(3, 3)), words, words),
        plots.heatmap(rng.random((3, 3)), words, words, diverging=False, zmax=1.0, overlay=np.eye(3, dtype=bool)),
        plots.matrix(rng.normal(size=(4, 5))),
        plots.strip(rng.normal(size=(2, 10)), ["a", "b"]),
        plots.heatmap_grid(rng.random((2, 3, 3)), words, words, n_cols=2, names=["h1", "h2"]),
        plots.heatmap_mosaic(rng.random((1, 2, 3, 3)), words, row_headers=["l1"], col_headers=["h1", "h2"]),
        plots.token_buckets(words, np.array([[0, 1, 0]])),
        plots.scatter(rng.normal(size=(4, 3)), list("abcd"), arrows=[(0, 1)]),
    ]
    for fig in figures:
        for view in (fig, show.styled(fig, contrast=True), show.styled(fig, contrast=True, cells=True, present=True)):
            scales = colour_scales(view.to_dict())
            assert all(isinstance(s, list) and drawn_as_given(s) for s in scales), scales
    seq = show.styled(figures[1], contrast=True).to_dict()["data"]
    assert seq[0]["colorscale"] == plots.INFERNO, "weights: inferno in high contrast"
    assert seq[1]["colorscale"] == [[0.0, "#6b6b6b"], [1.0, "#6b6b6b"]], "the grey cover stays grey"
    assert show.styled(figures[0], contrast=True).to_dict()["data"][0]["colorscale"] == plots.HIGH_CONTRAST_DIVERGING
    grid = show.styled(figures[4], contrast=True).to_dict()["layout"]["coloraxis"]
    assert grid["colorscale"] == plots.INFERNO, "a shared colour axis is restyled too"
    buckets = show.styled(figures[6], contrast=True).to_dict()["data"][0]["colorscale"]
    assert buckets == figures[6].spec["data"][0]["colorscale"], "a palette of categories is left alone"


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


def test_strip_and_bars():
    fig = valid(plots.strip(np.zeros((3, 50)), ["a", "b", "c"]))
    assert fig.data[0].z.shape == (3, 50)
    bars = valid(plots.bars(["x", "y", "z"], [1.0, 2.0, 3.0], highlight=[1], title="t"))
    assert list(bars.data[0].y) == [1.0, 2.0, 3.0]
    assert bars.data[0].marker.color[1] != bars.data[0].marker.color[0]
    h = valid(plots.bars(["x", "y"], [1.0, -2.0], horizontal=True))
    assert h.data[0].orientation == "h"
    assert h.layout.xaxis.range[0] < -2 and h.layout.xaxis.range[1] > 1  # room for the value labels


def test_scatter_2d_and_3d_with_arrows():
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    fig = valid(plots.scatter(coords, ["man", "woman", "king", "queen"], arrows=[(0, 1), (2, 3)]))
    assert len(fig.layout.annotations) == 2
    assert {t.name for t in fig.data} >= {"man → woman", "king → queen"}
    fig3 = valid(plots.scatter(np.random.default_rng(0).normal(size=(4, 3)), list("abcd"), arrows=[(0, 1)]))
    assert any(isinstance(t, go.Scatter3d) for t in fig3.data)
    assert any(isinstance(t, go.Cone) for t in fig3.data)


def test_distributions():
    fig = valid(plots.distributions({"a": np.arange(10.0), "b": np.arange(5.0)}))
    assert len(fig.data) == 2 and "10 pairs" in fig.data[0].name
    assert [s.x0 for s in fig.layout.shapes] == [4.5, 2.0]  # the means


def test_ranking():
    fig = valid(plots.ranking([("banks", 0.87), ("banking", 0.8)], highlight_first=True))
    assert list(fig.data[0].x) == [0.87, 0.8] and fig.data[0].orientation == "h"
    assert fig.data[0].marker.color[0] != fig.data[0].marker.color[1]
    valid(plots.ranking([]))


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


def test_matrix_lines_and_moves():
    fig = valid(plots.matrix(np.eye(50), title="M_Q (50 × 50)"))
    assert np.array(fig.data[0].z).shape == (50, 50) and fig.data[0].zmid == 0
    tall = valid(plots.matrix(np.random.default_rng(0).normal(size=(384, 32))))
    assert np.array(tall.data[0].z).shape == (384, 32)
    chart = valid(
        plots.lines(
            [plots.Series("measured", [1, 2, 4], [1.1, 1.9, 4.2], mode="markers"),
             plots.Series("var = d", [1, 2, 4], [1, 2, 4], dash="dash", colour=0)],
            log_x=True, log_y=True, x_title="d", y_title="variance",
        )
    )  # fmt: skip
    assert chart.layout.xaxis.type == "log" and chart.layout.yaxis.type == "log"
    assert chart.data[0].mode == "markers" and chart.data[1].line.dash == "dash"
    assert chart.data[0].marker.symbol != chart.data[1].marker.symbol  # not by colour alone
    moved = valid(plots.moves(np.zeros((3, 2)), np.ones((3, 2)), ["a", "<b>", "c"], names=("I", "Q")))
    assert [t.name for t in moved.data] == ["I", "Q"]
    assert len(moved.layout.annotations) == 3 and "&lt;b&gt;" in moved.data[1].text


def test_heatmap_dividers_highlight_and_fixed_scale():
    fig = valid(plots.heatmap(np.random.default_rng(0).random((4, 6)), list("abcd"), list("uvwxyz"), col_groups=2,
                              row_groups=2, highlight_rows=[1], diverging=False, zmax=1.0))  # fmt: skip
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(s.x0 for s in lines if s.x0 == s.x1) == [1.5, 3.5]  # between columns 2|3 and 4|5
    assert [s.y0 for s in lines if s.y0 == s.y1] == [1.5]
    assert [s.y0 for s in fig.layout.shapes if s.type == "rect"] == [0.5]
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == 1


def test_heatmap_grid():
    maps = np.random.default_rng(1).random((6, 3, 3))
    fig = valid(
        plots.heatmap_grid(
            maps, ["a", "b", "a"], ["a", "b", "a"], n_cols=4, names=[f"head {i}" for i in range(6)],
            titles=[f"h{i}" for i in range(6)], row_headers=["r1", "r2"], col_headers=["c1", "c2", "c3", "c4"],
            highlight=5, show_ticks=True, title="grid",
        )
    )  # fmt: skip
    assert len(fig.data) == 6
    assert fig.data[5].xaxis == "x6" and fig.data[5].yaxis == "y6"
    assert all(t.coloraxis == "coloraxis" for t in fig.data)
    assert list(fig.data[0].y) == ["a", "b", "a·2"]
    assert "head 3" in fig.data[3].hovertemplate
    # second grid row sits below the first; the highlighted panel is framed by its own axes' domain
    assert fig.layout.yaxis5.domain[1] < fig.layout.yaxis.domain[0]
    assert fig.layout.shapes[0].xref == "x6 domain"
    texts = {a.text for a in fig.layout.annotations}
    assert {"h0", "r1", "r2", "c1", "c4"} <= texts
    assert fig.layout.yaxis.showticklabels and not fig.layout.yaxis2.showticklabels  # words on the first column


def test_heatmap_grid_escapes_labels():
    fig = valid(plots.heatmap_grid(np.ones((1, 1, 1)), ["<b>"], ["<i>"], n_cols=1, names=["x"]))
    assert list(fig.data[0].y) == ["&lt;b&gt;"]


def test_head_view_focus_and_all():
    w = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [0.1, 0.1, 0.8]])
    fig = valid(plots.head_view(["the", "<cat>", "sat"], ["the", "<cat>", "sat"], w, focus=0, title="t"))
    widths = [s.line.width for s in fig.layout.shapes]
    assert len(widths) == 3 and widths[0] > widths[1] > widths[2]  # thicker for heavier weights
    assert list(fig.data[1].customdata) == [0.7, 0.2, 0.1]
    assert "&lt;cat&gt;" in list(fig.data[0].text)
    every = valid(plots.head_view(list("abc"), list("abc"), w, top_k=1))
    assert len(every.layout.shapes) == 3  # one line per row to its strongest key
    some = valid(plots.head_view(list("abc"), list("abc"), w, focus=0, keep=[0, 2]))
    assert len(some.layout.shapes) == 2 and list(some.data[0].text) == ["a", "c"]


def test_lines_with_baseline():
    fig = valid(
        plots.category_lines(["emb", "layer 1"], {"a": [1.0, 0.8], "<b>": [0.5, 0.4]}, baseline=("uniform", 0.1))
    )
    assert len(fig.data) == 2 and fig.data[0].line.dash != fig.data[1].line.dash
    assert fig.data[1].name == "&lt;b&gt;"
    assert fig.layout.shapes[0].y0 == 0.1
    assert fig.data[0].mode == "lines+markers"  # two series: values in the hover, not on the lines
    one = valid(plots.category_lines(["emb", "layer 1"], {"a": [1.0, 0.8]}))
    assert "text" in one.data[0].mode and one.layout.yaxis.range[1] > 1.0  # room for the written value


@pytest.mark.parametrize("n_heads", [1, 4, 8])
def test_multihead_diagram_writes_the_shapes(n_heads):
    fig = valid(plots.multihead_diagram(6, 50, n_heads, 8))
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "6 × 50" in texts and f"6 × {n_heads * 8}" in texts and f"({n_heads * 8} × 50)" in texts
    assert "A₁<br>6×6" in texts and "√8" in texts
    assert sum(1 for s in fig.layout.shapes if s.type == "rect") == 3 + 3 * n_heads


def test_bars_reference_line():
    fig = valid(plots.bars(["a", "b"], [0.5, 0.2], reference=("uniform", 0.1)))
    assert fig.layout.shapes[0].y0 == 0.1 and fig.layout.annotations[0].text == "uniform"
    h = valid(plots.bars(["a", "b"], [0.5, 0.2], reference=("<u>", 0.9), horizontal=True))
    assert h.layout.shapes[0].x0 == 0.9 and h.layout.xaxis.range[1] > 0.9
    assert h.layout.annotations[0].text == "&lt;u&gt;"


def test_grouped_bars():
    fig = valid(
        plots.grouped_bars(["l6 h12", "<x>"], {"it → cat": [0.7, 0.5], "others": [0.6, 0.1]}, reference=("even", 0.1))
    )
    assert len(fig.data) == 2 and fig.layout.barmode == "group"
    assert fig.data[0].marker.pattern.shape != fig.data[1].marker.pattern.shape  # not colour alone
    assert list(fig.data[0].customdata) == ["l6 h12", "&lt;x&gt;"]
    assert fig.layout.shapes[0].x0 == 0.1 and fig.layout.xaxis.range[1] > 0.7


def test_heatmap_mosaic_is_one_trace_with_gaps():
    maps = np.random.default_rng(2).random((2, 3, 4, 4))
    fig = valid(
        plots.heatmap_mosaic(
            maps, ["a", "b", "a", "<c>"], row_headers=["layer 1", "layer 2"], col_headers=["h1", "h2", "h3"],
            highlight=(1, 2),
        )
    )  # fmt: skip
    assert len(fig.data) == 1
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 5 - 1, 3 * 5 - 1)
    assert np.allclose(z[5:9, 10:14], maps[1, 2]) and np.isnan(z[4]).all() and np.isnan(z[:, 9]).all()
    assert fig.data[0].x[10] == "a (h3)" and fig.data[0].y[8] == "&lt;c&gt; (layer 2)"
    assert len(set(fig.data[0].x)) == len(fig.data[0].x)  # distinct category labels
    rect = fig.layout.shapes[0]
    assert rect.x0 < 10 < 13 < rect.x1 and rect.y0 < 5 < 8 < rect.y1
    assert {a.text for a in fig.layout.annotations} == {"layer 1", "layer 2", "h1", "h2", "h3"}


def test_scatter_labels_of_close_points_take_different_places():
    coords = np.array([[0.0, 0.0], [0.05, 0.0], [3.0, 2.0]])
    fig = valid(plots.scatter(coords, ["king", "prince", "throne"]))
    places = list(fig.data[0].textposition)
    assert places[0] != places[1] and len(places) == 3
    # an arrow that arrives from below puts the label above its point, off the arrowhead
    fig = valid(plots.scatter(np.array([[0.0, -2.0], [0.0, 0.0]]), ["man", "woman"], arrows=[(0, 1)]))
    assert fig.data[0].textposition[1] == "top center"


def test_query_key_moves_draws_words_queries_and_keys():
    rng = np.random.default_rng(0)
    fig = valid(plots.query_key_moves(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2)),
                                      ["a", "b", "<c>"]))  # fmt: skip
    assert [t.name for t in fig.data] == ["word vectors I", "queries Q = I·M_Q", "keys K = I·M_K"]
    assert list(fig.data[1].text) == ["q a", "q b", "q &lt;c&gt;"] and fig.data[2].text[0] == "k a"
    assert len(fig.layout.annotations) == 6


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
    # "numbers in cells" (app_support.show) asks the same question of a figure made without them
    from app_support import show

    big = plots.heatmap(np.random.default_rng(0).normal(size=(18, 18)), wide[:18], wide[:18], narrow=True)
    styled = show.styled(big, cells=True).to_dict()
    assert "texttemplate" not in styled["data"][0] and plots.CELLS_NOTE in styled["layout"]["annotations"]
    roomy = show.styled(plots.heatmap(np.ones((18, 18)), wide[:18], wide[:18]), cells=True).to_dict()
    assert roomy["data"][0]["texttemplate"] == "%{z:.2f}" and "size" not in roomy["data"][0].get("textfont", {})
