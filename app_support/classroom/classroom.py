"""The live class: a teacher starts a class and gets a short code; students join with it, answer the "predict first"
questions, and see the measured answer when the teacher reveals it; students may follow the teacher's page.

The class lives in `app_support.classroom.class_store` (SQLite, or PostgreSQL when configured), so every replica of
``make class`` sees the same class. The address says which class a page is in (``?class=K7QF``); the teacher's link
carries the teacher's token as well (``&teacher=…``), which is taken out of the address at once on every path (the
store failing included) and checked against the stored hash, so that no link the page offers carries it; the
teacher keeps control through a lost session with a cookie (`classroom.class_teacher`). Anything a student typed
(name, code) is shown as plain text. When the store fails, the page says so, the session stays in its class and
what it does waits for the store (`app_support.classroom.class_pending`); the lesson goes on as usual.

The live class is this module (the sidebar: start or join a class, the codes and links),
`classroom.class_session` (the session's class state), `classroom.class_questions` (the questions),
`classroom.class_follow` (following the teacher), `classroom.class_pending` (what waits for the store),
`classroom.class_teacher` (the teacher's control kept by the browser) and `classroom.class_limits` (wrong codes
per client address). Their public names stay importable from here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_support.classroom import class_limits, class_pending, class_rules, class_store, class_teacher
from app_support.classroom.class_follow import class_link, follow, go_to, replica_links, share_view, take_waiting
from app_support.classroom.class_session import (
    FOLLOW,
    JOIN,
    NAME,
    STATE_CODE,
    STATE_ERROR,
    STATE_NOTE,
    STATE_TOKEN,
    STATE_UNCHECKED,
    code,
    keep_student_id,
    leave,
    quoted,
    resting,
    safe,
    store,
    student_id,
    teaching,
)
from app_support.kit import view
from app_support.kit.links import CLASS, TEACHER
from app_support.kit.sentence import md_escape


def begin() -> None:
    """At the start of every run, before any widget is drawn (app.py): the class the address names (joined, or
    checked), the class written back into an address that lost it (Streamlit's own page links drop it), and the
    teacher's settings that following left to set (`class_follow.take_waiting`)."""
    _from_url()
    _recheck()
    take_waiting()


def sidebar(where: Any = st) -> None:
    """The class part of the "View and classroom" sidebar box: start or join a class; the codes and links (a
    student's name and "follow the teacher" are at the top of the page: `app_support.classroom.class_main`)."""
    class_pending.flush()  # what waits for the store: sent on every run (and every live part's tick) once it is back
    if note := st.session_state.get(STATE_NOTE):
        where.warning(md_escape(note), icon=":material/info:")
    if error := st.session_state.get(STATE_ERROR):
        where.warning(md_escape(error), icon=":material/cloud_off:")
        if where.button("Try the class features again", key="cls_retry"):
            _recheck(force=True)
            class_pending.flush(force=True)
            if not class_pending.anything_waiting():
                st.session_state.pop(STATE_ERROR, None)  # nothing left to send: the next failure says so again
            st.rerun()
    found = code()
    if found is None:
        _start_or_join(where)
    elif teaching():
        _teacher_box(where, found)
    else:
        _student_box(where, found)
    class_teacher.write_forgets(where)  # last: an element drawn once must not move the live parts


def _from_url() -> None:
    """Join the class the address names; take the teacher's token out of the address at once, on every path.

    The teacher's token comes from the address (the teacher link) or, after a lost session, from this browser's
    cookie (`app_support.classroom.class_teacher`); either is checked against the stored hash. When the store cannot be
    asked, the session is in the class the address names, unchecked, and is checked when the store is back."""
    raw, token = st.query_params.get(CLASS), st.query_params.get(TEACHER)
    if token is not None:
        del st.query_params[TEACHER]  # first: whatever happens next, no link built from the address carries it
    if raw is None:
        if (current := code()) is not None:  # a page link (Streamlit's navigation) dropped it: a reload keeps it
            st.query_params[CLASS] = current
        return
    found = class_rules.clean_code(raw)
    if found is None:
        leave(f"“{quoted(raw)}” is not a class code: codes have 4 to 6 letters and digits, such as K7QF.")
        return
    if found != st.session_state.get(STATE_CODE):
        if (wait := class_limits.wait_s(class_limits.client_address())) > 0:
            leave(f"Too many wrong class codes came from your network in the last minute: try again in {wait:.0f} s.")
            return
        info = safe(lambda: store().get_class(found), _UNKNOWN, force=True)
        if info is not _UNKNOWN and (info is None or not info.active()):
            class_limits.wrong_code(class_limits.client_address())
            class_teacher.forget(found)
            leave(f"There is no class {found} now (the code is wrong, or the class has ended).")
            return
        st.session_state[STATE_CODE] = found
        for key in (STATE_TOKEN, STATE_NOTE, STATE_UNCHECKED):
            st.session_state.pop(key, None)
        if info is _UNKNOWN:
            st.session_state[STATE_UNCHECKED] = (found, token)  # checked by `_recheck` when the store is back
        else:
            _take_control(found, token, info)
        if not teaching():
            _joined(found)
    elif token is not None and not teaching():
        _take_control(found, token, None)
    if st.query_params.get(CLASS) != found:
        st.query_params[CLASS] = found


_UNKNOWN = class_store.ClassInfo("", 0.0, 0.0, None)  # the store could not say


def _take_control(found: str, token: str | None, info: class_store.ClassInfo | None) -> None:
    """The teacher's token from the address, else from this browser's cookie: checked, kept, or refused."""
    remembered = token is None
    token = token if token is not None else class_teacher.remembered(found)
    if token is None:
        return
    valid = safe(lambda: store().is_teacher(found, token), None, force=True)
    if valid is None:  # the store failed: checked when it is back
        st.session_state[STATE_UNCHECKED] = (found, token)
    elif valid:
        st.session_state[STATE_TOKEN] = token
        if info is not None:  # reopened by the link or the cookie: the class's page, text and step
            class_teacher.resume(info)
            if st.query_params.get(CLASS) != found:
                st.query_params[CLASS] = found
            go_to(found, info.state)
    elif remembered:
        class_teacher.forget(found)  # a class that has ended, or another browser's old cookie: nothing to say
    else:
        st.session_state[STATE_NOTE] = (
            f"This teacher link is not valid for class {found} (it was changed, or the class has ended): "
            "you are in the class as a student."
        )


def _joined(found: str) -> None:
    """A student has joined ``found``: following the teacher (unless this session turned it off), and their name as
    this browser's student id last gave it in this class (any replica: the id is in a cookie of the host)."""
    st.session_state.setdefault(FOLLOW, True)
    if not st.session_state.get(NAME):
        me = student_id()
        if name := safe(lambda: store().student_name(found, me), None):
            st.session_state[NAME] = name


def _recheck(force: bool = False) -> None:
    """A class (and teacher token) taken from the address while the store failed: checked once the store answers."""
    unchecked = st.session_state.get(STATE_UNCHECKED)
    if not unchecked or (resting() and not force):
        return
    found, token = unchecked
    if st.session_state.get(STATE_CODE) != found:
        st.session_state.pop(STATE_UNCHECKED, None)
        return
    info = safe(lambda: store().get_class(found), _UNKNOWN, force=True)
    if info is _UNKNOWN:
        return
    st.session_state.pop(STATE_UNCHECKED, None)
    if info is None or not info.active():
        leave(f"There is no class {found} now (the code is wrong, or the class has ended).")
        return
    _take_control(found, token, info)


def _start_or_join(where: Any) -> None:
    where.markdown("**Live class**")
    helps = "A short code for the students; their answers to the questions appear live on your screen"
    if where.button("Start a class", key="cls_start", icon=":material/groups:", help=helps):
        made = safe(lambda: store().create_class(), None, what="start", force=True)
        if made is not None:
            new_code, token = made
            st.session_state.pop(STATE_NOTE, None)
            st.session_state[STATE_CODE], st.session_state[STATE_TOKEN] = new_code, token
            st.query_params[CLASS] = new_code
        st.rerun()  # the class, or the store's message
    typed = where.text_input("Class code", key=JOIN, max_chars=64, placeholder="e.g. K7QF")
    if typed:
        found = class_rules.clean_code(typed)
        if found is None:
            where.warning(md_escape(f"“{quoted(typed)}” is not a class code: 4 to 6 letters and digits."),
                          icon=":material/info:")  # fmt: skip
        elif where.button("Join the class", key="cls_join", icon=":material/login:"):
            st.query_params[CLASS] = found
            st.rerun()


def _teacher_box(where: Any, found: str) -> None:
    token = st.session_state[STATE_TOKEN]
    where.markdown(f"**Class {found}** · you are teaching")
    where.caption("Students join by opening this link, or by typing the code in this box:")
    where.code(class_link(found), language=None, wrap_lines=True)
    if replicas := replica_links(found):
        where.caption(
            f"This server is one of {len(replicas)} replicas, and this link brings every student to this one. "
            "With the load balancer of README's *Serving a class*, give the students its address instead; "
            "without one, give each group of students its own replica's link:"
        )
        where.code("\n".join(replicas), language=None, wrap_lines=True)
    with where.expander("Your teacher link (keep it to yourself)", icon=":material/key:"):
        st.caption(
            "It gives control of the class (reveal, end): open it to teach this class from another browser. "
            "This browser keeps control by itself, even when its page loses the server for a while."
        )
        st.code(class_link(found, token), language=None, wrap_lines=True)
    if not view.presenting():
        where.caption("Turn on Presenter mode to see the class's answers to each question, live.")
    if where.button("End the class", key="cls_end", icon=":material/logout:"):
        try:
            ended = safe(lambda: store().end_class(found, token) or True, False, what="end", force=True)
        except PermissionError:  # ended already
            ended = True
        if ended:
            class_teacher.forget(found)
            leave(f"Class {found} has ended.")
        st.rerun()
    share_view(found, token)
    class_teacher.keep(where, found, token)  # last: an element drawn once must not move the live part


def _student_box(where: Any, found: str) -> None:
    where.markdown(f"**Class {found}** · you are a student")
    where.caption("Your name, *Follow the teacher* and *Leave the class* are at the top of the page.")
    follow(found)
    keep_student_id(where)  # last: an element drawn once must not move the live part (its id is its place)
