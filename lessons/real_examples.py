"""Lesson 5c: two things real heads do, measured: linking "it" to "cat", and moving "bank" toward its sense."""

import numpy as np
import streamlit as st

from app_support import cached, loaders, show
from app_support.widgets import linked, linked_choice, md_escape, predict_first, warn
from attnviz import AttnvizInputError, plots

MAX_TEXT = 5_000  # characters; the model itself stops at 512 positions and says so
COREF = "the cat sat on the mat because it was tired"
RIVER, MONEY, RIVER_TOO = "I walked by the river bank", "I deposited money at the bank", "we sat on the grassy bank"

st.title("5c · What real heads do")
st.markdown(
    "Two ready experiments on the pretrained model of page 5b, each with its own sentences, so they work whatever "
    "the sidebar says. Edit them: every number below is measured on what you type, nothing is looked up."
)
model = loaders.model()
L, H = model.n_layers, model.n_heads

# --- it → cat ---------------------------------------------------------------------------------------------------
show.step("Which heads know what “it” refers to?")
st.markdown(
    "In *the cat sat on the mat because it was tired*, “it” means the cat. For each of the 72 heads we measure "
    "how much of the attention of “it” goes to “cat”, and rank the heads."
)


def which_heads() -> None:
    """Heads that point “it” at what it refers to, in a sentence of the learner's (reruns alone)."""
    text = linked(st.text_input, "Sentence", COREF, key="real_coref_text", max_chars=MAX_TEXT)
    c1, c2 = st.columns(2)
    source = linked(c1.text_input, "From the word", "it", key="real_coref_src", max_chars=40)
    target = linked(c2.text_input, "To the word", "cat", key="real_coref_tgt", max_chars=40)
    try:
        coref = cached.coreference(model, text, source, target)
    except AttnvizInputError as err:
        warn(f"{err}. Pick two different words that are both in the sentence.")
        coref = None
    if coref is not None:
        for note in coref.tokens.notes:
            warn(note)
        best = coref.top[0]
        src, tgt = md_escape(coref.source_word), md_escape(coref.target_word)
        stage = 0 if best.layer < L // 3 else (1 if best.layer < 2 * L // 3 else 2)
        answered = predict_first(
            "real_coref_predict",
            f"Where do you expect the head that links “{src}” to “{tgt}” most strongly?",
            ["in the first layers (1–2)", "in the middle layers (3–4)", "in the last layers (5–6)"],
            correct=stage,
            explain=f"The strongest is layer {best.layer + 1}, head {best.head + 1}: it sends {best.weight:.0%} of the "
            f"attention of “{src}” to “{tgt}”, where spreading it evenly would give {coref.uniform:.0%}.",
        )
        if answered:
            names = [f"layer {s.layer + 1} · head {s.head + 1}" for s in coref.top]
            others = [float(coref.others[s.layer, s.head]) for s in coref.top]
            left, right = st.columns([3, 2])
            show.chart(
                plots.grouped_bars(
                    names,
                    {
                        f"from “{coref.source_word}”": [s.weight for s in coref.top],
                        "from the other words (mean)": others,
                    },
                    value_name=f"attention to “{coref.target_word}”",
                    title=f"The top {len(names)} heads for “{coref.source_word}” → “{coref.target_word}”",
                    reference=("spread evenly", coref.uniform),
                    height=160 + 56 * len(names),
                ),
                key="real_coref_top",
                name="top heads",
                where=left,
            )
            pick = linked_choice(right.selectbox, "Head to look at", names, default=0, key="real_coref_pick")
            chosen = coref.top[pick]
            view = cached.real_view(model, text, True, True)
            labels = list(view.labels)
            row = 1 + coref.source_index  # grouped by words, [CLS] first: word i is row i + 1
            W = view.weights[chosen.layer, chosen.head]  # (G, G)
            show.chart(
                plots.head_view(labels, labels, W, focus=row, title=f"Lines from “{coref.source_word}”"),
                key="real_coref_view",
                name="head view",
                where=right,
            )
            if not np.isnan(others).all():
                gap = [s.weight - o for s, o in zip(coref.top, others, strict=True)]
                sharp = int(np.nanargmax(gap))
                st.caption(
                    f"A high weight alone can mislead: in {names[0]} the other words give “{tgt}” {others[0]:.2f} on "
                    f"average, against {best.weight:.2f} from “{src}”. Of these heads, {names[sharp]} singles "
                    f"“{src}” out most: {coref.top[sharp].weight:.2f} from “{src}”, {others[sharp]:.2f} from the rest."
                )
            show.chart(
                plots.heatmap(
                    W,
                    labels,
                    labels,
                    title=f"{names[pick]}: the whole map, the row of “{coref.source_word}” framed",
                    row_title="word",
                    col_title="attends to",
                    value_name="weight",
                    diverging=False,
                    zmax=1.0,
                    highlight_rows=[row],
                ),
                key="real_coref_map",
                name=names[pick],
                csv=(W, labels, labels),
            )
            layer_names, head_names = [f"layer {i + 1}" for i in range(L)], [str(j + 1) for j in range(H)]
            show.chart(
                plots.heatmap(
                    coref.weights,
                    layer_names,
                    head_names,
                    title=f"All {L * H} heads: attention from “{coref.source_word}” to “{coref.target_word}”",
                    row_title="layer",
                    col_title="head",
                    value_name="weight",
                    diverging=False,
                    zmax=1.0,
                    height=330,
                ),
                key="real_coref_all",
                name="every head from source to target",
                csv=(coref.weights, layer_names, head_names),
            )
            st.caption(
                f"{int((coref.weights > 2 * coref.uniform).sum())} of {L * H} heads give “{tgt}” more than twice the "
                "even share. In this model the first layers mostly look at neighbouring words (the diagonals on page "
                "5b): linking a pronoun to its noun takes context that a few layers have gathered."
            )


show.section(which_heads)


# --- bank across layers -----------------------------------------------------------------------------------------
show.step("How “bank” changes from layer to layer")
st.markdown(
    "Each layer mixes some of the sentence into every word. Follow one word through the layers of two sentences "
    "and measure the cosine between its two vectors at each depth: 1 means the model still sees the same thing, "
    "lower means the contexts have pulled the two apart."
)


def bank_across_layers() -> None:
    """One word's vector through the layers, in two or three sentences (reruns alone)."""
    d1, d2, d3 = st.columns([2, 2, 1])
    text_a = linked(d1.text_input, "Sentence A", RIVER, key="real_drift_a", max_chars=MAX_TEXT)
    text_b = linked(d2.text_input, "Sentence B", MONEY, key="real_drift_b", max_chars=MAX_TEXT)
    word = linked(d3.text_input, "Word", "bank", key="real_drift_word", max_chars=40)
    text_c = linked(
        st.text_input,
        "Sentence C, for comparison with A (leave empty to skip)",
        RIVER_TOO,
        key="real_drift_c",
        max_chars=MAX_TEXT,
    )
    series: dict[str, tuple[float, ...]] = {}
    depths: tuple[str, ...] = ()
    notes: dict[str, None] = {}  # each note once, in order
    for other, name in ((text_b, "B"), (text_c, "C")):
        if name == "C" and not other.strip():
            continue
        try:
            found = cached.drift(model, text_a, other, word)
        except AttnvizInputError as err:
            warn(f"A and {name}: {err}. The word must appear in both sentences.")
            continue
        notes.update(
            {f"Sentence A: {n}": None for n in found.notes_a} | {f"Sentence {name}: {n}": None for n in found.notes_b}
        )
        series[f"A vs {name}"] = found.cosines
        depths = found.labels
    for note in notes:
        warn(note)
    answered = bool(series)
    if "A vs B" in series:
        ab = np.array(series["A vs B"])
        lowest = int(ab.argmin())
        answered = predict_first(
            "real_drift_predict",
            f"Where will “{md_escape(word.strip())}” in A and “{md_escape(word.strip())}” in B be furthest apart?",
            ["before any layer (the embeddings)", "in the middle layers", "after the last layer"],
            correct=0 if lowest == 0 else (2 if lowest == len(ab) - 1 else 1),
            explain=f"The lowest cosine is {ab[lowest]:.3f}, at {depths[lowest]}. At the embeddings a word's vector "
            "depends only on the word and its position, so the same word at the same place starts at exactly 1.",
        )
    if answered:
        show.chart(
            plots.category_lines(
                depths,
                series,
                title=f"cos(“{word.strip()}” in A, “{word.strip()}” in the other sentence), layer by layer",
                y_title="cosine",
            ),
            key="real_drift_chart",
            name="cosine by layer",
        )
        st.caption(
            " ".join(
                f"{name}: {c[0]:.3f} at the embeddings, {c[-1]:.3f} after layer {L}." for name, c in series.items()
            )
            + (
                f" After the last layer, A's “{md_escape(word.strip())}” is closer to "
                f"{'C' if series['A vs C'][-1] > series['A vs B'][-1] else 'B'}'s."
                if len(series) == 2
                else ""
            )
        )


show.section(bank_across_layers)
