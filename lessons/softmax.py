"""Lesson 4: softmax and scaling — softmax(Q·Kᵀ/√d)·V step by step, temperature, the causal mask, why √d."""

import math

import streamlit as st
import torch

from app_support import cached, loaders, show
from app_support.widgets import linked, linked_choice, need_words, predict_first, sentence_tokens
from attnviz import plots
from attnviz.attention import ONE_HOT, causal_mask, scaled_dot_product, softmax_stats, top_weight_curve
from attnviz.embeddings import vectors_for
from attnviz.projections import identity_projections, project, random_projections

kv = loaders.glove()
device = loaders.device()

TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

st.title("4 · Softmax and scaling")
st.markdown(
    "Lesson 3's scores are raw: any size, any sign, and a row does not add up to anything in particular. "
    "Attention divides them by √d (d is the length of a query), then **softmax** turns each row into weights: "
    "e to the power of each score, divided by the row's total. Every weight is positive and each row sums to 1, "
    "so the new vector is a true average of the values."
)
st.latex(r"O = \mathrm{softmax}\!\left(\frac{Q\,K^\top}{\sqrt{d}\;\tau}\right) V")

tokens = sentence_tokens()
if not need_words(tokens, 2):
    st.stop()
labels = list(tokens.labels)
n = len(labels)
I = vectors_for(kv, tokens.words, device)  # (T, 50)
d = I.shape[1]

c1, c2 = st.columns([1, 2])
source = linked(
    c1.radio,
    "M_Q, M_K, M_V",
    ["identity", "random"],
    format_func={"identity": "identity", "random": "random (seed 0)"}.get,
    key="soft_proj",
    horizontal=True,
)
c2.caption(
    f"Q = I·M_Q, K = I·M_K, V = I·M_V, as in lesson 3: I is your sentence's {n} GloVe vectors and the matrices are "
    "the ones chosen here, 50 × 50, so d = 50."
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
    show.chart(
        plots.heatmap(matrix, labels, labels, title=title, row_title="query", col_title="key", top_k=top_k, **extra),
        key=key,
        name=title,
        csv=(matrix, labels, labels),
    )


# --- the chain, step by step -------------------------------------------------------------------------------
show.step("Step by step")
a, b = st.columns(2)
with a:
    st.markdown("**1. Raw scores** Q·Kᵀ")
    heat(att.scores, "Q·Kᵀ", "soft_raw", value_name="score", decimals=1, narrow=True)
with b:
    st.markdown(f"**2. Scaled**: divided by {divisor}")
    heat(att.scaled, "scaled scores", "soft_scaled", value_name="scaled", decimals=1, narrow=True)
if causal:
    st.caption("Blank cells are masked: set to −∞ before softmax, so e^(−∞) = 0 gives them no weight at all.")

raw = scaled_dot_product(qkv.q, qkv.k, qkv.v, mask=mask, scale=1.0)  # no √d, τ = 1: for the question
raw_stats = softmax_stats(raw.weights)
share = raw_stats.one_hot_rows / n
answered = predict_first(
    "soft_predict",
    "Without the √d (and with τ = 1), how will the softmax rows of your sentence look?",
    ["nearly one-hot: one word takes over 90%", "a few words share the weight", "almost even"],
    correct=0 if share >= 0.5 else 2 if raw_stats.mean_top < 2 / n else 1,
    explain=f"Without √d, {raw_stats.one_hot_rows} of {n} rows give over {ONE_HOT:.0%} to one word "
    f"(the largest weight averages {raw_stats.mean_top:.0%}). GloVe dot products run into the tens, and e^30 "
    "dwarfs e^20: the largest score takes nearly everything.",
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
if causal:
    upper = att.weights.triu(diagonal=1)  # (T, T) the cells the mask forbids
    st.caption(
        f"Causal mask on: all {n * (n - 1) // 2} cells above the diagonal are exactly {float(upper.abs().max()):g}. "
        f"The first word can only look at itself, so its row is a single 1."
    )
st.markdown("**4. × V**: each output row is its weights times the value vectors, O = A·V")
show.chart(
    plots.strip(att.output, labels, title="O = A·V, one row per word"),
    key="soft_out",
    name="O",
    csv=(att.output, labels, [str(i) for i in range(att.output.shape[1])]),
)

# --- saturation ---------------------------------------------------------------------------------------------------
show.step("Turn up the scores: softmax saturates")


def saturation() -> None:
    """How one row's weights saturate as the scores grow (reruns alone)."""
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Rows over {ONE_HOT:.0%} on one word", f"{stats.one_hot_rows} of {n}")
    m2.metric("Average largest weight", f"{stats.mean_top:.0%}")
    m3.metric("Even split would give", f"{1 / n:.0%}")
    default = tokens.words.index("bank") if "bank" in tokens.words else n - 1
    row = linked_choice(st.selectbox, "Row to watch", labels, default=default, key="soft_row")
    left, right = st.columns(2)
    show.chart(
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
    show.chart(
        plots.lines(curves, title=f"Largest weight of “{labels[row]}” against τ", x_title="temperature τ",
                    y_title="largest weight", log_x=True, x_ticks=(0.1, 0.2, 0.5, 1, 2, 5, 10), height=340),
        key="soft_curve", name="largest weight against temperature", where=right,
    )  # fmt: skip
    st.caption(
        "Multiplying the scores by a large number (a small τ) widens the gaps between them, and e^x turns a wide gap "
        "into a landslide: one word takes everything, the others get nothing, and training gets almost no signal "
        "through them. A large τ flattens the row toward an even average."
    )


show.section(saturation)

# --- why √d -----------------------------------------------------------------------------------------------------------
show.step("Why divide by √d?")
var = cached.variance(samples=4000, seed=0)
show.chart(
    plots.lines(
        [
            plots.Series("measured Var(q·k)", var.dims, var.raw, mode="markers"),
            plots.Series("var = d", var.dims, var.dims, dash="dash", colour=0),
            plots.Series("measured Var(q·k / √d)", var.dims, var.scaled, mode="markers"),
            plots.Series("var = 1", var.dims, [1.0] * len(var.dims), dash="dot", colour=1),
        ],
        title=f"Spread of q·k for random vectors ({var.samples:,} pairs per d; both axes logarithmic)",
        x_title="d, the length of q and k",
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
    f"q·k adds up d products, each with variance 1, so its variance is d: measured {var.raw[widest]:.0f} at "
    f"d = {var.dims[widest]}. The wider the head, the larger the scores and the closer softmax comes to one-hot. "
    f"Dividing by √d brings the variance back to 1 at every width (measured {var.scaled[widest]:.2f})."
)
