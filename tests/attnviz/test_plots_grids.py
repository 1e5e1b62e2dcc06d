"""Many small maps in one figure (attnviz/plots/grids.py)."""

import numpy as np

from attnviz import plots
from tests.attnviz.plots_checks import valid


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
    assert [a.text for a in fig.layout.annotations][:3] == ["h1", "h2", "h3"]  # no shared word: as given
    assert {a.text for a in fig.layout.annotations} == {"layer 1", "layer 2", "h1", "h2", "h3"}


def test_heatmap_mosaic_writes_a_shared_word_once():
    """5b's grid on a phone: "head 1" … "head 12" over panels 13 px wide ran into each other. The numbers go over
    the panels and "head" once, in the corner; the hover still names the head."""
    maps = np.random.default_rng(2).random((2, 12, 3, 3))
    heads = [f"head {j + 1}" for j in range(12)]
    fig = valid(plots.heatmap_mosaic(maps, list("abc"), row_headers=["layer 1", "layer 2"], col_headers=heads))
    texts = [a.text for a in fig.layout.annotations]
    assert texts[:12] == [str(j + 1) for j in range(12)] and texts.count("head") == 1
    assert fig.data[0].x[0] == "a (head 1)"
