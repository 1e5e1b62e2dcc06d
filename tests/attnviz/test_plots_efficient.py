"""The figures of the efficient-attention pages (attnviz.plots)."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from attnviz import plots


def valid(fig: plots.Figure) -> go.Figure:
    return fig.plotly()  # raises on any invalid property


def test_heatmap_overlay_and_boxes():
    z = np.arange(9.0).reshape(3, 3)
    cover = np.eye(3, dtype=bool)
    fig = valid(plots.heatmap(z, list("abc"), list("xyz"), overlay=cover, overlay_name="dropped", boxes=[(0, 2, 1, 3)]))
    assert len(fig.data) == 2
    top = np.asarray(fig.data[1].z, dtype=float)
    assert np.isnan(top[0, 1]) and top[1, 1] == 1
    assert "dropped" in fig.data[1].hovertemplate
    rect = fig.layout.shapes[-1]
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (0.5, 2.5, -0.5, 1.5)


def test_lines_with_band_and_marks():
    s = plots.Series("err", [1, 2, 4], [0.5, 0.3, 0.2], band=([0.4, 0.2, 0.1], [0.6, 0.4, 0.3]))
    fig = valid(plots.lines([s], log_x=True, log_y=True, marks=[(2.0, 0.3, "here")]))
    assert fig.data[0].fill == "toself" and len(fig.data[0].x) == 6
    assert fig.layout.annotations[0].x == pytest.approx(math.log10(2.0))
    assert fig.layout.annotations[0].text == "here"


def test_token_buckets():
    fig = valid(plots.token_buckets(["<b>", "cat"], [[0, 3], [1, 1]], n_buckets=4, title="t"))
    assert np.asarray(fig.data[0].z).shape == (2, 2)
    assert fig.data[0].text[0][0].startswith("&lt;b&gt;")  # escaped
    assert "bucket 3" in fig.data[0].text[0][1]
