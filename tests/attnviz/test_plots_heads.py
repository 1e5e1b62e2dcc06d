"""The head view, the multi-head diagram and hash buckets (attnviz/plots/heads.py)."""

import numpy as np
import pytest

from attnviz import plots
from tests.attnviz.plots_checks import valid


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


@pytest.mark.parametrize("n", [3, 25, 44])
def test_head_view_fits_a_screen(n):
    """Page 5b draws up to 44 tokens whole and a longer text's 25 (the chosen token and its 24 strongest keys): each
    fits a 1280×800 screen (it was 780 px for 25 tokens, over 1,000 for 40), with rows of 13 px or more."""
    w = np.full((n, n), 1 / n)
    fig = valid(plots.head_view([f"w{i}" for i in range(n)], [f"w{i}" for i in range(n)], w, focus=0, title="t"))
    assert fig.layout.height <= plots.SCREEN_HEIGHT
    assert (fig.layout.height - 80) / (n + 1) >= 13
    assert fig.data[0].textfont.size >= 11


@pytest.mark.parametrize("n_heads", [1, 4, 8])
def test_multihead_diagram_writes_the_shapes(n_heads):
    fig = valid(plots.multihead_diagram(6, 50, n_heads, 8))
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "6 × 50" in texts and f"6 × {n_heads * 8}" in texts and f"({n_heads * 8} × 50)" in texts
    assert "A₁<br>6×6" in texts and "√8" in texts
    assert sum(1 for s in fig.layout.shapes if s.type == "rect") == 3 + 3 * n_heads


def test_token_buckets_write_the_bucket_in_every_cell():
    fig = valid(plots.token_buckets(["the", "<cat>", "sat"], np.array([[0, 2, 0], [1, 1, 2]]), n_buckets=4))
    trace = fig.data[0]
    assert list(trace.y) == ["round 1", "round 2"] and trace.texttemplate == "%{text}"
    assert trace.text[0][1] == "&lt;cat&gt;<br>bucket 2" and trace.text[1][2] == "sat<br>bucket 2"
    assert (trace.zmin, trace.zmax) == (-0.5, 3.5), "four buckets: the colours stay put whatever this sentence holds"
    # each bucket takes its own band of the colour scale, so two buckets never share a colour
    colours = [c for _, c in trace.colorscale]
    assert len(colours) == 8 and len(set(colours)) == 4
