"""Lesson 7's check of the article's claim on a decoder: the weight each word of the learner's text gets from the
last position (where the next word is predicted) and over the whole text, averaged over every head, with the first
token's sink and what attention weight is not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from app_support.data import decoder_cached
from app_support.kit import charts, sentence
from app_support.kit.sentence import md_escape
from app_support.parts.received_notes import CAVEAT, CLAIM
from attnviz import plots
from attnviz.claim import FOCUS, OTHER

if TYPE_CHECKING:
    from attnviz.claim import WordWeights
    from attnviz.decoder.model import Model

SHOWN = 20  # longer texts: the words the last position weighs most
QUESTION = "Please, GPT, can you tell me what is the most likely pet in a household?"  # the article's question


def _q(word: str) -> str:
    return f"“{md_escape(word)}”"


def claim_section(model: Model, text: str, heads: int) -> None:
    """The words' bars, then the claim judged where the text has "please" and one of the focus words."""
    ww = decoder_cached.word_weights(model, text)
    if not ww.words:
        st.info("Your text has no words (letters or digits) to weigh.", icon=":material/info:")
        return
    order = list(range(len(ww.words)))
    if len(order) > SHOWN:
        order = sorted(order, key=lambda i: -ww.from_last[i])[:SHOWN]
    labels = [f"{ww.words[i]} ·{i + 1}" for i in order]  # a word's place tells repeats apart
    charts.chart(
        plots.grouped_bars(
            labels,
            {"from the last position": ww.from_last[order], "received, per row that sees it": ww.received[order]},
            title=f"Weight on each word, mean of all {heads} heads"
            + (f" (the {SHOWN} weighed most from the last position)" if len(ww.words) > SHOWN else ""),
            value_name="weight",
            height=max(320, 34 * len(order) + 140),
        ),
        key="dec_claim",
        name="weight per word",
        csv=(
            np.stack([ww.from_last, ww.received], axis=1),
            [f"{w} ·{i + 1}" for i, w in enumerate(ww.words)],
            ["from the last position", "received, per row that sees it"],
        ),
    )
    st.caption(
        "A word of several tokens gets what all its tokens get; punctuation is no word. From the last position: the "
        "last token's row, where the model predicts the next word (its weights, punctuation included, add up to 1). "
        "Received: what the word gets on average from the rows allowed to see it, that is, from itself and every "
        f"token after it. The text's first token alone gets {ww.first_share:.0%} of the last position's weight: the "
        "sink of the section above."
    )
    _verdict(ww, text)


def _verdict(ww: WordWeights, text: str) -> None:
    """The claim judged on this text, or a way to try it on the article's question."""
    please = ww.find(OTHER)
    focus = [(w, i) for w in FOCUS if (i := ww.find(w)) is not None]
    if please is None or not focus:
        st.info(
            CLAIM + "Your text lacks “please” or the four words, so it cannot test it here.",
            icon=":material/fact_check:",
        )
        sentence.try_button(
            "Use the article's question", QUESTION, key="dec_claim_try",
            help="Puts the question in the sidebar box (every lesson uses it).",
        )  # fmt: skip
        return
    got = ", ".join(f"{_q(ww.words[i])} {ww.from_last[i]:.3f}" for _, i in focus)
    said = f"From the last position, on this model: {_q(ww.words[please])} {ww.from_last[please]:.3f}; {got}. "
    below = [ww.words[i] for _, i in focus if ww.from_last[i] <= ww.from_last[please]]
    said += (
        "Every one of them gets more than “please”. "
        if not below
        else "The claim does not hold for " + ", ".join(_q(w) for w in below) + ". "
    )
    if 0 in ww.positions[please]:
        rest = [i for i in range(len(ww.words)) if i != please]
        ranked = sorted(rest, key=lambda i: -ww.from_last[i])
        places = ", ".join(f"{_q(ww.words[i])} {ranked.index(i) + 1}" for _, i in focus)
        said += (
            # Xiao et al. 2023 (StreamingLLM), Section 3.1: replacing the first four tokens with "\n" restores the
            # window's perplexity, so "the absolute position of the starting tokens, rather than their semantic
            # value, holds greater significance"
            f"But {_q(ww.words[please])} is the first token, which here takes {ww.first_share:.0%} of the last "
            "position's weight (the sink of the section above). StreamingLLM (Xiao et al., 2023, Section 3.1) found "
            "that the first tokens draw such weight for their position, not their meaning: so this weight says where "
            f"{_q(ww.words[please])} stands rather than what it means. Among the other "
            f"{len(rest)} words, by weight from the last position, the four rank: {places} "
            f"(the most: {_q(ww.words[ranked[0]])}, {ww.from_last[ranked[0]]:.3f})."
        )
    st.info(CLAIM + said + CAVEAT, icon=":material/fact_check:")
