"""Small shared pieces of page: friendly messages, the sentence's words, controls bound to the URL. (The "predict
first" question, which a live class answers too, is `app_support.classroom.predict`.)"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_support.compat import streamlit_compat
from app_support.data import loaders
from app_support.kit import links, sentence
from attnviz.embeddings import MAX_WORDS, Words, tokenize, vectors_for

if TYPE_CHECKING:
    import torch
    from gensim.models import KeyedVectors

EDIT = ":material/edit:"
T = TypeVar("T")


def warn(message: str, where: object = st) -> None:
    """A friendly warning; the message may quote learner text, so it is escaped."""
    where.warning(sentence.md_escape(message), icon=":material/info:")  # type: ignore[attr-defined]


def sentence_tokens(text: str, max_words: int = MAX_WORDS) -> Words:
    """The text as vocabulary words, with messages on the page for anything left out."""
    tokens = tokenize(text, loaders.glove(), max_words=max_words)
    if tokens.unknown:
        shown = ", ".join(f"“{w}”" for w in tokens.unknown[:12])
        more = f" and {len(tokens.unknown) - 12} more" if len(tokens.unknown) > 12 else ""
        warn(f"Not in the 400,000-word vocabulary, so left out: {shown}{more}.")
    if tokens.truncated:
        st.info(
            f"Your text has {len(tokens.words) + tokens.truncated} known words; the pictures use the first {max_words}."
        )
    return tokens


EMPTY = "The sentence box is empty. Type a sentence in the sidebar, or pick a ready one."


def text_or_stop(text: str) -> str:
    """The text, or, when it is empty, a message and the end of the page."""
    if not text.strip():
        st.warning(EMPTY, icon=EDIT)
        st.stop()
    return text


def need_words(text: str, tokens: Words, minimum: int = 1) -> bool:
    """Show a clear message and return False when the text (``tokens``: its words) has too few known words."""
    if len(tokens.words) >= minimum:
        return True
    if not text.strip():
        st.warning(EMPTY, icon=EDIT)
    else:
        st.warning(
            f"This part needs at least {minimum} word{'s' if minimum > 1 else ''} from the vocabulary; your "
            "sentence has " + (str(len(tokens.words)) if tokens.words else "none") + ". Try plain English words, "
            "for example “I walked by the river bank”.",
            icon=EDIT,
        )
    return False


class LessonSentence(NamedTuple):
    """The shared sentence as a lesson starts from it (`lesson_sentence`)."""

    kv: KeyedVectors  # the GloVe word vectors
    device: torch.device  # where the lesson computes
    tokens: Words  # the sentence's vocabulary words
    labels: list[str]  # one distinct label per word
    I: torch.Tensor  # (T, D) the words' vectors, one per row


def lesson_sentence(
    text: str, minimum: int = 1, *, on_device: bool = True, note: Callable[[Words], object] | None = None
) -> LessonSentence:
    """The preamble of a lesson on the learner's text: the word vectors, the device, the text's words (with
    messages for those left out) and their matrix I. Stops the page, with `need_words`' message, when the text
    has fewer than ``minimum`` known words.

    Args:
        on_device: I on the lesson's device; False keeps it on the CPU.
        note: called with the words before the check, for a message of the page's own.
    """
    kv, device = loaders.glove(), loaders.device()
    tokens = sentence_tokens(text)
    if note is not None:
        note(tokens)
    if not need_words(text, tokens, minimum):
        st.stop()
    I = vectors_for(kv, tokens.words, device if on_device else "cpu")  # (T, D)
    return LessonSentence(kv, device, tokens, list(tokens.labels), I)


def link_value(key: str) -> str | None:
    """What a shared link says for a setting bound to the URL (``bind="query-params"``), read before its widget is
    drawn: the widget silently drops a value it cannot use, and the learner should hear why."""
    dropped = st.session_state.pop(f"{_DROPPED}{key}", None)
    if dropped is not None:
        return dropped
    raw = st.query_params.get(key)
    if not isinstance(raw, str):
        return None
    if streamlit_compat.whole_number_seed_crashes(raw):
        # Streamlit 1.67 crashes (OverflowError) when it seeds a whole-number widget from "inf" or "1e309": take
        # the value out of the URL and run again, keeping it to tell the learner.
        with contextlib.suppress(StreamlitAPIException):  # already bound to its widget: the URL is not read again
            del st.query_params[key]
            st.session_state[f"{_DROPPED}{key}"] = raw
            st.rerun()
    return raw


_DROPPED = "_link_dropped_"


def check_link(raw: str | None, used: object, message: str, key: str | None = None) -> None:
    """Warn (``message``, escaped) when a link gave a setting a value that could not be used as it was; the link to
    this view then leaves the setting ``key`` out."""
    if raw is None:
        return
    if isinstance(used, bool):
        same = raw.strip().lower() == str(used).lower()  # a bound toggle is written "true" or "false"
    else:
        try:
            same = float(raw) == float(used)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            same = raw.strip() == str(used)
    if not same:
        warn(message)
        if key is not None:
            links.unused(key)


def linked(widget: Callable[..., T], label: str, *args: Any, key: str, **kwargs: Any) -> T:
    """Draw ``widget`` (e.g. ``st.slider`` or ``col.radio``) bound to the URL under ``key``, and warn when a link
    gave it a value it could not use (out of range, not one of the choices): the widget shows its default instead.

    Extra arguments go to the widget. Selections are compared by their shown text (``format_func``).
    """
    raw = link_value(key)
    value = widget(label, *args, key=key, bind="query-params", **kwargs)
    shown = kwargs["format_func"](value) if "format_func" in kwargs and value is not None else value
    if raw is not None:
        quoted = raw if len(raw) <= 40 else raw[:40] + "…"
        named = label.replace("$", "")  # a typeset label ($M_Q$) reads as plain text in the escaped warning
        message = f"This link sets “{named}” to “{quoted}”, which cannot be used here: showing {shown}."
        check_link(raw, shown, message, key)
    return value


def linked_choice(widget: Callable[..., Any], label: str, choices: Sequence[str], *, default: int, key: str) -> int:
    """One of ``choices`` (distinct texts, such as the sentence's word labels), bound to the URL by its text; returns
    its index. Offered by text rather than by position, so a choice that a new sentence no longer has falls back to
    ``default`` instead of pointing at another word."""
    options = list(choices)
    value = linked(widget, label, options, index=min(max(default, 0), len(options) - 1), key=key)
    return options.index(value) if value in options else min(max(default, 0), len(options) - 1)
