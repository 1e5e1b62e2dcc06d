"""Lesson 4: softmax and scaling — softmax(Q·Kᵀ/√d)·V step by step, temperature, the causal mask, why √d."""

import math

import pandas as pd
import streamlit as st
import torch

from app_support.classroom.predict import predict_first
from app_support.data import cached, loaders
from app_support.kit import charts, sentence, steps, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import lesson_sentence, linked, linked_choice
from app_support.parts import paragraph_view, received_notes
from attnviz import plots
from attnviz.attention import (
    ONE_HOT,
    attention_received,
    causal_mask,
    even_split,
    scaled_dot_product,
    softmax_stats,
    top_weight_curve,
)
from attnviz.claim import FOCUS
from attnviz.labels import unique_labels
from attnviz.pretrained.measures import even_received
from attnviz.projections import identity_projections, project, random_projections

TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

st.title("4 · Softmax and scaling")
st.markdown(
    "Page 3's scores are raw: any size, any sign, and a row does not add up to anything in particular. "
    "Attention divides them by √d (d is the dimension of a query: how many numbers it holds), then **softmax** "
    "turns each row into weights: "
    "e to the power of each score, divided by the row's total. Every weight lies between 0 and 1 (a pair that a "
    "mask forbids gets exactly 0, below) and each row sums to 1, so the new vector is a true average of the values."
)
st.latex(r"O = \mathrm{softmax}\!\left(\frac{Q\,K^\top}{\sqrt{d}\;\tau}\right) V")

text = sentence.current()
_, device, tokens, labels, I = lesson_sentence(text, 2)  # I: (T, 50)
n = len(labels)
d = I.shape[1]

c1, c2 = st.columns([1, 2])
source = linked(
    c1.radio,
    "$M_Q$, $M_K$, $M_V$",
    ["identity", "random"],
    format_func={"identity": "identity", "random": "random (seed 0)"}.get,
    key="soft_proj",
    horizontal=True,
)
c2.caption(
    f"$Q = I M_Q$, $K = I M_K$, $V = I M_V$, as on page 3: I is your sentence's {n} GloVe vectors and the matrices "
    f"are the ones chosen here, {d} × {d}, so d = {d}."
)
proj = identity_projections(d, device) if source == "identity" else random_projections(d, seed=0, device=device)
qkv = project(I, proj)  # q, k, v (T, 50)

k1, k2, k3 = st.columns(3)
use_sqrt = linked(k1.toggle, "Divide by √d", value=True, key="soft_sqrt")
temperature = float(linked(k2.select_slider, "Temperature τ", TEMPERATURES, value=1.0, key="soft_temp"))
causal = linked(
    k3.toggle, "Causal mask", key="soft_causal", help="Each word may look only at itself and the words before it."
)

mask = causal_mask(n, device=device) if causal else None  # (T, T) True where allowed
att = scaled_dot_product(qkv.q, qkv.k, qkv.v, mask=mask, scale=None if use_sqrt else 1.0, temperature=temperature)
divisor = (f"√{d} = {math.sqrt(d):.2f}" if use_sqrt else "1 (√d off)") + (f", then by τ = {temperature:g}")
top_k = plots.auto_top_k(n)


def heat(matrix, title: str, key: str, **extra) -> None:
    charts.chart(
        plots.heatmap(matrix, labels, labels, title=title, row_title="query", col_title="key", top_k=top_k, **extra),
        key=key,
        name=title,
        csv=(matrix, labels, labels),
    )


# --- the chain, step by step -------------------------------------------------------------------------------
steps.step("Step by step")
a, b = st.columns(2)
with a:
    st.markdown("**1. Raw scores** Q·Kᵀ")
    heat(att.scores, "Q·Kᵀ", "soft_raw", value_name="score", decimals=1, narrow=True)
with b:
    st.markdown(f"**2. Scaled**: divided by {divisor}")
    heat(att.scaled, "scaled scores", "soft_scaled", value_name="scaled", decimals=1, narrow=True)
if causal:
    st.caption("Blank cells are masked: set to −∞ before softmax, so e^(−∞) = 0 gives them no weight at all.")


def times(gap: float) -> str:
    """e^gap written for a reader: whole numbers up to a million, then powers of ten."""
    value = math.exp(min(gap, 700.0))
    return f"{value:,.0f}" if value < 1e6 else f"{value:.1e}".replace("e+", " × 10^")


raw = scaled_dot_product(qkv.q, qkv.k, qkv.v, mask=mask, scale=1.0)  # no √d, τ = 1: for the question
raw_stats = softmax_stats(raw.weights)
share = raw_stats.one_hot_rows / n
top2 = raw.scaled.topk(min(2, n), dim=-1).values  # (T, 2) the two largest allowed scores of each row
gaps = (top2[:, 0] - top2[:, -1])[torch.isfinite(top2[:, -1])]  # rows with a second allowed key
gap = float(gaps.median()) if gaps.numel() else 0.0
answered = predict_first(
    "soft_predict",
    "Without the √d (and with τ = 1), how will the softmax rows of your sentence look?",
    ["nearly one-hot: one word takes over 90%", "a few words share the weight", "almost even"],
    correct=0 if share >= 0.5 else 2 if raw_stats.mean_top < 2 / n else 1,
    explain=f"Without √d, {raw_stats.one_hot_rows} of {n} rows give over {ONE_HOT:.0%} to one word "
    f"(the largest weight averages {raw_stats.mean_top:.0%}). Your raw scores run from "
    f"{float(raw.scores.min()):.1f} to {float(raw.scores.max()):.1f}; in the median row the largest beats the "
    f"second by {gap:.1f}, so softmax gives it e^{gap:.1f} ≈ {times(gap)} times the weight.",
)
if not answered:
    st.stop()
stats = softmax_stats(att.weights)
st.markdown("**3. Softmax**, row by row: every weight between 0 and 1, every row summing to 1 (Σ on the right)")
heat(
    att.weights,
    "attention weights A",
    "soft_weights",
    value_name="weight",
    diverging=False,
    zrange=(0.0, 1.0),
    row_notes=[f"Σ {s:.3f}" for s in stats.row_sums],
)
paragraph_view.long_map(att.weights, labels, key="soft_para", glove_text=text)
if causal:
    upper = att.weights.triu(diagonal=1)  # (T, T) the cells the mask forbids
    st.caption(
        f"Causal mask on: all {n * (n - 1) // 2} cells above the diagonal are exactly {float(upper.abs().max()):g}. "
        f"The first word can only look at itself, so its row is a single 1."
    )
st.markdown("**4. × V**: each output row is its weights times the value vectors, O = A·V")
charts.chart(
    plots.strip(att.output, labels, title="O = A·V, one row per word"),
    key="soft_out",
    name="O",
    csv=(att.output, labels, [str(i) for i in range(att.output.shape[1])]),
)

# --- attention received -------------------------------------------------------------------------------------------
steps.step("Which words receive the most attention?")


def received() -> None:
    """Column sums of the weights: how much attention each word receives, here or in MiniLM (reruns alone)."""
    st.markdown(
        "Each row of A hands out a total of 1. Add up a **column** instead and you get how much attention that word "
        "*receives* from the whole sentence."
    )
    where = linked(
        st.radio, "Measured on", ["minilm", "here"], key="soft_recv_on", horizontal=True,
        format_func={"minilm": "MiniLM, the real model (mean of its 72 heads)", "here": "the weights A above"}.get,
    )  # fmt: skip
    if where == "minilm":
        view = cached.real_view(loaders.model(), text, True, True)
        for note in view.tokens.notes:
            st.caption(md_escape(note))
        got = attention_received(torch.from_numpy(view.weights)).total.mean(dim=(0, 1))  # (G,) words and specials
        names, special = list(view.labels), list(view.special)
        even = even_received(view.tokens)  # (G,) 1 for a word of one piece, more for a word of several
        st.caption(received_notes.even_note(names, even))
    else:
        got = attention_received(att.weights, mask).total  # (T,)
        names, special = labels, [False] * n
        even = torch.ones(n)  # (T,) without a mask; under the causal mask the line is not drawn
        if mask is None:
            st.caption("Without a mask, an even split would give every word exactly 1.")
        else:
            st.caption(
                "Under the causal mask a word is seen only by itself and the words after it, so even an even split "
                "would give the early words more."
            )
    charts.chart(
        plots.bars(names, got, value_name="attention received", title="Column sums: attention each word receives",
                   highlight=[i for i, sp in enumerate(special) if sp], height=340, reference=("even split", 1.0)
                   if (mask is None or where == "minilm") and bool((even - 1).abs().max() < 1e-6) else None),
        key="soft_received", name="attention received",
    )  # fmt: skip
    # ranked: the words, not [CLS]/[SEP] or lone punctuation such as "," (still drawn above)
    words = [
        (names[i], float(got[i])) for i in range(len(names)) if not special[i] and any(c.isalnum() for c in names[i])
    ]
    if len(words) < 2:
        return
    ranked = sorted(words, key=lambda w: -w[1])
    listing = ", ".join(f"“{md_escape(w)}” {v:.2f}" for w, v in ranked[:3])
    summary = f"Most received: {listing}. Least: " + ", ".join(
        f"“{md_escape(w)}” {v:.2f}" for w, v in ranked[-3:][::-1]
    )
    if where == "minilm":
        specials = sum(float(got[i]) for i, sp in enumerate(special) if sp)
        summary += f". [CLS] and [SEP] (hatched) receive {specials:.2f} together."
    elif mask is None:
        self_share = float(att.weights.diagonal().sum() / got.sum())
        summary += f". {self_share:.0%} of all the attention handed out goes from a word to itself (the diagonal)."
    st.caption(summary if summary.endswith(".") else summary + ".")
    lower = {w.lower(): v for w, v in words}
    focus = [w for w in FOCUS if w in lower]
    if "please" in lower and focus:
        received_notes.claim_check(where, lower, focus)


steps.section(received)

# --- saturation ---------------------------------------------------------------------------------------------------
steps.step("Turn up the scores: softmax saturates")


def saturation() -> None:
    """How one row's weights saturate as the scores grow (reruns alone)."""
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Rows over {ONE_HOT:.0%} on one word", f"{stats.one_hot_rows} of {n}")
    m2.metric("Average largest weight", f"{stats.mean_top:.0%}")
    if mask is None:
        m3.metric("Even split would give", f"{1 / n:.0%}", help=f"Each row spreads its weight over all {n} words.")
    else:
        m3.metric(
            "Even split would give (average)",
            f"{float(even_split(mask).mean()):.0%}",
            help="Under the causal mask row i sees only i + 1 words, so its even split is 1/(i + 1): 100% for the "
            f"first word, {1 / n:.0%} for the last. Shown: the average over the rows.",
        )
    default = tokens.words.index("bank") if "bank" in tokens.words else n - 1
    row = linked_choice(st.selectbox, "Row to watch", labels, default=default, key="soft_row")
    left, right = st.columns(2)
    charts.chart(
        plots.bars(labels, att.weights[row], highlight=[int(att.weights[row].argmax())], value_name="weight",
                   title=f"Weights of “{labels[row]}” now", height=340),
        key="soft_row_bars", name="weights of the row", where=left,
    )  # fmt: skip
    curve_x = torch.logspace(-1, 1, 41).tolist()  # τ from 0.1 to 10
    allowed = None if mask is None else mask[row]  # (T,)
    curves = [
        plots.Series(name, curve_x, top_weight_curve(att.scores[row], curve_x, scale, allowed), dash=dash)
        for name, scale, dash in (("with √d", 1 / math.sqrt(d), "solid"), ("without √d", 1.0, "dash"))
    ]
    curves.append(plots.Series("now", [temperature], [stats.top_weight[row]], mode="markers", colour=5))
    charts.chart(
        plots.lines(curves, title=f"Largest weight of “{labels[row]}” against τ", x_title="temperature τ",
                    y_title="largest weight", log_x=True, x_ticks=(0.1, 0.2, 0.5, 1, 2, 5, 10), height=340),
        key="soft_curve", name="largest weight against temperature", where=right,
    )  # fmt: skip
    st.caption(
        "Multiplying the scores by a large number (a small τ) widens the gaps between them, and e^x turns a wide gap "
        "into a landslide: one word takes everything, the others get nothing, and training gets almost no signal "
        "through them. A large τ flattens the row toward an even average."
    )


steps.section(saturation)

# --- why √d -----------------------------------------------------------------------------------------------------------
steps.step("Why divide by √d?")
var = cached.variance(samples=4000, seed=0)
charts.chart(
    plots.lines(
        [
            plots.Series("measured Var(q·k)", var.dims, var.raw, mode="markers"),
            plots.Series("var = d", var.dims, var.dims, dash="dash", colour=0),
            plots.Series("measured Var(q·k / √d)", var.dims, var.scaled, mode="markers"),
            plots.Series("var = 1", var.dims, [1.0] * len(var.dims), dash="dot", colour=1),
        ],
        title=f"Spread of q·k for random vectors ({var.samples:,} pairs per d; both axes logarithmic)",
        x_title="d, the dimension of q and k",
        y_title="variance",
        log_x=True,
        log_y=True,
        x_ticks=var.dims,
        height=400,
    ),
    key="soft_variance",
    name="variance against width",
)
widest = len(var.dims) - 1
st.caption(
    "For q and k with independent entries of mean 0 and variance 1, q·k adds up d products, each with variance 1, "
    f"so its variance is d: measured {var.raw[widest]:.0f} at "
    f"d = {var.dims[widest]}. The wider the head, the larger the scores and the closer softmax comes to one-hot. "
    f"Dividing by √d brings the variance back to 1 at every width (measured {var.scaled[widest]:.2f})."
)


# --- padding ------------------------------------------------------------------------------------------------------
steps.step("Padding: two sentences in one batch")
st.markdown(
    "A model reads many sentences at once, stacked into one tensor, so the shorter ones are filled up with "
    "**[PAD]** tokens. The **padding mask** sets every score against a [PAD] key to −∞ before softmax, exactly as the "
    "causal mask does above. Here your sentence and a second one go through MiniLM, the real model of page 5b, as one "
    "batch, and again one at a time."
)


def padding() -> None:
    """The padding mask on MiniLM's tokens: pieces, mask, one head's weights, the outputs compared (reruns alone)."""
    other = linked(
        st.text_input, "Second sentence", "my dog sleeps", key="soft_pad_other",
        max_chars=300,
    )  # fmt: skip
    # the text as the model reads it: the box has already cut it at the model's 256 pieces
    batch = cached.padded(loaders.model(), text, other)
    width = len(batch.pieces[0])
    cols = [str(i + 1) for i in range(width)]
    tables.table(
        pd.DataFrame([list(row) for row in batch.pieces], index=["your sentence", "second sentence"], columns=cols),
        key="soft_pad_tokens",
    )
    pads = [int((~batch.keep[b]).sum()) for b in range(2)]
    if not any(pads):
        st.info(f"Both sentences are {width} tokens long, so nothing is padded: make the second one shorter or longer.")
        return
    short = 0 if pads[0] else 1
    charts.chart(
        plots.heatmap(batch.keep.float(), ["your sentence", "second sentence"], cols, title="The padding mask: 1 = a "
                      "real token, 0 = [PAD]", row_title="", col_title="position", value_name="mask", decimals=0,
                      diverging=False, zrange=(0.0, 1.0), height=200),
        key="soft_pad_mask", name="padding mask", csv=(batch.keep.float(), ["your sentence", "second sentence"], cols),
    )  # fmt: skip
    c1, c2 = st.columns(2)
    layer = int(linked(c1.slider, "Layer", 1, 6, 1, key="soft_pad_layer")) - 1
    head = int(linked(c2.slider, "Head", 1, 12, 1, key="soft_pad_head")) - 1
    names = list(unique_labels(batch.pieces[short]))
    shown = batch.weights[layer, short, head]  # (T, T) the padded sentence's weights in the batch
    charts.chart(
        plots.attention_map(shown, names, names, title=f"Layer {layer + 1}, head {head + 1}, the padded sentence",
                            top_k=plots.auto_top_k(width)),
        key="soft_pad_weights", name="padded weights", csv=(shown, names, names),
    )  # fmt: skip
    m1, m2, m3 = st.columns(3)
    m1.metric("Largest weight on a [PAD] key", f"{batch.pad_weight:g}", help="Over every query, layer and head.")
    m2.metric("Real tokens' outputs, padded vs alone", f"{batch.max_difference:.1e}", help="Largest difference.")
    m3.metric("The same without the mask", f"{batch.unmasked_difference:.2f}", help="Largest difference.")
    st.caption(
        f"The {pads[short]} [PAD] columns are exactly {batch.pad_weight:g} in all 6 layers × 12 heads, so the real "
        f"tokens' last-layer outputs differ from the sentence run alone by at most {batch.max_difference:.1e}"
        + (": rounding, nothing more." if batch.max_difference < 1e-4 else ".")
        + " Without the mask they would differ by up to "
        f"{batch.unmasked_difference:.2f}. The [PAD] rows still attend to the real tokens; their outputs are "
        "simply never read."
    )


steps.section(padding)
