"""The live class at the top of the main page, where a phone shows it without opening the sidebar: what happened to
the session's class ("Class K7QF has ended", a code that is gone, a teacher link refused), a student's bar (the
class, their name, *Follow the teacher*, *Leave the class*) and, on the projector, the join banner
(`classroom.class_banner`). Drawn after the sidebar (`classroom.classroom.sidebar`), which settles the class
first."""

from __future__ import annotations

import streamlit as st

from app_support.classroom import class_banner, class_rules
from app_support.classroom.class_follow import class_link
from app_support.classroom.class_session import (
    FOLLOW,
    NAME,
    NAME_INPUT_MAX,
    STATE_NOTE,
    code,
    leave,
    student,
    teaching,
)
from app_support.kit import view
from app_support.kit.sentence import md_escape


def main_page() -> None:
    """The class's part of the top of the page (nothing outside a class, with nothing to say)."""
    if note := st.session_state.get(STATE_NOTE):
        with st.container(horizontal=True, vertical_alignment="center", key="cls_note_row"):
            st.warning(md_escape(note), icon=":material/info:", width="stretch")
            st.button("OK", key="cls_note_ok", on_click=st.session_state.pop, args=(STATE_NOTE, None),
                      help="Put this message away")  # fmt: skip
    found = code()
    if found is None:
        return
    if student():
        _student_bar(found)
    elif teaching() and view.presenting():  # the sidebar, which shows the code, is folded on a projector
        class_banner.join_banner(found, class_link(found))


def _student_bar(found: str) -> None:
    with st.container(border=True, key="cls_student_bar"):
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
        row.markdown(f"**Class {found}** · joined")
        row.text_input(
            "Your name (optional)",
            key=NAME,
            max_chars=NAME_INPUT_MAX,
            width=260,
            help=f"Shown to the teacher beside your answers ({class_rules.NAME_MAX} characters at most); "
            "leave empty to stay anonymous.",
        )
        row.toggle("Follow the teacher", key=FOLLOW, help="Open the page and settings the teacher is showing")
        if row.button("Leave the class", key="cls_leave", icon=":material/logout:"):
            leave()
            st.rerun()
        raw = st.session_state.get(NAME, "")
        if class_rules.name_was_cut(raw):
            st.caption(md_escape(f"Your name is longer than {class_rules.NAME_MAX} characters: the teacher sees "
                              f"“{class_rules.clean_name(raw)}”."))  # fmt: skip
