"""Page 6c's measurements (the scaling lab, the decoding loop): one at a time per server process, each case in a fresh
process, kept for every session; and its multiselect bound to the URL by short name."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from app_support.compat import interrupt
from app_support.data.store import BoundedStore
from app_support.kit.widgets import warn
from attnviz import scaling
from attnviz.efficient import mqa


@st.cache_resource
def measurement_lock() -> threading.Lock:
    """One measurement at a time in this server process: timings of two at once would measure each other."""
    return threading.Lock()


_RESULTS: BoundedStore[dict] = BoundedStore(max_entries=256)  # every measurement this server process completed


def stored(device: str, case: str, n: int) -> dict | None:
    """A finished measurement of ``case`` at length ``n`` on ``device``, or None."""
    return _RESULTS.get((device, case, n))


def keep(device: str, case: str, n: int, result: dict) -> None:
    """Store a measurement that completed (a cancelled one never gets here)."""
    _RESULTS.put((device, case, n), result)


class _Cancelled(Exception):
    """The learner used a control while a case ran: `scaling.run_case` ends the child process on the way out."""


@dataclass(frozen=True)
class Job:
    """One case for `measure`: what to run in a fresh process, and where to keep the result."""

    case: str  # the name it is stored under
    n: int  # the length it is stored under
    task: dict  # what `scaling.run_case` runs
    label: str  # what the progress bar says while it runs


def measure(jobs: list[Job], *, device: str, cancel_key: str, timeout: float, expected_s: float | None = None) -> int:
    """Run the jobs one after another under the server-wide lock, with a progress bar and a Cancel button.

    Cancel (or any other control used meanwhile) kills the running child process at once, releases the lock and
    reruns the whole page, which shows what was measured and `stopped_note` (so a cancelled call does not return).
    Returns how many jobs finished; -1 when another measurement holds the lock (the learner is told).
    """
    lock = measurement_lock()
    if not lock.acquire(blocking=False):
        warn("Another measurement is running on this server right now (timings of two at once would measure each "
             "other). Try again in a minute.")  # fmt: skip
        return -1
    done = 0
    st.session_state.pop(STOPPED, None)
    try:
        st.button("Cancel", key=cancel_key, icon=":material/stop:")
        bar = st.progress(0.0, text="Starting…")
        for i, job in enumerate(jobs):

            def tick(elapsed: float, i: int = i, job: Job = job) -> None:
                if interrupt.waiting():
                    raise _Cancelled
                share = min(elapsed / expected_s, 0.99) if expected_s else i / len(jobs)
                bar.progress(share, text=f"{job.label}: {elapsed:.0f} s (case {i + 1} of {len(jobs)})")

            keep(device, job.case, job.n, scaling.run_case(job.task, timeout=timeout, tick=tick))
            done += 1
        bar.progress(1.0, text=f"Measured {len(jobs)} case(s).")
    except _Cancelled:
        st.session_state[STOPPED] = (
            f"Measurement stopped after {done} of {len(jobs)} case(s); the running one was ended and the rest were "
            "not started. What was measured is kept."
        )
    finally:
        lock.release()
    if STOPPED in st.session_state:
        # Redraw the whole page at once. Going on with this run and then the rerun the Cancel click queued (a fragment
        # rerun of the lesson) made Streamlit 1.67's frontend fail about one time in three ("Bad delta path index",
        # "'setIn' cannot be called on an ElementNode") and go blank; a full rerun from here did not, in 8 of 8.
        st.rerun()
    return done


@st.cache_data(show_spinner=False, max_entries=4)
def sdpa_kernel(device: str) -> str:
    """The ATen operator PyTorch's SDPA runs on ``device`` for the scaling lab's inputs."""
    return scaling.sdpa_kernel(device)


STOPPED = "l6c_stopped_note"  # session state: what the last cancelled measurement left


def stopped_note() -> str | None:
    """What the learner's last cancelled measurement left, if it was cancelled."""
    return st.session_state.get(STOPPED)


# ---------------------------------------------------------------------------------------------- decoding loop

DECODE_GROUPS = (mqa.DECODER.heads, 8, 1)  # multi-head, grouped (8 K/V heads, as Mistral 7B), multi-query


def decoding_times(device: str, context: int) -> dict[int, dict] | None:
    """The timed decoding loops kept for this context length, K/V heads → result; None until all are measured."""
    found = {g: stored(device, f"decode-{g}", context) for g in DECODE_GROUPS}
    return None if any(r is None for r in found.values()) else found  # type: ignore[return-value]


def time_decoding(device: str, context: int) -> bool:
    """Time the decoding loop for every K/V head count under the server-wide lock; False if the lock was busy."""
    lock = measurement_lock()
    if not lock.acquire(blocking=False):
        warn("Another measurement is running on this server right now (timings of two at once would measure each "
             "other). Try again in a minute.")  # fmt: skip
        return False
    try:
        with st.spinner("Decoding token by token with each cache…"):
            for g in DECODE_GROUPS:
                keep(device, f"decode-{g}", context, mqa.time_decoding(g, context))
    finally:
        lock.release()
    return True


def choose_many(key: str, label: str, options: dict[str, str], default: list[str], where: object = st) -> list[str]:
    """A multiselect showing ``options``' names (short name → name), kept in the URL by short name
    (``?<key>=sdpa&<key>=flash``; a comma-separated value is read too). Unknown names in a link are named and
    dropped. (Not a widget bound to the URL: that would write the displayed names into the address.)
    """
    raw = [part for value in st.query_params.get_all(key) for part in value.split(",") if part]
    if key not in st.session_state:
        known = [c for c in raw if c in options]
        st.session_state[key] = list(dict.fromkeys(known)) if raw else list(default)
        unknown = [c for c in raw if c not in options]
        if unknown:
            warn(f"The link asks for {', '.join(f'“{c}”' for c in unknown[:5])}, which this page does not "
                 "measure: left out.")  # fmt: skip
    chosen = where.multiselect(label, list(options), key=key, format_func=options.get)  # type: ignore[attr-defined]
    if chosen == list(default):
        if key in st.query_params:
            del st.query_params[key]  # the default stays out of the link
    elif st.query_params.get_all(key) != chosen:
        st.query_params[key] = chosen
    return chosen
