"""A live class's state in this browser session: which class, teacher or student, this browser's student id, and
what happens when the store fails. Shared by the sidebar (`app_support.classroom.classroom`), the questions
(`classroom.class_questions`), the answers and reveals waiting for the store (`classroom.class_pending`) and
following the teacher (`app_support.classroom.class_follow`).

When the store fails, the session stays in its class: the page says so, what the learner does waits in the session
(`classroom.class_pending`), and the store is asked again at most every `RETRY_S` seconds (on a rerun, a live
part's tick, or at once with *Try the class features again*), so a locked or unreachable store does not stall every
rerun. Each failure is logged once per class and kind (full, read-only, busy, unreachable), with the class code:
never a token or a name.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from app_support.classroom import class_rules, class_store
from app_support.classroom.class_db import ClassStoreError
from app_support.kit.links import CLASS, TEACHER

STATE_CODE, STATE_TOKEN, STATE_STUDENT = "_class_code", "_class_token", "_class_student"  # session state
STATE_ERROR, STATE_NOTE = "_class_error", "_class_note"
STATE_SHARED, STATE_FOLLOWED = "_class_shared", "_class_followed"
STATE_COOKIE_SET, STATE_WAITING = "_class_cookie_set", "_class_waiting"  # the questions on the page not yet revealed
STATE_RETRY_AT, STATE_BACK, STATE_REASON = "_class_retry_at", "_class_back", "_class_reason"
STATE_WRITE_FAILED = "_class_write_failed"  # whether the last failure was a write (a read working does not end it)
STATE_TAKES = "_class_takes"  # {key: value} of the teacher's view, set at the start of the next run
STATE_UNCHECKED = "_class_unchecked"  # (code, teacher token or None) taken from the address while the store failed
COOKIE = "attnviz_student"  # the browser's student id (see `student_id`)
NAME, FOLLOW, JOIN = "cls_name", "cls_follow", "cls_join_code"  # widget keys
NAME_INPUT_MAX = 1000  # characters the name box takes: a longer paste is cut there, a long name here, with a note
TEACHER_EVERY, STUDENT_EVERY = 1.5, 1.0  # seconds between the live parts' reruns (README: how fast a reveal arrives)
RETRY_S = 3.0  # after a failure, the store is left alone this long by this session (but for Try again)
READS = {"read"}  # what `safe` calls a store call that writes nothing
T = TypeVar("T")
_LOG = logging.getLogger(__name__)
_logged: set[tuple[str, str]] = set()  # (class code, kind of failure) already in this process's log
_logged_lock = threading.Lock()


def quoted(raw: str, limit: int = 30) -> str:
    text = class_rules.clean_name(raw) if raw else ""
    return text if len(text) <= limit else text[:limit] + "…"


def safe(action: Callable[[], T], fallback: T, what: str = "read", force: bool = False) -> T:
    """Run a store call; when the store fails, say so on the page, log it once and return ``fallback``.

    After a failure the store is not asked again by this session for `RETRY_S` seconds (``fallback`` at once)
    unless ``force``. A call that succeeds ends the failure (a read ends only a failed read: a locked or full store
    still reads); `came_back` tells a live part so."""
    if not force and resting():
        return fallback
    try:
        result = action()
    except ClassStoreError as err:
        failed(err, what)
        return fallback
    answered(what)
    return result


def answered(what: str) -> None:
    """The store answered a call (a refusal, such as a class that has ended, is an answer too): a failure of the
    same kind, or any failure if this was a write, is over."""
    ends = what not in READS or not st.session_state.get(STATE_WRITE_FAILED)
    if ends and st.session_state.pop(STATE_ERROR, None) is not None:
        st.session_state.pop(STATE_REASON, None)
        st.session_state.pop(STATE_WRITE_FAILED, None)
        st.session_state[STATE_BACK] = True


def failed(err: ClassStoreError, what: str) -> None:
    """Note a failure of the store: the page's message, the time of the next try, one line in the server's log."""
    found = st.session_state.get(STATE_CODE)
    st.session_state[STATE_REASON] = str(err)
    st.session_state[STATE_ERROR] = (
        f"The class store cannot be used now: {err}. What you do in class {found} waits on this page and is sent "
        "when the store is back; the lesson works as usual."
        if found
        else f"The class features are off for now: {err}. The lesson works as usual."
    )
    st.session_state[STATE_RETRY_AT] = time.monotonic() + RETRY_S
    st.session_state[STATE_WRITE_FAILED] = what not in READS
    log_failure(found, err, what)


def log_failure(found: str | None, err: ClassStoreError, what: str) -> None:
    """One warning per class and kind of failure in this process: the class code, the kind, the message (which
    names the store, never a token or a student's name)."""
    key = (found or "-", err.kind)
    with _logged_lock:
        if key in _logged:
            return
        _logged.add(key)
    _LOG.warning("class %s: the class store failed (%s) on %s: %s", found or "(none yet)", err.kind, what, err)


def resting() -> bool:
    """Whether the store failed less than `RETRY_S` seconds ago in this session (it is not asked again yet)."""
    return STATE_ERROR in st.session_state and time.monotonic() < st.session_state.get(STATE_RETRY_AT, 0.0)


def store_down() -> bool:
    return STATE_ERROR in st.session_state


def reason() -> str:
    """The store's last failure in words ("the class file in … is busy"), for messages."""
    return str(st.session_state.get(STATE_REASON, "the class store cannot be used now"))


def came_back() -> bool:
    """Whether the store answered again after a failure since the last call (once): a live part reruns the page."""
    return bool(st.session_state.pop(STATE_BACK, False))


def store() -> class_store.ClassStore:
    return class_store.from_config()


def code() -> str | None:
    """The class this session is in (None when none). A failing store does not take the session out of its class."""
    return st.session_state.get(STATE_CODE)


def teaching() -> bool:
    return code() is not None and bool(st.session_state.get(STATE_TOKEN))


def student() -> bool:
    return code() is not None and not st.session_state.get(STATE_TOKEN)


def cookies() -> dict[str, str]:
    """This browser's cookies, as its connection to the server sent them (read once per connection)."""
    return dict(st.context.cookies)


def student_id() -> str:
    """This browser's student id: kept in a cookie, so that a student whose page reconnects (a reload, a replica
    started again) is the same student, whose new answer replaces the old one instead of counting twice."""
    if STATE_STUDENT not in st.session_state:
        raw = cookies().get(COOKIE)
        valid = isinstance(raw, str) and class_rules.valid_student_id(raw)
        st.session_state[STATE_STUDENT] = raw if valid else class_rules.new_student_id()
    return st.session_state[STATE_STUDENT]


def keep_student_id(where: Any) -> None:
    """Write the student id into this browser's cookie (once a session; the id is ours: URL-safe characters). The
    server sets it on the first page a browser asks for (`server_guard`); this covers a browser that came without."""
    me = student_id()
    if cookies().get(COOKIE) != me and st.session_state.get(STATE_COOKIE_SET) != me:
        st.session_state[STATE_COOKIE_SET] = me
        write_cookie(where, f"{COOKIE}={me}; path=/; max-age={class_store.LIFETIME_S}; SameSite=Strict")


# The one script that writes a cookie from the page. Its text is constant, so the Content-Security-Policy allows it
# by its hash (`server_patches.page_headers`); the cookie it writes comes from the data attribute beside it, which
# only our own code fills (a student id or a teacher token of URL-safe characters, a class code, fixed attributes).
COOKIE_JS = (
    "<script>for (const e of document.querySelectorAll('[data-attnviz-cookie]')) {"
    " document.cookie = e.dataset.attnvizCookie + (location.protocol === 'https:' ? '; Secure' : '');"
    " e.removeAttribute('data-attnviz-cookie'); }</script>"
)


def write_cookie(where: Any, cookie: str) -> None:
    """Write ``cookie`` ("name=value; path=/; …") into this browser, with `COOKIE_JS`."""
    where.html(f'<span hidden data-attnviz-cookie="{html.escape(cookie)}"></span>{COOKIE_JS}',
               unsafe_allow_javascript=True)  # fmt: skip


def leave(note: str | None = None) -> None:
    for key in (STATE_CODE, STATE_TOKEN, STATE_SHARED, STATE_FOLLOWED):
        st.session_state.pop(key, None)
    for key in (CLASS, TEACHER):
        if key in st.query_params:
            del st.query_params[key]
    if note:
        st.session_state[STATE_NOTE] = note  # stays in the sidebar until the next class is joined or started
    else:
        st.session_state.pop(STATE_NOTE, None)


def typed_name() -> str:
    return class_rules.clean_name(st.session_state.get(NAME, ""))
