"""The one sentence box the whole app shares, kept in the URL so that a link or a reload reproduces it."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

KEY = "sentence"  # session-state key of the sidebar box, and the URL's query parameter
NOTE_KEY = "sentence_note"
DEFAULT = "I walked by the river bank"
MAX_CHARS = 300  # longer text is cut, with a note: the lessons' pictures stop being readable well before
PRESETS: list[str] = json.loads((Path(__file__).parent.parent / "assets" / "presets.json").read_text())


def clean(raw: object) -> tuple[str, str]:
    """A sentence fit for the lessons, and a note for the learner when something was changed."""
    text = raw if isinstance(raw, str) else ""
    text = " ".join(text.split())  # newlines, tabs and runs of spaces become one space
    if len(text) > MAX_CHARS:
        return text[:MAX_CHARS], f"Your text was {len(text):,} characters long; the lessons use its first {MAX_CHARS}."
    return text, ""


def _store(raw: object) -> None:
    st.session_state[KEY], st.session_state[NOTE_KEY] = clean(raw)


def _on_edit() -> None:
    _store(st.session_state[KEY])


def _on_preset() -> None:
    choice = st.session_state.get("sidebar_preset")
    if choice:
        _store(choice)
    st.session_state["sidebar_preset"] = None


def sidebar_box() -> str:
    """Draw the sentence box and presets in the sidebar; return the current sentence."""
    if KEY not in st.session_state:
        _store(st.query_params.get(KEY, DEFAULT))
    st.sidebar.text_input(
        "Your sentence (page 5c has its own)",
        key=KEY,
        on_change=_on_edit,
        help=f"Type any sentence. Up to {MAX_CHARS} characters are used.",
    )
    st.sidebar.selectbox(
        "…or pick a ready one",
        PRESETS,
        index=None,
        key="sidebar_preset",
        on_change=_on_preset,
        placeholder="Choose a sentence",
    )
    if st.session_state.get(NOTE_KEY):
        st.sidebar.info(st.session_state[NOTE_KEY])
    sentence = st.session_state[KEY]
    if st.query_params.get(KEY) != sentence:
        st.query_params[KEY] = sentence
    return sentence


def current() -> str:
    """The sentence, for pages (the entry script has already drawn the box)."""
    return st.session_state.get(KEY, DEFAULT)
