"""Lesson 7's timed generation: the same greedy tokens generated with the KV cache and without it, on this server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from app_support.data import decoder_cached
from app_support.kit import tables

if TYPE_CHECKING:
    from attnviz.decoder.model import Model

N_NEW = 8  # tokens generated each way
SHORT = 64  # below this many tokens, the caption suggests a paragraph


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def timed_generation(model: Model, text: str) -> None:
    """A button that generates `N_NEW` tokens after the text twice, with the cache and without, and the table of
    what each way read and took per token (kept for the text: the next learner sees it without measuring)."""
    st.markdown(f"**Timed here: {N_NEW} tokens with the cache and without it**")
    found = decoder_cached.stored_timing(text, N_NEW)
    kept = found is not None  # measured before this run, by this learner or another
    if st.button(
        f"Generate {N_NEW} tokens both ways, timed",
        key="dec_time_cache",
        icon=":material/timer:",
        help="Runs the model on this server: a few seconds for a paragraph.",
    ):
        with st.spinner(f"Generating {N_NEW} tokens with the cache, then without it…"):
            found = decoder_cached.time_cache(model, text, N_NEW)
        kept = False
    if found is None:
        st.caption(
            "Not measured for this text yet. The button generates the same tokens twice (greedy): once reading only "
            "each new token against the cache, once reading the whole text again at every step."
        )
        return
    with_cache, without = found.per_token
    read_with, read_without = found.tokens_read
    n = len(found.with_cache)
    table = pd.DataFrame(
        {
            "tokens read": [f"{read_with:,}", f"{read_without:,}"],
            "per token (median)": [_ms(with_cache), _ms(without)],
            "first token": [_ms(found.with_cache[0]), _ms(found.without_cache[0])],
            "last token": [_ms(found.with_cache[-1]), _ms(found.without_cache[-1])],
            f"all {n}": [_ms(sum(found.with_cache)), _ms(sum(found.without_cache))],
        },
        index=["with the KV cache", "without: the whole text read again"],
    )
    tables.table(table, key="dec_time_table")
    where = f"{found.device}, {found.threads} thread{'s' if found.threads != 1 else ''}"
    st.caption(
        f"Measured on this server ({where}), one run each, after your {found.prompt_tokens} tokens; other work on "
        "the server can slow either run. "
        + (
            f"Per token the cache was {without / with_cache:.1f}× faster here. "
            if with_cache > 0 and without >= with_cache
            else "Here the cache was not faster per token. "
        )
        + f"Without a cache, step i reads all {found.prompt_tokens} + i tokens again through every layer; with one, "
        "it reads the new token alone and attends to the keys and values kept for the others, so the gap widens "
        "as the text grows"
        + (": a paragraph in the sidebar shows it best." if found.prompt_tokens < SHORT else ".")
        + (" Kept for this text: the button measures again." if kept else "")
    )
    if not found.same_tokens:  # greedy either way: a difference is a bug, and the learner is told
        st.warning("The two runs picked different tokens, which greedy decoding should not do: please report it.")
