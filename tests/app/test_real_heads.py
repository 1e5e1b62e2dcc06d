"""lessons/real_heads.py (5b · the heads of a real transformer), driven by widget key."""

import numpy as np
import pytest

from tests.app.elements import arr, chart, keys, ok, run, warnings, z
from tests.app.test_pages import _reveal_all, plain

REAL = "lessons/real_heads.py"
RIVER_TOKENS = ["[CLS]", "I", "walked", "by", "the", "river", "bank", "[SEP]"]


def test_real_grid_enlarge_and_head_view(app):
    at = ok(_reveal_all(app(REAL)))
    grid = chart(at, "real_grid")
    assert len(grid["data"]) == 1  # 72 maps in one trace, 8 tokens + a gap line each
    assert z(grid["data"][0]).shape == (6 * 9 - 1, 12 * 9 - 1)
    assert grid["data"][0]["y"][:8] == [f"{w} (layer 1)" for w in RIVER_TOKENS]
    assert grid["data"][0]["x"][9] == "[CLS] (head 2)"
    assert grid["layout"]["shapes"][0]["x0"] < 0 < grid["layout"]["shapes"][0]["y1"]  # layer 1 · head 1 is framed
    run(at.selectbox(key="real_layer").set_value(6))
    run(at.selectbox(key="real_head").set_value(12))
    frame = chart(at, "real_grid")["layout"]["shapes"][0]
    assert frame["x0"] < 11 * 9 < frame["x1"] and frame["y0"] < 5 * 9 < frame["y1"]
    assert chart(at, "real_large")["layout"]["title"]["text"].startswith("Layer 6 · head 12")
    large = z(chart(at, "real_large")["data"][0])
    assert large.shape == (8, 8) and np.allclose(large.sum(axis=1), 1, atol=1e-4)
    # head view: every token's strongest lines, then one token's row
    assert len(chart(at, "real_head_view")["layout"]["shapes"]) > 8
    run(at.selectbox(key="real_focus").set_value(6))
    view = chart(at, "real_head_view")
    assert np.allclose(arr(view["data"][1]["customdata"]), large[6], atol=1e-3)
    top_keys = [d.value for d in at.dataframe if list(d.value.columns) == ["1.", "2.", "3."]]
    assert len(top_keys) == 1 and top_keys[0].shape == (8, 3)
    assert len(at.dataframe) == 3  # and the census of the layers, and every head's census figures


def test_real_prediction_and_layer_difference(app):
    at = ok(app(REAL))
    run(at.radio(key="real_predict").set_value("a lot (over 30%)"))
    assert any(s.value.startswith("Right.") for s in at.success)  # measured: about 64% on the default sentence
    bars = chart(at, "real_js")
    assert len(arr(bars["data"][0]["y"])) == 6 and arr(bars["data"][0]["y"]).min() > 0.05  # the heads of a layer differ


def test_real_parking_and_census_are_measured(app):
    at = ok(app(REAL))
    run(at.radio(key="real_predict").set_value("a lot (over 30%)"))
    said = next(s.value for s in at.success if s.value.startswith("Right."))
    assert "receive 64%" in said and "make up 23%" in said and "thought to park" in said
    bars = chart(at, "real_parking")
    weight, norm = arr(bars["data"][0]["x"]), arr(bars["data"][1]["x"])
    assert len(weight) == 6 and (norm < weight).all()  # what they pass on is less than their weight, every layer
    assert any("64% of the weight, 23% of the weighted length" in c.value for c in at.caption)
    census = next(d.value for d in at.dataframe if "itself" in d.value.columns)
    assert list(census.index) == [f"layer {i}" for i in range(1, 7)]
    assert census.loc["layer 1", "next-door tokens (±1)"] == "25%" and census.loc["layer 1", "[CLS] and [SEP]"] == "44%"
    assert any("2 of 72 heads put over half next door (1 in layer 1, 1 in layer 2)" in c.value for c in at.caption)
    run(at.selectbox(key="real_layer").set_value(3))
    assert any("receive" in c.value and "weight × the length" in c.value for c in at.caption)


def test_real_special_tokens_removed_with_their_share_said(app):
    at = ok(_reveal_all(app(REAL)))
    held = next(c.value for c in at.caption if "of this head's attention" in c.value)
    run(at.toggle(key="real_special").set_value(False))
    large = chart(at, "real_large")
    assert large["data"][0]["y"] == ["I", "walked", "by", "the", "river", "bank"]
    assert np.allclose(z(large["data"][0]).sum(axis=1), 1, atol=1e-4)  # renormalised
    said = next(c.value for c in at.caption if "are left out. They held" in c.value)
    assert held.split("receive ")[1].split("%")[0] in said  # the share they held is the share they received
    assert chart(at, "real_grid")["data"][0]["y"][0] == "I (layer 1)"


def test_real_pieces_grouped_into_words_on_request(app):
    at = ok(_reveal_all(app(REAL, sentence="embeddings are unbelievably useful")))
    assert any("embeddings, unbelievably" in c.value for c in at.caption)  # the words the model cut up
    assert "unbelievably" in chart(at, "real_large")["data"][0]["y"]
    run(at.toggle(key="real_words").set_value(False))
    rows = chart(at, "real_large")["data"][0]["y"]
    assert "unbelievably" not in rows and any(r.startswith("##") for r in rows)
    assert len(rows) > 6


@pytest.mark.parametrize("query,message", [({"real_layer": "9"}, "1 to 6"), ({"real_head": "0"}, "1 to 12")])
def test_real_bad_layer_or_head_in_the_link(app, query, message):
    at = ok(app(REAL, **query))
    assert any(message in w for w in warnings(at)), warnings(at)
    assert chart(at, "real_large")["layout"]["title"]["text"].startswith("Layer 1 · head 1")


def test_real_link_to_a_head(app):
    at = ok(app(REAL, real_layer="4", real_head="2"))
    assert chart(at, "real_large")["layout"]["title"]["text"].startswith("Layer 4 · head 2")


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("😀 🎉 bank", "[UNK]"),
        ("Привет мир, 東京 では", None),
    ],
)
def test_real_odd_sentences(app, text, message):
    at = ok(_reveal_all(app(REAL, sentence=text)))
    if message:
        assert any(message in w for w in warnings(at)), warnings(at)
    if text.strip():
        assert "real_large" in keys(at)


def test_real_long_sentence_is_pooled_and_the_head_view_trimmed(app):
    at = ok(_reveal_all(app(REAL, sentence="東京" * 150)))  # 300 characters: one piece each, 302 tokens
    grid = chart(at, "real_grid")
    assert z(grid["data"][0]).shape == (6 * 49 - 1, 12 * 49 - 1) and "…" in grid["data"][0]["y"][1]
    assert any("pooled into 48 blocks" in c.value for c in at.caption)
    view = chart(at, "real_head_view")
    assert len(view["data"][0]["y"]) <= 25  # the chosen token and its 24 strongest keys
    assert any("do not fit" in plain(c) for c in at.caption)
