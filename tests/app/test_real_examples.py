"""lessons/real_examples.py (5c · what real heads do, on ready examples), driven by widget key."""

import pytest

from tests.app.elements import arr, chart, keys, ok, run, warnings, z
from tests.app.test_pages import _reveal_all

EXAMPLES = "lessons/real_examples.py"


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
    assert any("256 pieces the model reads" in w and "dropped" in w for w in warnings(at))  # one limit: the box's
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
