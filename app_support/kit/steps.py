"""Sections of a lesson: their headings, each part run as a fragment, and presenter mode's one section at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError

from app_support.data.store import BoundedStore
from app_support.kit.links import refresh_link
from app_support.kit.view import presenting

_STEPS = "_show_steps"  # session state: {"page": url path, "shown": sections revealed, "text": the page's text}
_RUN = "_show_run"  # session state: sections met so far in this script run


# --- sections, one at a time in presenter mode ------------------------------------------------------------------
def begin_page(url_path: str, text: str) -> None:
    """Called by the entry script before a page runs on ``text``: count its sections afresh; a new page starts at
    section 1 (a page's number of sections can depend on its text, so "step x of y" is kept by page and text)."""
    st.session_state[_RUN] = 0
    steps = st.session_state.get(_STEPS)
    if not isinstance(steps, dict) or steps.get("page") != url_path:
        steps = {"page": url_path, "shown": 1}
    st.session_state[_STEPS] = steps | {"text": text}


def _reveal(count: int | None) -> None:
    steps = st.session_state.get(_STEPS) or {"page": "", "shown": 1}
    st.session_state[_STEPS] = steps | {"shown": count if count is not None else steps["shown"] + 1}


def _back() -> None:
    steps = st.session_state.get(_STEPS) or {"page": "", "shown": 1}
    shown = min(int(steps["shown"]), int(st.session_state.get(_RUN, 1)))  # after "Show all": one less than all
    st.session_state[_STEPS] = steps | {"shown": max(1, shown - 1)}


_MOST = 10_000  # "Show all steps"


@st.cache_resource(show_spinner=False)
def _step_counts() -> BoundedStore[int]:
    """How many sections a page had when it last ran to its end, by (page, text); shared by every session, so a
    projector usually knows it from a student's or a rehearsal's run (a page's sections can depend on the text)."""
    return BoundedStore(512)


def end_page(url_path: str, text: str) -> None:
    """Called by the entry script when a page has run to its end on ``text``: remember how many sections it had; in
    presenter mode, say that this was the last one, with a way back."""
    total = int(st.session_state.get(_RUN, 0))
    _step_counts().put((url_path, text), total)
    if presenting() and total > 1:
        st.divider()
        row = st.container(horizontal=True, gap="medium", vertical_alignment="center")
        row.markdown(f"**Step {total} of {total}**: the last")
        _previous_button(row)


def _previous_button(row: object) -> None:
    row.button(  # type: ignore[attr-defined]
        "Previous step",
        key="show_prev",
        icon=":material/arrow_upward:",
        shortcut="p",
        on_click=_back,
        help="Hide the last section shown (key P)",
    )


def _where(url_path: str, text: str, shown: int) -> str:
    """The place to show: "Step 2 of 5" where the page's number of sections on this text is known, else "Step 2"."""
    total = _step_counts().get((url_path, text))
    return f"Step {shown} of {total}" if total else f"Step {shown}"


def presenter_step() -> dict[str, object] | None:
    """Presenter mode's place in this session: {"page": url path, "shown": sections revealed} (None before any)."""
    steps = st.session_state.get(_STEPS)
    return {"page": steps.get("page"), "shown": steps.get("shown")} if isinstance(steps, dict) else None


def resume_presenter_step(place: object) -> None:
    """Put presenter mode back where `presenter_step` said it was (a live class's teacher after a lost session);
    anything else is ignored."""
    if isinstance(place, dict) and isinstance(place.get("page"), str):
        shown = place.get("shown")
        if isinstance(shown, int) and not isinstance(shown, bool) and 1 <= shown <= _MOST:
            st.session_state[_STEPS] = {"page": place["page"], "shown": shown}


def step(title: str) -> None:
    """A section of a lesson: its heading. In presenter mode only the revealed sections are drawn: at the first
    hidden one this draws the "Next step" button and stops the page."""
    st.session_state[_RUN] = number = int(st.session_state.get(_RUN, 0)) + 1
    if presenting():
        steps = st.session_state.get(_STEPS) or {}
        shown = int(steps.get("shown", 1))
        if number > shown:
            st.divider()
            row = st.container(horizontal=True, gap="medium", vertical_alignment="center")
            row.markdown(f"**{_where(str(steps.get('page', '')), str(steps.get('text', '')), shown)}**")
            if shown > 1:
                _previous_button(row)
            row.button(
                "Next step",
                key="show_next",
                type="primary",
                icon=":material/arrow_downward:",
                shortcut="n",
                on_click=_reveal,
                args=(None,),
                help="Reveal the next section (key N)",
            )
            row.button(
                "Show all steps",
                key="show_all",
                on_click=_reveal,
                args=(_MOST,),
                help="Reveal every section of this lesson",
            )
            st.stop()
        if number > 1:
            st.divider()
    st.header(title)


def section(body: Callable[[], None]) -> None:
    """Run one part of a lesson as a fragment: a control inside it reruns this part alone.

    With a class on one server, what a rerun costs is what the server can serve; most controls change one part of
    the page. The part reads what the page computed before it (its closure, from the run that drew it) and leaves
    nothing that the rest of the page needs. In presenter mode it runs as plain page code: a hidden step there must
    stop the whole page, and a fragment would stop only itself.
    """
    if presenting():
        body()
        return
    count = st.session_state.get(_RUN, 0)  # sections met before this part, in the run that drew it

    @st.fragment
    def part() -> None:
        st.session_state[_RUN] = count  # a rerun of this part numbers its sections as the whole page did
        try:
            body()
        finally:
            # the link to this view, with this part's settings as they are now. Streamlit lets a fragment write
            # outside itself only where it wrote during the last full run of the app; a part first drawn by a rerun
            # of the lesson alone leaves the link as the lesson wrote it.
            with contextlib.suppress(StreamlitInvalidLayoutContextError):
                refresh_link()

    part()
