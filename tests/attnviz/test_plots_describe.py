"""`attnviz.plots.describe`: a figure's text alternative says what the figure shows, computed from the figure."""

import base64

import numpy as np

from attnviz import plots
from attnviz.plots.describe import describe, plain


def test_an_attention_map_is_described_by_its_title_axes_and_largest_cells():
    words = ["i", "walked", "by", "the", "river", "bank"]
    w = np.full((6, 6), 0.02)
    w[5, 4], w[4, 4], w[0, 1] = 0.9, 0.6, 0.4  # bank → river is the largest
    text = describe(plots.attention_map(w, words, words, title="Weights A", row_title="query", col_title="key"))
    assert text.startswith("Figure: Weights A. A map of 6 rows (query) by 6 columns (key)")
    assert "values from 0.02 to 0.90" in text
    assert "the largest: bank → river: 0.90; river → river: 0.60; i → walked: 0.40" in text


def test_bars_name_their_largest_values():
    text = describe(plots.bars(["a", "b", "c"], [0.1, 0.7, 0.3], title="Cosines", value_name="cosine"))
    assert "Figure: Cosines." in text
    assert "the largest: b: 0.7" in text and text.index("b: 0.7") < text.index("c: 0.3")


def test_learner_text_is_read_as_text():
    """Labels are escaped in the figure (plotly reads a few tags); the description gives the words as typed."""
    words = ["<b>x</b>", "a&b"]
    text = describe(plots.attention_map(np.eye(2), words, words, title="<script>"))
    assert "Figure: <script>." in text and "<b>x</b> → <b>x</b>: 1.00" in text
    assert plain("a<br>b &amp; c") == "a b & c"


def test_packed_arrays_are_read():
    """What st.plotly_chart sends: plotly.js typed arrays (app_support.compat.streamlit_compat.ready_figure)."""
    z = np.array([[1.0, 5.0], [2.0, 3.0]])
    packed = {"dtype": "f8", "bdata": base64.b64encode(z.tobytes()).decode(), "shape": "2, 2"}
    spec = {"data": [{"type": "heatmap", "z": packed, "x": ["p", "q"], "y": ["r", "s"]}], "layout": {}}
    assert (
        describe(spec)
        == "Figure. A map of 2 rows by 2 columns; values from 1 to 5; the largest: r → q: 5; s → q: 3; s → p: 2."
    )


def test_an_empty_or_grey_figure_still_says_what_it_is():
    cover = {"type": "heatmap", "z": [[1.0]], "colorscale": [[0, "#6b6b6b"], [1, "#6b6b6b"]]}
    assert describe({"data": [cover], "layout": {"title": {"text": "Mask"}}}) == "Figure: Mask."
    assert describe({"data": [], "layout": {}}) == "Figure."
