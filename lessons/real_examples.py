"""Page 5c: three things real heads are said to do, measured: following what "it" refers to, looking from a verb to
its subject, and moving "bank" toward its sense."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import cached, loaders
from app_support.kit import charts, steps, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import linked, linked_choice, warn
from app_support.parts.real_probes import census_table, head_name, held_out_section, kept_answer
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
    src, a, b = (md_escape(w) for w in (shift.source, shift.referent_a, shift.referent_b))
    # the head that an "it → cat" ranking on sentence A alone would put first
    strong = np.unravel_index(int(np.argmax(shift.a_to_a)), shift.a_to_a.shape)
    sl, sh = int(strong[0]), int(strong[1])
    follows = bool(shift.b_to_b[sl, sh] > shift.b_to_a[sl, sh])
    answered = kept_answer(
        "real_coref_predict",
        lambda: predict_first(
            "real_coref_predict",
            f"In sentence A, {head_name(sl, sh)} gives “{a}” more of the attention of “{src}” than any other head "
            f"does ({shift.a_to_a[sl, sh]:.2f}). In sentence B, where “{src}” is the {b}, which noun will that head "
            "weight more?",
            ["the new referent, as sentence B says", "still the referent of sentence A"],
            correct=0 if follows else 1,
            explain=f"In B it gives “{a}” {shift.b_to_a[sl, sh]:.2f} and “{b}” {shift.b_to_b[sl, sh]:.2f}: "
            + (
                "it does follow the change."
                if follows
                else f"it sends “{src}” to “{a}” whatever the sentence says. A high weight on one sentence does not "
                "show that a head knows what a word refers to."
            ),
        ),
    )
    if not answered:
        return
    names = [head_name(lh, hh) for lh, hh in shift.top]
    best = shift.top[0]
    charts.chart(
        plots.bars(
            names,
            [float(shift.score[lh, hh]) for lh, hh in shift.top],
            title=f"Top {len(names)} heads by score",
            value_name="score (how far the weight moves)",
            horizontal=True,
            height=120 + 40 * len(names),
        ),
        key="real_coref_top",
        name="heads that follow the referent",
    )
    rows = [*shift.top, (sl, sh)] if (sl, sh) not in shift.top else list(shift.top)
    tables.table(
        pd.DataFrame(
            {
                f"A: “{shift.referent_a}”": [f"{shift.a_to_a[r]:.2f}" for r in rows],
                f"B: “{shift.referent_a}”": [f"{shift.b_to_a[r]:.2f}" for r in rows],
                f"A: “{shift.referent_b}”": [f"{shift.a_to_b[r]:.2f}" for r in rows],
                f"B: “{shift.referent_b}”": [f"{shift.b_to_b[r]:.2f}" for r in rows],
                "score": [f"{shift.score[r]:.2f}" for r in rows],
            },
            index=pd.Index([head_name(*r) for r in rows], name=f"weight from “{shift.source}” to"),
        ),
        key="real_coref_table",
    )
    top_score = float(shift.score[best])
    n_resolved = int(shift.resolved.sum())
    verdict = (  # about this pair only: the ready pairs below test whether a head picked on one pair carries over
        "On this pair no head moves much: "
        if top_score < 0.1
        else (
            "On this pair one head moves clearly more than the rest (whether it does on other pairs is tested below): "
            if top_score > 2 * float(shift.score[shift.top[1]])
            else ""
        )
    )
    st.caption(
        f"{verdict}the largest score is {top_score:.2f} of a possible 2, in {names[0]}: “{src}” gives “{a}” "
        f"{shift.a_to_a[best]:.2f} in A and {shift.b_to_a[best]:.2f} in B, “{b}” {shift.a_to_b[best]:.2f} in A and "
        f"{shift.b_to_b[best]:.2f} in B. {n_resolved} of {L * H} heads give the true referent more weight than the "
        f"other noun in both sentences. The head first by weight on “{a}” in A alone, {head_name(sl, sh)}, scores "
        f"{shift.score[sl, sh]:.2f}."
    )

    pick = linked_choice(st.selectbox, "Head to look at", names, default=0, key="real_coref_pick")
    layer, head = shift.top[pick]
    left, right = st.columns(2)
    for where, text, row, name in ((left, text_a, shift.source_row_a, "A"), (right, text_b, shift.source_row_b, "B")):
        view = cached.real_view(model, text, True, True)
        charts.chart(
            plots.head_view(
                list(view.labels),
                list(view.labels),
                view.weights[layer, head],
                focus=row,
                title=f"Sentence {name}: lines from “{shift.source}”",
            ),
            key=f"real_coref_view_{name.lower()}",
            name=f"head view sentence {name}",
            where=where,
        )
    layer_names, head_names = [f"layer {i + 1}" for i in range(L)], [str(j + 1) for j in range(H)]
    charts.chart(
        plots.heatmap(
            shift.score,
            layer_names,
            head_names,
            title=f"Score of all {L * H} heads",
            row_title="layer",
            col_title="head",
            value_name="score",
            diverging=True,
            cell_text=False,
            height=330,
        ),
        key="real_coref_all",
        name="every head on the minimal pair",
        csv=(shift.score, layer_names, head_names),
    )

    census = cached.census(model, text_a)
    if census is not None:
        nb = census.neighbours[0]
        st.caption(
            f"Where do the first layers look? In sentence A, layer 1's heads put {nb.mean():.0%} of their weight on "
            f"the tokens right beside each token ({nb.min():.0%} to {nb.max():.0%} by head), "
            f"{census.special[0].mean():.0%} on [CLS] and [SEP] and {census.itself[0].mean():.0%} on the token "
            f"itself; {int(census.heads_over_half[0])} of {H} heads put over half next door"
            + (": most of layer 1's weight is not next door here." if nb.mean() < 0.5 else ".")
        )
        with st.expander("Where each layer's weight goes, in sentence A"):
            tables.table(census_table(census), key="real_coref_census")
            st.caption(
                f"Averaged over the rows of the sentence's own tokens and over the {H} heads of a layer; "
                "each row's four shares sum to 100%."
            )


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
    names = [head_name(lh, hh) for lh, hh in found.top]
    n = len(found.sentences)
    left, right = st.columns([3, 2])
    charts.chart(
        plots.grouped_bars(
            names,
            {
                "verb → its subject": [float(found.mean[r]) for r in found.top],
                "any word → the word before it": [float(found.any_previous[r]) for r in found.top],
            },
            value_name="mean weight",
            title=f"The top {len(names)} heads, over {n} verbs",
            reference=("spread evenly", found.uniform),
            height=160 + 56 * len(names),
        ),
        key="real_vs_top",
        name="verb to subject heads",
        where=left,
    )
    best = found.top[0]
    if found.adjacent == n:
        place = (
            f"In all {n} of these pairs the subject stands right before its verb, so this set cannot tell a subject "
            "head from a head that looks one word back."
        )
    else:
        place = f"The subject stands right before its verb in {found.adjacent} of these {n} pairs."
    back = float(found.any_previous[best])
    kind = (
        f" It gives the word before any word {back:.2f} on average in these sentences: it looks one word back, "
        "whatever the word."
        if back >= 0.8 * float(found.mean[best])
        else f" The word before any word gets only {back:.2f} from it."
    )
    right.caption(
        f"{place} The best head, {names[0]}, gives the subject {found.mean[best]:.2f} of the verb's attention on "
        f"average, where spreading it evenly would give about {found.uniform:.2f}; the subject is the verb's most "
        f"weighted word in {found.top_share[best]:.0%} of the pairs.{kind}"
        + (" No head gives the subject even half of the verb's attention on average." if found.mean[best] < 0.5 else "")
    )
    c1, c2 = st.columns(2)
    pick = linked_choice(c1.selectbox, "Head", names, default=0, key="real_vs_pick")
    labels = [f"{s}  ({q} → {t})" for s, q, t in zip(found.sentences, found.queries, found.targets, strict=True)]
    sent = linked_choice(c2.selectbox, "Sentence", labels, default=0, key="real_vs_sentence")
    layer, head = found.top[pick]
    view = cached.real_view(model, found.sentences[sent], True, True)
    W = view.weights[layer, head]  # (G, G)
    charts.chart(
        plots.attention_map(
            W,
            list(view.labels),
            list(view.labels),
            title=f"{names[pick]}, the row of “{found.queries[sent]}” framed",
            row_title="word",
            col_title="attends to",
            highlight_rows=[found.query_rows[sent]],
        ),
        key="real_vs_map",
        name=f"{names[pick]} verb to subject",
        csv=(W, list(view.labels), list(view.labels)),
    )
    layer_names, head_names = [f"layer {i + 1}" for i in range(L)], [str(j + 1) for j in range(H)]
    charts.chart(
        plots.heatmap(
            found.mean,
            layer_names,
            head_names,
            title=f"Verb → subject, all {L * H} heads",
            row_title="layer",
            col_title="head",
            value_name="weight",
            diverging=False,
            zmax=1.0,
            cell_text=False,
            height=330,
        ),
        key="real_vs_all",
        name="every head verb to subject",
        csv=(found.mean, layer_names, head_names),
    )


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
