"""Lesson 5 (toy multi-head layer), 5b (the real model's heads) and 5c (its ready examples), driven by widget key."""

import base64
import json

import numpy as np
import pytest

from tests.app.test_pages import _reveal_all, no_html, plain

TOY, REAL, EXAMPLES = "lessons/multihead.py", "lessons/real_heads.py", "lessons/real_examples.py"
RIVER_TOKENS = ["[CLS]", "I", "walked", "by", "the", "river", "bank", "[SEP]"]
TWELVE = "the cat sat on the mat because it was tired after chasing"


def ok(at):
    assert not at.exception, at.exception
    no_html(at)
    return at


def run(element):
    """Run after setting a widget, and check the page survived."""
    return ok(element.run())


def chart(at, key: str) -> dict:
    """The plotly spec of the chart drawn with ``key``."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key!r}; drawn: {[c.proto.id.rsplit('-', 1)[-1] for c in at.get('plotly_chart')]}"
    return json.loads(found[0].proto.spec)


def keys(at) -> set[str]:
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def arr(values) -> np.ndarray:
    """Numbers from a plotly spec, whether written as a list or as a typed array {"dtype", "bdata", "shape"}."""
    if isinstance(values, dict):
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        return flat.reshape([int(n) for n in str(values["shape"]).split(",")]) if "shape" in values else flat
    return np.asarray(values, dtype=float)


def z(trace) -> np.ndarray:
    """A heatmap's values."""
    return arr(trace["z"])


def warnings(at) -> list[str]:
    return [plain(w) for w in at.warning]


# --------------------------------------------------------------------------------------------------------------
# 5 · the toy layer
# --------------------------------------------------------------------------------------------------------------


def test_toy_page_controls(app):
    at = ok(app(TOY, sentence=TWELVE))
    assert {"mh_diagram", "mh_large"} <= keys(at)
    assert "mh_grid" not in keys(at)  # the maps wait for the prediction
    at = ok(_reveal_all(at))
    grid = chart(at, "mh_grid")
    assert len(grid["data"]) == 4 and grid["data"][0]["y"][:3] == ["the", "cat", "sat"]
    assert "12 × 32" in json.dumps(chart(at, "mh_diagram"), ensure_ascii=False)
    assert len(at.dataframe) == 1
    assert [m.label for m in at.metric] == ["Rows where all heads agree", "Mean difference between heads"]

    run(at.slider(key="mh_heads").set_value(8))
    assert len(chart(at, "mh_grid")["data"]) == 8
    assert "(128 × 50)" not in json.dumps(chart(at, "mh_diagram"), ensure_ascii=False)  # Dh is 8: 64 × 50
    assert "(64 × 50)" in json.dumps(chart(at, "mh_diagram"), ensure_ascii=False)
    run(at.radio(key="mh_dim").set_value(16))
    assert "(128 × 50)" in json.dumps(chart(at, "mh_diagram"), ensure_ascii=False)
    before = z(chart(at, "mh_grid")["data"][0])
    run(at.number_input(key="mh_seed").set_value(7))
    assert not np.allclose(z(chart(at, "mh_grid")["data"][0]), before)  # another seed, other heads
    run(at.selectbox(key="mh_focus").set_value(7))
    assert "A₈" in chart(at, "mh_large")["layout"]["title"]["text"]
    large = z(chart(at, "mh_large")["data"][0])
    assert large.shape == (12, 12) and np.allclose(large.sum(axis=1), 1, atol=1e-4)
    run(at.slider(key="mh_heads").set_value(1))
    assert len(chart(at, "mh_grid")["data"]) == 1
    assert at.selectbox(key="mh_focus").value == 0
    assert not at.metric  # nothing to compare with one head
    assert any("raise H" in plain(i) for i in at.info)


def test_toy_adding_a_head_keeps_the_others(app):
    at = ok(_reveal_all(app(TOY, sentence=TWELVE)))
    three = [z(t) for t in chart(run(at.slider(key="mh_heads").set_value(3)), "mh_grid")["data"]]
    four = [z(t) for t in chart(run(at.slider(key="mh_heads").set_value(4)), "mh_grid")["data"]]
    assert all(np.allclose(a, b) for a, b in zip(three, four[:3], strict=True))


def test_toy_prediction_is_checked_against_the_measurement(app):
    at = ok(app(TOY, sentence=TWELVE))
    run(at.radio(key="mh_predict").set_value("no, they mostly pick different words"))
    agree = next(m.value for m in at.metric if m.label == "Rows where all heads agree")
    assert float(agree.rstrip("%")) < 50
    assert any(s.value.startswith("Right.") for s in at.success)
    assert "mh_grid" in keys(at)


@pytest.mark.parametrize(
    "query,message",
    [
        ({"mh_heads": "12"}, "1 to 8"),
        ({"mh_heads": "0"}, "1 to 8"),
        ({"mh_heads": "many"}, "many"),
        ({"mh_dim": "7"}, "4, 8 and 16"),
        ({"mh_seed": "-3"}, "0 to 9999"),
        ({"mh_seed": "<b>x</b>"}, "<b>x</b>"),
    ],
)
def test_toy_bad_settings_in_the_link(app, query, message):
    at = ok(app(TOY, **query))
    assert any(message in w for w in warnings(at)), warnings(at)
    assert at.slider(key="mh_heads").value == 4
    assert at.radio(key="mh_dim").value == 8
    ok(_reveal_all(at))


def test_toy_good_settings_in_the_link(app):
    at = ok(app(TOY, mh_heads="6", mh_dim="16", mh_seed="3"))
    assert (at.slider(key="mh_heads").value, at.radio(key="mh_dim").value) == (6, 16)
    assert at.number_input(key="mh_seed").value == 3
    assert not warnings(at)


def test_toy_one_word(app):
    at = ok(app(TOY, sentence="bank"))
    assert any("one known word" in plain(i) for i in at.info)
    assert any("at least 2 words" in w for w in warnings(at))
    assert not at.get("plotly_chart")


def test_toy_long_sentence_is_read_by_hover_and_table(app):
    long = " ".join(["the river bank was wet and the boat was slow"] * 5)  # 50 words, 40 kept
    at = ok(_reveal_all(app(TOY, sentence=long)))
    grid = chart(at, "mh_grid")
    assert grid["layout"]["yaxis"]["showticklabels"] is False  # no wall of labels
    assert "%{y}" in grid["data"][0]["hovertemplate"]  # the words are in the hover instead
    assert any("hover a cell" in c.value for c in at.caption)
    assert at.dataframe[0].value.shape == (40, 4)


# --------------------------------------------------------------------------------------------------------------
# 5b · the real model's heads
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# 5c · the ready examples
# --------------------------------------------------------------------------------------------------------------


def test_examples_minimal_pair_and_bank(app):
    at = ok(app(EXAMPLES, sentence="zzqxv"))  # whatever the sidebar says: page 5c brings its own sentences
    question = next(m.value for m in at.markdown if "Predict first" in m.value and "sentence B" in m.value)
    assert "layer 6 · head 12" in question and "(0.68)" in question  # the largest weight on "cat" in A
    run(at.radio(key="real_coref_predict").set_value("still the referent of sentence A"))
    assert any(s.value.startswith("Right.") and "0.64" in s.value for s in at.success)  # it keeps "cat" in B
    top = chart(at, "real_coref_top")
    assert top["data"][0]["customdata"][0] == "layer 4 · head 2"
    scores = arr(top["data"][0]["x"])
    assert scores[0] == pytest.approx(0.385, abs=0.005) and list(scores) == sorted(scores, reverse=True)
    table = at.dataframe[0].value
    assert list(table.index) == [
        "layer 4 · head 2", "layer 5 · head 9", "layer 5 · head 4", "layer 5 · head 1", "layer 4 · head 8",
        "layer 6 · head 12",
    ]  # fmt: skip
    assert table.loc["layer 6 · head 12", "score"] == "0.04"
    said = next(c.value for c in at.caption if "of a possible 2" in c.value)
    assert "0.38 of a possible 2, in layer 4 · head 2" in said and "7 of 72 heads" in said
    where = next(c.value for c in at.caption if "first layers look" in c.value)
    assert "put 20% of their weight" in where and "1 of 12 heads" in where and "not next door" in where
    assert z(chart(at, "real_coref_all")["data"][0]).shape == (6, 12)
    assert chart(at, "real_coref_view_b")["layout"]["title"]["text"].startswith("Sentence B")
    run(at.selectbox(key="real_coref_pick").select_index(1))
    assert at.selectbox(key="real_coref_pick").value == "layer 5 · head 9"

    run(at.radio(key="real_drift_predict").set_value("after the last layer"))
    assert any(s.value.startswith("Right.") for s in at.success)
    drift = chart(at, "real_drift_chart")
    assert [d["name"] for d in drift["data"]] == ["A vs B", "A vs C"]
    ab = arr(drift["data"][0]["y"])
    assert len(ab) == 7 and ab[0] == pytest.approx(1.0, abs=1e-4) and ab[-1] < 0.85
    assert any("closer to C" in c.value for c in at.caption)


def test_examples_answers_survive_a_bad_edit(app):
    at = ok(app(EXAMPLES))
    run(at.radio(key="real_coref_predict").set_value("the new referent, as sentence B says"))
    run(at.radio(key="real_drift_predict").set_value("in the middle layers"))
    run(at.text_input(key="real_coref_tgt").set_value("dog"))
    assert any("'dog' is not a word" in w for w in warnings(at))
    assert "real_coref_top" not in keys(at)
    run(at.text_input(key="real_drift_b").set_value("I deposited money at the shop"))
    assert "real_drift_predict" not in [r.key for r in at.radio]  # no A vs B: no question
    run(at.text_input(key="real_coref_tgt").set_value("cat"))
    run(at.text_input(key="real_drift_b").set_value("I deposited money at the bank"))
    assert at.radio(key="real_coref_predict").value == "the new referent, as sentence B says"  # not asked again
    assert at.radio(key="real_drift_predict").value == "in the middle layers"
    assert {"real_coref_top", "real_drift_chart"} <= keys(at)
    assert not [b.key for b in at.button if b.key and b.key.endswith("_skip")]


def test_examples_verb_subject_heads(app):
    at = ok(app(EXAMPLES))
    assert at.radio(key="real_vs_set").value == "with words between subject and verb"
    top = chart(at, "real_vs_top")
    assert top["data"][0]["customdata"][0] == "layer 1 · head 2"
    means = arr(top["data"][0]["x"])
    assert list(means) == sorted(means, reverse=True) and means[0] == pytest.approx(0.19, abs=0.01)
    said = next(c.value for c in at.caption if "stands right before its verb" in c.value)
    assert "in 0 of these 24 pairs" in said and "even half" in said
    assert "“smiled” framed" in chart(at, "real_vs_map")["layout"]["title"]["text"]
    assert z(chart(at, "real_vs_all")["data"][0]).shape == (6, 12)
    run(at.radio(key="real_vs_set").set_value("page 3's labelled sentences"))
    assert chart(at, "real_vs_top")["data"][0]["customdata"][0] == "layer 1 · head 3"
    said = next(c.value for c in at.caption if "right before its verb" in c.value)
    assert "In all 100 of these pairs" in said and "looks one word back" in said
    run(at.selectbox(key="real_vs_sentence").select_index(1))
    assert "“barked” framed" in chart(at, "real_vs_map")["layout"]["title"]["text"]


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("real_coref_src", "dog", "'dog' is not a word of the sentence"),
        ("real_coref_tgt", "", "name a word"),
        ("real_coref_tgt", "it", "three different words"),
        ("real_coref_tgt_b", "cat", "three different words"),
        ("real_coref_text_b", "the dog slept", "sentence B"),
        ("real_coref_text", "", "not a word of the sentence"),
        ("real_coref_text", "   ", "not a word of the sentence"),
        ("real_coref_src", "<script>alert(1)</script>", "not a word of the sentence"),
    ],
)
def test_examples_coreference_bad_input(app, key, value, message):
    at = ok(app(EXAMPLES))
    run(at.text_input(key=key).set_value(value))
    assert any(message in w for w in warnings(at)), warnings(at)
    assert "real_coref_top" not in keys(at)
    ok(_reveal_all(at))
    assert "real_drift_chart" in keys(at)  # the other example keeps working


def test_examples_long_text_is_truncated_with_a_note(app):
    at = ok(app(EXAMPLES))
    run(at.text_input(key="real_coref_text").set_value("the cat sat on the mat because it was tired . " * 60))
    assert any("512 positions" in w and "dropped" in w for w in warnings(at))
    ok(_reveal_all(at))
    assert "real_coref_top" in keys(at)


def test_examples_odd_text_and_scripts(app):
    at = ok(app(EXAMPLES))
    run(at.text_input(key="real_coref_text").set_value("the 😀 cat sat on the mat because it was tired 東京"))
    assert any("Sentence A" in w and "[UNK]" in w for w in warnings(at))
    ok(_reveal_all(at))
    assert "real_coref_view_a" in keys(at)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("real_drift_word", "dog", "A and B: 'dog' is not a word"),
        ("real_drift_word", "", "name a word"),
        ("real_drift_b", "", "not a word of the sentence"),
        ("real_drift_a", "I walked by the river 😀 bank", "[UNK]"),
    ],
)
def test_examples_drift_bad_input(app, key, value, message):
    at = ok(app(EXAMPLES))
    run(at.text_input(key=key).set_value(value))
    assert any(message in w for w in warnings(at)), warnings(at)
    ok(_reveal_all(at))


def test_examples_drift_edits(app):
    at = ok(_reveal_all(app(EXAMPLES)))
    run(at.text_input(key="real_drift_c").set_value(""))
    assert [d["name"] for d in chart(at, "real_drift_chart")["data"]] == ["A vs B"]
    run(at.text_input(key="real_drift_a").set_value("the bank of the river was muddy"))
    run(at.text_input(key="real_drift_b").set_value("the bank raised its interest rates"))
    ab = arr(chart(at, "real_drift_chart")["data"][0]["y"])
    assert len(ab) == 7 and ab[0] == pytest.approx(1.0, abs=1e-4)  # same word, same position
    run(at.text_input(key="real_drift_word").set_value("Bank"))  # case does not matter
    assert "real_drift_chart" in keys(at)


def test_examples_drift_keeps_the_good_pair_when_one_sentence_lacks_the_word(app):
    at = ok(app(EXAMPLES))
    run(at.text_input(key="real_drift_b").set_value("I deposited money at the shop"))
    assert any("A and B:" in w and "'bank' is not a word" in w for w in warnings(at))
    assert [d["name"] for d in chart(at, "real_drift_chart")["data"]] == ["A vs C"]  # no question left to ask
