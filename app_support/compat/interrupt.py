"""Has the learner asked for something while a long measurement runs?

Every lesson runs inside a fragment (app.py). A click inside a fragment asks for a fragment rerun, and Streamlit
1.67 does not interrupt a running script for one: it queues the rerun until the script ends
(``_fragment_run_should_not_preempt_script``). A Cancel button drawn beside a progress bar would therefore only
take effect after the measurement it should stop. A long loop polls `waiting` instead and stops by itself; the
queued rerun then redraws the page.
"""

from __future__ import annotations

from app_support.compat import streamlit_compat


def waiting() -> bool:
    """True when a rerun (a click, a changed widget) waits for this script run to end.

    False outside a script run, and on a Streamlit release other than the one `streamlit_compat` was written for
    (then only Streamlit's own Stop interrupts a loop). It reads Streamlit's internals: `streamlit_compat`.
    """
    return streamlit_compat.rerun_requested()
