"""Lesson 3: learned projections — Q = I·M_Q, K = I·M_K, V = I·M_V — identity, random, trained here, or real."""

import math

import pandas as pd
import streamlit as st
import torch

from app_support.classroom.predict import predict_first
from app_support.data import cached, loaders
from app_support.kit import charts, sentence, steps, tables
from app_support.kit.sentence import md_escape
from app_support.kit.widgets import lesson_sentence, linked, linked_choice, warn
from app_support.parts import paragraph_view
from app_support.parts.training_panel import training_panel
from attnviz import plots
from attnviz.host import to_host
from attnviz.labels import unique_labels
from attnviz.projections import (
    Projections,
    alignment,
    identity_projections,
    project,
    query_key_view,
    random_projections,
    value_effect,
)
from attnviz.similarity import diagonal_wins, similarity_matrix
from attnviz.training import TrainResult

kv = loaders.glove()
device = loaders.device()

st.title("3 · Queries, keys and values")
st.markdown(
    "Page 2's attention compares words as they are, so a word mostly matches itself and its look-alikes. "
    "Real attention first multiplies every word vector by three learned matrices. **Q**, the query, is what a "
    "word looks for; **K**, the key, is what it offers to be found by; **V**, the value, is what it hands over. "
    "Change the matrices and you change who looks at whom."
)
st.latex(r"Q = I\,M_Q \qquad K = I\,M_K \qquad V = I\,M_V")
st.latex(r"O = (Q\,K^\top)\,V")  # a line of its own: the four do not fit a phone's width

CHOICES = {
    "identity": "Identity (page 2 again)",
    "random": "Random (seeded)",
    "trained": "Trained here",
    "real": "From a real transformer (MiniLM)",
}
kind = linked(
    st.radio,
    "What are $M_Q$, $M_K$ and $M_V$?",
    list(CHOICES),
    format_func=CHOICES.get,
    horizontal=True,
    key="proj_kind",
)


# --- the choice of matrices ------------------------------------------------------------------------------
result: TrainResult | None = None
if kind == "random":
    seed = int(linked(st.number_input, "Seed", 0, 9999, 0, key="proj_seed", help="Same seed, same matrices."))
elif kind == "trained":
    result = training_panel(kv)
elif kind == "real":
    c1, c2 = st.columns(2)
    layer = int(linked(c1.slider, "Layer", 1, 6, 1, key="proj_layer")) - 1
    head = int(linked(c2.slider, "Head", 1, 12, 1, key="proj_head")) - 1

# --- the sentence through the projections -----------------------------------------------------------------
text = sentence.current()
if kind == "real":
    from attnviz.pretrained import head_projections

    model = loaders.model()
    real_tokens, inputs = cached.real_sentence(model, text)  # the Tokens; inputs (L, T, D)
    for note in real_tokens.notes:
        warn(note)
    if len(real_tokens.pieces) <= 2:  # nothing but [CLS] and [SEP]
        st.warning("Type a sentence in the sidebar to see the real model's queries and keys.", icon=":material/edit:")
        st.stop()
    hp = head_projections(model, layer, head)
    proj = Projections(f"layer {layer + 1}, head {head + 1}", hp.m_q, hp.m_k, hp.m_v, hp.b_q, hp.b_k, hp.b_v)
    labels = list(unique_labels(real_tokens.pieces))
    X = inputs[layer].to(hp.m_q.device)  # (T, 384)
    before, before_name = similarity_matrix(X), f"X·Xᵀ (what enters layer {layer + 1})"
    st.info(
        "This is all-MiniLM-L6-v2, a real 6-layer transformer. It does not read GloVe words: it reads its own "
        "WordPiece tokens (below, with [CLS] and [SEP] added), each a 384-number vector X, and one head's "
        "$M_Q$, $M_K$, $M_V$ (384 × 32 each, plus a bias) turn it into 32-number queries, keys and values.",
        icon=":material/neurology:",
    )
else:
    _, _, tokens, labels, X = lesson_sentence(text, 2)  # X: (T, 50)
    before, before_name = similarity_matrix(X), "I·Iᵀ (page 2's S)"
    if kind == "identity":
        proj = identity_projections(X.shape[1], device)
    elif kind == "random":
        proj = random_projections(X.shape[1], seed=seed, device=device)
    else:
        assert result is not None
        p = result.projections()
        proj = Projections(p.name, p.m_q.to(device), p.m_k.to(device), p.m_v.to(device))
qkv = project(X, proj)  # q, k (T, Dk), v (T, Dv), scores (T, T)
n = len(labels)

# --- the three matrices -----------------------------------------------------------------------------------
steps.step("The three matrices")
shape = " × ".join(str(s) for s in proj.m_q.shape)
cols = st.columns(3)
for col, (name, m) in zip(cols, [("M_Q", proj.m_q), ("M_K", proj.m_k), ("M_V", proj.m_v)], strict=True):
    charts.chart(
        plots.matrix(
            m, title=f"{name} ({shape})", row_title="in", col_title="out", height=560 if kind == "real" else 320
        ),
        key=f"proj_{name}",
        name=name,
        where=col,
        csv=(m, [str(i) for i in range(m.shape[0])], [str(j) for j in range(m.shape[1])]),
    )
if kind == "real":
    st.caption(
        f"Columns {32 * head + 1}–{32 * head + 32} of layer {layer + 1}'s 384 × 384 projections (each of the 12 "
        "heads owns 32 columns). Rows are the 384 numbers of X."
    )
else:
    st.caption(
        {
            "identity": "The identity: ones on the diagonal, zeros elsewhere. Every vector comes out unchanged.",
            "random": "Random numbers: every output number is a random blend of all 50 input numbers.",
            "trained": "Learned by the loop above. $M_V$ is the identity here: only who-looks-at-whom was trained.",
        }[kind]
    )

# --- Q·Kᵀ next to I·Iᵀ ------------------------------------------------------------------------------------
steps.step("Q·Kᵀ next to " + before_name.split(" ")[0])
# a tie with a repeated word's own copy (same vector, so same score) counts as the word itself: not a loss
row_words = list(real_tokens.pieces) if kind == "real" else list(tokens.words)
own, own_before = diagonal_wins(qkv.scores, row_words), diagonal_wins(before, row_words)
copies = own.tied_copies(row_words)
answered = predict_first(
    "proj_predict_self",
    f"In {before_name.split(' ')[0]} the word itself has the largest score in {own_before.share:.0%} of your "
    "sentence's rows (a tie counted as the word's). In how many rows of Q·Kᵀ will the word itself have the largest "
    "score?",
    ["most rows (80% or more)", "some rows", "few or none (20% or less)"],
    correct=0 if own.share >= 0.8 else 2 if own.share <= 0.2 else 1,
    explain=f"Here the word itself wins {own.share:.0%} of the {n} rows of Q·Kᵀ ({proj.name})"
    + (
        " (a tie counted as a win: the copies of "
        + ", ".join(f"“{md_escape(w)}”" for w in copies[:5])
        + (f" and {len(copies) - 5} more words" if len(copies) > 5 else "")
        + " have the "
        "same query and key, so they score as much with each other as with themselves)."
        if copies
        else "."
    ),
)
if answered:
    top_k = plots.auto_top_k(n)
    a, b = st.columns(2)
    qk_title = f"Q·Kᵀ (MiniLM, {proj.name})" if kind == "real" else f"Q·Kᵀ ({proj.name})"
    for col, matrix, title, key in ((a, before, before_name, "proj_before"), (b, qkv.scores, qk_title, "proj_QK")):
        big = float(matrix.abs().max()) >= 100  # three-digit scores get no decimals, or they spill out of the cells
        charts.chart(
            plots.heatmap(matrix, labels, labels, title=title, row_title="query", col_title="key",
                          value_name="score", decimals=0 if big else 1, top_k=top_k, narrow=True),
            key=key, name=title.split(" (")[0], where=col, csv=(matrix, labels, labels),
        )  # fmt: skip
    if top_k:
        st.caption(f"{n} tokens: each row keeps its {top_k} highest scores; hover a cell for its words and value.")
    paragraph_view.long_map(
        qkv.scores, labels, key="proj_para", weights=False, glove_text=None if kind == "real" else text, decimals=1
    )
    if kind == "identity":
        gap = float((qkv.scores - before).abs().max())
        st.caption(f"Largest difference between the two: {gap:g}. With the identity, Q·Kᵀ is page 2's S exactly.")
    else:
        winners = [f"{labels[i]} → {labels[j]}" for i, j in enumerate(own.best)]  # a tie goes to the word itself
        st.caption(
            "Highest key in each row: "
            + md_escape(", ".join(winners[:24]))
            + (" …" if n > 24 else "")
            + (
                ". Training only scored the rows of nouns (or verbs); the other rows were never asked for anything."
                if kind == "trained"
                else ""
            )
        )

# --- where M_Q sends the queries and M_K the keys ----------------------------------------------------------------
steps.step("Where $M_Q$ sends the queries and $M_K$ the keys")
matched = alignment(X, qkv)  # each query's best other key, and how the pair lines up after and before
if kind == "real":
    st.caption(
        "The real $M_Q$ and $M_K$ turn 384 numbers into 32, so the words and their queries and keys do not share a "
        "space to draw them in. The alignment can still be measured, below."
    )
else:
    view = query_key_view(X, proj.m_q, proj.m_k)
    charts.chart(
        plots.query_key_moves(
            view.before, view.q, view.k, labels,
            title=f"Directions in 2-D ({float(view.share.sum()):.0%} of the spread)",
        ),
        key="proj_moves", name="queries and keys",
    )  # fmt: skip
    st.caption(
        "With the identity nothing moves: a word's query and key sit on the word itself."
        if kind == "identity"
        else "A score is q·k: one word's query against another word's key. A matrix turns, stretches and squeezes "
        "vectors, so $M_Q$ and $M_K$ can send two different words' query and key the same way even when the words "
        "themselves point apart. Every vector is scaled to length 1 before drawing, so the picture shows directions "
        "only (q·k also grows with the two lengths), and the 2-D view keeps only part of the spread: the table "
        "below measures the directions in all dimensions."
    )
pairs = sorted(range(n), key=lambda i: -float(qkv.scores[i, matched.best[i]]))[: min(n, 6)]
tables.table(
    pd.DataFrame(
        {
            "query": [labels[i] for i in pairs],
            "its best other key": [labels[int(matched.best[i])] for i in pairs],
            "q·k": [f"{float(qkv.scores[i, matched.best[i]]):.1f}" for i in pairs],
            "cos(q, k)": [f"{float(matched.cos_after[i]):.2f}" for i in pairs],
            "cos of the two words (before)": [f"{float(matched.cos_before[i]):.2f}" for i in pairs],
        }
    ),
    hide_index=True,
    key="proj_align",
)
closer = int((matched.cos_after > matched.cos_before).sum())
st.caption(
    f"For each query word, the other word whose key it scores highest ({len(pairs)} strongest shown). Over all {n} "
    f"words, the query and that key point more nearly the same way than the two words did before in {closer} of "
    f"{n}: mean cosine {float(matched.cos_after.mean()):.2f} after against {float(matched.cos_before.mean()):.2f} "
    "before." + (" With the identity the two columns are equal." if kind == "identity" else "")
)

# --- one query, step by step ----------------------------------------------------------------------------------
steps.step("One query against every key")


def values_step(focus: int, scores: torch.Tensor) -> None:
    """What M_V does: the same mix of values with M_V = I and with other choices of M_V, measured."""
    st.markdown(
        "**4. What $M_V$ does.** The weights decide *how much* of each word goes into the mix; $M_V$ decides *what* "
        "each word hands over. The same weights, with different $M_V$:"
    )
    word = labels[focus]
    if kind == "real":
        weights = torch.softmax(qkv.scores[focus] / math.sqrt(proj.width), dim=-1)  # (T,) the head's real row
        plain = value_effect(weights, X, torch.eye(X.shape[1], device=X.device))
        real_v = value_effect(weights, X, hp.m_v, hp.b_v, back=hp.m_o)
        tables.table(
            pd.DataFrame({
                "M_V": ["identity: the mix of the hidden states X", "the head's M_V, then its rows of W_O"],
                "length of the output": [f"{float(plain.output.norm()):.2f}", f"{float(real_v.output.norm()):.2f}"],
                "cosine with the identity's output": ["1.00", f"{real_v.cosine:.2f}"],
            }),
            hide_index=True,
            key="proj_values",
        )  # fmt: skip
        st.caption(
            f"For “{md_escape(word)}”, this head's output, carried back to 384 numbers by its rows of $W_O$ (page 5), "
            f"has cosine {real_v.cosine:.2f} with the plain mix of the hidden states it attended to, and "
            f"{real_v.norm_ratio:.2f} times its length. The model adds it to the word's own vector (the residual "
            "connection)."
        )
        return
    value_seed = seed if kind == "random" else 0
    choices = {"identity (the GloVe vectors)": torch.eye(X.shape[1], device=X.device)}
    choices[f"random (seed {value_seed})"] = random_projections(X.shape[1], seed=value_seed, device=X.device).m_v
    skip = tuple(tokens.words)
    effects = {name: value_effect(scores, X, m) for name, m in choices.items()}
    near = {name: cached.neighbours(kv, to_host(e.output), 3, skip) for name, e in effects.items()}
    tables.table(
        pd.DataFrame({
            "M_V": list(effects),
            "length of the output": [f"{float(e.output.norm()):.1f}" for e in effects.values()],
            "cosine with the identity's output": [f"{e.cosine:.2f}" for e in effects.values()],
            "nearest GloVe words": [", ".join(w for w, _ in near[name]) for name in effects],
        }),
        hide_index=True,
        key="proj_values",
    )  # fmt: skip
    rnd = effects[f"random (seed {value_seed})"]
    chosen = "the identity, as chosen above" if kind in ("identity", "trained") else "the random one chosen above"
    st.caption(
        f"Here $M_V$ is {chosen}. A random $M_V$ keeps the weights but turns every value: the output for "
        f"“{md_escape(word)}” has cosine {rnd.cosine:.2f} with the identity's and {rnd.norm_ratio:.2f} times its "
        "length, and its nearest words ("
        + md_escape(", ".join(w for w, _ in near[f"random (seed {value_seed})"]))
        + ") no longer come from mixing your sentence's meanings. A trained $M_V$ is paired with $W_O$ (page 5), "
        "which carries the values back into the words' space."
    )


def one_query() -> None:
    """One query word against every key, step by step (reruns alone)."""
    default = next((i for i, w in enumerate(labels) if w.lower() in {"bank", "##bank"}), n - 1)
    focus = linked_choice(st.selectbox, "Query word", labels, default=default, key="proj_query")
    q_row = qkv.q[focus]  # (Dk,)
    scores = qkv.k @ q_row  # (T,) k_j·q for every key j
    st.markdown(
        f"**1. The query and the keys.** “{md_escape(labels[focus])}” becomes q, its row of Q ({q_row.shape[0]} "
        "numbers); every word also has a key k, its row of K."
    )
    rows = torch.cat([q_row[None, :], qkv.k])  # (1 + T, Dk)
    row_names = [f"q: {labels[focus]}"] + [f"k: {w}" for w in labels]
    charts.chart(
        plots.strip(rows, row_names, title="q on top, then every key",
                    height=min(plots.SCREEN_HEIGHT, 160 + 30 * (n + 1))),
        key="proj_qk_rows", name="query and keys",
        csv=(rows, row_names, [str(i) for i in range(rows.shape[1])]),
    )  # fmt: skip
    st.markdown("**2. The scores.** q is compared with every key: one dot product k·q per word.")
    charts.chart(
        plots.bars(labels, scores, highlight=[focus], value_name="k·q", title=f"k·q for the query “{labels[focus]}”",
                   decimals=1, height=340),
        key="proj_scores", name="scores of the query",
    )  # fmt: skip
    order = sorted(range(n), key=lambda j: -abs(float(scores[j])))
    st.markdown("**3. The mix of values.** The new vector is every value v weighted by its score (no softmax yet):")
    terms = [(float(scores[j]), labels[j]) for j in order[:6]]
    st.code(
        f"{labels[focus]}_O = {terms[0][0]:.1f}·v_{terms[0][1]}"
        + "".join(f" {'−' if w < 0 else '+'} {abs(w):.1f}·v_{name}" for w, name in terms[1:])
        + (" + …" if n > 6 else ""),
        language=None,
        wrap_lines=True,
    )
    if kind == "real":
        weights = torch.softmax(qkv.scores[focus] / math.sqrt(proj.width), dim=-1)  # (T,)
        best = weights.argsort(descending=True)[:3].tolist()
        cls, sep = float(weights[0]), float(weights[-1])  # [CLS] opens and [SEP] closes every input
        # Clark et al., "What Does BERT Look At?" (BlackboxNLP 2019), section 3, "Attending to Separator Tokens":
        # "we speculate that attention over these special tokens might be used as a sort of 'no-op'": a hypothesis,
        # with the gradients of their Figure 3 as support, not a finding
        st.caption(
            f"The real head first divides by √{proj.width} and applies softmax (page 4); its weights in this row: "
            + md_escape(", ".join(f"{labels[j]} {float(weights[j]):.0%}" for j in best))
            + f". This row puts {cls:.0%} on [CLS] and {sep:.0%} on [SEP]. Clark et al. (2019, section 3) saw over "
            "half of BERT's attention in layers 6 to 10 go to [SEP] and suggest that it works as a no-op, for a head "
            "whose job does not apply to a word; their support is that the gradient of the loss with respect to that "
            "attention becomes small where it grows: a hypothesis, not a finding."
        )
    else:
        st.caption(
            f"The weights are raw scores: in this row they add up to {float(scores.sum()):.1f}, and the smallest is "
            f"{float(scores.min()):.1f}. Page 4 turns every row into weights between 0 and 1 that add up to 1."
        )
    values_step(focus, scores)


steps.section(one_query)
