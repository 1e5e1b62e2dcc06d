"""What a live class session has done that the store does not have yet: a student's answers and a teacher's reveals.

An answer counts as given ("Your answer is in") only once the store has returned from writing it. Until then it
waits here, in the session, with what the page says about it: waiting (the store failed: it is sent again on the
next rerun, on a live part's tick, or with *Try the class features again*), or not recorded (the class had ended,
said plainly). A teacher's reveal waits the same way: the projector shows the answer, says that the students'
screens do not have it yet, and the reveal is sent when the store is back; until then the students' questions stay
open (they never see the answer before it is stored as revealed).
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from app_support.classroom.class_session import STATE_CODE, STATE_TOKEN, answered, leave, safe, store

STATE_PENDING = "_class_pending"  # {question id: Answer} given on this page, not stored yet
STATE_SENT = "_class_sent"  # {question id: (choice, name)} what the store has from this session
STATE_LOST = "_class_lost"  # {question id: why} answers the store refused (the class had ended)
STATE_REVEALS = "_class_reveals"  # {question id: (class code, correct option)} reveals not stored yet
STATE_REVEALED = "_class_revealed_here"  # question ids this session revealed (for the projector when the store fails)


class Answer(NamedTuple):
    code: str
    student: str
    name: str
    choice: int


def _get(key: str) -> dict:
    if key not in st.session_state:
        st.session_state[key] = {}
    return st.session_state[key]


def give(found: str, qid: str, student: str, name: str, choice: int) -> None:
    """A student's answer to ``qid``: stored now if the store takes it, else kept waiting (see the module)."""
    sent, pending = _get(STATE_SENT), _get(STATE_PENDING)
    if sent.get(qid) == (choice, name):
        pending.pop(qid, None)  # back to the answer the store has
        return
    if (waiting := pending.get(qid)) is not None and (waiting.choice, waiting.name) == (choice, name):
        return  # already waiting: the next try sends it
    pending[qid] = Answer(found, student, name, choice)
    _get(STATE_LOST).pop(qid, None)
    flush()


def stored(qid: str) -> tuple[int, str] | None:
    """(choice, name) of this session's answer to ``qid`` that the store has returned from writing, if any."""
    return _get(STATE_SENT).get(qid)


def was_stored(qid: str, choice: int, name: str) -> None:
    """The store had this answer already (given on another page or replica, read back by the student's id)."""
    _get(STATE_SENT)[qid] = (choice, name)


def waiting(qid: str) -> Answer | None:
    return _get(STATE_PENDING).get(qid)


def lost(qid: str) -> str | None:
    return _get(STATE_LOST).get(qid)


def reveal(found: str, qid: str, correct: int | None) -> None:
    """The teacher's reveal: on the projector at once (`revealed_here`), in the store now or when it is back."""
    _get(STATE_REVEALED)[qid] = True
    _get(STATE_REVEALS)[qid] = (found, correct)
    flush()


def revealed_here(qid: str) -> bool:
    return qid in _get(STATE_REVEALED)


def reveal_waiting(qid: str) -> bool:
    return qid in _get(STATE_REVEALS)


def anything_waiting() -> bool:
    return bool(_get(STATE_PENDING) or _get(STATE_REVEALS))


def flush(force: bool = False) -> int:
    """Send what waits, oldest first, until the store fails again. Returns how many the store took.

    Unless ``force``, nothing is tried while the session leaves a failed store alone (`class_session.resting`)."""
    done = 0
    pending, reveals = _get(STATE_PENDING), _get(STATE_REVEALS)
    for qid, answer in list(pending.items()):
        try:
            ok = safe(lambda a=answer, q=qid: _send(a, q), False, what="answer", force=force)
        except (PermissionError, ValueError) as err:
            answered("answer")
            pending.pop(qid, None)
            _get(STATE_LOST)[qid] = "the class has ended" if isinstance(err, PermissionError) else str(err)
            if isinstance(err, PermissionError) and st.session_state.get(STATE_CODE) == answer.code:
                leave(f"Class {answer.code} has ended: your last answer was not recorded.")
            continue
        if not ok:
            return done
        pending.pop(qid, None)
        _get(STATE_SENT)[qid] = (answer.choice, answer.name)
        done += 1
    token = st.session_state.get(STATE_TOKEN)
    for qid, (found, correct) in list(reveals.items()):
        if not token or st.session_state.get(STATE_CODE) != found:
            reveals.pop(qid, None)  # the class was left: nothing to reveal to
            continue
        try:
            ok = safe(lambda f=found, q=qid, c=correct: _reveal(f, q, c), False, what="reveal", force=force)
        except PermissionError:
            answered("reveal")
            reveals.pop(qid, None)
            leave(f"Class {found} has ended: the answer is shown here only.")
            continue
        if not ok:
            return done
        reveals.pop(qid, None)
        done += 1
    return done


def _send(answer: Answer, qid: str) -> bool:
    store().answer(answer.code, qid, answer.student, answer.name, answer.choice)
    return True


def _reveal(found: str, qid: str, correct: int | None) -> bool:
    store().reveal(found, st.session_state[STATE_TOKEN], qid, correct)
    return True
