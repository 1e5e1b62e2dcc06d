"""The "predict first" questions in a live class: the teacher sees the class's answers live and reveals the
measured answer; a student answers on their own screen and sees the answer once the teacher has revealed it.
When the store fails, what was given or revealed waits in the session (`classroom.class_pending`) and the pages
say so: on the student's screen beside the answer, on the projector in the question."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st

from app_support.classroom import class_pending
from app_support.classroom.class_session import (
    STATE_CODE,
    STATE_WAITING,
    TEACHER_EVERY,
    came_back,
    code,
    reason,
    safe,
    store,
    store_down,
    student_id,
    typed_name,
)
from app_support.kit import charts
from app_support.kit.sentence import md_escape
from attnviz import plots

STATE_ASKED = "_class_asked"  # question ids whose answer this session has looked up by the student's id


def question_id(key: str, question: str, options: Sequence[str]) -> str:
    """The question as the class sees it: its widget key and a digest of its text (a new sentence, a new question)."""
    digest = hashlib.sha1("\x1f".join([question, *options]).encode()).hexdigest()[:10]
    return f"{key}.{digest}"


def _option_labels(options: Sequence[str]) -> list[str]:
    return [f"{i + 1}. {o}" if len(o) <= 40 else f"{i + 1}. {o[:38]}…" for i, o in enumerate(options)]


def teacher_question(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """In presenter mode with a class: the live count and spread of answers, then Reveal for everyone.
    Returns True once revealed. A failing store is said here, on the projector (the sidebar is folded away)."""
    found = code()
    qid = question_id(key, question, options)
    with st.container(border=True):
        st.subheader(f"Class question: {question}", anchor=False)
        st.markdown("\n".join(f"{i + 1}. {md_escape(o)}" for i, o in enumerate(options)))
        in_store = safe(lambda: store().revealed(found, qid), None)
        revealed = bool(in_store) or class_pending.revealed_here(qid)
        _live_tally(found, qid, options, correct, revealed, key)
        if not revealed:
            st.caption(f"Students in class {found} answer on their own screens; their answers appear above.")
            helps = "Show what the measurement says, here and on every student's screen (key A)"
            if st.button("Reveal the answer", key=f"{key}_reveal", type="primary", icon=":material/visibility:",
                         shortcut="a", help=helps):  # fmt: skip
                class_pending.reveal(found, qid, correct)
                st.rerun()
            return False
        show_answer(options, correct, explain)
        if class_pending.reveal_waiting(qid):
            st.warning(
                md_escape(f"Not on the students' screens yet: {reason()}. The reveal is sent when the store is back; "
                       "until then their questions stay open."),
                icon=":material/cloud_off:",
            )  # fmt: skip
    return True


def show_answer(options: Sequence[str], correct: int | None, explain: str) -> None:
    """The revealed answer of a class question, for the projector: the measured option, and what it says."""
    if correct is not None:
        st.success(f"Answer {correct + 1}: “{options[correct]}”. {explain}")
    else:
        st.info(explain)


def _live_tally(found: str, qid: str, options: Sequence[str], correct: int | None, revealed: bool, key: str) -> None:
    """How many answered and how (a bar per option), redrawn every `TEACHER_EVERY` seconds until revealed (and
    stored as revealed); each redraw also sends what waits for the store."""
    live_until = not revealed or class_pending.reveal_waiting(qid)

    @st.fragment(run_every=TEACHER_EVERY if live_until else None)
    def live() -> None:
        sent = class_pending.flush()
        tally = safe(lambda: store().tally(found, qid, len(options)), None)
        if (sent or came_back()) and st.session_state.get(STATE_CODE) == found:
            st.rerun(scope="app")  # a reveal reached the store, or the store is back: the whole page says so
        if tally is None:
            if store_down():
                st.warning(md_escape(f"No live count: {reason()}. It comes back with the store."),
                           icon=":material/cloud_off:")  # fmt: skip
            return
        if store_down():
            said = f"The class store fails: {reason()}. Answers given meanwhile wait on the students' pages and are "
            st.warning(md_escape(said + "counted here once it takes them."), icon=":material/cloud_off:")
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
            charts.chart(fig, key=f"{key}_class_chart", name="class answers")
            names = safe(lambda: store().names(found, qid), [])
            with st.expander(f"Who answered what ({len(names)})"):
                # plain text, never markdown or HTML: the names are the students' own typing
                st.text("\n".join(f"{name or '(no name)'}: {choice + 1}" for name, choice in names))

    live()


def student_question(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """For a student in a class: the answer goes to the teacher; the page waits for the teacher's Reveal.
    Returns True once revealed. The answer is "in" only once the store has it (`classroom.class_pending`); the
    measured answer shows only once the store says it is revealed, whatever the store does meanwhile."""
    found = code()
    qid = question_id(key, question, options)
    me = student_id()
    revealed = bool(safe(lambda: store().revealed(found, qid), False))
    _tick_given(key, found, qid, me, options)
    with st.container(border=True):
        st.markdown(f"**Predict first** (class {found}). {md_escape(question)}")
        choice = st.radio(question, options, index=None, key=key, label_visibility="collapsed",
                          horizontal=len(options) <= 4, disabled=revealed)  # fmt: skip
        if choice is not None and not revealed and found is not None:
            class_pending.give(found, qid, me, typed_name(), options.index(choice))
        if not revealed:
            _answer_status(qid, options, choice)
            st.session_state[STATE_WAITING] = {*st.session_state.get(STATE_WAITING, ()), qid}  # watched by `follow`
            return False
        mine = safe(lambda: store().my_answer(found, qid, me), None)
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


def _tick_given(key: str, found: str | None, qid: str, me: str, options: Sequence[str]) -> None:
    """Tick the answer this student gave already, where the radio has none: one waiting on this page, one the store
    has from this session or, once per question and session, one the store has from this browser's student id (a
    page reopened, on this replica or another: the id is in a cookie of the host, whatever the port)."""
    if st.session_state.get(key) is not None or found is None:
        return
    given, kept = class_pending.waiting(qid), class_pending.stored(qid)
    asked = st.session_state.setdefault(STATE_ASKED, set())
    if given is None and kept is None and qid not in asked:
        asked.add(qid)
        mine = safe(lambda: store().my_answer(found, qid, me), None)
        if mine is not None:
            class_pending.was_stored(qid, mine, typed_name())
            kept = class_pending.stored(qid)
    choice = given.choice if given is not None else kept[0] if kept is not None else None
    if choice is not None and 0 <= choice < len(options):
        st.session_state[key] = options[choice]


def _answer_status(qid: str, options: Sequence[str], choice: str | None) -> None:
    """What the store has of this student's answer: in, waiting (and why), or not recorded."""
    given, kept, refused = class_pending.waiting(qid), class_pending.stored(qid), class_pending.lost(qid)
    if refused is not None:
        st.error(md_escape(f"Your answer was not recorded: {refused}."), icon=":material/block:")
    elif given is not None:
        earlier = f" The teacher still has your earlier answer ({kept[0] + 1})." if kept is not None else ""
        st.warning(
            md_escape(f"Your answer ({given.choice + 1}) is waiting: {reason()}. This page keeps it and sends it when "
                   f"the store is back; the teacher does not see it yet.{earlier}"),
            icon=":material/hourglass_top:",
        )  # fmt: skip
    elif choice is not None and kept is not None and kept[0] == options.index(choice):
        st.caption(
            "Your answer is in: the teacher sees how the class answered and reveals the measurement; you can "
            "change your answer until then."
        )
    else:
        st.caption("Choose an answer: the teacher sees how the class answered, then reveals the measurement.")
