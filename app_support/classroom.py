"""The live class: a teacher starts a class and gets a short code; students join with it, answer the "predict first"
questions, and see the measured answer when the teacher reveals it; students may follow the teacher's page.

The class lives in `app_support.class_store` (SQLite, or PostgreSQL when configured), so every replica of
``make class`` sees the same class. The address says which class a page is in (``?class=K7QF``); the teacher's link
carries the teacher's token as well (``&teacher=…``), which is checked against the stored hash and then taken out of
the address, so that "Copy link to this view" never shares it. Anything a student typed (name, code) is shown as
plain text. When the store fails, the page says so once and the lesson goes on without the class.

The live class is four modules: this one (the sidebar: start or join a class, the codes and links),
`app_support.class_session` (the session's class state), `app_support.class_questions` (the questions) and
`app_support.class_follow` (following the teacher). Their public names stay importable from here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import streamlit as st

from app_support import class_store, show
from app_support.class_follow import class_link, follow, share_view
from app_support.class_questions import question_id, show_answer, student_question, teacher_question
from app_support.class_session import (
    CLASS,
    COOKIE,
    FOLLOW,
    JOIN,
    NAME,
    STATE_CODE,
    STATE_ERROR,
    STATE_NOTE,
    STATE_TOKEN,
    STUDENT_EVERY,
    TEACHER,
    TEACHER_EVERY,
    code,
    escape,
    keep_student_id,
    leave,
    quoted,
    safe,
    store,
    student,
    teaching,
)

__all__ = [
    "CLASS", "COOKIE", "FOLLOW", "JOIN", "NAME", "STUDENT_EVERY", "TEACHER", "TEACHER_EVERY", "code", "question_id",
    "show_answer", "sidebar", "store", "student", "student_question", "teacher_question", "teaching",
]  # fmt: skip


def sidebar(where: Any = st) -> None:
    """The class part of the "View and classroom" sidebar box: start or join a class; the codes and links; for
    students their name and "follow the teacher"."""
    _from_url()
    if note := st.session_state.get(STATE_NOTE):
        where.warning(escape(note), icon=":material/info:")
    if error := st.session_state.get(STATE_ERROR):
        where.warning(escape(error), icon=":material/cloud_off:")
        if where.button("Try the class features again", key="cls_retry"):
            st.session_state.pop(STATE_ERROR, None)
            st.rerun()
        return
    found = code()
    if found is None:
        _start_or_join(where)
    elif teaching():
        _teacher_box(where, found)
    else:
        _student_box(where, found)


def _from_url() -> None:
    """Join the class the address names; take the teacher's token out of the address once checked."""
    raw, token = st.query_params.get(CLASS), st.query_params.get(TEACHER)
    if raw is None:
        if token is not None:
            del st.query_params[TEACHER]
        return
    found = class_store.clean_code(raw)
    if found is None:
        leave(f"“{quoted(raw)}” is not a class code: codes have 4 to 6 letters and digits, such as K7QF.")
        return
    if found != st.session_state.get(STATE_CODE):
        info = safe(lambda: store().get_class(found), None)
        if st.session_state.get(STATE_ERROR):
            return
        if info is None or not info.active():
            leave(f"There is no class {found} now (the code is wrong, or the class has ended).")
            return
        st.session_state[STATE_CODE] = found
        st.session_state.pop(STATE_TOKEN, None)
        st.session_state.pop(STATE_NOTE, None)
    if token is not None:
        if safe(lambda: store().is_teacher(found, token), False):
            st.session_state[STATE_TOKEN] = token
        elif not st.session_state.get(STATE_ERROR):
            st.session_state[STATE_NOTE] = (
                f"This teacher link is not valid for class {found} (it was changed, or the class has ended): "
                "you are in the class as a student."
            )
        del st.query_params[TEACHER]
    if st.query_params.get(CLASS) != found:
        st.query_params[CLASS] = found


def _start_or_join(where: Any) -> None:
    where.markdown("**Live class**")
    helps = "A short code for the students; their answers to the questions appear live on your screen"
    if where.button("Start a class", key="cls_start", icon=":material/groups:", help=helps):
        made = safe(lambda: store().create_class(), None)
        if made is not None:
            new_code, token = made
            st.session_state.pop(STATE_NOTE, None)
            st.session_state[STATE_CODE], st.session_state[STATE_TOKEN] = new_code, token
            st.query_params[CLASS] = new_code
        st.rerun()  # the class, or the store's message
    typed = where.text_input("Class code", key=JOIN, max_chars=64, placeholder="e.g. K7QF")
    if typed:
        found = class_store.clean_code(typed)
        if found is None:
            where.warning(escape(f"“{quoted(typed)}” is not a class code: 4 to 6 letters and digits."),
                          icon=":material/info:")  # fmt: skip
        elif where.button("Join the class", key="cls_join", icon=":material/login:"):
            st.query_params[CLASS] = found
            st.rerun()


def _teacher_box(where: Any, found: str) -> None:
    token = st.session_state[STATE_TOKEN]
    where.markdown(f"**Class {found}** · you are teaching")
    where.caption("Students join by opening this link, or by typing the code in this box:")
    where.code(class_link(found), language=None, wrap_lines=True)
    with where.expander("Your teacher link (keep it to yourself)", icon=":material/key:"):
        st.caption("It gives control of the class (reveal, end): open it to teach this class from another browser.")
        st.code(class_link(found, token), language=None, wrap_lines=True)
    if not show.presenting():
        where.caption("Turn on Presenter mode to see the class's answers to each question, live.")
    if where.button("End the class", key="cls_end", icon=":material/logout:"):
        with contextlib.suppress(PermissionError):  # ended already
            safe(lambda: store().end_class(found, token), None)
        leave(f"Class {found} has ended.")
        st.rerun()
    share_view(found, token)


def _student_box(where: Any, found: str) -> None:
    where.markdown(f"**Class {found}** · joined")
    where.text_input("Your name (optional)", key=NAME, max_chars=class_store.NAME_MAX,
                     help="Shown to the teacher beside your answers; leave empty to stay anonymous.")  # fmt: skip
    where.toggle("Follow the teacher", key=FOLLOW, help="Open the page and settings the teacher is showing")
    if where.button("Leave the class", key="cls_leave", icon=":material/logout:"):
        leave()
        st.rerun()
    follow(found)
    keep_student_id(where)  # last: an element drawn once must not move the live part (its id is its place)
