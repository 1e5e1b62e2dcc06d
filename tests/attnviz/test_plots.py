import numpy as np
import plotly.graph_objects as go
import torch

from attnviz import plots


def valid(fig: go.Figure) -> go.Figure:
    """Builders skip plotly's validation for speed; here every property is checked."""
    assert isinstance(fig, go.Figure)
    go.Figure(fig.to_dict())  # raises on any invalid property
    return fig


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
