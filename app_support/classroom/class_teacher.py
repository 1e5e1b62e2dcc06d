"""The teacher keeps control of a live class through any loss of the session (a replica or the server restarted, a
laptop asleep past Streamlit's session timeout), without the token going back into a shareable address.

Once the token is checked against the stored hash, the page writes it into a cookie of this browser for this class
(``attnviz_teacher_K7QF``: path /, SameSite=Strict, Secure over https, for the class's lifetime), with the same small
script that keeps a student's id (`class_session.keep_student_id`). A browser sends its cookies when its page
connects to the server, and Streamlit gives them to the page (``st.context.cookies``): a page that reconnects to a
fresh session on ``?class=K7QF`` finds the token there, checks it against the stored hash again, and is the
teacher once more, in presenter mode at the step it had reached (kept with the teacher's shared view, see
`classroom.class_follow`). The cookie never enters an address; the class's links and *Copy link to this view*
carry no token. Ending the class clears the cookie; a stale one (the class over) gives nothing, as a forged one.

Whoever uses this browser profile is the teacher of the class while it runs (as with the teacher link itself): to
try the class as a student on the teacher's computer, use a private window.
"""

from __future__ import annotations

import re
import time
from typing import Any

import streamlit as st

from app_support.classroom import class_session
from app_support.classroom.class_rules import clean_code
from app_support.classroom.class_store import LIFETIME_S, ClassInfo
from app_support.kit import steps

COOKIE_PREFIX = "attnviz_teacher_"
STATE_KEPT = "_class_teacher_kept"  # (code, token) this session has written into the browser
STATE_FORGET = "_class_teacher_forget"  # class codes whose cookie this session is to clear
STEP = "step"  # the key of presenter mode's place in the teacher's shared view
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,100}")  # what `secrets.token_urlsafe(24)` makes, with room


def cookie_name(found: str) -> str:
    return COOKIE_PREFIX + found


def remembered(found: str) -> str | None:
    """The teacher token this browser keeps for class ``found`` (unchecked: the caller checks it), or None."""
    raw = class_session.cookies().get(cookie_name(found))
    return raw if isinstance(raw, str) and _TOKEN.fullmatch(raw) else None


def keep(where: Any, found: str, token: str, info: ClassInfo | None = None) -> None:
    """Write the (checked) token into this browser's cookie for the class, once a session."""
    if clean_code(found) != found or not _TOKEN.fullmatch(token):
        return  # never into a script: only what our own code and token can be
    if remembered(found) == token or st.session_state.get(STATE_KEPT) == (found, token):
        return
    st.session_state[STATE_KEPT] = (found, token)
    age = int(info.expires - time.time()) if info is not None else LIFETIME_S
    _script(where, f"{cookie_name(found)}={token}; path=/; max-age={max(age, 60)}; SameSite=Strict")


def forget(found: str) -> None:
    """Clear the class's cookie in this browser (on the next `write_forgets`): the class has ended."""
    kept = st.session_state.get(STATE_KEPT, ("",))[0] == found
    if clean_code(found) == found and (kept or remembered(found) is not None):
        st.session_state[STATE_FORGET] = {*st.session_state.get(STATE_FORGET, ()), found}
    if kept:
        st.session_state.pop(STATE_KEPT, None)


def write_forgets(where: Any) -> None:
    for found in sorted(st.session_state.pop(STATE_FORGET, ())):
        _script(where, f"{cookie_name(found)}=; path=/; max-age=0; SameSite=Strict")


def _script(where: Any, cookie: str) -> None:
    class_session.write_cookie(where, cookie)  # a constant script the Content-Security-Policy allows by its hash


def resume(info: ClassInfo) -> None:
    """After control came back from the cookie: presenter mode at the step the teacher's shared view had reached,
    if that view was of this page (`steps.resume_presenter_step` ignores anything else)."""
    steps.resume_presenter_step(info.state.get(STEP))
