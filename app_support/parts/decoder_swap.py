"""Lesson 7's swap: lesson 6's causal variants in all the decoder's layers, judged by next-token loss on the
learner's text and by whether the top next token changes (compute: `attnviz.decoder.swap`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from app_support.data import decoder_cached
from app_support.kit import tables
from app_support.kit.widgets import EDIT, linked
from attnviz.decoder.swap import VARIANTS
from attnviz.decoder.tokens import encode

if TYPE_CHECKING:
    from attnviz.decoder.model import Model
    from attnviz.decoder.swap import DecoderSwap, Swapped

FULL_KEEPS = "every earlier token"


def swap_table(result: DecoderSwap) -> pd.DataFrame:
    """One row for full attention, one per variant: its loss and perplexity and its top next token first (a narrow
    screen shows them without scrolling), then what it reads and keeps."""
    full = result.full
    rows = (full, *result.rows)
    t = len(result.tokens)
    return pd.DataFrame(
        {
            "mean loss (nats)": [f"{r.loss:.4f}" for r in rows],
            "loss − full": [f"{r.loss - full.loss:+.4f}" for r in rows],
            "perplexity": [f"{r.curve.perplexity:.2f}" for r in rows],
            "top next token": [repr(r.next_text) for r in rows],
            "next token changed": ["" if r.variant is None else ("yes" if r.next_changed else "no") for r in rows],
            f"top prediction changed (of {t} positions)": [
                "" if r.variant is None else f"{r.changed_share:.0%}" for r in rows
            ],
            "causal pairs read": [f"{r.pairs_kept:.0%}" for r in rows],
            "keeps": [FULL_KEEPS if r.variant is None else r.variant.keeps for r in rows],
            "source": ["" if r.variant is None else r.variant.source for r in rows],
        },
        index=["full attention (exact)", *(r.variant.label for r in result.rows)],
    )


def _compared(a: Swapped, b: Swapped) -> str:
    return "lower than" if a.loss < b.loss else ("higher than" if a.loss > b.loss else "equal to")


def _findings(result: DecoderSwap, heads: int) -> str:
    """What the table shows on this text, each figure read from it."""
    full, flash = result.full, result.row("flash")
    strided, window, mqa = result.row("strided"), result.row("window"), result.row("mqa")
    l_ = result.stride
    return (
        f"FlashAttention's loss differs from full attention's by {abs(flash.loss - full.loss):.1e} nats, float "
        "rounding: it computes the same sum tile by tile (Dao et al., 2022); what it saves is memory and, on a GPU, "
        "time, not measured here. The strided pattern reads the window's last "
        f"{l_} tokens and every token a multiple of {l_} back: its loss here is {_compared(strided, window)} the "
        f"window alone's ({strided.loss:.3f} against {window.loss:.3f} nats). Pooling the {heads} key/value heads "
        f"of every layer into one, without retraining, moved the loss by {mqa.loss - full.loss:+.3f} nats and "
        f"changed the top prediction at {mqa.changed_share:.0%} of the positions; the GQA paper (Ainslie et al., "
        "2023, Section 2.1 and abstract) converts a checkpoint this way and then uptrains it with 5% of the "
        "original pre-training compute, which is not done here."
    )


def swap_section(model: Model, text: str) -> None:
    """The step's prose, its toggle, the table of full attention and every variant on the text, and what it shows."""
    c = model.config
    t = len(encode(model, text))
    st.markdown(
        f"Page 6b swapped each variant into every layer of an encoder, MiniLM, and judged it by what an encoder is "
        f"for: how far a sentence embedding moves. A decoder is for the next token, so here each variant replaces "
        f"the attention of all {c.n_layers} layers of this model ({c.n_layers * c.n_heads} query heads), and is "
        "judged by the next-token loss on your text (−ln of the probability it gave each next token of the text; "
        "perplexity is e to the mean loss: lower is better) and by whether the top next token changes. The model "
        "was trained with full causal attention and is not retrained for any of them. This is one text, not a "
        "benchmark."
    )
    if t < 2:
        st.info(
            "Your text is a single token: there is no next token of the text to predict, so no loss to compare. "
            "Type a longer text, or pick a paragraph from the sidebar's ready texts.",
            icon=EDIT,
        )
        return
    passes = 1 + len(VARIANTS)
    if not linked(
        st.toggle,
        f"Measure it ({passes} passes of the model over your text)",
        key="dec_swap_run",
        help="Full attention, then each variant in all layers: a few seconds for a short text, more for a paragraph.",
    ):
        st.caption(f"Turn on the measurement above to compare full attention with {len(VARIANTS)} variants.")
        return
    with st.spinner(f"Reading your text {passes} times…"):
        result = decoder_cached.swap(model, text)
    tables.table(swap_table(result), key="dec_swap_table")
    st.caption(
        f"l = round(√T) = {result.stride} for your {t} tokens, the Sparse Transformer's stride “close to √n” (Child "
        f"et al., 2019, Section 4.3), and the window is as wide. The loss is the mean over the {t - 1} predictions "
        f"of the text's next tokens; the top next token is the one after the text. {_findings(result, c.n_kv_heads)}"
        " A window that also keeps the first tokens (StreamingLLM) is measured in the section on attention sinks "
        "above. The Sparse Transformer's and the GQA paper's models were trained (or uptrained) with their "
        "attention; this one meets each variant untrained."
    )


__all__ = ["swap_section", "swap_table"]
