"""Lesson 1: words as vectors — analogies, dot product and cosine, neighbours, a claim checked on data."""

import numpy as np
import streamlit as st

from app_support.classroom.predict import predict_first
from app_support.data import cached, loaders
from app_support.kit import charts, sentence, steps
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import linked, need_words, sentence_tokens, warn
from attnviz import AttnvizInputError, plots
from attnviz.embeddings import (
    SEARCH_WORDS,
    compare,
    parse_expression,
    parse_word_list,
    pca,
    word_vector,
    word_vectors,
)

# NumPy throughout, no torch: this is the page a fresh server draws first (tests/app/test_first_page.py)
kv = loaders.glove()

st.title("1 · Words as vectors")
# Pennington, Socher, Manning, "GloVe" (EMNLP 2014), section 4.2 and the glove.6B release: 6 billion tokens
# (punctuation included) of Wikipedia 2014 and Gigaword 5, a 400,000-word vocabulary
st.markdown(
    "A model cannot read letters, so every word is first turned into a list of numbers: a **vector**. "
    f"Here each word is {kv.vector_size} numbers from GloVe (glove.6B, trained on 6 billion tokens of Wikipedia and "
    "Gigaword news text), learned so that words "
    "used in similar places get similar numbers. Because they are vectors, we can add them, subtract them and "
    "measure how much two of them point the same way."
)

# --- the learner's sentence as numbers -------------------------------------------------------------------
steps.step("Your sentence, as numbers")
text = sentence.current()
tokens = sentence_tokens(text)
if need_words(text, tokens):
    vectors = word_vectors(kv, tokens.words)  # (T, 50)
    charts.chart(
        plots.strip(vectors, tokens.labels, title=f"Each row is one word's {kv.vector_size} numbers"),
        key="emb_strip",
        name="sentence vectors",
        csv=(vectors, tokens.labels, [str(i) for i in range(vectors.shape[1])]),
    )
    st.caption(
        f"GloVe was not trained to give any single number a meaning such as “animal” or “royal”: what a word means is "
        f"spread across all {kv.vector_size}. Hover to read them."
    )

# --- analogies ---------------------------------------------------------------------------------------------
steps.step("Arithmetic with meanings")
st.markdown(
    "Take the vector of *king*, subtract *man*, add *woman*, then look for the word whose vector points most "
    "nearly the same way (the highest **cosine**, see below). Precisely, as gensim's `most_similar` does it: each "
    "vector is first scaled to length 1, so that no word counts more for being long, and the unit vectors are "
    f"added and subtracted. The answers come from the {SEARCH_WORDS:,} most common words; the words you typed are "
    "left out unless you ask for them."
)


def analogies() -> None:
    """Analogies: the expression, the answers and their picture (reruns alone)."""
    options = ["princess", "queen", "monarch", "woman"]
    first, score = cached.analogy(kv, parse_expression("king - man + woman", kv), 1, True).answers[0]
    answered = predict_first(
        "emb_predict_analogy",
        "With the input words left out, which word is closest to king − man + woman?",
        options,
        correct=options.index(first) if first in options else None,
        explain=f"GloVe puts “{first}” first, with cosine {score:.2f}; then try the switch below to keep the input "
        "words.",
    )
    left, right = st.columns([2, 1])
    expr_text = linked(
        left.text_input, "Expression (words joined by + and -)", "king - man + woman", key="emb_expr", max_chars=200
    )
    topn = linked(right.slider, "Answers to show", 3, 20, 8, key="emb_topn")
    include = linked(st.toggle, "Keep the input words among the answers", key="emb_include")
    try:
        expression = parse_expression(expr_text, kv)
    except AttnvizInputError as err:
        warn(str(err))
        expression = None
    if expression is not None and answered:
        analogy = cached.analogy(kv, expression, topn, not include)
        words = [w for w, _ in analogy.answers]
        col_a, col_b = st.columns([1, 2])
        charts.chart(
            plots.ranking(analogy.answers, title=str(expression), highlight_first=True),
            key="emb_analogy_bars",
            name="analogy answers",
            where=col_a,
        )
        if include and words and words[0] in expression.positive:
            col_a.caption(
                f"“{words[0]}” wins: the sum is still mostly made of it. That is why analogy tools leave the input "
                "words out."
            )
        # The arrows: for "a - b + c", b → c and a → answer are the same move if the analogy holds.
        shown = list(dict.fromkeys([w for _, w in expression.terms] + words[:3]))
        # (an expression of negative terms alone, "-dog", has no word to start the answer's arrow from)
        arrows = [(shown.index(expression.positive[0]), shown.index(words[0]))] if words and expression.positive else []
        if len(expression.negative) == 1 and len(expression.positive) == 2:
            arrows.insert(0, (shown.index(expression.negative[0]), shown.index(expression.positive[1])))
        dims = linked(col_b.radio, "Projection", ["2-D", "3-D"], horizontal=True, key="emb_dims")
        coords, share = pca(word_vectors(kv, shown), 3 if dims == "3-D" else 2)  # (N, 2 or 3), (2 or 3,)
        charts.chart(
            plots.scatter(
                coords,
                shown,
                arrows=[a for a in arrows if a[0] != a[1]],
                title=f"Main directions, PCA ({share.sum():.0%} of the spread)",
            ),
            key="emb_analogy_scatter",
            name="analogy projection",
            where=col_b,
        )
        moves = ""
        if len(arrows) == 2:
            (a0, a1), (b0, b1) = arrows
            vec = word_vectors(kv, [shown[a0], shown[a1], shown[b0], shown[b1]])  # (4, D)
            step_a, step_b = vec[1] - vec[0], vec[3] - vec[2]  # (D,) each
            moves = (
                f" In all {kv.vector_size} dimensions the two moves, {shown[a0]} → {shown[a1]} and {shown[b0]} → "
                f"{shown[b1]}, have cosine {compare(step_a, step_b).cosine:.2f} and lengths "
                f"{np.linalg.norm(step_a):.1f} and {np.linalg.norm(step_b):.1f}."
            )
        col_b.caption(
            "PCA keeps the 2 or 3 directions along which these words differ most. If the analogy holds, the "
            "arrows are nearly parallel and of similar length: the same step turns one word into the other."
            + md_escape(moves)
        )


steps.section(analogies)

# --- dot product and cosine --------------------------------------------------------------------------------
steps.step("How similar are two words?")
st.markdown(
    "Multiply two vectors number by number and add up the 50 products: that is the **dot product**. It is large "
    "when the two point the same way *and* are long. Divide by both lengths and you get the **cosine**, "
    "between −1 and 1, which only measures direction."
)


def dot_products() -> None:
    """Dot product and cosine of two words (reruns alone)."""
    cat, dog, debt = (word_vector(kv, w) for w in ("cat", "dog", "debt"))
    cat_dog, cat_debt = compare(cat, dog), compare(cat, debt)
    if predict_first(
        "emb_predict_dot",
        "Which dot product is larger?",
        ["cat · dog", "cat · debt", "about the same"],
        correct=0 if cat_dog.dot > cat_debt.dot else 1,
        explain=f"cat · dog = {cat_dog.dot:.1f} (cosine {cat_dog.cosine:.2f}) against cat · debt = {cat_debt.dot:.1f} "
        f"(cosine {cat_debt.cosine:.2f}): cats and dogs turn up in the same kinds of sentences.",
    ):
        c1, c2, c3 = st.columns([1, 1, 2])
        word_a = linked(c1.text_input, "First word", "cat", key="emb_word_a", max_chars=40)
        word_b = linked(c2.text_input, "Second word", "dog", key="emb_word_b", max_chars=40)
        try:
            va, vb = word_vector(kv, word_a), word_vector(kv, word_b)
        except AttnvizInputError as err:
            warn(str(err))
        else:
            comp = compare(va, vb)
            m1, m2 = c3.columns(2)
            m1.metric("dot product", f"{comp.dot:.2f}")
            m2.metric("cosine", f"{comp.cosine:.3f}")
            c3.caption(
                f"|{md_escape(word_a.strip().lower())}| = {comp.norm_a:.2f}, "
                f"|{md_escape(word_b.strip().lower())}| = {comp.norm_b:.2f}"
            )
            order = np.argsort(-np.abs(comp.products))[:5]
            charts.chart(
                plots.bars(
                    [str(i) for i in range(comp.products.size)],
                    comp.products,
                    value_name="product",
                    x_title="dimension",
                    highlight=list(order),
                    height=300,
                    decimals=2,
                    # hatched by size: cat·debt's second-largest product is −1.52, below three positive ones
                    title=f"The {comp.products.size} products (hatched: the 5 largest in size, + or −)",
                ),
                key="emb_products",
                name="dot product terms",
            )


steps.section(dot_products)

# --- neighbours -------------------------------------------------------------------------------------------
steps.step("Nearest neighbours")


def nearest() -> None:
    """Nearest neighbours of a word (reruns alone)."""
    n1, n2 = st.columns([1, 2])
    nn_word = linked(n1.text_input, "Word", "bank", key="emb_nn_word", max_chars=40)
    nn_k = linked(n1.slider, "How many", 5, 30, 10, key="emb_nn_k")
    try:
        nn_vec = word_vector(kv, nn_word)
    except AttnvizInputError as err:
        warn(str(err), n2)
    else:
        near = cached.neighbours(kv, nn_vec, nn_k, (nn_word.strip().lower(),))
        charts.chart(
            plots.ranking(near, title=f"Nearest of the {SEARCH_WORDS:,} commonest"),
            key="emb_nn_bars",
            name="nearest neighbours",
            where=n2,
        )
        word = md_escape(nn_word.strip().lower())
        closest = md_escape(", ".join(w for w, _ in near[:3]))
        n1.caption(
            f"A word has one vector for all its meanings, whatever sentence it is in: “{word}” is always nearest to "
            f"{closest}. Page 2 shows how the other words of a sentence can pull it elsewhere."
        )


steps.section(nearest)

# --- the claim check ----------------------------------------------------------------------------------------
steps.step("Check a claim: do nouns score higher with nouns than with verbs?")
st.markdown(
    "Embeddings carry grammar as well as meaning. A claim often made: the dot product of two nouns tends to be "
    "larger than that of a noun and a verb. Here it is measured over every pair from two word lists, "
    "which you can edit."
)


def claim_check() -> None:
    """The noun/verb claim measured over two word lists (reruns alone)."""
    kind = linked(st.radio, "Score", ["dot", "cosine"], horizontal=True, key="emb_claim_kind")
    with st.expander("Edit the word lists"):
        e1, e2 = st.columns(2)
        noun_text = e1.text_area("Nouns", "\n".join(loaders.word_list("nouns")), height=200, key="emb_nouns")
        verb_text = e2.text_area("Verbs", "\n".join(loaders.word_list("verbs")), height=200, key="emb_verbs")
    nouns, verbs = parse_word_list(noun_text), parse_word_list(verb_text)
    unknown = [w for w in nouns + verbs if w not in kv.key_to_index]
    if unknown:
        warn("Not in the vocabulary, so left out: " + ", ".join(unknown[:20]))
    try:
        claim = cached.noun_claim(
            kv, tuple(w for w in nouns if w not in unknown), tuple(w for w in verbs if w not in unknown), kind
        )
    except AttnvizInputError as err:
        warn(str(err))
    else:
        bands = [0.9, 0.6, 0.4, 0.0]
        answer = next(i for i, low in enumerate(bands) if claim.win_rate >= low)
        if predict_first(
            "emb_predict_claim",
            "Pick a noun–noun pair and a noun–verb pair at random. How often does the noun–noun pair score higher?",
            ["almost always (over 90%)", "usually (60–90%)", "about half the time (40–60%)", "rarely (under 40%)"],
            correct=answer,
            explain=f"Measured with the {kind} over these lists: {claim.win_rate:.0%} of the time.",
        ):
            k1, k2, k3, k4 = st.columns(4)
            k1.metric("mean noun–noun", f"{claim.noun_noun.mean():.2f}")
            k2.metric("mean noun–verb", f"{claim.noun_verb.mean():.2f}")
            k3.metric("noun–noun pair wins", f"{claim.win_rate:.0%}")
            k4.metric(
                "nouns closer to nouns",
                f"{claim.nouns_won:.0%}",
                help="Share of nouns whose average score with the other nouns beats their average with the verbs.",
            )
            charts.chart(
                plots.distributions(
                    {"noun–noun": claim.noun_noun, "noun–verb": claim.noun_verb},
                    value_name=kind,
                    title="Every pair's score (dashed lines: the means)",
                ),
                key="emb_claim_hist",
                name="claim scores",
            )
            other = "cosine" if kind == "dot" else "dot"
            swapped = cached.noun_claim(
                kv, tuple(w for w in nouns if w not in unknown), tuple(w for w in verbs if w not in unknown), other
            )
            st.caption(
                (
                    f"The two piles overlap: in {1 - claim.win_rate:.0%} of the pairings the noun–verb pair scores "
                    "higher, so the claim is a tendency, not a rule."
                    if claim.win_rate < 1
                    else "Here every noun–noun pair beats every noun–verb pair."
                )
                + f" Measured with the {other} instead, the noun–noun pair wins {swapped.win_rate:.0%} of the time"
                + (
                    ": the dot product's lead is partly the vectors' lengths, not only their directions."
                    if kind == "dot" and swapped.win_rate < claim.win_rate
                    else "."
                )
            )


steps.section(claim_check)
