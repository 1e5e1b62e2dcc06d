"""Lesson 2: the similarity matrix S = I·Iᵀ and the first attention, O = S·I."""

from typing import TYPE_CHECKING

import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import cached
from app_support.kit import charts, sentence, steps
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import lesson_sentence, linked, linked_choice, warn
from app_support.parts import paragraph_view
from attnviz import AttnvizInputError, plots
from attnviz.attention import mix
from attnviz.embeddings import compare, word_vector
from attnviz.host import to_host
from attnviz.similarity import DiagonalCount, diagonal_wins, similarity_matrix, weight_by_word

if TYPE_CHECKING:
    from torch import Tensor

st.title("2 · The similarity matrix")
st.markdown(
    "Stack the vectors of your sentence's words, one per row: that is the matrix **I**. Multiply it by its own "
    "transpose and every word meets every other word in one step: **S = I·Iᵀ** holds all the dot products. "
    "Then **O = S·I** rebuilds each word as a mix of the whole sentence, weighted by those scores. "
    "That mix is the first, simplest attention."
)

text = sentence.current()
kv, _, tokens, labels, I = lesson_sentence(text)  # I: (T, D)

# --- I ------------------------------------------------------------------------------------------------------
steps.step("I: the sentence as a matrix")
st.latex(rf"I \in \mathbb{{R}}^{{{len(labels)} \times {I.shape[1]}}}\quad(\text{{words}} \times \text{{dimensions}})")
dims = [str(i) for i in range(I.shape[1])]
charts.chart(
    plots.strip(I, labels, title=f"One row per word, {I.shape[1]} numbers each"),
    key="sim_I",
    name="I",
    csv=(I, labels, dims),
)

# --- S = I·Iᵀ ----------------------------------------------------------------------------------------------
steps.step("S = I·Iᵀ: every word against every word")
kind = linked(
    st.radio,
    "Score",
    ["dot", "cosine"],
    horizontal=True,
    key="sim_kind",
    help="dot: the raw dot product. cosine: divided by both lengths, so only direction counts.",
)
S = similarity_matrix(I, kind)  # (T, T)
diagonal = diagonal_wins(S, tokens.words)  # a tie with a repeated word's own copy is not a loss


def ties_note(count: DiagonalCount) -> str:
    """What the count says about ties, for the rows of your sentence ("" when nothing ties)."""
    copies = count.tied_copies(tokens.words)
    others = count.other_ties
    notes = [
        "the copies of " + ", ".join(f"“{md_escape(w)}”" for w in copies[:5])
        + (f" and {len(copies) - 5} more words" if len(copies) > 5 else "") + " score as much with each other as with "
        "themselves, since a repeated word has the same vector each time"
    ] if copies else []  # fmt: skip
    if others:
        notes.append(f"“{md_escape(labels[others[0][0]])}” ties with “{md_escape(labels[others[0][1]])}”")
    return f" (a tie counts as the diagonal's: {'; '.join(notes)})" if notes else ""


def beaten_note(count: DiagonalCount) -> str:
    """Which words beat the diagonal in their row, or that none does."""
    if not count.losses:
        return "; in your sentence no other word beats it"
    shown = [f"“{md_escape(labels[i])}” (by “{md_escape(labels[count.best[i]])}”)" for i in count.losses[:3]]
    more = f" and {len(count.losses) - 3} more" if len(count.losses) > 3 else ""
    return "; here it is beaten in the rows of " + ", ".join(shown) + more


if predict_first(
    "sim_predict_diag",
    "In each row of S, which cell do you expect to be the largest?",
    ["the word with itself (the diagonal)", "the word next to it", "a short word such as “the”"],
    correct=0 if diagonal.share >= 0.5 else None,
    explain=(
        "With cosine the diagonal is exactly 1, the largest a cosine can be" + ties_note(diagonal) + "."
        if kind == "cosine"
        else f"In your sentence the diagonal is the largest cell in {diagonal.share:.0%} of the rows"
        + ties_note(diagonal)
        + ". A word's dot product with itself is its squared length, so another word beats it only by being longer "
        "and pointing close enough" + beaten_note(diagonal) + ". With cosine the diagonal is 1, which nothing can beat."
    ),
):
    charts.chart(
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
    first, last = md_escape(labels[0]), md_escape(labels[-1])
    st.caption(
        f"S is symmetric: {first}·{last} is the same number as {last}·{first} "
        f"({float(S[0, -1]):.2f}). "
        + ("The diagonal is each word's squared length." if kind == "dot" else "The diagonal is all ones.")
    )
    paragraph_view.long_map(
        S, labels, key="sim_para", weights=False, glove_text=text, decimals=1 if kind == "dot" else 2
    )

# --- O = S·I -----------------------------------------------------------------------------------------------
steps.step("O = S·I: each word becomes a mix of the sentence")
O = mix(S, I)  # (T, D)


def meter_verdict(word: str, a: str, b: str, change_a: float, change_b: float, now_a: float, now_b: float) -> str:
    """Two sentences on the meter that stay true whichever way the two cosines moved: the shift, then where the word
    ends (a word can gain more toward one probe and still end closer to the other)."""
    word, a, b = md_escape(word), md_escape(a), md_escape(b)
    (best, d_best), (other, d_other) = sorted(((a, change_a), (b, change_b)), key=lambda p: -p[1])
    if d_best > 0 and d_other > 0:
        shift = f"After mixing, “{word}” is closer to both, and gained more toward “{best}”."
    elif d_best > 0:
        shift = f"After mixing, “{word}” moved toward “{best}” and away from “{other}”."
    elif d_best == d_other == 0:
        shift = f"Mixing left “{word}” exactly as close to both."
    else:
        shift = (
            f"After mixing, “{word}” is further from both probes; it lost less toward “{best}” ({d_best:+.3f}) than "
            f"toward “{other}” ({d_other:+.3f})."
        )
    if now_a == now_b:
        return f"{shift} It ends exactly as close to both ({now_a:.3f})."
    (near, c_near), (far, c_far) = sorted(((a, now_a), (b, now_b)), key=lambda p: -p[1])
    return f"{shift} It ends closer to “{near}” ({c_near:.3f}) than to “{far}” ({c_far:.3f})."


def own_share_note(word: str, own: float, others: int) -> str:
    """How much of its own new vector a word supplies, and what that says about the mix (true either way: a short
    sentence can leave the word most of its own weight)."""
    word = md_escape(word)
    if others == 0:
        return f"“{word}” is the only word: the mix is the word itself, only longer."
    if own >= 0.5:
        return (
            f"“{word}” itself gives {own:.0%} of the weight, more than the other {others} "
            f"word{'s' if others > 1 else ''} together, so the mix stays mostly the word itself. The meter below is "
            "a sharper test."
        )
    return (
        f"“{word}” itself gives only {own:.0%} of the weight; the rest comes from the other {others} words, so the mix "
        "leans toward the sentence as a whole. The meter below is a sharper test."
    )


def repeats_note(weights, top_word: str) -> str:
    """When a repeated word's copies together outweigh the largest single cell: say so, with the sums ("" else)."""
    totals = weight_by_word(weights, tokens.words)  # {word: its copies' weights added}
    word, total = max(totals.items(), key=lambda item: item[1])
    if word == top_word or total <= totals[top_word]:
        return ""
    copies = tokens.words.count(word)
    return (
        f" Counted word by word, the {copies} copies of “{md_escape(word)}” together give {total:.2f}, more than the "
        f"{totals[top_word]:.2f} of “{md_escape(top_word)}”: a word that repeats adds its vector once per copy."
    )


def follow_a_word() -> None:
    """One word's row of S, what mixing does to its meaning, the meaning meter (reruns alone)."""
    default = tokens.words.index("bank") if "bank" in tokens.words else len(labels) - 1
    focus = linked_choice(st.columns([1, 2])[0].selectbox, "Word to follow", labels, default=default, key="sim_focus")
    weights = S[focus]  # (T,) row `focus` of S: how much of each word goes into the new vector
    heaviest = diagonal.best[focus]  # the word itself wherever it ties for largest
    tied = [
        md_escape(labels[j]) for (i, j), copy in zip(diagonal.ties, diagonal.copies, strict=True) if copy and i == focus
    ]
    answered = predict_first(
        "sim_predict_mix",
        f"Which single word of your sentence (one place in it) will weigh most in the new “{labels[focus]}”?",
        ["the word itself", "the most related other word", "every word about equally"],
        correct=0 if heaviest == focus else 1,
        explain=f"The largest weight in row “{labels[focus]}” of S goes to “{labels[heaviest]}” "
        f"({weights[heaviest]:.2f})"
        + (f", tied with “{'”, “'.join(tied)}”, the same word again." if tied else ".")
        + repeats_note(weights, tokens.words[heaviest]),
    )
    if answered:
        _row(focus, weights)
        _neighbours(focus, weights)
        _meaning_meter(focus)


def _row(focus: int, weights: "Tensor") -> None:
    """Row ``focus`` of S as bars, the new vector as its weighted sum, and what the weights add up to."""
    charts.chart(
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
    shown_terms = [f"{float(weights[j]):.2f}·{labels[j]}" for j in terms[:8]]
    lines = [" + ".join(shown_terms[i : i + 4]) for i in range(0, len(shown_terms), 4)]  # 4 terms a line
    st.code(
        f"{labels[focus]}_O = " + "\n    + ".join(lines) + (f" + … ({len(terms) - 8} more)" if len(terms) > 8 else ""),
        language=None,
        wrap_lines=True,
    )
    grown = float(O[focus].norm() / I[focus].norm())
    st.caption(
        f"The weights add up to {float(weights.sum()):.2f}, not 1 (page 4's softmax makes them add up to 1, so "
        f"the new vector becomes an average of the words' vectors). Here the new vector is {grown:.1f} times as "
        "long as the old one: its length depends on every weight and on how far the vectors it adds point the "
        "same way, not on the sum alone. Directions are what the neighbours below compare, so the length does not "
        "matter here."
    )


def _neighbours(focus: int, weights: "Tensor") -> None:
    """The word's nearest vocabulary words before and after mixing, and its own share of the row."""
    st.subheader(f"Does “{labels[focus]}” change meaning?")
    exclude_own = linked(
        st.toggle, "Leave the sentence's own words out of the neighbours", value=True, key="sim_exclude"
    )
    skip = tuple(tokens.words) if exclude_own else ()
    before = cached.neighbours(kv, to_host(I[focus]), 8, skip)
    after = cached.neighbours(kv, to_host(O[focus]), 8, skip)
    b1, b2 = st.columns(2)
    charts.chart(
        plots.ranking(before, title="Neighbours before (I)"), key="sim_before", name="neighbours before", where=b1
    )
    charts.chart(
        plots.ranking(after, title="Neighbours after (O = S·I)"), key="sim_after", name="neighbours after", where=b2
    )

    own = float(weights[focus].abs() / weights.abs().sum())  # its share of the row, by size (dot can be < 0)
    st.caption(own_share_note(labels[focus], own, len(labels) - 1))


def _meaning_meter(focus: int) -> None:
    """How close the word is to two probe words of the learner's, before and after mixing."""
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
        changes, ends = [], []
        for col, (name, vec) in zip(st.columns(2), probes, strict=True):
            was, now = compare(to_host(I[focus]), vec).cosine, compare(to_host(O[focus]), vec).cosine
            col.metric(
                f"cos({md_escape(labels[focus])}, {md_escape(name)}) after mixing — before: {was:.3f}",
                f"{now:.3f}",
                f"{now - was:+.3f}",
            )
            changes.append(now - was)
            ends.append(now)
        st.caption(meter_verdict(labels[focus], probes[0][0], probes[1][0], *changes, *ends))


steps.section(follow_a_word)

with st.expander("O for every word"):
    charts.chart(
        plots.strip(O, labels, title="O = S·I, one row per word"), key="sim_O", name="O", csv=(O, labels, dims)
    )
