"""Every page, run from app.py as a learner's session would run it, with good and bad input."""

import base64
import json
import re

import numpy as np
import pytest

from app_support.kit.sentence import DEFAULT, MAX_CHARS, PRESETS
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
    assert at.text_area(key="sentence").value == DEFAULT
    assert sentence_param(at) == DEFAULT


def test_link_reproduces_the_sentence(app):
    at = app("lessons/similarity.py", sentence="the cat sat on the mat")
    assert at.text_area(key="sentence").value == "the cat sat on the mat"
    assert at.selectbox(key="sim_focus").options == ["the", "cat", "sat", "on", "the·2", "mat"]
    assert not at.exception


def test_typing_a_sentence_updates_url_and_survives_page_switch(app):
    at = app()
    at.text_area(key="sentence").set_value("I deposited money at the bank").run()
    assert not at.exception, at.exception
    assert sentence_param(at) == "I deposited money at the bank"
    at.switch_page("lessons/similarity.py").run()
    assert not at.exception, at.exception
    assert at.text_area(key="sentence").value == "I deposited money at the bank"
    assert sentence_param(at) == "I deposited money at the bank"
    assert at.selectbox(key="sim_focus").value == "bank"  # followed by default
    assert not at.exception


def test_preset_fills_the_box(app):
    at = app()
    at.selectbox(key="sidebar_preset").set_value(PRESETS[3]).run()
    assert not at.exception, at.exception
    assert at.text_area(key="sentence").value == PRESETS[3]
    assert at.selectbox(key="sidebar_preset").value is None
    assert not at.exception


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("text", HOSTILE)
def test_bad_sentences_in_box_and_url(app, page, text):
    # typed into the box
    at = app(page)
    at.text_area(key="sentence").set_value(text).run()
    assert not at.exception
    assert len(at.text_area(key="sentence").value) <= MAX_CHARS
    no_html(at)
    # arriving in a link
    at = app(page, sentence=text)
    assert not at.exception
    assert len(at.text_area(key="sentence").value) <= MAX_CHARS
    no_html(at)


def test_long_paste_is_capped_with_a_note(app):
    at = app(sentence="river " * 5_000)
    # the box keeps 20,000 characters, then the model's limit cuts it: 254 pieces between [CLS] and [SEP]
    assert at.text_area(key="sentence").value == " ".join(["river"] * 254)
    assert any("30,000 characters" in i.value and "first 20,000" in i.value for i in at.sidebar.info)
    assert any("has 3,336 pieces; the model reads the first 256" in i.value for i in at.sidebar.info)


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
    assert [m.label.split(" after")[0] for m in at.metric] == ["cos(bank, river)", "cos(bank, money)"]
    assert any(c.value.startswith("After mixing, “bank”") for c in at.caption)
    at.radio(key="sim_kind").set_value("cosine").run()
    assert not at.exception, at.exception
    at.selectbox(key="sim_focus").select_index(4).run()
    assert not at.exception, at.exception
    at.toggle(key="sim_exclude").set_value(False).run()
    assert not at.exception, at.exception
    at.text_input(key="sim_probe_a").set_value("zzqxv").run()
    assert not at.exception, at.exception
    assert any("zzqxv" in plain(w) for w in at.warning)
    assert not at.exception


def meter(at) -> tuple[list[float], str]:
    """The meaning meter's two changes and its verdict."""
    deltas = [float(m.proto.delta) for m in at.metric if m.label.startswith("cos(")]
    verdict = next(c.value for c in at.caption if "mixing" in c.value.lower() and "“" in c.value)
    return deltas, verdict


@pytest.mark.parametrize(
    "probe_a,probe_b,expected",
    [
        ("loan", "lending", "further from both probes"),  # measured: both fall for the default sentence
        ("river", "money", None),
    ],
)
def test_meaning_meter_wording_holds_whichever_way_the_cosines_move(app, probe_a, probe_b, expected):
    at = _reveal_all(app("lessons/similarity.py"))
    at.text_input(key="sim_probe_a").set_value(probe_a).run()
    at.text_input(key="sim_probe_b").set_value(probe_b).run()
    assert not at.exception
    deltas, verdict = meter(at)
    assert len(deltas) == 2
    if expected:
        assert all(d < 0 for d in deltas)
        assert expected in verdict
    if all(d < 0 for d in deltas):
        assert "further from both" in verdict and "moved toward" not in verdict
    elif all(d > 0 for d in deltas):
        assert "closer to both" in verdict
    else:
        assert "moved toward" in verdict and "away from" in verdict


# ---------------------------------------------------------------------------------------------- lesson 3

PROJ = "lessons/projections.py"


def figures(at) -> dict[str, dict]:
    """Every chart on the page as plain JSON, by widget key."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def z_of(fig: dict) -> np.ndarray:
    """A heatmap's values; plotly sends arrays as base64 (``bdata``)."""
    z = fig["data"][0]["z"]
    if isinstance(z, dict):
        shape = [int(n) for n in str(z.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.array(z, dtype=float)


def title_of(fig: dict) -> str:
    return fig["layout"]["title"]["text"]


SOFT = "lessons/softmax.py"
LONG = " ".join(["the river bank was green and the water ran past the old mill near town"] * 3)  # 45 words


@pytest.mark.parametrize("page", [PROJ, SOFT])
@pytest.mark.parametrize("text,message", [("river", "at least 2 words"), ("", "empty")])
def test_new_pages_need_two_words(app, page, text, message):
    at = app(page, sentence=text)
    assert not at.exception
    assert any(message in plain(w) for w in at.warning)


@pytest.mark.parametrize("page", [PROJ, SOFT])
def test_long_sentence_keeps_top_k_per_row(app, page):
    at = _reveal_all(app(page, sentence=LONG))
    assert not at.exception
    assert not any("the pictures use the first" in i.value for i in at.info)  # 45 words: a paragraph takes 256
    maps = [
        f for k, f in figures(at).items() if k in {"proj_before", "proj_QK", "soft_raw", "soft_scaled", "soft_weights"}
    ]
    assert len(maps) >= 2
    for fig in maps:  # each row keeps its 5 strongest keys; the rest are gaps
        assert z_of(fig).shape == (45, 45)
        assert (np.isfinite(z_of(fig)).sum(axis=1) == 5).all()
    if page == PROJ:
        assert any("keeps its 5 highest scores" in c.value for c in at.caption)


def test_identity_choice_reproduces_lesson_two(app):
    at = app(PROJ)
    assert at.radio(key="proj_kind").value == "identity"
    at.radio(key="proj_predict_self").set_value("most rows (80% or more)").run()
    assert not at.exception
    assert any(s.value.startswith("Right.") for s in at.success)
    assert any("Largest difference between the two: 0." in c.value for c in at.caption)
    assert any("query and key sit on the word itself" in c.value for c in at.caption)
    assert any("With the identity the two columns are equal." in c.value for c in at.caption)


def test_random_choice_and_query_picker(app):
    at = _reveal_all(app(PROJ))
    at.radio(key="proj_kind").set_value("random").run()
    assert not at.exception
    first = figures(at)["proj_M_Q"]
    assert title_of(first) == "M_Q (50 × 50)"
    at.number_input(key="proj_seed").set_value(7).run()
    assert not at.exception
    assert not np.array_equal(z_of(figures(at)["proj_M_Q"]), z_of(first))
    assert at.selectbox(key="proj_query").value == "bank"
    at.selectbox(key="proj_query").select_index(4).run()
    assert not at.exception
    assert any("river_O = " in c.value for c in at.code)
    assert any(c.value.startswith("Highest key in each row:") for c in at.caption)


def test_training_runs_on_the_button_and_is_kept(app):
    at = _reveal_all(app(PROJ))
    at.radio(key="proj_kind").set_value("trained").run()
    assert not at.exception
    assert any("Press **Train**" in i.value for i in at.info)
    at.slider(key="proj_steps").set_value(10).run()
    at.button(key="proj_train").click().run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Held-out: trained", "identity", "random start", "chance"]
    assert at.metric[1].value == "0%"
    assert [t["name"] for t in figures(at)["proj_loss"]["data"]] == ["training sentences", "held-out sentences"]
    _reveal_all(at)
    assert any("trained here" in i.value for i in at.info)
    # another rerun (a new query word) shows the stored run without training again
    at.selectbox(key="proj_query").select_index(0).run()
    assert not at.exception
    assert at.metric[0].label == "Held-out: trained"
    # new settings: the last finished run stays on screen, with a note
    at.selectbox(key="proj_goal").set_value("verb_subject").run()
    assert not at.exception
    assert any("Showing your last run" in i.value for i in at.info)
    # the example sentence button sets the shared sentence (the example of the run on screen)
    at.button(key="proj_try").click().run()
    assert not at.exception
    assert at.text_area(key="sentence").value == "my neighbour owns an enormous dog"


def test_interrupted_training_keeps_nothing(app, monkeypatch):
    """A rerun stops the loop from inside its progress callback; the page must neither break nor keep it."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    import app_support.parts.training_panel as panel

    real = panel.train_projections

    def interrupted(dataset, kv, config, on_step):
        for step in range(1, 4):
            on_step(step, 1.0, 1.0)
        raise StopException()

    at = app(PROJ)
    at.radio(key="proj_kind").set_value("trained").run()
    at.slider(key="proj_steps").set_value(20).run()
    monkeypatch.setattr(panel, "train_projections", interrupted)
    at.button(key="proj_train").click().run()
    assert not at.exception
    assert at.get("progress")  # the loop had started: its progress bar was on screen when the rerun stopped it
    monkeypatch.setattr(panel, "train_projections", real)
    at.run()
    assert not at.exception
    assert not at.metric
    assert any("Press **Train**" in i.value for i in at.info)


def test_real_model_choice(app):
    at = _reveal_all(app(PROJ))
    at.radio(key="proj_kind").set_value("real").run()
    assert not at.exception, at.exception
    _reveal_all(at)
    assert any("all-MiniLM-L6-v2" in i.value for i in at.info)
    figs = figures(at)
    assert title_of(figs["proj_M_Q"]) == "M_Q (384 × 32)"
    assert z_of(figs["proj_M_Q"]).shape == (384, 32)
    assert list(figs["proj_QK"]["data"][0]["y"]) == ["[CLS]", "i", "walked", "by", "the", "river", "bank", "[SEP]"]
    at.slider(key="proj_layer").set_value(6).run()
    at.slider(key="proj_head").set_value(12).run()
    assert not at.exception
    assert any("Columns 353–384 of layer 6" in c.value for c in at.caption)
    assert any("divides by √32" in c.value for c in at.caption)


@pytest.mark.parametrize("text", ["😀🎉", "<script>alert(1)</script>", "x" * 300, "zzqxv qqzzv", ""])
def test_real_model_with_odd_text(app, text):
    at = app(PROJ, sentence=text)
    at.radio(key="proj_kind").set_value("real").run()
    assert not at.exception, at.exception
    _reveal_all(at)
    no_html(at)


# ---------------------------------------------------------------------------------------------- lesson 4


def test_softmax_chain_and_controls(app):
    at = app(SOFT)
    at.radio(key="soft_predict").set_value("nearly one-hot: one word takes over 90%").run()
    assert not at.exception
    assert any(s.value.startswith("Right.") for s in at.success)
    weights = figures(at)["soft_weights"]
    assert [a["text"] for a in weights["layout"]["annotations"]] == ["Σ 1.000"] * 6
    assert np.allclose(z_of(weights).sum(axis=1), 1.0, atol=1e-6)
    at.toggle(key="soft_causal").set_value(True).run()
    assert not at.exception
    assert any("cells above the diagonal are exactly 0" in c.value for c in at.caption)
    at.select_slider(key="soft_temp").set_value(10.0).run()
    at.toggle(key="soft_sqrt").set_value(False).run()
    assert not at.exception
    at.select_slider(key="soft_temp").set_value(0.1).run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label.startswith("Rows over")) == "6 of 6"
    at.select_slider(key="soft_temp").set_value(10.0).run()
    assert next(m.value for m in at.metric if m.label.startswith("Rows over")) != "6 of 6"
    at.radio(key="soft_proj").set_value("random").run()
    at.selectbox(key="soft_row").select_index(0).run()
    assert not at.exception
    assert [t["name"] for t in figures(at)["soft_variance"]["data"]][:2] == ["measured Var(q·k)", "var = d"]


# ------------------------------------------------------------------------------------- second wave, lessons 3–4

SEED_SENTENCE = "Please, GPT, can you tell me what is the most likely pet in a household?"


def frame(at, first_column: str):
    """The table whose first column is ``first_column`` (AppTest does not keep a dataframe's key)."""
    return next(d.value for d in at.dataframe if str(d.value.columns[0]) == first_column)


def test_queries_and_keys_are_drawn_together_and_aligned(app):
    at = _reveal_all(app(PROJ))
    at.radio(key="proj_kind").set_value("random").run()
    assert not at.exception
    fig = figures(at)["proj_moves"]
    assert [t["name"] for t in fig["data"]] == ["word vectors I", "queries Q = I·M_Q", "keys K = I·M_K"]
    assert fig["data"][2]["text"][0] == "k i"
    assert len(fig["layout"]["annotations"]) == 12  # an arrow from each of the 6 words to its query and its key
    table = frame(at, "query")
    assert list(table.columns)[:3] == ["query", "its best other key", "q·k"]
    assert (table["query"] != table["its best other key"]).all()
    assert any("mean cosine" in c.value and "after against" in c.value for c in at.caption)


def test_value_matrix_changes_the_output_measured(app):
    at = _reveal_all(app(PROJ))
    values = frame(at, "M_V")
    assert list(values["M_V"]) == ["identity (the GloVe vectors)", "random (seed 0)"]
    assert values["cosine with the identity's output"].iloc[0] == "1.00"
    assert float(values["cosine with the identity's output"].iloc[1]) < 0.9
    assert any("Here $M_V$ is the identity" in c.value for c in at.caption)
    at.radio(key="proj_kind").set_value("random").run()
    at.number_input(key="proj_seed").set_value(5).run()
    assert list(frame(at, "M_V")["M_V"]) == ["identity (the GloVe vectors)", "random (seed 5)"]
    at.radio(key="proj_kind").set_value("real").run()
    _reveal_all(at)
    assert not at.exception
    real = frame(at, "M_V")
    assert list(real["M_V"])[1] == "the head's M_V, then its rows of W_O"
    assert any("carried back to 384 numbers" in c.value for c in at.caption)


def test_a_second_student_replays_a_stored_run(app, monkeypatch):
    import app_support.parts.training_panel as panel

    pauses: list[float] = []
    monkeypatch.setattr(panel, "_pause", pauses.append)  # the replay's pacing, recorded instead of waited
    first = app(PROJ)
    first.radio(key="proj_kind").set_value("trained").run()
    first.slider(key="proj_steps").set_value(30).run()
    first.button(key="proj_train").click().run()
    assert not first.exception and first.metric
    # another session, same settings: the stored run is not shown until this student presses Train
    second = app(PROJ)
    second.radio(key="proj_kind").set_value("trained").run()
    second.slider(key="proj_steps").set_value(30).run()
    assert not second.metric
    assert any("Press **Train**" in i.value for i in second.info)
    second.button(key="proj_train").click().run()
    assert not second.exception, second.exception
    assert len(pauses) == 30 // max(1, 30 // 25)  # paced step by step, as the run was measured
    assert 0 < sum(pauses) <= panel.REPLAY_SECONDS
    assert second.metric[0].label == "Held-out: trained"
    assert any(c.value.startswith("Replayed: this server had already trained") for c in second.caption)
    # train again recomputes: the same settings give the same losses (training is deterministic)
    before = figures(second)["proj_loss"]["data"][0]["y"]
    second.button(key="proj_retrain").click().run()
    assert not second.exception
    assert not any(c.value.startswith("Replayed") for c in second.caption)
    assert figures(second)["proj_loss"]["data"][0]["y"] == before


def test_attention_received_on_the_weights_and_in_minilm(app):
    at = _reveal_all(app(SOFT, sentence=SEED_SENTENCE))
    assert at.radio(key="soft_recv_on").value == "minilm"  # the claim is about a language model: judged on one
    assert any("[CLS] and [SEP] (hatched) receive" in c.value for c in at.caption)
    assert any("“please”" in i.value for i in at.info)
    at.radio(key="soft_recv_on").set_value("here").run()
    assert not at.exception
    fig = figures(at)["soft_received"]
    received = np.array(fig["data"][0]["y"] if not isinstance(fig["data"][0]["y"], dict) else z_of(
        {"data": [{"z": fig["data"][0]["y"]}]}), dtype=float)  # fmt: skip
    n = len(at.selectbox(key="soft_row").options)
    assert received.shape == (n,) and received.sum() == pytest.approx(n, abs=1e-3)  # every row hands out 1
    claim = next(i.value for i in at.info if "“please”" in i.value)
    assert "cannot test it: choose MiniLM above" in claim  # GloVe with chosen matrices is not a language model


def test_even_split_under_the_causal_mask_is_per_row(app):
    at = _reveal_all(app(SOFT))
    assert next(m.value for m in at.metric if m.label.startswith("Even split")) == "17%"  # 1/6
    at.toggle(key="soft_causal").set_value(True).run()
    metric = next(m for m in at.metric if m.label.startswith("Even split"))
    assert metric.label == "Even split would give (average)"
    assert metric.value == f"{sum(1 / (i + 1) for i in range(6)) / 6:.0%}"


def test_padding_mask_on_minilm_tokens(app):
    at = _reveal_all(app(SOFT))
    tokens = frame(at, "1")
    assert list(tokens.iloc[0]) == ["[CLS]", "i", "walked", "by", "the", "river", "bank", "[SEP]"]
    assert list(tokens.iloc[1]) == ["[CLS]", "my", "dog", "sleeps", "[SEP]", "[PAD]", "[PAD]", "[PAD]"]
    values = {m.label: m.value for m in at.metric}
    assert values["Largest weight on a [PAD] key"] == "0"
    assert float(values["Real tokens' outputs, padded vs alone"]) < 1e-4
    assert float(values["The same without the mask"]) > 0.05
    weights = z_of(figures(at)["soft_pad_weights"])
    assert weights.shape == (8, 8) and np.all(weights[:, 5:] == 0)  # the [PAD] keys of "my dog sleeps"
    at.text_input(key="soft_pad_other").set_value("I walked by the river bank").run()
    assert not at.exception
    assert any("nothing is padded" in i.value for i in at.info)


def test_padding_batch_of_a_long_paste_is_what_the_model_reads(app):
    at = _reveal_all(app(SOFT, sentence="I walked by the river bank " * 400))
    assert not at.exception
    assert len(frame(at, "1").columns) == 256  # the box cut the paste at the model's 256 pieces: [CLS], 254, [SEP]


@pytest.mark.parametrize("text", ["😀🎉 river bank", "<script>alert(1)</script> the bank", "x" * 120 + " the bank"])
def test_received_and_padding_with_odd_text(app, text):
    at = _reveal_all(app(SOFT, sentence=text))
    assert not at.exception, at.exception
    at.radio(key="soft_recv_on").set_value("minilm").run()
    assert not at.exception, at.exception
    at.text_input(key="soft_pad_other").set_value("<b>hi</b> 😀").run()
    assert not at.exception, at.exception
    no_html(at)
