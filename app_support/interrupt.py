"""Has the learner asked for something while a long measurement runs? (Reaches into Streamlit's internals.)

Every lesson runs inside a fragment (app.py). A click inside a fragment asks for a fragment rerun, and Streamlit
1.67 does not interrupt a running script for one: it queues the rerun until the script ends
(``_fragment_run_should_not_preempt_script``). A Cancel button drawn beside a progress bar would therefore only
take effect after the measurement it should stop. A long loop polls `waiting` instead and stops by itself; the
queued rerun then redraws the page.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

PINNED = "1.67."  # the private fields read below are those of this Streamlit release


def waiting() -> bool:
    """True when a rerun (a click, a changed widget) waits for this script run to end.

    False outside a script run, and on a Streamlit release other than the pinned one (then only Streamlit's own
    Stop interrupts a loop).
    """
    if not st.__version__.startswith(PINNED):
        return False
    ctx = get_script_run_ctx(suppress_warning=True)
    requests = getattr(ctx, "script_requests", None)
    if requests is None:
        return False
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

    return getattr(requests, "_state", None) in (ScriptRequestType.RERUN, ScriptRequestType.STOP)
