"""The "predict first" questions in a live class: the teacher sees the class's answers live and reveals the
measured answer; a student answers on their own screen and sees the answer once the teacher has revealed it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st

from app_support import show
from app_support.class_session import (
    STATE_ERROR,
    STATE_TOKEN,
    STATE_WAITING,
    TEACHER_EVERY,
    code,
    escape,
    leave,
    safe,
    store,
    student_id,
    typed_name,
)
from attnviz import plots


def question_id(key: str, question: str, options: Sequence[str]) -> str:
    """The question as the class sees it: its widget key and a digest of its text (a new sentence, a new question)."""
    digest = hashlib.sha1("\x1f".join([question, *options]).encode()).hexdigest()[:10]
    return f"{key}.{digest}"


def _option_labels(options: Sequence[str]) -> list[str]:
    return [f"{i + 1}. {o}" if len(o) <= 40 else f"{i + 1}. {o[:38]}…" for i, o in enumerate(options)]


def teacher_question(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """In presenter mode with a class: the live count and spread of answers, then Reveal for everyone.
    Returns True once revealed."""
    found, token = code(), st.session_state[STATE_TOKEN]
    qid = question_id(key, question, options)
    shown = f"{key}_revealed"
    with st.container(border=True):
        st.subheader(f"Class question: {question}", anchor=False)
        st.markdown("\n".join(f"{i + 1}. {escape(o)}" for i, o in enumerate(options)))
        revealed = bool(st.session_state.get(shown)) and safe(lambda: store().revealed(found, qid), True)
        _live_tally(found, qid, options, correct, revealed, key)
        if not revealed:
            st.caption(f"Students in class {found} answer on their own screens; their answers appear above.")
            helps = "Show what the measurement says, here and on every student's screen (key A)"
            if st.button("Reveal the answer", key=f"{key}_reveal", type="primary", icon=":material/visibility:",
                         shortcut="a", help=helps):  # fmt: skip
                try:
                    safe(lambda: store().reveal(found, token, qid, correct), None)
                except PermissionError:
                    leave(f"Class {found} has ended: the answer is shown here only.")
                st.session_state[shown] = True
                st.rerun()
            return False
        show_answer(options, correct, explain)
    return True


def show_answer(options: Sequence[str], correct: int | None, explain: str) -> None:
    """The revealed answer of a class question, for the projector: the measured option, and what it says."""
    if correct is not None:
        st.success(f"Answer {correct + 1}: “{options[correct]}”. {explain}")
    else:
        st.info(explain)


def _live_tally(found: str, qid: str, options: Sequence[str], correct: int | None, revealed: bool, key: str) -> None:
    """How many answered and how (a bar per option), redrawn every `TEACHER_EVERY` seconds until revealed."""

    @st.fragment(run_every=None if revealed else TEACHER_EVERY)
    def live() -> None:
        tally = safe(lambda: store().tally(found, qid, len(options)), None)
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
            names = safe(lambda: store().names(found, qid), [])
            with st.expander(f"Who answered what ({len(names)})"):
                # plain text, never markdown or HTML: the names are the students' own typing
                st.text("\n".join(f"{name or '(no name)'}: {choice + 1}" for name, choice in names))

    live()


def student_question(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """For a student in a class: the answer goes to the teacher; the page waits for the teacher's Reveal.
    Returns True once revealed."""
    found = code()
    qid = question_id(key, question, options)
    me = student_id()
    revealed = safe(lambda: store().revealed(found, qid), False)
    if st.session_state.get(STATE_ERROR):
        return False
    with st.container(border=True):
        st.markdown(f"**Predict first** (class {found}). {escape(question)}")
        choice = st.radio(question, options, index=None, key=key, label_visibility="collapsed",
                          horizontal=len(options) <= 4, disabled=revealed)  # fmt: skip
        sent_key = f"_class_sent_{qid}"
        if choice is not None and not revealed and st.session_state.get(sent_key) != (choice, typed_name()):
            try:
                safe(lambda: store().answer(found, qid, me, typed_name(), options.index(choice)), None)
                st.session_state[sent_key] = (choice, typed_name())
            except PermissionError:
                leave(f"Class {found} has ended.")
                st.rerun()
        if not revealed:
            st.caption(
                "Your answer is in: the teacher sees how the class answered and reveals the measurement; you can "
                "change your answer until then."
                if choice is not None
                else "Choose an answer: the teacher sees how the class answered, then reveals the measurement."
            )
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
