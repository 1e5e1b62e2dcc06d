"""Pieces shared by pages 5b and 5c: the census table, and answers that survive a question being hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

if TYPE_CHECKING:
    from attnviz.census import HeadCensus as Census  # as `app_support.cached.census` returns it: numpy fields

_KEPT = "_kept_answer_"


def census_table(census: Census) -> pd.DataFrame:
    """One row per layer: where its heads' weight goes on average, and how many heads look mostly next door."""
    n_layers = census.neighbours.shape[0]
    return pd.DataFrame(
        {
            "itself": [f"{v:.0%}" for v in census.itself.mean(axis=1)],
            "next-door tokens (±1)": [f"{v:.0%}" for v in census.neighbours.mean(axis=1)],
            "next-door, by head": [
                f"{lo:.0%} to {hi:.0%}"
                for lo, hi in zip(census.neighbours.min(axis=1), census.neighbours.max(axis=1), strict=True)
            ],
            "[CLS] and [SEP]": [f"{v:.0%}" for v in census.special.mean(axis=1)],
            "elsewhere": [f"{v:.0%}" for v in census.elsewhere.mean(axis=1)],
            "heads over 50% next door": [f"{int(n)} of {census.neighbours.shape[1]}" for n in census.heads_over_half],
        },
        index=pd.Index([f"layer {i + 1}" for i in range(n_layers)], name="layer"),
    )


def kept_answer(key: str, ask: Callable[[], bool]) -> bool:
    """Run a "predict first" question (``ask`` draws it) so that its answer outlives a run where it was not drawn.

    Streamlit forgets a widget's value when a run does not draw it, so a bad edit that hides a question would
    otherwise ask it again once the edit is fixed. The answer is copied to a plain key and put back.
    """
    store = _KEPT + key
    if st.session_state.get(key) is None and st.session_state.get(store) is not None:
        st.session_state[key] = st.session_state[store]
    answered = ask()
    if st.session_state.get(key) is not None:
        st.session_state[store] = st.session_state[key]
    return answered
