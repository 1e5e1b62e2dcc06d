"""Page 5c's parts: the pronoun heads ranked on the learner's minimal pair (the question, the ranking, the two head
views, where the first layers look) and the heads ranked from labelled verbs to their subjects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import cached
from app_support.kit import charts, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import linked_choice
from app_support.parts.real_probes import census_table, head_name, kept_answer
from attnviz import plots

if TYPE_CHECKING:
    from attnviz.pairs import PairSummary
    from attnviz.pretrained import Model
    from attnviz.probes import ReferentShift


def _shown(shift: ReferentShift) -> tuple[str, str, str]:
    """The pronoun and the two referents, escaped for markdown."""
    return tuple(md_escape(w) for w in (shift.source, shift.referent_a, shift.referent_b))


def _first_on_a(shift: ReferentShift) -> tuple[int, int]:
    """The head (layer, head) that an "it → cat" ranking on sentence A alone would put first."""
    strong = np.unravel_index(int(np.argmax(shift.a_to_a)), shift.a_to_a.shape)
    return int(strong[0]), int(strong[1])


def coref_question(shift: ReferentShift) -> bool:
    """Predict first: does the head first by weight on A's referent follow the change in B? True once answered."""
    src, a, b = _shown(shift)
    sl, sh = _first_on_a(shift)
    follows = bool(shift.b_to_b[sl, sh] > shift.b_to_a[sl, sh])
    return kept_answer(
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


def coref_ranking(model: Model, shift: ReferentShift) -> list[str]:
    """The heads that move most with the referent: a bar chart, their weights in a table, a caption; their names."""
    L, H = model.n_layers, model.n_heads
    src, a, b = _shown(shift)
    sl, sh = _first_on_a(shift)
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
    return names


def coref_views(model: Model, shift: ReferentShift, names: list[str], text_a: str, text_b: str) -> None:
    """One ranked head's lines from the pronoun in both sentences, then every head's score."""
    L, H = model.n_layers, model.n_heads
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


def first_layers(model: Model, text_a: str) -> None:
    """Where the first layers look in sentence A (the census of every layer in an expander)."""
    H = model.n_heads
    census = cached.census(model, text_a)
    if census is None:
        return
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


def verb_ranking(found: PairSummary) -> list[str]:
    """The heads ranked by the weight from each verb to its subject, beside the word before any word; their names."""
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
    return names


def verb_views(model: Model, found: PairSummary, names: list[str]) -> None:
    """One ranked head's map on one chosen sentence (the verb's row framed), then every head's mean weight."""
    L, H = model.n_layers, model.n_heads
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
