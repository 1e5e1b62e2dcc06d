"""A class in AppTest, played by browsers: `Browser` (a browser's sessions and cookies), `app_store` (a fresh
SQLite class store for the app), and what a student's screen says about their answer against what the store has.
Shared by the live class's fault and limit tests."""

from __future__ import annotations

import re
from collections.abc import Iterator

from streamlit.testing.v1 import AppTest

from app_support.classroom import class_limits, class_session, class_store
from tests.app.conftest import ROOT

SIM = "lessons/similarity.py"
QUESTION = "sim_predict_diag"
# what `class_session.write_cookie` hands its constant script (`COOKIE_JS`), which writes it into document.cookie
_COOKIE = re.compile(r'data-attnviz-cookie="([A-Za-z0-9_]+)=([^;"]*);[^"]*?max-age=(\d+)')
_EARLIER = re.compile(r"earlier answer \\?\((\d+)\\?\)")


class Browser:
    """One browser: the cookies its pages' scripts set (what Chromium does with ``document.cookie``), sent with every
    page it opens (what ``st.context.cookies`` gives the page). `current` is the browser whose page runs now."""

    current: Browser | None = None

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def open(self, page: str = SIM, **query: str) -> AppTest:
        """A new session (a new tab, or a page reconnecting after its session was lost) on ``page`` with ``query``."""
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params.update({k: v for k, v in query.items() if k == "present"})
        self.run(at)
        at.query_params.update(query)  # the address the page reconnects on
        at.switch_page(page)
        return self.run(at)

    def run(self, at: AppTest) -> AppTest:
        Browser.current = self
        try:
            at.run()
        finally:
            Browser.current = None
        for html in at.get("html"):
            if class_session.COOKIE_JS not in html.proto.body:
                continue  # only the page's own cookie script writes cookies
            for name, value, age in _COOKIE.findall(html.proto.body):
                if int(age) > 0:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
        assert not at.exception, at.exception
        return at


def app_store(monkeypatch, tmp_path) -> Iterator[class_store.ClassStore]:
    """For a `store` fixture: a fresh SQLite class store for the app, tried again at every run (no pause after a
    failure), with short lock waits; the browsers' cookies reach the pages."""
    monkeypatch.setenv(class_store.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(class_store.DB_ENV, raising=False)
    monkeypatch.setattr(class_store, "_STORE", None)
    monkeypatch.setattr(class_session, "RETRY_S", 0.0)
    monkeypatch.setattr(class_session, "cookies", lambda: dict(Browser.current.cookies) if Browser.current else {})
    class_limits.reset()
    s = class_store.from_config()
    s.BUSY_TIMEOUT_S = 0.3
    yield s
    s.close()
    monkeypatch.setattr(class_store, "_STORE", None)


# --- what the screens say and what the store has ---------------------------------------------------------------------
def texts(at: AppTest) -> list[str]:
    return [e.value for e in [*at.caption, *at.warning, *at.error, *at.success, *at.info, *at.markdown]]


def acknowledged(at: AppTest) -> int | None:
    """The option (1, 2, …) this student's screen says the store has, or None."""
    said = texts(at)
    if any(t.startswith("Your answer is in") for t in said):
        radio = at.radio(key=QUESTION)
        return radio.options.index(radio.value) + 1
    for t in said:
        if m := _EARLIER.search(t):
            return int(m.group(1))
    return None


def waiting(at: AppTest) -> bool:
    return any("is waiting" in t for t in texts(at))


def sees_answer(at: AppTest) -> bool:
    """Whether the measured answer is on this student's screen (a verdict, or the lesson's own local quiz)."""
    verdicts = ("Right.", "Not this time", "You did not answer in time")
    skip = [b for b in at.button if b.key == f"{QUESTION}_skip"]
    said = [e.value for e in [*at.success, *at.info]]
    return bool(skip) or any(t.startswith(verdicts) for t in said)


def count_shown(students: list[AppTest]) -> dict[str, int]:
    """{student id: option} that the students' screens say the store has."""
    shown = {at.session_state["_class_student"]: acknowledged(at) for at in students}
    return {k: v for k, v in shown.items() if v is not None}


def count_stored(store: class_store.ClassStore, code: str) -> dict[str, int]:
    """{student id: option} that the store has."""
    rows = store._run("SELECT student, choice FROM class_answers WHERE code = ?", (code,))
    return {s: c + 1 for s, c in rows}


def answer(browser: Browser, at: AppTest, option: int) -> AppTest:
    radio = at.radio(key=QUESTION)
    radio.set_value(radio.options[option - 1])
    return browser.run(at)


def teacher_starts(teacher: Browser) -> tuple[AppTest, str]:
    """The teacher opens the similarity lesson in presenter mode, starts a class, and shows its first question."""
    at = teacher.open(SIM, present="true")
    at.sidebar.button(key="cls_start").click()
    teacher.run(at)
    code = at.query_params["class"]
    code = code[0] if isinstance(code, list) else code
    at.button(key="show_next").click()
    teacher.run(at)
    assert [b for b in at.button if b.key == f"{QUESTION}_reveal"], "the class question is on the projector"
    return at, code


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header]


def teaching(at: AppTest, code: str) -> bool:
    return any(m.value == f"**Class {code}** · you are teaching" for m in at.sidebar.markdown)


def token_free(at: AppTest, token: str) -> bool:
    """Whether every link the page offers is free of the token but the one the teacher keeps on purpose (in the
    sidebar, under "Your teacher link"): the link to this view, the students' link."""
    links = [c.value for c in at.code if c.value.startswith("http")]
    kept = [link for link in links if token in link]
    shared = [c.value for c in at.main.code if c.value.startswith("http")]
    return (
        bool(shared)
        and len(kept) == 1
        and kept[0].endswith(f"&teacher={token}")
        and not any("teacher" in x for x in shared)
    )
