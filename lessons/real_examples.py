"""Page 5c: three things real heads are said to do, measured: following what "it" refers to, looking from a verb to
its subject, and moving "bank" toward its sense."""

import numpy as np
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import cached, loaders
from app_support.kit import charts, steps
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import linked, warn
from app_support.parts import real_pairs
from app_support.parts.real_probes import held_out_section, kept_answer
from attnviz import AttnvizInputError, plots

MAX_TEXT = 5_000  # characters; the model reads its first 256 pieces (attnviz.paragraph.MODEL_PIECES) and says so
COREF_A = "the cat sat on the mat because it was tired"
COREF_B = "the cat sat on the mat because it was soft"
RIVER, MONEY, RIVER_TOO = "I walked by the river bank", "I deposited money at the bank", "we sat on the grassy bank"
SHOWN = 5  # heads in each ranking

st.title("5c · What real heads do")
st.markdown(
    "Three experiments on the pretrained model of page 5b. This page does **not** use the sentence in the sidebar: "
    "each experiment needs sentences made for it (two sentences that differ in one word, sentences whose verb and "
    "subject are labelled), so it brings its own. Edit them: every number below is measured on the sentences shown."
)
model = loaders.model()
L, H = model.n_layers, model.n_heads


# --- it → its referent --------------------------------------------------------------------------------------------
steps.step("Which heads follow the referent when it changes")
st.markdown(
    "In the ready pair below, “it” is the cat in sentence A; change the last word and in sentence B it is the mat. A "
    "head that sends “it” to “cat” in both tells us nothing about what “it” means. So we score each of the 72 heads "
    "by how far the weight of the pronoun moves with its meaning: (weight on A's referent in A − in B) + (weight on "
    "B's referent in B − in A). 0: each noun keeps the weight it had in A when the sentence becomes B, however "
    "much that is (or a gain on one side cancels a loss on the other); 2 would be a complete switch; below 0, the "
    "weight moves the wrong way."
)


def which_heads() -> None:
    """Heads ranked on a minimal pair of the learner's (reruns alone)."""
    text_a = linked(st.text_input, "Sentence A", COREF_A, key="real_coref_text", max_chars=MAX_TEXT)
    text_b = linked(st.text_input, "Sentence B (the same, one word changed)", COREF_B, key="real_coref_text_b",
                    max_chars=MAX_TEXT)  # fmt: skip
    c1, c2, c3 = st.columns(3)
    source = linked(c1.text_input, "The pronoun", "it", key="real_coref_src", max_chars=40)
    ref_a = linked(c2.text_input, "It means, in A", "cat", key="real_coref_tgt", max_chars=40)
    ref_b = linked(c3.text_input, "It means, in B", "mat", key="real_coref_tgt_b", max_chars=40)
    try:
        shift = cached.referent_shift(model, text_a, text_b, source, ref_a, ref_b)
    except AttnvizInputError as err:
        warn(f"{err}. Both sentences need the pronoun and both nouns, three different words.")
        return
    for note in dict.fromkeys(
        [f"Sentence A: {n}" for n in shift.notes_a] + [f"Sentence B: {n}" for n in shift.notes_b]
    ):
        warn(note)
    if not real_pairs.coref_question(shift):
        return
    names = real_pairs.coref_ranking(model, shift)
    real_pairs.coref_views(model, shift, names, text_a, text_b)
    real_pairs.first_layers(model, text_a)


steps.section(which_heads)

steps.step("Does the head carry over to other pairs?")
st.markdown(
    "One pair cannot show what a head does: among 72 heads one always moves most, perhaps for a reason of that pair "
    "alone, such as the word that was changed. So the heads are ranked by their mean score on some ready pairs, and "
    "the heads ranked first are scored on other pairs that played no part in the ranking. These pairs are fixed; "
    "they do not change with the sentences above."
)
held_out_section(model)


# --- verb → subject -----------------------------------------------------------------------------------------------
SETS = {  # shown name → set
    "with words between subject and verb": "far",
    "page 3's labelled sentences": "page3",
}
steps.step("Which heads look from a verb to its subject")
st.markdown(
    "Page 3 trains $M_Q$ and $M_K$ on word vectors so that verbs attend to their subjects. Did training give the real "
    "model such a head? For sentences whose verb and subject are labelled, we measure in each of the 72 heads the "
    "weight from the verb to its subject, and rank the heads by its mean."
)


def verb_subject() -> None:
    """Heads ranked by the weight from labelled verbs to their subjects (reruns alone)."""
    sets = cached.verb_subject_sets()
    choice = SETS[linked(st.radio, "Sentences", list(SETS), key="real_vs_set", horizontal=True)]
    found = cached.pair_heads(model, choice, sets[choice])
    names = real_pairs.verb_ranking(found)
    real_pairs.verb_views(model, found, names)


steps.section(verb_subject)


# --- bank across layers -------------------------------------------------------------------------------------------
steps.step("How “bank” changes from layer to layer")
st.markdown(
    "Each layer mixes some of the sentence into every word. Follow one word through the layers of two sentences "
    "and measure the cosine between its two vectors at each depth: 1 means the two vectors point the same way, "
    "lower means the contexts have pulled them apart."
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
        shown = md_escape(word.strip())
        answered = kept_answer(
            "real_drift_predict",
            lambda: predict_first(
                "real_drift_predict",
                f"Where will “{shown}” in A and “{shown}” in B be furthest apart?",
                ["before any layer (the embeddings)", "in the middle layers", "after the last layer"],
                correct=0 if lowest == 0 else (2 if lowest == len(ab) - 1 else 1),
                explain=f"The lowest cosine is {ab[lowest]:.3f}, at {depths[lowest]}. At the embeddings a word's "
                "vector depends only on the word and its position, so the same word at the same place starts at "
                f"exactly 1; here the cosine there is {ab[0]:.3f}.",
            ),
        )
    if answered:
        charts.chart(
            plots.category_lines(
                depths,
                series,
                title=f"cos(“{word.strip()}” in A, in the other), by layer",
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


steps.section(bank_across_layers)
