"""Longformer's own part of the variant page: dilated windows, global tokens, and how long an input it reads."""

from __future__ import annotations

import streamlit as st

from app_support.efficient.efficient_sections import Extras
from app_support.kit import charts, steps
from app_support.kit.sentence import md_escape
from attnviz import plots
from attnviz.efficient import REGISTRY, anatomy, compare


def global_tokens_note(glob: tuple[int, ...], labels: list[str], source: str) -> str:
    """Whose the global tokens are: the learner's first words (GloVe), or with the real model the tokenizer's
    [CLS] (always position 0), the learner's first pieces, and [SEP] (the last position) if the globals reach it."""
    if not glob:
        return ""
    if source != "real":  # the GloVe toy: every token is a word of the learner's text
        return " (your first word)" if len(glob) == 1 else f" (your first {len(glob)} words)"
    t = len(labels)
    yours = sum(1 for g in glob if 0 < g < t - 1)
    parts = ["[CLS], the token the tokenizer puts before your text"]
    if yours:
        parts.append(f"your first {yours} piece{'s' if yours > 1 else ''}")
    if t > 1 and t - 1 in glob:
        parts.append("[SEP], the one it puts after your text")
    return " (" + (parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + "; and " + parts[-1]) + ")"


def longformer_section(run: compare.Run, labels: list[str], source: str) -> None:
    steps.step("Dilated windows, global tokens, and how long")
    kwargs = run.settings.kwargs
    window, glob, now = int(kwargs["window"]), tuple(kwargs["global_tokens"]), int(kwargs.get("dilation", 1))
    dilations = REGISTRY["longformer"].knob("dilation").values
    kept = anatomy.dilation_kept(run.exact.weights, window, glob, dilations)  # type: ignore[arg-type]
    charts.chart(
        plots.bars([f"d = {d}" for d in dilations], kept, title=f"Exact weight kept by a window of w = {window} "
                   "at each dilation", value_name="weight kept", highlight=[dilations.index(now)], height=280),
        key="l6_dilation_kept", name="dilation",
    )  # fmt: skip
    reach = (window // 2) * now
    tokens = "token" if reach == 1 else "tokens"
    st.caption(
        f"With dilation d = {now} the window's {2 * (window // 2) + 1} positions lie {now} apart and reach "
        f"{reach} {tokens} to each side. On the exact map above the cells outside this pattern are grey; it keeps "
        f"{kept[dilations.index(now)]:.1%} of the weight (d = 1: {kept[0]:.1%}). Same cost, wider reach, with "
        "holes. In the paper's character-level language models, only 2 heads of the upper layers are dilated; "
        "the lower layers keep d = 1."
    )
    names = ", ".join(f"“{md_escape(labels[g])}”" for g in glob) if glob else "none"
    st.caption(
        f"Global tokens here: {names}{global_tokens_note(glob, labels, source)}. The paper chooses them for the "
        "task: [CLS] for classification, the question's tokens for question answering."
    )
    # Beltagy et al. (2020), section 6 (Longformer-Encoder-Decoder, arXiv summarization at 16K tokens); the released
    # checkpoints' model cards: allenai/longformer-base-4096 and -large-4096 "support sequences of length up to
    # 4,096"; allenai/led-base-16384 "to be able to process 16K tokens" (BART's position table copied 16 times)
    st.caption(
        "The cost grows linearly with the length at a fixed window, so the mechanism itself runs on very long "
        "inputs; the released Longformer encoders read up to 4,096 tokens, its encoder–decoder (LED) up to 16,384, "
        "which the paper fine-tunes on whole arXiv papers. None was trained on millions."
    )


PART = Extras(section=lambda v: longformer_section(v.run, v.labels, v.reading.source), charts=("l6_dilation_kept",))
