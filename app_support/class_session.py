"""A live class's state in this browser session: which class, teacher or student, this browser's student id, and
the one message when the store fails. Shared by the sidebar (`app_support.classroom`), the questions
(`app_support.class_questions`) and following the teacher (`app_support.class_follow`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from app_support import class_store
from app_support.class_store import ClassStoreError

CLASS, TEACHER = "class", "teacher"  # URL parameters
STATE_CODE, STATE_TOKEN, STATE_STUDENT = "_class_code", "_class_token", "_class_student"  # session state
STATE_ERROR, STATE_NOTE = "_class_error", "_class_note"
STATE_SHARED, STATE_FOLLOWED = "_class_shared", "_class_followed"
STATE_COOKIE_SET, STATE_WAITING = "_class_cookie_set", "_class_waiting"  # the questions on the page not yet revealed
COOKIE = "attnviz_student"  # the browser's student id (see `student_id`)
NAME, FOLLOW, JOIN = "cls_name", "cls_follow", "cls_join_code"  # widget keys
TEACHER_EVERY, STUDENT_EVERY = 1.5, 2.0  # seconds between the live parts' reruns
T = TypeVar("T")


def escape(text: str) -> str:
    from app_support.widgets import md_escape  # widgets imports show; late, to keep imports one-way

    return md_escape(text)


def quoted(raw: str, limit: int = 30) -> str:
    text = class_store.clean_name(raw) if raw else ""
    return text if len(text) <= limit else text[:limit] + "…"


def safe(action: Callable[[], T], fallback: T) -> T:
    """Run a store call; a broken store turns the class features off for this session, with one message."""
    try:
        return action()
    except ClassStoreError as err:
        st.session_state[STATE_ERROR] = f"The class features are off for now: {err}. The lesson works as usual."
        return fallback


def store() -> class_store.ClassStore:
    return class_store.from_config()


def code() -> str | None:
    """The class this session is in (None when none, or when the store has failed)."""
    if st.session_state.get(STATE_ERROR):
        return None
    return st.session_state.get(STATE_CODE)


def teaching() -> bool:
    return code() is not None and bool(st.session_state.get(STATE_TOKEN))


def student() -> bool:
    return code() is not None and not st.session_state.get(STATE_TOKEN)


def student_id() -> str:
    """This browser's student id: kept in a cookie, so that a student whose page reconnects (a reload, a replica
    started again) is the same student, whose new answer replaces the old one instead of counting twice."""
    if STATE_STUDENT not in st.session_state:
        raw = st.context.cookies.get(COOKIE)
        valid = isinstance(raw, str) and class_store.valid_student_id(raw)
        st.session_state[STATE_STUDENT] = raw if valid else class_store.new_student_id()
    return st.session_state[STATE_STUDENT]


def keep_student_id(where: Any) -> None:
    """Write the student id into this browser's cookie (once a session; the id is ours: URL-safe characters)."""
    me = student_id()
    if st.context.cookies.get(COOKIE) != me and st.session_state.get(STATE_COOKIE_SET) != me:
        st.session_state[STATE_COOKIE_SET] = me
        where.html(
            f"<script>document.cookie = '{COOKIE}={me}; path=/; max-age={class_store.LIFETIME_S}; SameSite=Strict';"
            "</script>",
            unsafe_allow_javascript=True,
        )


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
    return class_store.clean_name(st.session_state.get(NAME, ""))
