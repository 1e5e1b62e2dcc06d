"""A live class that a reload, a page link or another replica does not lose (AppTest, the whole app from app.py):
the class stays in the address, a session that is no longer in a class says so on the page, a student who joins by
the link goes where the teacher is and follows, a teacher reopening the class lands on its page and text, and a
student's name and answer come back from the store by the student's id (on any replica)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from app_support.classroom import class_follow
from tests.app.class_browser import QUESTION, SIM, Browser, acknowledged, answer, app_store

TEXT = "the cat sat on the mat"


@pytest.fixture
def store(monkeypatch, tmp_path):
    yield from app_store(monkeypatch, tmp_path)


def _param(at, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _title(at) -> str:
    return at.title[0].value if at.title else ""


def test_a_page_link_without_the_class_gets_it_back(store):
    """Streamlit's own page links drop ``?class=``: the session writes it back, so a reload keeps the class."""
    code, _ = store.create_class()
    browser = Browser()
    at = browser.open(SIM, **{"class": code})
    at.query_params.clear()  # what the sidebar's link to another lesson leaves in the address
    at.switch_page("lessons/softmax.py")
    browser.run(at)
    assert _title(at).startswith("4 · Softmax")
    assert _param(at, "class") == code


def test_a_class_gone_is_said_on_the_page(store):
    code, token = store.create_class()
    browser = Browser()
    browser.open(SIM, **{"class": code})
    store.end_class(code, token)
    fresh = browser.open(SIM, **{"class": code})  # a reload after the class ended
    said = [w.value for w in fresh.main.warning]
    assert any(f"There is no class {code} now" in w for w in said), said
    assert _param(fresh, "class") is None
    fresh.button(key="cls_note_ok").click()
    browser.run(fresh)
    assert not [w for w in fresh.main.warning if "There is no class" in w.value]


def test_a_student_joining_by_link_goes_where_the_teacher_is_and_follows(store):
    code, token = store.create_class()
    store.set_state(code, token, {"page": "softmax", "query": urlencode({"sentence": TEXT})})
    browser = Browser()
    # the students' link opens the first lesson; the run goes on to the teacher's (AppTest's next run would go back to
    # the page it was told to open, where a browser stays on the page the run went to: the first run is looked at)
    at = browser.open("lessons/embeddings.py", **{"class": code})
    assert at.session_state["cls_follow"] is True
    assert _title(at).startswith("4 · Softmax"), _title(at)
    assert at.session_state["sentence"] == TEXT
    assert _param(at, "class") == code
    # the student's name box and switches are on the page itself, not only in the folded sidebar
    assert at.main.text_input(key="cls_name") is not None and at.main.toggle(key="cls_follow").value
    assert f"**Class {code}** · joined" in [m.value for m in at.main.markdown]


def test_the_teacher_link_opens_the_class_page_and_text(store):
    code, token = store.create_class()
    store.set_state(code, token, {"page": "similarity", "query": urlencode({"sentence": TEXT})})
    browser = Browser()
    at = browser.open("lessons/embeddings.py", **{"class": code, "teacher": token})  # its first run (see above)
    assert _title(at).startswith("2 · The similarity matrix"), _title(at)
    assert at.session_state["sentence"] == TEXT
    assert any(m.value == f"**Class {code}** · you are teaching" for m in at.sidebar.markdown)
    assert _param(at, "teacher") is None


def test_a_reopened_page_gets_the_students_name_and_answer_back(store):
    """Another replica, or the same one after a reload: a fresh session, the same browser (its student-id cookie)."""
    code, _ = store.create_class()
    browser = Browser()
    first = browser.open(SIM, **{"class": code})
    first.main.text_input(key="cls_name").input("Ana")
    browser.run(first)
    answer(browser, first, 2)
    assert acknowledged(first) == 2
    again = browser.open(SIM, **{"class": code})  # a new session: nothing of the first one's state
    assert again.main.text_input(key="cls_name").value == "Ana"
    assert acknowledged(again) == 2  # ticked, and "Your answer is in"
    other = Browser().open(SIM, **{"class": code})  # another browser is another student
    assert other.main.text_input(key="cls_name").value == "" and other.radio(key=QUESTION).value is None


def test_the_students_link_names_each_replica_without_a_load_balancer(store, monkeypatch):
    monkeypatch.setenv(class_follow.REPLICA_PORTS_ENV, "8501-8503")
    browser = Browser()
    at = browser.open(SIM)
    at.sidebar.button(key="cls_start").click()
    browser.run(at)
    code = _param(at, "class")
    links = [c.value for c in at.sidebar.code]
    per_replica = [v for v in links if "\n" in v]
    assert len(per_replica) == 1, links
    ports = [line.rsplit(":", 1)[1].split("/")[0] for line in per_replica[0].splitlines()]
    assert ports == ["8501", "8502", "8503"]
    assert all(line.endswith(f"/?class={code}") for line in per_replica[0].splitlines())
    monkeypatch.setenv(class_follow.REPLICA_PORTS_ENV, "9001-9003")  # opened through a load balancer: one link
    browser.run(at)
    assert not [c.value for c in at.sidebar.code if "\n" in c.value]
