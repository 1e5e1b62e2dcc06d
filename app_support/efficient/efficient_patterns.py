"""The sparse patterns' own parts of the variant page: what a pattern drops, buckets, strides, windows, hops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from torch import Tensor

from app_support.kit import charts, steps
from app_support.kit.sentence import md_escape
from attnviz import plots
from attnviz.efficient import REGISTRY, anatomy, compare
from attnviz.host import to_host

# ---------------------------------------------------------------------------------------------- patterns


def dropped_section(run: compare.Run, labels: list[str]) -> None:
    steps.step("What the pattern drops, row by row")
    per_row = to_host(anatomy.mass_dropped_per_row(run.exact.weights, run.pattern))
    charts.chart(
        plots.bars(labels, per_row, title="Exact attention weight outside the pattern", value_name="weight dropped",
                   highlight=[int(per_row.argmax())], height=320,
                   reference=("mean", float(per_row.mean()))),
        key="l6_dropped", name="attention dropped",
    )  # fmt: skip
    worst = int(per_row.argmax())
    if not anatomy.weight_outside(run.exact.weights, run.pattern):
        st.caption(
            f"The pattern covers every pair of your {len(labels)} tokens: nothing is dropped, and the variant is "
            "exact attention here. A longer sentence, or smaller settings, leaves pairs out."
        )
        return
    st.caption(
        f"On average {per_row.mean():.1%} of a row's weight is outside the pattern "
        f"(1 − the {run.comparison.approx.mass_kept:.1%} it keeps); the worst row, "
        f"“{md_escape(labels[worst])}”, loses {per_row[worst]:.1%}."
    )
    st.caption(
        "That is why the table's KL(exact‖variant) is ∞: a key the exact map weighs p > 0 gets exactly 0 from "
        "the pattern, and p·log(p/0) is infinite. (Elsewhere the KL reads variant weights below 1e-9 as 1e-9.)"
    )


def reformer_section(run: compare.Run, knobs: dict, labels: list[str], q: Tensor) -> None:
    """Which bucket each token falls in, and whether tokens whose queries point the same way share one.

    Args:
        q: (T, Dh) the head's queries (the keys are these at unit length).
    """
    steps.step("Which bucket each token falls in")
    approx = run.approx
    buckets = approx.buckets  # (R, T)
    n_buckets, n_rounds, t = int(knobs["buckets"]), int(knobs["rounds"]), len(labels)
    charts.chart(
        plots.token_buckets(labels, buckets, title=f"{n_buckets} buckets, {n_rounds} round(s) of hashing",
                            n_buckets=n_buckets),
        key="l6_bucket_map", name="lsh buckets",
    )  # fmt: skip
    chunk = int(approx.chunk_size)
    st.caption(
        f"Each round sorts your {t} tokens by bucket and cuts the sorted line into chunks of c = {chunk} "
        f"(⌈2·{t}/{n_buckets}⌉, at most {t}). A token attends to the tokens of its own bucket in its chunk and in "
        "the chunk before, in any round; a token alone there attends to itself. More rounds give a missed pair "
        "another chance."
    )
    pairs = anatomy.bucket_pairs(q, buckets)
    iu = np.triu_indices(t, k=1)
    order = np.argsort(-pairs.cosine[iu], kind="stable")[:8]
    if order.size:
        rows = [(iu[0][i], iu[1][i]) for i in order]
        table = pd.DataFrame(
            {
                "token": [labels[a] for a, _ in rows],
                "token ": [labels[b] for _, b in rows],
                "cosine of their queries": [f"{pairs.cosine[a, b]:.2f}" for a, b in rows],
                "same bucket in": [f"{pairs.rounds_shared[a, b]} of {n_rounds} round(s)" for a, b in rows],
            }
        )
        st.markdown("**Similar queries, same bucket: the most similar pairs of your sentence**")
        st.dataframe(table, key="l6_bucket_pairs", hide_index=True)
    said = []
    if pairs.same_mean is not None and pairs.apart_mean is not None:
        closer = "higher" if pairs.same_mean > pairs.apart_mean else "not higher"
        said.append(
            f"Pairs that share a bucket in some round have a mean query cosine of {pairs.same_mean:.2f}; pairs "
            f"never in the same bucket, {pairs.apart_mean:.2f}: {closer}."
        )
    elif pairs.same_mean is not None:
        said.append(f"Every pair of your {t} tokens shared a bucket in at least one of the {n_rounds} round(s).")
    twins = [(a, b) for a, b in zip(*iu, strict=True) if pairs.cosine[a, b] > 1 - 1e-6]
    if twins:
        a, b = twins[0]
        said.append(
            f"The hash sees only directions: “{md_escape(labels[a])}” and “{md_escape(labels[b])}” have the same "
            f"query, so they share a bucket in every round ({len(twins)} such pair(s) here); the chunks can still "
            "keep them apart."
        )
    if said:
        st.caption(" ".join(said))
    kept = run.comparison.approx.mass_kept or 0.0
    chance = anatomy.uniform_share(run.pattern, run.exact_mask)
    versus = f"beats chance by {100 * (kept - chance):.1f} points" if kept > chance else "is no better than chance"
    peak = float(run.exact.weights.max(dim=-1).values.mean())
    st.caption(
        f"The buckets keep {kept:.1%} of the exact shared-QK weight; uniform attention puts {chance:.1%} on the "
        f"same cells: the hash's choice {versus}. The exact shared-QK map is flat here: a row's largest "
        f"weight is {peak:.2f} on average, against {1 / max(t - 1, 1):.2f} if all {max(t - 1, 1)} other keys "
        "weighed the same. These queries were not trained to be shared with the keys."
    )


# ---------------------------------------------------------------------------------------------- Sparse Transformer


def sparse_section(run: compare.Run, labels: list[str]) -> None:
    steps.step("Both directions here; the paper looks back only")
    kwargs = run.settings.kwargs
    t = len(labels)
    stride, pattern = int(kwargs["stride"]), str(kwargs["pattern"])
    reach = anatomy.sparse_reach(t, pattern, stride)
    st.caption(
        f"The Sparse Transformer is a decoder: a token sees only earlier keys. Your heads are an encoder's, so the "
        f"pattern here reaches both ways, as the formula says: with the {pattern} pattern and l = {stride}, the "
        f"last token, “{md_escape(labels[-1])}”, sees {reach.last_row} of {t} keys, and all rows together see "
        f"{reach.both} of {t * t} pairs. The paper's causal version keeps the {reach.causal} of them with s ≤ t."
    )


# ---------------------------------------------------------------------------------------------- Longformer


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


# ---------------------------------------------------------------------------------------------- BigBird


def bigbird_section(run: compare.Run, labels: list[str]) -> None:
    steps.step("Why global and random blocks: the theory")
    kwargs = run.settings.kwargs
    t = len(labels)
    hops = anatomy.bigbird_hops(t, kwargs)

    def layers(n: int | None) -> str:
        return "never (some token is cut off)" if n is None else ("1 layer" if n == 1 else f"{n} layers")

    st.markdown(
        "Zaheer et al. prove two things about BigBird's pattern, both resting on the **global tokens**: with at "
        "least one token that attends to all and that all attend to, a sparse-attention encoder is a universal "
        "approximator of continuous sequence-to-sequence functions, as full attention is; and the encoder–decoder "
        "is Turing complete (with arbitrary precision, as the proof for full attention assumes). The **random "
        "blocks** are not needed for either theorem; they are motivated by graph theory: in a random graph the "
        "shortest path between two nodes is typically only O(log n) steps long, so information crosses the "
        "sequence in few layers. The paper also proves a limit: a task that one layer of full attention solves "
        "needs about n layers (up to log factors) with any sparse pattern of about n pairs."
    )
    st.caption(
        f"On your {t} tokens (blocks of {int(kwargs['block_size'])}): information reaches every token from every "
        f"other in {layers(hops.pattern)} with this pattern; without the global block, in {layers(hops.no_global)}; "
        f"with the window alone, in {layers(hops.window)}. BigBird's published models were pretrained on inputs "
        "of 4,096 tokens; the cost grows linearly with the length, but no published BigBird was trained on millions."
    )
    if hops.pattern == 1:
        st.caption(
            f"In 1 layer means the pattern covers every pair of your {t} tokens: at this length BigBird is exact "
            "attention. Smaller blocks, or a longer sentence, show the difference."
        )


# ---------------------------------------------------------------------------------------------- Nyströmformer


def figure(x: float) -> str:
    """A number to two decimals, or, when that would read 0.00 or −0.00, to its first two significant digits:
    −0.54 → "−0.54", −0.00012 → "−0.00012", 3e-7 → "3e-07"; a leading minus sign is "−"."""
    text = f"{x:.2f}" if abs(x) >= 0.005 or x == 0 else f"{x:.2g}"
    return "−" + text[1:] if text.startswith("-") else text


def _sums(low: float, high: float) -> str:
    """A range of row sums, to six decimals ("… in every row" when both ends read the same)."""
    a, b = f"{low:.6f}", f"{high:.6f}"
    return f"{a} in every row" if a == b else f"between {a} and {b}"


def nystrom_section(run: compare.Run, labels: list[str], q: Tensor, k: Tensor, v: Tensor) -> None:
    """The landmarks, when m = T is exact, and the rows of F·A⁺·B against a softmax's (Xiong et al., 2021).

    Args:
        q, k, v: (T, Dh) the head's queries, keys and values, as the page ran them.
    """
    steps.step("The landmarks are segment means")
    t, kwargs = len(labels), run.settings.kwargs
    m = int(kwargs["n_landmarks"])
    segments = anatomy.landmark_segments(t, m)
    table = pd.DataFrame(
        {
            "landmark": [str(j + 1) for j in range(m)],
            "tokens averaged": [" · ".join(labels[i] for i in seg) for seg in segments],
            "positions": [f"{seg.start + 1}–{seg.stop}" if len(seg) > 1 else str(seg.start + 1) for seg in segments],
        }
    )
    st.dataframe(table, key="l6_landmarks", hide_index=True)
    top = max(int(x) for x in REGISTRY["nystrom"].knob("landmarks").values)
    # m = T: every landmark is one token, F = A = B = P and F·A⁺·B = P·P⁺·P = P (a property of any pseudo-inverse)
    exact_at_t = (
        f"With one token per stretch (m = T = {t}, which the knob reaches here) F = A = B = the exact map P, and "
        "P·P⁺·P = P: exact, with an exact pseudo-inverse."
        if t <= top
        else f"The knob stops at m = {top}, below your {t} tokens: no setting here gives one token per stretch "
        "(m = T, where F = A = B = the exact map P and P·P⁺·P = P would be exact)."
    )
    st.caption(
        f"Nothing is sampled or learned: your {t} tokens are cut into {m} stretches that follow each "
        "other, and a landmark query is the plain mean of the queries of one stretch (a landmark key, the mean of "
        "its keys). The three small softmax matrices see the tokens only through these averages and their own "
        f"queries and keys. {exact_at_t}"
    )
    rows = anatomy.nystrom_rows(q, k, v, kwargs)
    iterations = int(kwargs.get("pinv_iterations", 6))
    negative = (
        f"The most negative weight of F·A⁺·B here is {figure(rows.lowest)}: a key weighed against, which a "
        "softmax never does."
        if rows.lowest < 0
        else f"No weight of F·A⁺·B is negative here (the smallest is {figure(rows.lowest)}); other settings and "
        "sentences give negative ones."
    )
    exact_ones = abs(rows.exact_sum_low - 1) < 1e-6 and abs(rows.exact_sum_high - 1) < 1e-6
    sums = (
        f"Its rows sum to {_sums(rows.sum_low, rows.sum_high)}, with the page's {iterations} iterations of the "
        f"inverse. F, A and B are softmaxes (rows summing to 1) and A·1 = 1, so with an exact inverse every row sums "
        f"to 1: torch.linalg.pinv in float64 gives {_sums(rows.exact_sum_low, rows.exact_sum_high)}"
        + (
            "; only the iteration drifts."
            if exact_ones
            else ", not exactly 1: A is nearly singular here, and its pseudo-inverse is not an inverse."
        )
        + f" With the exact inverse the most negative weight is {figure(rows.exact_lowest)}."
    )
    st.caption(f"{negative} {sums}")
