"""Small shared pieces of page: the "predict first" question, friendly messages, the sentence's words."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_support import loaders, sentence
from attnviz.embeddings import MAX_WORDS, Tokens, tokenize

EDIT = ":material/edit:"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|<>~$:])")  # what can start markdown, HTML, LaTeX or a :directive:


def md_escape(text: str) -> str:
    """Learner text inside markdown shows as typed: no links, images, emphasis or :colour[] directives."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def warn(message: str, where: object = st) -> None:
    """A friendly warning; the message may quote learner text, so it is escaped."""
    where.warning(md_escape(message), icon=":material/info:")  # type: ignore[attr-defined]


def predict_first(key: str, question: str, options: Sequence[str], correct: int | None, explain: str) -> bool:
    """Ask before revealing. Returns True once the learner has answered (or chose to skip).

    Args:
        key: widget key; the answer survives reruns and sentence changes.
        correct: index of the option that the live measurement makes right, or None when none is.
        explain: shown after the answer, whichever it was: what the measurement says.
    """
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


def sentence_tokens(max_words: int = MAX_WORDS) -> Tokens:
    """The shared sentence as vocabulary words, with messages on the page for anything left out."""
    text = sentence.current()
    tokens = tokenize(text, loaders.glove(), max_words=max_words)
    if tokens.unknown:
        shown = ", ".join(f"“{w}”" for w in tokens.unknown[:12])
        more = f" and {len(tokens.unknown) - 12} more" if len(tokens.unknown) > 12 else ""
        warn(f"Not in the 400,000-word vocabulary, so left out: {shown}{more}.")
    if tokens.truncated:
        st.info(
            f"Your sentence has {len(tokens.words) + tokens.truncated} known words; "
            f"the pictures use the first {max_words}."
        )
    return tokens


def need_words(tokens: Tokens, minimum: int = 1) -> bool:
    """Show a clear message and return False when the sentence has too few known words."""
    if len(tokens.words) >= minimum:
        return True
    if not sentence.current().strip():
        st.warning(
            "The sentence box is empty. Type a sentence in the sidebar, or pick a ready one.", icon=":material/edit:"
        )
    else:
        st.warning(
            f"This part needs at least {minimum} word{'s' if minimum > 1 else ''} from the vocabulary; your "
            "sentence has " + (str(len(tokens.words)) if tokens.words else "none") + ". Try plain English words, "
            "for example “I walked by the river bank”.",
            icon=EDIT,
        )
    return False


def link_value(key: str) -> str | None:
    """What a shared link says for a setting bound to the URL (``bind="query-params"``), read before its widget is
    drawn: the widget silently drops a value it cannot use, and the learner should hear why."""
    dropped = st.session_state.pop(f"{_DROPPED}{key}", None)
    if dropped is not None:
        return dropped
    raw = st.query_params.get(key)
    if not isinstance(raw, str):
        return None
    if _infinite(raw):
        # Streamlit 1.67 crashes (OverflowError) when it seeds a whole-number widget from "inf" or "1e309": take
        # the value out of the URL and run again, keeping it to tell the learner.
        with contextlib.suppress(StreamlitAPIException):  # already bound to its widget: the URL is not read again
            del st.query_params[key]
            st.session_state[f"{_DROPPED}{key}"] = raw
            st.rerun()
    return raw


_DROPPED = "_link_dropped_"


def _infinite(raw: str) -> bool:
    try:
        return math.isinf(float(raw))
    except ValueError:
        return False


def check_link(raw: str | None, used: object, message: str) -> None:
    """Warn (``message``, escaped) when a link gave a setting a value that could not be used as it was."""
    if raw is None:
        return
    try:
        same = float(raw) == float(used)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        same = raw.strip() == str(used)
    if not same:
        warn(message)
