"""Lesson 2: the similarity matrix S = I·Iᵀ and the first attention, O = S·I."""

import streamlit as st
import torch

from app_support import cached, loaders, show
from app_support.widgets import linked, linked_choice, md_escape, need_words, predict_first, sentence_tokens, warn
from attnviz import AttnvizInputError, plots
from attnviz.attention import mix, similarity_matrix
from attnviz.embeddings import compare, vectors_for, word_vector

kv = loaders.glove()
device = loaders.device()

st.title("2 · The similarity matrix")
st.markdown(
    "Stack the vectors of your sentence's words, one per row: that is the matrix **I**. Multiply it by its own "
    "transpose and every word meets every other word in one step: **S = I·Iᵀ** holds all the dot products. "
    "Then **O = S·I** rebuilds each word as a mix of the whole sentence, weighted by those scores. "
    "That mix is the first, simplest attention."
)

tokens = sentence_tokens()
if not need_words(tokens):
    st.stop()
labels = list(tokens.labels)
I = vectors_for(kv, tokens.words, device)  # (T, D)

# --- I ------------------------------------------------------------------------------------------------------
show.step("I: the sentence as a matrix")
st.latex(rf"I \in \mathbb{{R}}^{{{len(labels)} \times {I.shape[1]}}}\quad\text{{(words × dimensions)}}")
dims = [str(i) for i in range(I.shape[1])]
show.chart(
    plots.strip(I, labels, title="One row per word, 50 numbers each"), key="sim_I", name="I", csv=(I, labels, dims)
)

# --- S = I·Iᵀ ----------------------------------------------------------------------------------------------
show.step("S = I·Iᵀ: every word against every word")
kind = linked(
    st.radio,
    "Score",
    ["dot", "cosine"],
    horizontal=True,
    key="sim_kind",
    help="dot: the raw dot product. cosine: divided by both lengths, so only direction counts.",
)
S = similarity_matrix(I, kind)  # (T, T)
share = (S.argmax(dim=1) == torch.arange(len(labels), device=S.device)).float().mean().item()
if predict_first(
    "sim_predict_diag",
    "In each row of S, which cell do you expect to be the largest?",
    ["the word with itself (the diagonal)", "the word next to it", "a short word such as “the”"],
    correct=0 if share >= 0.5 else None,
    explain=(
        "With cosine the diagonal is exactly 1, the largest a cosine can be."
        if kind == "cosine"
        else f"In your sentence the diagonal is the largest cell in {share:.0%} of the rows. A word usually matches "
        "itself best, but with the dot product a long vector can beat it; with cosine the diagonal always wins."
    ),
):
    show.chart(
        plots.heatmap(
            S,
            labels,
            labels,
            title=f"S = I·Iᵀ ({kind})",
            row_title="word",
            col_title="compared with",
            value_name=kind,
            decimals=1 if kind == "dot" else 2,
        ),
        key="sim_S",
        name=f"S {kind}",
        csv=(S, labels, labels),
    )
    st.caption(
        "S is symmetric: river·bank is the same number as bank·river. "
        + ("The diagonal is each word's squared length." if kind == "dot" else "The diagonal is all ones.")
    )

# --- O = S·I -----------------------------------------------------------------------------------------------
show.step("O = S·I: each word becomes a mix of the sentence")
O = mix(S, I)  # (T, D)


def follow_a_word() -> None:
    """One word's row of S, what mixing does to its meaning, the meaning meter (reruns alone)."""
    default = tokens.words.index("bank") if "bank" in tokens.words else len(labels) - 1
    focus = linked_choice(st.columns([1, 2])[0].selectbox, "Word to follow", labels, default=default, key="sim_focus")
    weights = S[focus]  # (T,) row `focus` of S: how much of each word goes into the new vector
    heaviest = int(weights.argmax())
    answered = predict_first(
        "sim_predict_mix",
        f"Which word of your sentence will weigh most in the new “{labels[focus]}”?",
        ["the word itself", "the most related other word", "every word about equally"],
        correct=0 if heaviest == focus else 1,
        explain=f"The largest weight in row “{labels[focus]}” of S goes to “{labels[heaviest]}” "
        f"({weights[heaviest]:.2f}).",
    )
    if answered:
        show.chart(
            plots.bars(
                labels,
                weights,
                highlight=[focus],
                value_name=f"weight ({kind})",
                title=f"The weights in row “{labels[focus]}” of S",
                height=320,
            ),
            key="sim_weights",
            name="weights of the row",
        )
        terms = sorted(range(len(labels)), key=lambda j: -abs(float(weights[j])))
        st.code(
            f"{labels[focus]}_O = "
            + " + ".join(f"{float(weights[j]):.2f}·{labels[j]}" for j in terms[:8])
            + (" + …" if len(terms) > 8 else ""),
            language=None,
        )
        st.caption(
            f"The weights add up to {float(weights.sum()):.2f}, not 1, so O is longer than I: lesson 4's softmax fixes "
            "that. Directions are what the neighbours below compare, so the length does not matter here."
        )

        st.subheader(f"Does “{labels[focus]}” change meaning?")
        exclude_own = linked(
            st.toggle, "Leave the sentence's own words out of the neighbours", value=True, key="sim_exclude"
        )
        skip = tuple(tokens.words) if exclude_own else ()
        before = cached.neighbours(kv, I[focus].cpu().numpy(), 8, skip)
        after = cached.neighbours(kv, O[focus].cpu().numpy(), 8, skip)
        b1, b2 = st.columns(2)
        show.chart(
            plots.ranking(before, title="Neighbours before (I)"), key="sim_before", name="neighbours before", where=b1
        )
        show.chart(
            plots.ranking(after, title="Neighbours after (O = S·I)"), key="sim_after", name="neighbours after", where=b2
        )

        st.caption(
            "The nearest words to the mix are often small words such as “on” or “which”: every word got a large "
            "weight, so the mix resembles an average sentence. The meter below is a sharper test."
        )

        st.markdown("**Meaning meter**: how close the word is to two probe words, before and after mixing.")
        p1, p2, _ = st.columns([1, 1, 2])
        probe_a = linked(p1.text_input, "Probe word", "river", key="sim_probe_a", max_chars=40)
        probe_b = linked(p2.text_input, "Other probe word", "money", key="sim_probe_b", max_chars=40)
        try:
            probes = [
                (probe_a.strip().lower(), word_vector(kv, probe_a)),
                (probe_b.strip().lower(), word_vector(kv, probe_b)),
            ]
        except AttnvizInputError as err:
            warn(str(err))
        else:
            changes = []
            for col, (name, vec) in zip(st.columns(2), probes, strict=True):
                was, now = compare(I[focus].cpu().numpy(), vec).cosine, compare(O[focus].cpu().numpy(), vec).cosine
                col.metric(
                    f"cos({labels[focus]}, {md_escape(name)}) after mixing — before: {was:.3f}",
                    f"{now:.3f}",
                    f"{now - was:+.3f}",
                )
                changes.append(now - was)
            winner = probes[0][0] if changes[0] > changes[1] else probes[1][0]
            st.caption(f"After mixing, “{labels[focus]}” moved more toward “{md_escape(winner)}”.")


show.section(follow_a_word)

with st.expander("O for every word"):
    show.chart(plots.strip(O, labels, title="O = S·I, one row per word"), key="sim_O", name="O", csv=(O, labels, dims))
