"""Ways around the course from any page: the link to the next lesson at the end of each lesson, and a button that
puts the page's own settings back to their defaults. Both keep what belongs to the learner rather than to the page:
the text, the view settings and the live class."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from app_support.kit import course, links, sentence
from app_support.kit.links import CLASS
from app_support.kit.view import VIEW_PARAMS

CARRIED = (sentence.KEY, sentence.LINK_KEY, CLASS, *VIEW_PARAMS)  # what a move to another page keeps


def carried_params() -> dict[str, str]:
    """The address's parameters that every page shares (text, view, class) for a link to another page; the page's
    own settings stay behind and the teacher's token never travels. A long text's packed form (up to 32,000
    characters) is left to the session, which keeps the text across pages, so that a page of links stays small."""
    return {k: v for k, v in links.current_params().items() if k in CARRIED and k != sentence.LINK_KEY}


def next_lesson(url_path: str) -> None:
    """At the end of a lesson: a link to the next one, with the same text, view and class (nothing on the pages
    around the lessons)."""
    if url_path not in {lesson.address for lesson in course.LESSONS}:
        return
    after = course.next_lesson(url_path)
    st.divider()
    if after is None:
        st.markdown("That was the last lesson of the course so far.")
        st.page_link(course.START.file, label="Back to the start page", icon=":material/home:",
                     query_params=carried_params())  # fmt: skip
        return
    st.page_link(
        after.file,
        label=f"Next lesson: {after.title}",
        icon=":material/arrow_forward:",
        query_params=carried_params(),
        help=after.teaches or None,
    )


def own_params() -> list[str]:
    """The address's parameters that are the page's own settings (score, layer, head, …)."""
    return [k for k in links.current_params() if k not in CARRIED]  # current_params never holds the token


def reset_button(page: StreamlitPage) -> None:
    """A button that puts this page's settings back to their defaults; the text, the view settings and the class
    stay. Drawn before the page runs: its widgets are made afresh from an address without their settings."""
    own = own_params()
    pressed = st.button(
        "Reset this page",
        key="page_reset",
        icon=":material/restart_alt:",
        disabled=not own,
        help="Put this page's settings back to their defaults (your text and the view stay)"
        if own
        else "This page's settings are at their defaults",
    )
    if pressed and own:
        for key in own:  # a widget bound to the address keeps its value in the session until it is forgotten
            st.session_state.pop(key, None)
        st.switch_page(page, query_params=carried_params())
