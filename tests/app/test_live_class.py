"""The live class on the page (AppTest, the whole app from app.py): starting and joining, the teacher's token,
hostile codes and names, answers reaching the store, the reveal, and a broken store."""

from __future__ import annotations

import time

import pytest

from app_support.classroom import class_rules, class_store
from tests.app.test_pages import no_html

SIM = "lessons/similarity.py"
QUESTION = "sim_predict_diag"


@pytest.fixture
def store(monkeypatch, tmp_path):
    """A fresh class store for the app (the process-wide one is reset, and reset again afterwards)."""
    monkeypatch.setenv(class_store.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(class_store.DB_ENV, raising=False)
    monkeypatch.setattr(class_store, "_STORE", None)
    s = class_store.from_config()
    yield s
    s.close()
    monkeypatch.setattr(class_store, "_STORE", None)


def sidebar_text(at) -> str:
    return "\n".join(m.value for m in [*at.sidebar.markdown, *at.sidebar.warning, *at.sidebar.caption])


def test_teacher_starts_a_class(app, store):
    at = app(SIM)
    at.sidebar.button(key="cls_start").click().run()
    assert not at.exception
    code = at.query_params["class"][0] if isinstance(at.query_params["class"], list) else at.query_params["class"]
    assert class_rules.clean_code(code) == code
    assert f"**Class {code}** · you are teaching" in sidebar_text(at)
    assert "teacher" not in at.query_params
    links = [c.value for c in at.sidebar.code]
    assert any(v.endswith(f"/?class={code}") for v in links)
    token = next(v.split("teacher=", 1)[1] for v in links if "teacher=" in v)
    assert store.is_teacher(code, token)
    at.sidebar.button(key="cls_end").click().run()
    assert not store.get_class(code).active()
    assert f"Class {code} has ended." in sidebar_text(at)


@pytest.mark.parametrize("forged", ["not-the-token", "<script>alert(1)</script>", "x" * 10_000])
def test_forged_teacher_link_gets_a_message_not_control(app, store, forged):
    code, _ = store.create_class()
    at = app(SIM, **{"class": code, "teacher": forged})
    assert not at.exception
    text = sidebar_text(at)
    assert f"This teacher link is not valid for class {code}" in text
    assert f"**Class {code}** · you are a student" in text
    assert f"**Class {code}** · joined" in [m.value for m in at.main.markdown]  # the student's bar, on the page
    assert not [b for b in at.sidebar.button if b.key in ("cls_end",)]
    assert "teacher" not in at.query_params


def test_expired_class_gets_a_message(app, store):
    code, token = store.create_class(now=time.time() - class_store.LIFETIME_S - 1)
    at = app(SIM, **{"class": code, "teacher": token})
    assert not at.exception
    assert f"There is no class {code} now" in sidebar_text(at)
    assert "class" not in at.query_params and "teacher" not in at.query_params


@pytest.mark.parametrize(
    "hostile",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "'; DROP TABLE class_sessions; --", "x" * 10_000,
     "🦊🔥", "**K7QF**"],
)  # fmt: skip
def test_hostile_codes_are_refused_as_text(app, store, hostile):
    at = app(SIM, **{"class": hostile})
    assert not at.exception
    [warning] = [w.value for w in at.sidebar.warning]
    assert "is not a class code" in warning
    no_html(at)
    assert "class" not in at.query_params


def test_student_answers_and_sees_the_reveal(app, store):
    code, token = store.create_class()
    at = app(SIM, **{"class": code})
    at.main.text_input(key="cls_name").input("<b>Ana</b> '; DROP TABLE x; --").run()
    radio = at.radio(key=QUESTION)
    radio.set_value(radio.options[0]).run()
    assert not at.exception
    [(qid, _)] = [(q, n) for (q, n) in store._run("SELECT question, name FROM class_answers WHERE code = ?", (code,))]
    assert qid.startswith(f"{QUESTION}.")
    assert store.names(code, qid) == [("<b>Ana</b> '; DROP TABLE x; --", 0)]
    assert any("Your answer is in" in c.value for c in at.caption)
    assert not [s for s in at.success if s.value.startswith("Right.")]
    store.reveal(code, token, qid, 0)
    at.run()
    assert at.radio(key=QUESTION).disabled
    assert [s for s in at.success if s.value.startswith("Right.")]
    no_html(at)


def test_broken_store_turns_the_class_off_and_the_lesson_goes_on(app, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(class_store.DATA_DIR_ENV, str(blocker))
    monkeypatch.delenv(class_store.DB_ENV, raising=False)
    monkeypatch.setattr(class_store, "_STORE", None)
    try:
        at = app(SIM)
        at.sidebar.button(key="cls_start").click().run()
        assert not at.exception
        assert any("The class features are off for now" in w.value for w in at.sidebar.warning)
        assert at.radio(key=QUESTION) is not None  # the lesson's own question, as without a class
        assert [b for b in at.button if b.key == f"{QUESTION}_skip"]
    finally:
        monkeypatch.setattr(class_store, "_STORE", None)
