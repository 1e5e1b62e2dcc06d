"""Lesson 5: multi-head attention — a toy layer of H heads on the learner's own words."""

import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.kit import charts, sentence, steps, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import check_link, lesson_sentence, link_value, linked, warn
from app_support.parts import paragraph_view
from attnviz import AttnvizInputError, plots
from attnviz.embeddings import Words
from attnviz.heads import HEAD_DIMS, MAX_HEADS, head_difference, top_keys, toy_layer, toy_weights

LABELLED = 12  # up to this many words, every small map is labelled; longer sentences are read by hover
SEED_MAX = 9_999

st.title("5 · Multi-head attention")
st.markdown(
    "One attention head gives each word one way of looking at the sentence. A transformer layer runs several "
    "heads side by side. Each head has its own $M_Q$, $M_K$, $M_V$, so each can look for something different. "
    "Their outputs are laid side by side and mixed back to the original width by one more matrix, $W_O$."
)


def _one_word(tokens: Words) -> None:
    if len(tokens.words) == 1:
        st.info(
            f"Your sentence has one known word, “{md_escape(tokens.labels[0])}”. A word can only attend to the "
            "words there are, so every head would give it all its attention: a map of one cell holding 1.00.",
            icon=":material/info:",
        )


text = sentence.current()
_, _, tokens, labels, I = lesson_sentence(text, 2, on_device=False, note=_one_word)  # I: (T, 50)
T = len(labels)
D = I.shape[1]

# --- the settings, kept in the URL so that a link shows the same heads ------------------------------------
c1, c2, c3 = st.columns([2, 1, 1])
raw_heads, raw_dim, raw_seed = link_value("mh_heads"), link_value("mh_dim"), link_value("mh_seed")
H = c1.slider("Heads H", 1, MAX_HEADS, 4, key="mh_heads", bind="query-params")
Dh = c2.radio("Head width Dh", HEAD_DIMS, index=1, horizontal=True, key="mh_dim", bind="query-params")
seed = c3.number_input(
    "Seed", 0, SEED_MAX, 0, key="mh_seed", bind="query-params", help="Another seed draws other random heads."
)
check_link(
    raw_heads,
    H,
    f"The link asks for “{raw_heads}” heads; this layer has 1 to {MAX_HEADS}, so it shows {H}.",
    "mh_heads",
)
check_link(
    raw_dim, Dh, f"The link asks for head width “{raw_dim}”; the choices are 4, 8 and 16, so it shows {Dh}.", "mh_dim"
)
check_link(
    raw_seed, seed, f"The link asks for seed “{raw_seed}”; seeds run from 0 to {SEED_MAX}: using {seed}.", "mh_seed"
)

try:
    weights = toy_weights(D, H, Dh, seed)
except AttnvizInputError as err:  # only reachable with a hand-edited session; the widgets keep values in range
    warn(str(err))
    st.stop()
layer = toy_layer(I, weights)
A = layer.heads.weights  # (H, T, T)
difference = head_difference(A)

# --- the layer, shapes on every arrow ---------------------------------------------------------------------
steps.step("The layer, with your sentence's shapes")
charts.chart(plots.multihead_diagram(T, D, H, Dh), key="mh_diagram", name="multi-head diagram")
st.latex(
    rf"O_h = \underbrace{{\mathrm{{softmax}}\!\left(\frac{{Q_h K_h^\top}}{{\sqrt{{{Dh}}}}}\right)}}"
    rf"_{{A_h:\ {T}\times{T}}}"
    rf"\,V_h"
)
st.latex(rf"O = [\,O_1 \cdots O_{{{H}}}\,]\,W_O \;\in\; \mathbb{{R}}^{{{T}\times{D}}}")  # two lines: fits a phone
st.caption(
    f"Each head works in a small space of {Dh} numbers, so the {H} heads together cost about what one head of "
    f"width {H * Dh} would. Because $W_O$ brings the result back to {D} numbers per word, the next layer cannot "
    "tell how many heads there were."
)

# --- the heads' maps ----------------------------------------------------------------------------------------
steps.step("Each head's map")
st.markdown(
    "These heads are **random, not trained**: each is drawn from its own seed. Adding a head keeps the ones "
    "already there. Do different random matrices make heads that look at different words?"
)
agree = float(difference.agree)
answered = predict_first(
    "mh_predict",
    "Every head reads the same words. For most words, will the heads agree on which word to attend to most?",
    ["yes, they mostly agree", "no, they mostly pick different words"],
    correct=0 if agree >= 0.5 else 1,
    explain=(
        "With one head there is nothing to disagree with: raise H and ask again."
        if H == 1
        else f"In your sentence all {H} heads pick the same favourite word in {agree:.0%} of the rows. "
        "Different $M_Q$ and $M_K$ turn the words in different directions, so different pairs end up close."
    ),
)
if answered:
    n_cols = H if H <= 4 else -(-H // 2)  # one row up to 4 heads, then two balanced rows
    charts.chart(
        plots.heatmap_grid(
            A,
            labels,
            labels,
            n_cols=n_cols,
            names=[f"head {h + 1}" for h in range(H)],
            titles=[f"head {h + 1}" for h in range(H)],
            row_title="word",
            col_title="attends to",
            show_ticks=T <= LABELLED,
            panel_height=300 if n_cols <= 2 else (230 if T <= LABELLED else 200),
        ),
        key="mh_grid",
        name="every head",
        csv=(
            A.reshape(H * T, T),
            [f"head {h + 1} · {w}" for h in range(H) for w in labels],
            labels,
        ),
    )
    st.caption(
        "Row = the word that looks, column = the word it looks at; each row sums to 1. Hover a cell for its value."
        + ("" if T <= LABELLED else f" With {T} words the labels do not fit: hover a cell, or enlarge a head below.")
    )

    st.subheader("What each head looks at most")
    top = top_keys(A, 1)
    table = pd.DataFrame(
        {
            f"head {h + 1}": [
                f"{labels[int(top.indices[h, t, 0])]}  {float(top.values[h, t, 0]):.2f}" for t in range(T)
            ]
            for h in range(H)
        },
        index=pd.Index(labels, name="word"),
    )
    tables.table(table, key="mh_top", height=min(35 * (T + 1) + 3, 421))
    if len(set(tokens.words)) < T:
        # Positions, two ways: an absolute vector added to the input once (Vaswani et al. 2017, section 3.5: fixed
        # sines and cosines; Devlin et al. 2019, BERT: learned, as in MiniLM), or rotary embeddings (Su et al.,
        # "RoFormer", 2021, section 3: q and k rotated by position-dependent angles in every layer, so a score
        # depends on the distance between the two positions; Llama, Mistral, SmolLM)
        st.caption(
            "A repeated word gets the same row every time: this toy layer sees only the words, not where they "
            "stand. Real transformers tell the copies apart, in one of two ways. Encoders such as BERT and MiniLM "
            "add a learned vector for each position to the word's vector before the first layer (the original "
            "Transformer added fixed sines and cosines). Rotary models such as Llama, Mistral and SmolLM add nothing "
            "to the input: inside every layer they rotate each query and key by angles set by its position (RoPE: "
            "Su et al., 2021, RoFormer), so a score depends on how far apart the two words stand. Either way, in a "
            "real transformer two copies of a word get different rows."
        )
    if H > 1:
        m1, m2 = st.columns([2, 3])
        m1.metric("Rows where all heads agree", f"{agree:.0%}")
        m1.metric("Mean difference between heads", f"{float(difference.mean):.2f} bits")
        m1.caption(
            "The difference is the Jensen–Shannon divergence between two heads' rows, averaged over the words: "
            "0 bits when two heads split their attention the same way, 1 bit when they never look at the same word."
        )
        head_names = [f"head {h + 1}" for h in range(H)]
        charts.chart(
            plots.heatmap(
                difference.pairwise,
                [f"head {h + 1}" for h in range(H)],
                [f"head {h + 1}" for h in range(H)],
                title="Each pair of heads (bits)",
                value_name="JS divergence",
                diverging=False,
                zmax=1.0,
                height=120 + 34 * H,
            ),
            key="mh_js",
            name="difference between heads",
            where=m2,
            csv=(difference.pairwise, head_names, head_names),
        )

# --- one head, large ----------------------------------------------------------------------------------------
steps.step("One head, large")


def one_head() -> None:
    """One head's map, large, with its own formula (reruns alone)."""
    focus = linked(st.columns(3)[0].selectbox, "Head", range(H), format_func=lambda h: f"head {h + 1}", key="mh_focus")
    n = str(focus + 1).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
    title = f"A{n} = softmax(Q{n}·K{n}ᵀ/√{Dh})"
    charts.attention_chart(A[focus], labels, title=title, row_title="word", key="mh_large", name=f"head {focus + 1}")
    paragraph_view.long_map(A[focus], labels, key="mh_para", glove_text=text, cols="is attended to by")

    with st.expander("The numbers: the concatenation, $W_O$ and the output $O$"):
        columns = [f"h{h + 1}·{d + 1}" for h in range(H) for d in range(Dh)]
        charts.chart(
            plots.heatmap(
                layer.concat,
                labels,
                [f"h{h + 1}·{d + 1}" for h in range(H) for d in range(Dh)],
                title=f"[O1 … O{H}]: {T} × {H * Dh}, one block of {Dh} columns per head",
                row_title="word",
                col_title="column",
                cell_text=False,
                col_groups=Dh,
            ),
            key="mh_concat",
            name="concatenation",
            csv=(layer.concat, labels, columns),
        )
        charts.chart(
            plots.heatmap(
                weights.w_o,
                [f"h{h + 1}·{d + 1}" for h in range(H) for d in range(Dh)],
                [str(i) for i in range(D)],
                title=f"W_O: {H * Dh} × {D}, head h's rows carry its output into every one of the {D} numbers",
                row_title="row",
                col_title="dimension",
                cell_text=False,
                row_groups=Dh,
                height=min(plots.SCREEN_HEIGHT, 140 + 8 * H * Dh),
            ),
            key="mh_wo",
            name="W_O",
            csv=(weights.w_o, columns, [str(i) for i in range(D)]),
        )
        charts.chart(
            plots.strip(layer.output, labels, title=f"O = concat·W_O: {T} × {D}, one new vector per word"),
            key="mh_out",
            name="O",
            csv=(layer.output, labels, [str(i) for i in range(D)]),
        )


steps.section(one_head)
