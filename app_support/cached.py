"""Deterministic results worth keeping between reruns, keyed by their arguments (bounded)."""

from __future__ import annotations

import streamlit as st
from gensim.models import KeyedVectors

from attnviz.embeddings import ClaimCheck, check_noun_claim


@st.cache_data(show_spinner=False, max_entries=64)
def noun_claim(_kv: KeyedVectors, nouns: tuple[str, ...], verbs: tuple[str, ...], kind: str) -> ClaimCheck:
    """The claim check over two word lists (the vectors never change, so they are not part of the key)."""
    return check_noun_claim(_kv, nouns, verbs, kind)
