"""Every page, run from app.py as a learner's session would run it, with good and bad input."""

import re

import pytest

from app_support.sentence import DEFAULT, MAX_CHARS, PRESETS
from tests.app.conftest import PAGES

HOSTILE = [
    "",
    "   ",
    "zzqxv qqzzv",
    "x" * 10_000,
    "I walked by the river bank " * 400,
    "😀🎉🚀 🦀",
    "Привет мир, 東京 では",
    "1234 5678 !!! ??? ... ,,,",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1)) **bold** :red[x] $x^2$",
    "the the the the the",
]


def no_html(at) -> None:
    """Nothing on the page may be rendered as raw HTML."""
    for md in at.markdown:
        assert not md.proto.allow_html
    for el in list(at.warning) + list(at.info) + list(at.success) + list(at.markdown) + list(at.caption):
        assert not re.search(r"(?<!\\)<", el.value), f"unescaped '<' in {el.value!r}"


def plain(element) -> str:
    """An element's text with markdown escapes removed."""
    return element.value.replace("\\", "")


def sentence_param(at) -> str:
    return (
        at.query_params["sentence"][0] if isinstance(at.query_params["sentence"], list) else at.query_params["sentence"]
    )


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(app, page):
    at = app(page)
    assert not at.exception
    assert at.title and at.title[0].value[0].isdigit()
    no_html(at)
    _reveal_all(at)  # some pages draw nothing until their "predict first" question is answered
    assert len(at.get("plotly_chart")) >= 1
    no_html(at)


def test_default_sentence_is_in_the_url_and_the_box(app):
    at = app()
    assert at.text_input(key="sentence").value == DEFAULT
    assert sentence_param(at) == DEFAULT


def test_link_reproduces_the_sentence(app):
    at = app("lessons/similarity.py", sentence="the cat sat on the mat")
    assert at.text_input(key="sentence").value == "the cat sat on the mat"
    assert at.selectbox(key="sim_focus").options == ["the", "cat", "sat", "on", "the·2", "mat"]
    assert not at.exception


def test_typing_a_sentence_updates_url_and_survives_page_switch(app):
    at = app()
    at.text_input(key="sentence").set_value("I deposited money at the bank").run()
    assert not at.exception, at.exception
    assert sentence_param(at) == "I deposited money at the bank"
    at.switch_page("lessons/similarity.py").run()
    assert not at.exception, at.exception
    assert at.text_input(key="sentence").value == "I deposited money at the bank"
    assert sentence_param(at) == "I deposited money at the bank"
    assert at.selectbox(key="sim_focus").value == 5  # "bank" is followed by default
    assert not at.exception


def test_preset_fills_the_box(app):
    at = app()
    at.selectbox(key="sidebar_preset").set_value(PRESETS[3]).run()
    assert not at.exception, at.exception
    assert at.text_input(key="sentence").value == PRESETS[3]
    assert at.selectbox(key="sidebar_preset").value is None
    assert not at.exception


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("text", HOSTILE)
def test_bad_sentences_in_box_and_url(app, page, text):
    # typed into the box
    at = app(page)
    at.text_input(key="sentence").set_value(text).run()
    assert not at.exception
    assert len(at.text_input(key="sentence").value) <= MAX_CHARS
    no_html(at)
    # arriving in a link
    at = app(page, sentence=text)
    assert not at.exception
    assert len(at.text_input(key="sentence").value) <= MAX_CHARS
    no_html(at)


def test_long_paste_is_capped_with_a_note(app):
    at = app(sentence="river " * 5_000)
    assert len(at.text_input(key="sentence").value) == MAX_CHARS
    assert any("first 300" in i.value for i in at.sidebar.info)


@pytest.mark.parametrize(
    "text,message",
    [("", "empty"), ("zzqxv qqzzv", "Not in the 400,000-word vocabulary"), ("😀🎉", "needs at least 1 word")],
)
def test_similarity_page_explains_why_nothing_is_drawn(app, text, message):
    at = app("lessons/similarity.py", sentence=text)
    assert not at.exception
    assert any(message in plain(w) for w in at.warning)


def test_unknown_words_are_named(app):
    at = app("lessons/similarity.py", sentence="the zzqxv river bank")
    assert any("zzqxv" in plain(w) for w in at.warning)
    assert at.selectbox(key="sim_focus").options == ["the", "river", "bank"]


def _reveal_all(at):
    for key in [b.key for b in at.button if b.key and b.key.endswith("_skip")]:
        at.button(key=key).click().run()
        assert not at.exception, at.exception
    return at


def test_analogy_box(app):
    at = _reveal_all(app())
    bars = [c for c in at.get("plotly_chart") if '"queen"' in c.proto.spec and '"throne"' in c.proto.spec]
    assert bars, "the answers chart for the default expression is drawn"
    at.text_input(key="emb_expr").set_value("paris - france + italy").run()
    assert not at.exception
    assert any("rome" in c.proto.spec for c in at.get("plotly_chart"))
    at.toggle(key="emb_include").set_value(True).run()
    assert not at.exception


@pytest.mark.parametrize(
    "expr,message",
    [
        ("king - - woman", "Two operators"),
        ("king -", "ends with an operator"),
        ("king - zzqxv", "zzqxv"),
        ("", "Type an expression"),
        ("<script>alert(1)</script>", "neither a word"),
    ],
)
def test_analogy_bad_input(app, expr, message):
    at = app()
    at.text_input(key="emb_expr").set_value(expr).run()
    assert not at.exception
    assert any(message in plain(w) for w in at.warning)
    # the rest of the page keeps working
    assert at.text_input(key="emb_nn_word").value == "bank"
    assert len(at.get("plotly_chart")) >= 2
    no_html(at)


def test_predict_first_feedback(app):
    at = app()
    at.radio(key="emb_predict_dot").set_value("cat · dog").run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Right.") for s in at.success)
    at.radio(key="emb_predict_dot").set_value("cat · debt").run()
    assert not at.exception, at.exception
    assert any("the answer is “cat · dog”" in i.value for i in at.info)
    assert not at.exception


def test_word_pair_and_neighbour_inputs(app):
    at = _reveal_all(app())
    at.text_input(key="emb_word_a").set_value("zzqxv").run()
    assert not at.exception, at.exception
    assert any("zzqxv" in plain(w) for w in at.warning)
    at.text_input(key="emb_word_a").set_value("river").run()
    assert not at.exception, at.exception
    at.text_input(key="emb_nn_word").set_value("").run()
    assert not at.exception, at.exception
    assert any("Type a word" in plain(w) for w in at.warning)
    assert not at.exception


def test_claim_check_controls(app):
    at = _reveal_all(app())
    at.radio(key="emb_claim_kind").set_value("cosine").run()
    assert not at.exception, at.exception
    assert any(m.label == "noun–noun pair wins" for m in at.metric)
    at.text_area(key="emb_nouns").set_value("cat").run()
    assert not at.exception, at.exception
    assert any("at least two nouns" in plain(w) for w in at.warning)
    at.text_area(key="emb_verbs").set_value("zzqxv eat").run()
    assert not at.exception, at.exception
    assert any("zzqxv" in plain(w) for w in at.warning)
    assert not at.exception


def test_similarity_controls(app):
    at = _reveal_all(app("lessons/similarity.py"))
    assert [m.label for m in at.metric] == ["cos(bank, river)", "cos(bank, money)"]
    assert any("moved more toward" in c.value for c in at.caption)
    at.radio(key="sim_kind").set_value("cosine").run()
    assert not at.exception, at.exception
    at.selectbox(key="sim_focus").set_value(4).run()
    assert not at.exception, at.exception
    at.toggle(key="sim_exclude").set_value(False).run()
    assert not at.exception, at.exception
    at.text_input(key="sim_probe_a").set_value("zzqxv").run()
    assert not at.exception, at.exception
    assert any("zzqxv" in plain(w) for w in at.warning)
    assert not at.exception
