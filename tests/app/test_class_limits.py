"""A live class's limits and hygiene: wrong class codes limited per client address (a class joining at once from
one address never is), answers counted once per browser, names normalised (look-alikes and invisible characters
out, emoji kept whole, a long paste cut with a note), learner text never made a link, and store failures logged
once per class and kind with the class code and no token or name."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest
import streamlit

from app_support.classroom import class_limits, class_session
from app_support.classroom.class_rules import NAME_MAX, clean_name
from app_support.kit.sentence import WORD_JOINER, md_escape
from app_support.kit.sentence import md_escape as widgets_md_escape
from tests.app.class_browser import SIM, Browser, answer, app_store
from tests.app.test_pages import _reveal_all

FAMILY = "👩\u200d👩\u200d👧\u200d👦"  # one emoji: four people joined by ZERO WIDTH JOINERs
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # a flag of tag characters


@pytest.fixture
def store(monkeypatch, tmp_path):
    yield from app_store(monkeypatch, tmp_path)


# --- names ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Ｔｅａｃｈｅｒ", "Teacher"),  # fullwidth look-alike: NFKC
        ("Te\u200bach\u200der", "Teacher"),  # zero-width space, a joiner between letters
        ("\u202eTeacher\u202c", "Teacher"),  # a right-to-left override
        ("Tea\u00adcher\u2060", "Teacher"),  # soft hyphen, word joiner
        ("ﬁona ①", "fiona 1"),
        (f"Ana {FAMILY}", f"Ana {FAMILY}"),  # the family stays one emoji, not four people and spaces
        (f"{SCOTLAND} Ewan", f"{SCOTLAND} Ewan"),
        ("👍🏽 ❤️ #️⃣ 🇫🇷", "👍🏽 ❤️ #️⃣ 🇫🇷"),
        ("tab\there\nnew\x00line", "tab here new line"),
        ("  émile  ", "émile"),
    ],
)
def test_names_are_normalised_and_emoji_kept_whole(raw, shown):
    assert clean_name(raw) == shown


@pytest.mark.parametrize("tail", [FAMILY, SCOTLAND, "🇫🇷", "👍🏽", "q\u0307"])  # the last: a letter and its mark
def test_a_long_name_is_cut_between_whole_characters(tail):
    for pad in range(NAME_MAX - 8, NAME_MAX + 1):
        name = clean_name("x" * pad + tail + "y" * 20)
        assert len(name) <= NAME_MAX
        kept = name[pad:].rstrip("y")
        assert kept in ("", tail), (pad, kept)  # all of the emoji (or accented letter), or none of it


def test_a_pasted_500_character_name_is_cut_with_a_note(app, store):
    code, _ = store.create_class()
    at = app(SIM, **{"class": code})
    at.main.text_input(key="cls_name").input("Ana" + "z" * 497).run()
    radio = at.radio(key="sim_predict_diag")
    radio.set_value(radio.options[0]).run()
    assert not at.exception
    [(name, _)] = store._run("SELECT name, choice FROM class_answers WHERE code = ?", (code,))
    assert name == ("Ana" + "z" * 497)[:NAME_MAX]
    notes = [c.value for c in at.main.caption if "longer than" in c.value]
    assert notes and f"Your name is longer than {NAME_MAX} characters" in notes[0] and name in notes[0]


# --- learner text is never a link ------------------------------------------------------------------------------------
# remark-gfm's autolink literals as Streamlit 1.67's markdown applies them to text (mdast-util-gfm-autolink-literal)
_BUNDLE = next((Path(streamlit.__file__).parent / "static" / "static" / "js").glob("StreamlitMarkdown.*.js"))
_URL = r"/(https?:\/\/|www(?=\.))([-.\w]+)([^ \t\r\n]*)/gi"
_EMAIL = r"/(?<=^|\s|\p{P}|\p{S})([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)/gu"


def test_md_escape_leaves_nothing_to_autolink():
    text = _BUNDLE.read_text(errors="replace")
    assert _URL in text and _EMAIL in text, "Streamlit's markdown links bare addresses with other patterns now"
    url = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.I | re.A)
    email = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.A)
    for typed in ["www.example.com", "see https://evil.example/x?y=1", "HTTP://A.B", "me@school.example",
                  "Www.Example.org/path", "mailto:me@x.org"]:  # fmt: skip
        escaped = md_escape(typed)
        assert widgets_md_escape(typed) == escaped
        shown = re.sub(r"\\(.)", r"\1", escaped)  # the text markdown shows: the escapes read
        assert shown.replace(WORD_JOINER, "") == typed, "the reader sees what was typed"
        assert not url.search(shown) and not email.search(shown), shown


def test_page_6b_does_not_link_a_learners_url(app):
    at = app("lessons/efficient_swap.py")
    at.sidebar.text_area(key="sentence").input("read www.example.com and https://evil.example now").run()
    _reveal_all(at)
    [caption] = [c.value for c in at.caption if "yours is" in c.value]
    shown = re.sub(r"\\(.)", r"\1", caption)
    assert "www.example.com" not in shown and "https://evil" not in shown
    assert shown.replace(WORD_JOINER, "").count("www.example.com and https://evil.example now") == 1


# --- wrong codes per client address ----------------------------------------------------------------------------------
def test_wrong_codes_are_limited_per_address_and_a_class_joins_at_once(app, store, monkeypatch):
    monkeypatch.setattr(class_limits, "WRONG_CODES_PER_MINUTE", 3)
    code, _ = store.create_class()
    wrong = [c for c in ("ZZZZ", "YYYY", "XXXX", "WWWW") if c != code]
    for guess in wrong[:2]:  # two typing slips from the school's address
        at = app(SIM, **{"class": guess})
        assert any(f"There is no class {guess} now" in w.value for w in at.sidebar.warning)
    for _ in range(8):  # the class joins at once from that address: right codes are never counted
        at = app(SIM, **{"class": code})
        assert any(m.value == f"**Class {code}** · joined" for m in at.main.markdown)
    at = app(SIM, **{"class": wrong[2]})  # the third wrong code
    at = app(SIM, **{"class": wrong[3]})  # one too many: not even looked up
    [refused] = [w.value for w in at.sidebar.warning]
    assert "Too many wrong class codes came from your network in the last minute" in refused
    assert 0 < class_limits.wait_s("local") <= class_limits.WINDOW_S
    assert class_limits.wait_s("10.0.0.7") == 0, "another address is not held back"
    class_limits.reset()


def test_the_wrong_code_window_slides():
    class_limits.reset()
    now = 1000.0
    for i in range(class_limits.WRONG_CODES_PER_MINUTE):
        assert class_limits.wait_s("a", now + i) == 0
        class_limits.wrong_code("a", now + i)
    assert class_limits.wait_s("a", now + 30) == pytest.approx(30.0)
    assert class_limits.wait_s("a", now + 60.5) == 0  # the oldest is a minute old
    class_limits.reset()


# --- answers once per browser ----------------------------------------------------------------------------------------
def test_answers_count_once_per_browser_not_per_session(store):
    code, _ = store.create_class()
    browser = Browser()
    first = browser.open(SIM, **{"class": code})
    answer(browser, first, 1)
    assert browser.cookies.get(class_session.COOKIE) == first.session_state["_class_student"]
    tabs = [browser.open(SIM, **{"class": code}) for _ in range(3)]  # more tabs, and a page that reconnected
    for option, tab in zip((2, 3, 2), tabs, strict=True):
        answer(browser, tab, option)
    assert store._run("SELECT COUNT(*), MAX(choice) FROM class_answers WHERE code = ?", (code,)) == [(1, 1)]
    other = Browser()
    answer(other, other.open(SIM, **{"class": code}), 1)
    assert store.count_answers(code) == 2


# --- store failures in the log ---------------------------------------------------------------------------------------
def test_store_failures_are_logged_once_per_class_and_kind(store, caplog, monkeypatch):
    monkeypatch.setattr(class_session, "_logged", set())
    code, token = store.create_class()
    browsers = [Browser() for _ in range(2)]
    students = [b.open(SIM, **{"class": code}) for b in browsers]
    students[0].main.text_input(key="cls_name").input("Secret Name")
    browsers[0].run(students[0])
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    caplog.set_level(logging.WARNING, logger="app_support.classroom.class_session")
    try:
        for b, at in zip(browsers, students, strict=True):
            answer(b, at, 1)
            b.run(at)
            answer(b, at, 2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "app_support.classroom.class_session"]
    assert len(lines) == 1, lines  # two sessions, several failures: one line for this class and kind
    assert f"class {code}" in lines[0] and "(busy)" in lines[0]
    assert token not in lines[0] and "Secret" not in lines[0]
    assert not any(b.cookies.get(class_session.COOKIE, "-") in lines[0] for b in browsers)
