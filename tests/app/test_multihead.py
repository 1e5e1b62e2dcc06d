"""lessons/multihead.py (5 · the toy multi-head layer), driven by widget key."""

import json

import numpy as np
import pytest

from tests.app.elements import chart, keys, ok, run, warnings, z
from tests.app.test_pages import _reveal_all, plain

TOY = "lessons/multihead.py"
TWELVE = "the cat sat on the mat because it was tired after chasing"


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
    long = " ".join(["the river bank was wet and the boat was slow"] * 5)  # 50 words, all kept (a paragraph: up to 256)
    at = ok(_reveal_all(app(TOY, sentence=long)))
    grid = chart(at, "mh_grid")
    assert grid["layout"]["yaxis"]["showticklabels"] is False  # no wall of labels
    assert "%{y}" in grid["data"][0]["hovertemplate"]  # the words are in the hover instead
    assert any("hover a cell" in c.value for c in at.caption)
    assert at.dataframe[0].value.shape == (50, 4)
