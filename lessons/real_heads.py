"""Page 5b: the 72 heads of a real pretrained transformer on the learner's sentence."""

from collections import Counter

import numpy as np
import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import cached, loaders
from app_support.kit import charts, sentence, steps, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import EDIT, check_link, link_value, linked, warn
from app_support.parts import paragraph_view, real_grid
from attnviz import plots

HEAD_VIEW_MAX = 44  # longer sentences: the head view keeps the chosen token and its strongest keys only (so that it
# fits a screen: plots.SCREEN_HEIGHT)
HEAD_VIEW_KEYS = 24

st.title("5b · Heads of a real transformer")
model = loaders.model()
L, H = model.n_layers, model.n_heads
cfg = model.config
st.markdown(
    f"A trained model, bundled with the course: **all-MiniLM-L6-v2**, a small BERT-style encoder with {L} layers of "
    f"{H} heads. Each head has width Dh = {cfg.head_dim}, and the {H} of a layer together make width "
    f"{cfg.hidden_size}. We run it with our own code: every layer calls the very `multi_head` of page 5. Nothing here "
    "is random: training shaped each head's $M_Q$, $M_K$ and $M_V$."
)
text = sentence.current()

c1, c2 = st.columns(2)
words = linked(
    c1.toggle,
    "Group pieces into words",
    value=True,
    key="real_words",
    help="“unbelievably” → un ##bel ##ie ##va ##bly and back",
)
keep_special = linked(
    c2.toggle, "Show [CLS] and [SEP]", value=True, key="real_special", help="The two tokens the model adds at both ends"
)
view = cached.real_view(model, text, words, keep_special)
tokens = view.tokens
for note in tokens.notes:
    warn(note)
if tokens.is_empty:
    st.warning(
        "The sentence box is empty. Type a sentence in the sidebar, or pick a ready one, and the model reads it.",
        icon=EDIT,
    )
    st.stop()
labels = list(view.labels)
G = len(labels)

steps.step("How the model reads your sentence")
st.code("  ".join(tokens.pieces), language=None, wrap_lines=True)
pieces_per_word = Counter(w for w, s in zip(tokens.word_ids, tokens.special, strict=True) if w is not None and not s)
split = [tokens.words[w] for w, n in pieces_per_word.items() if n > 1]
st.caption(
    f"{len(tokens)} tokens. The model knows {cfg.vocab_size:,} pieces; a word it does not know whole is cut into "
    "pieces, and a piece that continues a word starts with ##. "
    + (f"Here: {', '.join(md_escape(w) for w in dict.fromkeys(split))}. " if split else "")
    + "It adds [CLS] at the start and [SEP] at the end."
)

# --- the grid -------------------------------------------------------------------------------------------------
steps.step(f"All {L * H} heads at once")
share = float(view.special_share.mean())
weight_share, norm_share = cached.special_contribution(model, text, words)  # (L, H) each
moved = float(np.nanmean(norm_share))
answered = predict_first(
    "real_predict",
    "[CLS] and [SEP] are not words of yours. What share of the heads' attention do you expect them to receive?",
    ["almost none (under 10%)", "some (10% to 30%)", "a lot (over 30%)"],
    correct=0 if share < 0.1 else (1 if share < 0.3 else 2),
    explain=f"On your sentence they receive {share:.0%} of all the attention, averaged over the heads and words. "
    "A head is thought to park its attention there when it has nothing to do (Clark et al., 2019). Counted as "
    r"weight × the length of the vector each token passes on ($\alpha_{ij} \lVert f(x_j) \rVert$, see below), "
    f"they make up {moved:.0%} of what the heads give your words: "
    + (
        "much less than their weight, so much of that attention moves your words little, as parking would."
        if moved < share / 2
        else "not much less than their weight: by this measure, more than parked."
    ),
)


def _pick_head() -> tuple[int, int]:
    """The layer and head chosen (0-based), with a note when the link asked for one the model does not have."""
    raw_layer, raw_head = link_value("real_layer"), link_value("real_head")
    s1, s2 = st.columns(2)
    layer = s1.selectbox("Layer", range(1, L + 1), key="real_layer", bind="query-params") - 1
    head = s2.selectbox("Head", range(1, H + 1), key="real_head", bind="query-params") - 1
    check_link(
        raw_layer,
        layer + 1,
        f"The link asks for layer “{raw_layer}”; the model has layers 1 to {L}: showing {layer + 1}.",
        "real_layer",
    )
    check_link(
        raw_head,
        head + 1,
        f"The link asks for head “{raw_head}”; a layer has heads 1 to {H}: showing {head + 1}.",
        "real_head",
    )
    return layer, head


def one_head() -> None:
    """The chosen layer and head: its place in the grid, its map, its head view (reruns alone)."""
    layer, head = _pick_head()
    if answered:
        real_grid.all_heads(model, view, text, words, keep_special, (layer, head), (weight_share, norm_share))
    W = _large(layer, head)  # (G, G)
    _head_view(layer, head, W)


def _large(layer: int, head: int) -> np.ndarray:
    """The chosen head's map, large, with what [CLS] and [SEP] hold, its top keys and paragraph mode's long map."""
    steps.step(f"Layer {layer + 1}, head {head + 1}, large")
    W = view.weights[layer, head]  # (G, G)
    # the formula names the raw map only: say what was done to it before drawing (`attnviz.pretrained.group_attention`)
    merged = words and bool(split)  # a word of several pieces: columns summed over its pieces, rows averaged
    title = (
        f"Layer {layer + 1} · head {head + 1}: softmax(Q·Kᵀ/√{cfg.head_dim})"
        + (" by word" if merged else "")
        + (", without [CLS]/[SEP], rows rescaled" if not keep_special else "")
    )
    charts.attention_chart(
        W, labels, title=title, row_title="token", key="real_large", name=f"layer {layer + 1} head {head + 1}"
    )
    if G > 40:
        st.caption(f"{G} tokens: zoom into the map (as its title says), or open the table below.")
    if keep_special:
        held = float(view.special_share[layer, head])
        st.caption(
            f"[CLS] and [SEP] receive {held:.0%} of this head's attention (mean over your words' rows); counted as "
            f"weight × the length of what they pass on, {float(norm_share[layer, head]):.0%}."
        )
    else:
        held = float(view.dropped[layer, head].mean())
        st.caption(
            f"[CLS] and [SEP] are left out. They held {held:.0%} of this head's attention; each row is rescaled so the "
            "rest sums to 1 again. Switch them back on to see the raw weights."
        )
    with st.expander("The three strongest keys of every row"):
        order = np.argsort(-W, axis=1)[:, :3]  # (G, 3)
        tables.table(
            pd.DataFrame(
                {f"{n + 1}.": [f"{labels[order[g, n]]}  {W[g, order[g, n]]:.2f}" for g in range(G)] for n in range(3)},
                index=pd.Index(labels, name="token"),
            ),
            key="real_top",
        )
    paragraph_view.long_map(W, labels, key="real_para", cols="is attended to by")
    return W


def _head_view(layer: int, head: int, W: np.ndarray) -> None:
    """Lines from one token (or every token's three strongest) to the tokens it attends to in the chosen head."""
    steps.step("Head view: who looks at whom")
    long = G > HEAD_VIEW_MAX
    options = list(range(G)) if long else [-1, *range(G)]
    focus = linked(
        st.columns([1, 2])[0].selectbox,
        "Lines from",
        options,
        format_func=lambda g: "every token (its 3 strongest lines)" if g < 0 else labels[g],
        key="real_focus",
    )
    chosen = None if focus < 0 else focus
    keep = None
    if long:
        keep = [chosen, *np.argsort(-W[chosen])[:HEAD_VIEW_KEYS].tolist()]
        st.caption(f"{G} tokens do not fit in two columns: the view keeps “{md_escape(labels[chosen])}” and the "
                   f"{HEAD_VIEW_KEYS} tokens it attends to most.")  # fmt: skip
    charts.chart(
        plots.head_view(
            labels, labels, W, focus=chosen, keep=keep, title=f"Layer {layer + 1} · head {head + 1}", top_k=3
        ),
        key="real_head_view",
        name=f"head view layer {layer + 1} head {head + 1}",
    )
    st.caption(
        "Thicker, more solid lines carry more attention."  # (darker on white, brighter on the dark theme)
        + (" Hover a word on the right to read its weight." if chosen is not None else " Pick a token to read weights.")
    )


steps.section(one_head)
