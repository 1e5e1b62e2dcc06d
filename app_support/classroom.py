"""The live class: a teacher starts a class and gets a short code; students join with it, answer the "predict first"
questions, and see the measured answer when the teacher reveals it; students may follow the teacher's page.

The class lives in `app_support.class_store` (SQLite, or PostgreSQL when configured), so every replica of
``make class`` sees the same class. The address says which class a page is in (``?class=K7QF``); the teacher's link
carries the teacher's token as well (``&teacher=…``), which is checked against the stored hash and then taken out of
the address, so that "Copy link to this view" never shares it. Anything a student typed (name, code) is shown as
plain text. When the store fails, the page says so once and the lesson goes on without the class.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_support import class_store, links, sentence, show
from app_support.class_store import ClassStoreError
from attnviz import plots

CLASS, TEACHER = "class", "teacher"  # URL parameters
_CODE, _TOKEN, _STUDENT = "_class_code", "_class_token", "_class_student"  # session state
_ERROR, _NOTE, _SHARED, _FOLLOWED = "_class_error", "_class_note", "_class_shared", "_class_followed"
_COOKIE_SET, _WAITING = "_class_cookie_set", "_class_waiting"  # the questions on the page not yet revealed
COOKIE = "attnviz_student"  # the browser's student id (see `_student_id`)
NAME, FOLLOW, JOIN = "cls_name", "cls_follow", "cls_join_code"  # widget keys
TEACHER_EVERY, STUDENT_EVERY = 1.5, 2.0  # seconds between the live parts' reruns
T = TypeVar("T")


def _escape(text: str) -> str:
    from app_support.widgets import md_escape  # widgets imports show; late, to keep imports one-way

    return md_escape(text)


def _quoted(raw: str, limit: int = 30) -> str:
    text = class_store.clean_name(raw) if raw else ""
    return text if len(text) <= limit else text[:limit] + "…"


def _safe(action: Callable[[], T], fallback: T) -> T:
    """Run a store call; a broken store turns the class features off for this session, with one message."""
    try:
        return action()
    except ClassStoreError as err:
        st.session_state[_ERROR] = f"The class features are off for now: {err}. The lesson works as usual."
        return fallback


def store() -> class_store.ClassStore:
    return class_store.from_config()


def code() -> str | None:
    """The class this session is in (None when none, or when the store has failed)."""
    if st.session_state.get(_ERROR):
        return None
    return st.session_state.get(_CODE)


def teaching() -> bool:
    return code() is not None and bool(st.session_state.get(_TOKEN))


def student() -> bool:
    return code() is not None and not st.session_state.get(_TOKEN)


def _student_id() -> str:
    """This browser's student id: kept in a cookie, so that a student whose page reconnects (a reload, a replica
    started again) is the same student, whose new answer replaces the old one instead of counting twice."""
    if _STUDENT not in st.session_state:
        raw = st.context.cookies.get(COOKIE)
        valid = isinstance(raw, str) and class_store.valid_student_id(raw)
        st.session_state[_STUDENT] = raw if valid else class_store.new_student_id()
    return st.session_state[_STUDENT]


def _keep_student_id(where: Any) -> None:
    """Write the student id into this browser's cookie (once a session; the id is ours: URL-safe characters)."""
    me = _student_id()
    if st.context.cookies.get(COOKIE) != me and st.session_state.get(_COOKIE_SET) != me:
        st.session_state[_COOKIE_SET] = me
        where.html(
            f"<script>document.cookie = '{COOKIE}={me}; path=/; max-age={class_store.LIFETIME_S}; SameSite=Strict';"
            "</script>",
            unsafe_allow_javascript=True,
        )


def _leave(note: str | None = None) -> None:
    for key in (_CODE, _TOKEN, _SHARED, _FOLLOWED):
        st.session_state.pop(key, None)
    for key in (CLASS, TEACHER):
        if key in st.query_params:
            del st.query_params[key]
    if note:
        st.session_state[_NOTE] = note  # stays in the sidebar until the next class is joined or started
    else:
        st.session_state.pop(_NOTE, None)


def _from_url() -> None:
    """Join the class the address names; take the teacher's token out of the address once checked."""
    raw, token = st.query_params.get(CLASS), st.query_params.get(TEACHER)
    if raw is None:
        if token is not None:
            del st.query_params[TEACHER]
        return
    found = class_store.clean_code(raw)
    if found is None:
        _leave(f"“{_quoted(raw)}” is not a class code: codes have 4 to 6 letters and digits, such as K7QF.")
        return
    if found != st.session_state.get(_CODE):
        info = _safe(lambda: store().get_class(found), None)
        if st.session_state.get(_ERROR):
            return
        if info is None or not info.active():
            _leave(f"There is no class {found} now (the code is wrong, or the class has ended).")
            return
        st.session_state[_CODE] = found
        st.session_state.pop(_TOKEN, None)
        st.session_state.pop(_NOTE, None)
    if token is not None:
        if _safe(lambda: store().is_teacher(found, token), False):
            st.session_state[_TOKEN] = token
        elif not st.session_state.get(_ERROR):
            st.session_state[_NOTE] = (
                f"This teacher link is not valid for class {found} (it was changed, or the class has ended): "
                "you are in the class as a student."
            )
        del st.query_params[TEACHER]
    if st.query_params.get(CLASS) != found:
        st.query_params[CLASS] = found


def _links(found: str, token: str | None = None) -> str:
    base, _ = links._base(_current_page())
    query = {CLASS: found} | ({TEACHER: token} if token else {})
    return f"{base}/?{urlencode(query)}"


def _current_page() -> str:
    ctx = get_script_run_ctx()
    if ctx is None:
        return ""
    page = ctx.pages_manager.get_pages().get(ctx.page_script_hash)
    return str(page.get("url_pathname", "")) if page else ""


def _view() -> dict[str, str]:
    """The teacher's view to share: this page and its settings (not the token, not presenter mode)."""
    params = {k: v for k, v in show.current_params().items() if k not in {TEACHER, CLASS, show.PRESENT}}
    # the sentence box writes the address from the script (st.query_params), which the run's context does not see
    if isinstance(said := st.query_params.get(sentence.KEY), str):
        params[sentence.KEY] = said
    return {"page": _current_page(), "query": urlencode(params)}


def sidebar(where: Any = st) -> None:
    """The class part of the "View and classroom" sidebar box: start or join a class; the codes and links; for
    students their name and "follow the teacher"."""
    _from_url()
    if note := st.session_state.get(_NOTE):
        where.warning(_escape(note), icon=":material/info:")
    if error := st.session_state.get(_ERROR):
        where.warning(_escape(error), icon=":material/cloud_off:")
        if where.button("Try the class features again", key="cls_retry"):
            st.session_state.pop(_ERROR, None)
            st.rerun()
        return
    found = code()
    if found is None:
        _start_or_join(where)
    elif teaching():
        _teacher_box(where, found)
    else:
        _student_box(where, found)


def _start_or_join(where: Any) -> None:
    where.markdown("**Live class**")
    helps = "A short code for the students; their answers to the questions appear live on your screen"
    if where.button("Start a class", key="cls_start", icon=":material/groups:", help=helps):
        made = _safe(lambda: store().create_class(), None)
        if made is not None:
            new_code, token = made
            st.session_state.pop(_NOTE, None)
            st.session_state[_CODE], st.session_state[_TOKEN] = new_code, token
            st.query_params[CLASS] = new_code
        st.rerun()  # the class, or the store's message
    typed = where.text_input("Class code", key=JOIN, max_chars=64, placeholder="e.g. K7QF")
    if typed:
        found = class_store.clean_code(typed)
        if found is None:
            where.warning(_escape(f"“{_quoted(typed)}” is not a class code: 4 to 6 letters and digits."),
                          icon=":material/info:")  # fmt: skip
        elif where.button("Join the class", key="cls_join", icon=":material/login:"):
            st.query_params[CLASS] = found
            st.rerun()


def _teacher_box(where: Any, found: str) -> None:
    token = st.session_state[_TOKEN]
    where.markdown(f"**Class {found}** · you are teaching")
    where.caption("Students join by opening this link, or by typing the code in this box:")
    where.code(_links(found), language=None, wrap_lines=True)
    with where.expander("Your teacher link (keep it to yourself)", icon=":material/key:"):
        st.caption("It gives control of the class (reveal, end): open it to teach this class from another browser.")
        st.code(_links(found, token), language=None, wrap_lines=True)
    if not show.presenting():
        where.caption("Turn on Presenter mode to see the class's answers to each question, live.")
    if where.button("End the class", key="cls_end", icon=":material/logout:"):
        with contextlib.suppress(PermissionError):  # ended already
            _safe(lambda: store().end_class(found, token), None)
        _leave(f"Class {found} has ended.")
        st.rerun()
    _share_view(found, token)


@st.fragment(run_every=STUDENT_EVERY)
def _share_view(found: str, token: str) -> None:
    """Every few seconds, store the teacher's page and settings for students who follow (when they changed)."""
    view = _view()
    if st.session_state.get(_SHARED) != view:
        try:
            _safe(lambda: store().set_state(found, token, view), None)
            st.session_state[_SHARED] = view
        except (PermissionError, ValueError):
            pass


def _student_box(where: Any, found: str) -> None:
    where.markdown(f"**Class {found}** · joined")
    where.text_input("Your name (optional)", key=NAME, max_chars=class_store.NAME_MAX,
                     help="Shown to the teacher beside your answers; leave empty to stay anonymous.")  # fmt: skip
    where.toggle("Follow the teacher", key=FOLLOW, help="Open the page and settings the teacher is showing")
    if where.button("Leave the class", key="cls_leave", icon=":material/logout:"):
        _leave()
        st.rerun()
    _follow(found)
    _keep_student_id(where)  # last: an element drawn once must not move the live part (its id is its place)


@st.fragment(run_every=STUDENT_EVERY)
def _follow(found: str) -> None:
    """A student's one live part (every `STUDENT_EVERY` s): notice the class ending, the teacher revealing a question
    of this page (then the page runs again with the answer) and, when following, go where the teacher went."""
    info = _safe(lambda: store().get_class(found), None)
    if info is None or not info.active():
        if not st.session_state.get(_ERROR):
            _leave(f"Class {found} has ended.")
        st.rerun(scope="app")
    waiting = st.session_state.get(_WAITING)
    if waiting and _safe(lambda: store().revealed_among(found, waiting), set()):
        st.session_state[_WAITING] = set()
        st.rerun(scope="app")
    if not st.session_state.get(FOLLOW):
        st.session_state.pop(_FOLLOWED, None)
        return
    view = info.state
    if "page" not in view or view == st.session_state.get(_FOLLOWED):
        return
    st.session_state[_FOLLOWED] = view
    mine = _view()
    if view == mine:
        return
    ctx = get_script_run_ctx()
    pages = {p.get("url_pathname"): p for p in ctx.pages_manager.get_pages().values()} if ctx else {}
    target = pages.get(view.get("page"))
    if target is None:
        return
    main_dir = os.path.dirname(ctx.main_script_path)
    query = dict(parse_qsl(str(view.get("query", "")), keep_blank_values=True))
    ours = dict(parse_qsl(mine["query"], keep_blank_values=True))
    address = {CLASS: found}
    for key in set(query) | set(ours):
        # a setting the student's session holds wins over the address: give it the teacher's value; one it does not
        # hold goes in the address, where the page reads it (a setting bound to the URL writes itself there)
        changed = query.get(key) != ours.get(key) and not key.startswith(("_", "cls_"))
        if changed and not _take(key, query.get(key)) and key in query:
            address[key] = query[key]
    script = os.path.relpath(target["script_path"], main_dir)
    try:
        st.switch_page(script, query_params=address)
    except StreamlitAPIException:  # a setting still bound to a widget of this session: it took the session value
        st.switch_page(script, query_params={CLASS: found})


def _take(key: str, raw: str | None) -> bool:
    """Set the session's value of ``key`` from the teacher's address: as the type it has now (a choice's text, a
    number, a switch); False where it has none or the text does not convert (then it is left to the address)."""
    current = st.session_state.get(key)
    value: object = None
    try:
        if raw is None or current is None:
            value = None
        elif isinstance(current, bool):
            value = raw.strip().lower() in {"true", "1", "yes", "on"}
        elif isinstance(current, int):
            value = int(float(raw))
        elif isinstance(current, float):
            value = float(raw)
        elif isinstance(current, str):
            value = raw
    except ValueError:
        value = None
    if value is None:
        st.session_state.pop(key, None)
        return False
    st.session_state[key] = value
    return True


# --- the questions ---------------------------------------------------------------------------------------------------
def question_id(key: str, question: str, options: Sequence[str]) -> str:
    """The question as the class sees it: its widget key and a digest of its text (a new sentence, a new question)."""
    digest = hashlib.sha1("\x1f".join([question, *options]).encode()).hexdigest()[:10]
    return f"{key}.{digest}"


def _option_labels(options: Sequence[str]) -> list[str]:
    return [f"{i + 1}. {o}" if len(o) <= 40 else f"{i + 1}. {o[:38]}…" for i, o in enumerate(options)]


def teacher_question(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """In presenter mode with a class: the live count and spread of answers, then Reveal for everyone.
    Returns True once revealed."""
    found, token = code(), st.session_state[_TOKEN]
    qid = question_id(key, question, options)
    shown = f"{key}_revealed"
    with st.container(border=True):
        st.subheader(f"Class question: {question}", anchor=False)
        st.markdown("\n".join(f"{i + 1}. {_escape(o)}" for i, o in enumerate(options)))
        revealed = bool(st.session_state.get(shown)) and _safe(lambda: store().revealed(found, qid), True)
        _live_tally(found, qid, options, correct, revealed, key)
        if not revealed:
            st.caption(f"Students in class {found} answer on their own screens; their answers appear above.")
            helps = "Show what the measurement says, here and on every student's screen (key A)"
            if st.button("Reveal the answer", key=f"{key}_reveal", type="primary", icon=":material/visibility:",
                         shortcut="a", help=helps):  # fmt: skip
                try:
                    _safe(lambda: store().reveal(found, token, qid, correct), None)
                except PermissionError:
                    _leave(f"Class {found} has ended: the answer is shown here only.")
                st.session_state[shown] = True
                st.rerun()
            return False
        if correct is not None:
            st.success(f"Answer {correct + 1}: “{options[correct]}”. {explain}")
        else:
            st.info(explain)
    return True


def _live_tally(found: str, qid: str, options: Sequence[str], correct: int | None, revealed: bool, key: str) -> None:
    """How many answered and how (a bar per option), redrawn every `TEACHER_EVERY` seconds until revealed."""

    @st.fragment(run_every=None if revealed else TEACHER_EVERY)
    def live() -> None:
        tally = _safe(lambda: store().tally(found, qid, len(options)), None)
        if tally is None:
            return
        total = tally.total
        line = f"**{total} answer{'s' if total != 1 else ''}** from class {found}"
        if revealed and correct is not None and total:
            right = tally.counts[correct]
            line += f" · **{right} of {total} ({right / total:.0%}) chose the measured answer**"
        st.markdown(line)
        if total:
            marked = [correct] if revealed and correct is not None else []
            fig = plots.bars(_option_labels(options), tally.counts, horizontal=True, decimals=0, value_name="students",
                             x_title="students", highlight=marked, height=120 + 45 * len(options))  # fmt: skip
            if max(tally.counts) <= 10:
                fig.spec["layout"]["xaxis"]["dtick"] = 1  # whole students
            show.chart(fig, key=f"{key}_class_chart", name="class answers")
            names = _safe(lambda: store().names(found, qid), [])
            with st.expander(f"Who answered what ({len(names)})"):
                # plain text, never markdown or HTML: the names are the students' own typing
                st.text("\n".join(f"{name or '(no name)'}: {choice + 1}" for name, choice in names))

    live()


def student_question(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """For a student in a class: the answer goes to the teacher; the page waits for the teacher's Reveal.
    Returns True once revealed."""
    found = code()
    qid = question_id(key, question, options)
    me = _student_id()
    revealed = _safe(lambda: store().revealed(found, qid), False)
    if st.session_state.get(_ERROR):
        return False
    with st.container(border=True):
        st.markdown(f"**Predict first** (class {found}). {_escape(question)}")
        choice = st.radio(question, options, index=None, key=key, label_visibility="collapsed",
                          horizontal=len(options) <= 4, disabled=revealed)  # fmt: skip
        sent_key = f"_class_sent_{qid}"
        if choice is not None and not revealed and st.session_state.get(sent_key) != (choice, _name()):
            try:
                _safe(lambda: store().answer(found, qid, me, _name(), options.index(choice)), None)
                st.session_state[sent_key] = (choice, _name())
            except PermissionError:
                _leave(f"Class {found} has ended.")
                st.rerun()
        if not revealed:
            st.caption(
                "Your answer is in: the teacher sees how the class answered and reveals the measurement; you can "
                "change your answer until then."
                if choice is not None
                else "Choose an answer: the teacher sees how the class answered, then reveals the measurement."
            )
            st.session_state[_WAITING] = {*st.session_state.get(_WAITING, ()), qid}  # watched by `_follow`
            return False
        mine = _safe(lambda: store().my_answer(found, qid, me), None)
        if correct is not None and mine is not None:
            if mine == correct:
                st.success(f"Right. {explain}")
            else:
                st.info(f"Not this time: the answer is “{options[correct]}”. {explain}")
        elif correct is not None:
            st.info(f"You did not answer in time; the answer is “{options[correct]}”. {explain}")
        else:
            st.info(explain)
    return True


def _name() -> str:
    return class_store.clean_name(st.session_state.get(NAME, ""))
