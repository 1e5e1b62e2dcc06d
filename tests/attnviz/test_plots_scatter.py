"""Points in 2-D and 3-D, and words moved by a projection (attnviz/plots/scatter.py)."""

import numpy as np
import plotly.graph_objects as go

from attnviz import plots
from tests.attnviz.plots_checks import valid


def test_scatter_2d_and_3d_with_arrows():
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    fig = valid(plots.scatter(coords, ["man", "woman", "king", "queen"], arrows=[(0, 1), (2, 3)]))
    assert len(fig.layout.annotations) == 2
    assert {t.name for t in fig.data} >= {"man → woman", "king → queen"}
    fig3 = valid(plots.scatter(np.random.default_rng(0).normal(size=(4, 3)), list("abcd"), arrows=[(0, 1)]))
    assert any(isinstance(t, go.Scatter3d) for t in fig3.data)
    assert any(isinstance(t, go.Cone) for t in fig3.data)


def test_scatter_labels_of_close_points_take_different_places():
    coords = np.array([[0.0, 0.0], [0.05, 0.0], [3.0, 2.0]])
    fig = valid(plots.scatter(coords, ["king", "prince", "throne"]))
    places = list(fig.data[0].textposition)
    assert places[0] != places[1] and len(places) == 3
    # an arrow that arrives from below puts the label above its point, off the arrowhead
    fig = valid(plots.scatter(np.array([[0.0, -2.0], [0.0, 0.0]]), ["man", "woman"], arrows=[(0, 1)]))
    assert fig.data[0].textposition[1] == "top center"


def test_moves():
    moved = valid(plots.moves(np.zeros((3, 2)), np.ones((3, 2)), ["a", "<b>", "c"], names=("I", "Q")))
    assert [t.name for t in moved.data] == ["I", "Q"]
    assert len(moved.layout.annotations) == 3 and "&lt;b&gt;" in moved.data[1].text


def test_query_key_moves_draws_words_queries_and_keys():
    rng = np.random.default_rng(0)
    fig = valid(plots.query_key_moves(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2)),
                                      ["a", "b", "<c>"]))  # fmt: skip
    assert [t.name for t in fig.data] == ["word vectors I", "queries Q = I·M_Q", "keys K = I·M_K"]
    assert list(fig.data[1].text) == ["q a", "q b", "q &lt;c&gt;"] and fig.data[2].text[0] == "k a"
    assert len(fig.layout.annotations) == 6


def test_a_query_and_key_that_coincide_never_share_a_place():
    """Page 3's 2-D view with the identity (query = key = word) on "I walked by the river bank": every place around
    "by" overlapped another label, and "k by" fell back to the place "q by" had taken, the two drawn on top of each
    other. Now the place that overlaps least is taken."""
    points = np.array([[0.47, 0.22], [0.57, -0.26], [-0.15, 0.33], [-0.13, 0.2], [-0.3, -0.64], [-0.5, 0.15]])
    words = ["i", "walked", "by", "the", "river", "bank"]
    fig = valid(plots.query_key_moves(points, points, points, words))
    q_places, k_places = list(fig.data[1].textposition), list(fig.data[2].textposition)
    pairs = list(zip(words, q_places, k_places, strict=True))
    assert all(q != k for _, q, k in pairs), pairs
