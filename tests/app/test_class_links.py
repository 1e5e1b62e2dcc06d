"""The teacher's token never reaches a link the page offers: not the link to this view (*Copy link to this view*),
before or after *Next step*, not a lesson's own links (page 5b's head links), not a file name, not the handout, and
not when the store fails as the teacher link is opened. The one place it shows is the teacher's own link, folded in
the teacher's sidebar."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_support.classroom import class_db, class_store
from tests.app.class_browser import SIM, Browser, app_store, teaching, token_free

TOKEN = "tok_" + "S3cretTeacherToken" * 2


@pytest.fixture
def store(monkeypatch, tmp_path):
    yield from app_store(monkeypatch, tmp_path)


def _links_script() -> None:
    """Every link builder, run in a page whose address still has the token (as the run that opened a teacher link)."""
    import streamlit as st

    from app_support.handout import handout
    from app_support.kit import links
    from app_support.parts import census_view

    st.text(links.link("similarity"))
    st.text(repr(links.current_params()))
    st.text(repr(census_view.head_links("real-heads", 2, 2)))
    st.text(links.file_stem("similarity S"))
    st.text(repr(handout.handout_params(links.current_params())))
    links.share_link("similarity")
    st.text(repr(sorted(st.query_params.to_dict())))


def test_every_link_builder_drops_the_token():
    at = AppTest.from_function(_links_script, default_timeout=60)
    at.query_params.update({"class": "K7QF", "teacher": TOKEN, "sentence": "the cat", "present": "true"})
    at.run()
    assert not at.exception, at.exception
    made = [t.value for t in at.text][:-1] + [c.value for c in at.code]
    assert len(made) == 6 and all("cat" in m for m in made[:1])
    assert not [m for m in made if TOKEN in m or "teacher" in m], made
    assert "'teacher'" in at.text[-1].value, "the address itself still had it: the builders took it out"


def _teacher_link_opened(browser: Browser, code: str, token: str) -> AppTest:
    return browser.open(SIM, present="true", **{"class": code, "teacher": token})


def test_teacher_link_then_next_step_offer_no_token(store):
    code, token = store.create_class()
    browser = Browser()
    at = _teacher_link_opened(browser, code, token)
    assert teaching(at, code) and "teacher" not in at.query_params
    assert token_free(at, token)
    at.button(key="show_next").click()
    browser.run(at)
    assert token_free(at, token) and "teacher" not in at.query_params
    at.button(key="sim_predict_diag_reveal").click()
    browser.run(at)
    assert token_free(at, token)
    assert len(store.revealed_among(code, _asked(store, code))) == 1, "the teacher link gave control: the reveal is in"
    assert browser.cookies[f"attnviz_teacher_{code}"] == token  # this browser keeps control
    at.sidebar.button(key="cls_end").click()
    browser.run(at)
    assert f"attnviz_teacher_{code}" not in browser.cookies, "ending the class clears the cookie"


def _asked(store: class_store.ClassStore, code: str) -> set[str]:
    return {q for (q,) in store._run("SELECT question FROM class_questions WHERE code = ?", (code,))}


def test_teacher_link_while_the_store_fails_offers_no_token(store, monkeypatch):
    """The issue's path: the store fails as the teacher opens the teacher link. The token leaves the address at once;
    the teacher gets control when the store is back (checked then)."""
    code, token = store.create_class()
    real = store._run

    def down(*args, **kwargs):
        raise class_db.ClassStoreError("the class database server cannot be reached or refused the request",
                                          kind="unreachable")  # fmt: skip

    monkeypatch.setattr(store, "_run", down)
    browser = Browser()
    at = _teacher_link_opened(browser, code, token)
    assert "teacher" not in at.query_params and at.query_params["class"] == code
    assert any("cannot be used now" in w.value for w in at.sidebar.warning)
    shared = [c.value for c in at.main.code if c.value.startswith("http")]
    assert shared and not [s for s in shared if token in s or "teacher" in s]
    at.button(key="show_next").click()
    browser.run(at)
    shared = [c.value for c in at.main.code if c.value.startswith("http")]
    assert shared and not [s for s in shared if token in s or "teacher" in s]
    assert not teaching(at, code)
    monkeypatch.setattr(store, "_run", real)  # the store is back: the token kept in the session is checked
    browser.run(at)
    assert teaching(at, code) and token_free(at, token)
