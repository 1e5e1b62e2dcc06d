"""The "predict first" question: asked of one learner, put to a room in presenter mode, or, in a live class, answered
on each student's screen and revealed by the teacher (`class_questions`). It lives with the class, not in the page
kit, so that the kit never imports the classroom; the lessons call it."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app_support.classroom.class_questions import show_answer, student_question, teacher_question
from app_support.classroom.class_session import student, teaching
from app_support.kit import view


def predict_first(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """Ask before revealing. Returns True once the learner has answered (or chose to skip).

    In presenter mode the question is put to the whole class: large, with its options listed, and a "Reveal the
    answer" button instead of the choice.

    Args:
        key: widget key; the answer survives reruns and sentence changes.
        correct: index of the option that the live measurement makes right, or None when none is.
        explain: shown after the answer, whichever it was: what the measurement says.
    """
    if view.presenting():
        return _class_prompt(key, question, options, correct, explain)
    if student():  # in a live class: the answer goes to the teacher, who reveals it
        return student_question(key, question, options, correct, explain)
    skipped = f"{key}_skipped"
    with st.container(border=True):
        st.markdown(f"**Predict first.** {question}")
        choice = st.radio(
            question, options, index=None, key=key, label_visibility="collapsed", horizontal=len(options) <= 4
        )
        if choice is None and not st.session_state.get(skipped):
            if st.button("Skip — just show me", key=f"{key}_skip"):
                st.session_state[skipped] = True
                st.rerun()
            return False
        if choice is not None and correct is not None:
            if options.index(choice) == correct:
                st.success(f"Right. {explain}")
            else:
                st.info(f"Not this time: the answer is “{options[correct]}”. {explain}")
        else:
            st.info(explain)
    return True


def _class_prompt(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """`predict_first` for a projector: the question and its options for the class, then the answer on request."""
    if teaching():  # a live class: the students' answers, live, and Reveal for everyone
        return teacher_question(key, question, options, correct, explain)
    shown = f"{key}_revealed"
    with st.container(border=True):
        st.subheader(f"Class question: {question}", anchor=False)
        st.markdown("\n".join(f"{i + 1}. {option}" for i, option in enumerate(options)))
        if not st.session_state.get(shown):
            st.caption("Ask the class to choose, with a show of hands, before revealing the answer.")
            if st.button(
                "Reveal the answer",
                key=f"{key}_reveal",
                type="primary",
                icon=":material/visibility:",
                shortcut="a",
                help="Show what the measurement says (key A)",
            ):
                st.session_state[shown] = True
                st.rerun()
            return False
        show_answer(options, correct, explain)
    return True
