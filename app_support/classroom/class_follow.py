"""Following the teacher in a live class: the teacher's page stores its page and settings every few seconds; a
student who follows goes where the teacher went, with the teacher's settings. Also the class's links."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_support.classroom import class_pending, class_teacher
from app_support.classroom.class_session import (
    FOLLOW,
    STATE_FOLLOWED,
    STATE_SHARED,
    STATE_TAKES,
    STATE_WAITING,
    STUDENT_EVERY,
    came_back,
    leave,
    safe,
    store,
)
from app_support.compat import streamlit_compat
from app_support.kit import links, sentence, steps, view
from app_support.kit.links import CLASS, TEACHER

_UNKNOWN = object()  # the store could not say
REPLICA_PORTS_ENV = (
    "ATTNVIZ_REPLICA_PORTS"  # "8501-8503": the ports of `make class`'s replicas (app_support.server.serve)
)


def class_link(found: str, token: str | None = None) -> str:
    base, _ = links._base(streamlit_compat.current_page_path())
    query = {CLASS: found} | ({TEACHER: token} if token else {})
    return f"{base}/?{urlencode(query)}"


def replica_links(found: str) -> list[str]:
    """The students' link to class ``found`` on each replica of ``make class`` (``ATTNVIZ_REPLICA_PORTS``, set by the
    launcher: "8501-8503"), when this page was opened on one of them rather than through a load balancer; else []."""
    first, _, last = os.environ.get(REPLICA_PORTS_ENV, "").partition("-")
    if not (first.isdigit() and last.isdigit()) or int(last) <= int(first):
        return []
    link = urlsplit(class_link(found))
    if link.port is None or not int(first) <= link.port <= int(last):
        return []
    host = link.hostname if ":" not in (link.hostname or "") else f"[{link.hostname}]"
    return [urlunsplit(link._replace(netloc=f"{host}:{p}")) for p in range(int(first), int(last) + 1)]


def _view() -> dict[str, str]:
    """The teacher's view to share: this page and its settings (not the token, not presenter mode)."""
    params = {k: v for k, v in links.current_params().items() if k not in {TEACHER, CLASS, view.PRESENT}}
    # the sentence box writes the address from the script (st.query_params), which the run's context does not see
    if isinstance(said := st.query_params.get(sentence.KEY), str):
        params[sentence.KEY] = said
    return {"page": streamlit_compat.current_page_path(), "query": urlencode(params)}


@st.fragment(run_every=STUDENT_EVERY)
def share_view(found: str, token: str) -> None:
    """Every few seconds, store the teacher's page and settings for students who follow (when they changed), and
    presenter mode's step (`class_teacher.STEP`: where a teacher whose session was lost comes back to)."""
    shared: dict[str, object] = dict(_view())
    if view.presenting() and (place := steps.presenter_step()) is not None:
        shared[class_teacher.STEP] = place
    if st.session_state.get(STATE_SHARED) != shared:
        try:
            if safe(lambda: store().set_state(found, token, shared) or True, False, what="share"):
                st.session_state[STATE_SHARED] = shared
        except (PermissionError, ValueError):
            pass


@st.fragment(run_every=STUDENT_EVERY)
def follow(found: str) -> None:
    """A student's one live part (every `STUDENT_EVERY` s): send the answers that wait for the store, notice the
    class ending, the teacher revealing a question of this page (then the page runs again with the answer) and, when
    following, go where the teacher went. While the store fails it only retries (`class_session.safe`)."""
    sent = class_pending.flush()
    info = safe(lambda: store().get_class(found), _UNKNOWN)
    if info is _UNKNOWN:  # the store failed, or is left alone for a few seconds
        if sent:
            st.rerun(scope="app")
        return
    if info is None or not info.active():
        leave(f"Class {found} has ended.")
        st.rerun(scope="app")
    waiting = st.session_state.get(STATE_WAITING)
    if sent or came_back() or (waiting and safe(lambda: store().revealed_among(found, waiting), set())):
        st.session_state[STATE_WAITING] = set()
        st.rerun(scope="app")  # an answer is in, the store is back, or a question revealed: the page says so
    if not st.session_state.get(FOLLOW):
        st.session_state.pop(STATE_FOLLOWED, None)
        return
    view = {k: v for k, v in info.state.items() if k != class_teacher.STEP}
    if "page" not in view or view == st.session_state.get(STATE_FOLLOWED):
        return
    st.session_state[STATE_FOLLOWED] = view
    go_to(found, view)


def go_to(found: str, state: dict) -> None:
    """Take this session to the teacher's shared view ``state`` (its page and settings) in class ``found``, when it
    differs from this session's; nothing when it names no page of this app (or none yet).

    A setting this session holds in a widget (the sentence box, a lesson's control) cannot be set once the widget is
    drawn in this run: its new value waits in `STATE_TAKES` and `take_waiting` sets it at the start of the next
    run, before any widget (`app_support.classroom.classroom.begin`)."""
    wanted = {k: v for k, v in state.items() if k != class_teacher.STEP}
    mine = _view()
    script = streamlit_compat.page_scripts().get(str(wanted.get("page")))
    if wanted == mine or script is None:
        return
    query = dict(parse_qsl(str(wanted.get("query", "")), keep_blank_values=True))
    ours = dict(parse_qsl(mine["query"], keep_blank_values=True))
    address, takes = {CLASS: found}, {}
    for key in set(query) | set(ours):
        # a setting the student's session holds wins over the address: give it the teacher's value; one it does not
        # hold goes in the address, where the page reads it (a setting bound to the URL writes itself there)
        if query.get(key) == ours.get(key) or key.startswith(("_", "cls_")):
            continue
        value = _converted(key, query.get(key))
        if value is not None or key in st.session_state:
            takes[key] = value
        if value is None and key in query:
            address[key] = query[key]
    st.session_state[STATE_TAKES] = takes
    try:
        st.switch_page(script, query_params=address)
    except StreamlitAPIException:  # a setting still bound to a widget of this session: it took the session value
        st.switch_page(script, query_params={CLASS: found})


def take_waiting() -> None:
    """Set the teacher's settings that `go_to` left waiting (at the start of a run, before any widget is drawn)."""
    for key, value in st.session_state.pop(STATE_TAKES, {}).items():
        if value is None:
            st.session_state.pop(key, None)
        else:
            st.session_state[key] = value


def _converted(key: str, raw: str | None) -> object:
    """The teacher's ``raw`` value of ``key`` as the type this session's value has now (a choice's text, a number, a
    switch); None where the session holds none or the text does not convert (then it is left to the address)."""
    current = st.session_state.get(key)
    try:
        if raw is None or current is None:
            return None
        if isinstance(current, bool):
            return raw.strip().lower() in {"true", "1", "yes", "on"}
        if isinstance(current, int):
            return int(float(raw))
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, str):
            return raw
    except ValueError:
        return None
    return None
