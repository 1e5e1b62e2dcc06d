"""Page 4's notes on the attention each word receives: what an even split would give MiniLM's words, and the
claim about "please" judged on the real model, with what attention received is not (Jain & Wallace; Wiegreffe &
Pinter, 2019)."""

from __future__ import annotations

import streamlit as st
import torch

from app_support.kit.sentence import md_escape


def even_note(names: list[str], even: torch.Tensor) -> str:
    """What an even split would give each of MiniLM's words, as `even_received` measures it (a word of several pieces
    receives what all its pieces receive, and its row is the mean of its pieces' rows)."""
    if bool((even - 1).abs().max() < 1e-6):
        return "Without a mask, an even split would give every word exactly 1 (each is one piece for MiniLM)."
    more = [f"“{md_escape(names[i])}” {float(even[i]):.2f}" for i in range(len(names)) if float(even[i]) > 1 + 1e-6]
    return (
        "MiniLM reads some words as several pieces; a word receives what all its pieces receive, and its own row is "
        "the mean of its pieces' rows. So an even split would not give every word 1: here it would give "
        + ", ".join(more[:5])
        + (f" and {len(more) - 5} more" if len(more) > 5 else "")
        + f", and {float(even.min()):.2f} to a word of one piece. No even-split line is drawn."
    )


CLAIM = (
    "A claim made about this kind of question: a language model attends to “what”, “likely”, “pet” and "
    "“household” more than to “please”. "
)
# Jain & Wallace, "Attention is not Explanation" (NAACL 2019), sections 4.1-4.2 (BiLSTM and other encoders
# with attention, on classification, QA and NLI): weights often disagree with gradient and leave-one-out
# importance, and very different weights can give the same prediction. Wiegreffe & Pinter, "Attention is not
# not Explanation" (EMNLP 2019): whether attention explains a prediction depends on what explanation means,
# and must be tested, not assumed.
CAVEAT = (
    " Attention a word receives is not the same as its importance to the answer: Jain & Wallace (2019) found "
    "attention weights often disagreeing with gradient and leave-one-out measures of a word's importance, and "
    "very different weights giving the same prediction; Wiegreffe & Pinter (2019) answered that whether attention "
    "explains a prediction depends on what is meant by explaining, and has to be tested, not assumed."
)


def claim_check(where: str, lower: dict[str, float], focus: list[str]) -> None:
    """The article's claim about "please", judged on the real model only, with what attention received is not."""
    if where != "minilm":
        st.info(
            CLAIM + "The weights A above come from GloVe vectors and the matrices chosen at the top of this page, "
            "not from a language model, so they cannot test it: choose MiniLM above." + CAVEAT,
            icon=":material/fact_check:",
        )
        return
    above = [w for w in focus if lower[w] > lower["please"]]
    below = [w for w in focus if lower[w] <= lower["please"]]
    verdict = (
        "It holds for every one of them." if not below
        else "It does not hold for " + ", ".join(f"“{w}”" for w in below)
        + (": " + ", ".join(f"“{w}”" for w in above) + " do receive more." if above else ": none receives more.")
    )  # fmt: skip
    st.info(
        CLAIM + "Measured on all-MiniLM-L6-v2 (a 6-layer encoder of 72 heads, averaged here; not the chat model the "
        f"claim is about), “please” receives {lower['please']:.2f}; "
        + ", ".join(f"“{w}” {lower[w]:.2f}" for w in focus) + ". " + verdict + CAVEAT,
        icon=":material/fact_check:",
    )  # fmt: skip
