"""Lesson 3: learned projections — Q = I·M_Q, K = I·M_K, V = I·M_V — identity, random, trained here, or real."""

import math

import streamlit as st
import torch

from app_support import cached, loaders, sentence, show
from app_support.training_panel import training_panel
from app_support.widgets import linked, linked_choice, md_escape, need_words, predict_first, sentence_tokens, warn
from attnviz import plots
from attnviz.attention import similarity_matrix
from attnviz.embeddings import vectors_for
from attnviz.labels import unique_labels
from attnviz.projections import Projections, before_after, identity_projections, project, random_projections
from attnviz.training import TrainResult

kv = loaders.glove()
device = loaders.device()

st.title("3 · Queries, keys and values")
st.markdown(
    "Lesson 2's attention compares words as they are, so a word mostly matches itself and its look-alikes. "
    "Real attention first multiplies every word vector by three learned matrices. **Q**, the query, is what a "
    "word looks for; **K**, the key, is what it offers to be found by; **V**, the value, is what it hands over. "
    "Change the matrices and you change who looks at whom."
)
st.latex(r"Q = I\,M_Q \qquad K = I\,M_K \qquad V = I\,M_V \qquad O = (Q\,K^\top)\,V")

CHOICES = {
    "identity": "Identity (lesson 2 again)",
    "random": "Random (seeded)",
    "trained": "Trained here",
    "real": "From a real transformer (MiniLM)",
}
kind = linked(
    st.radio, "What are M_Q, M_K and M_V?", list(CHOICES), format_func=CHOICES.get, horizontal=True, key="proj_kind"
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
if kind == "real":
    from attnviz.pretrained import head_projections

    model = loaders.model()
    real = cached.real_sentence(model, sentence.current())
    for note in real.notes:
        warn(note)
    if len(real.pieces) <= 2:  # nothing but [CLS] and [SEP]
        st.warning("Type a sentence in the sidebar to see the real model's queries and keys.", icon=":material/edit:")
        st.stop()
    hp = head_projections(model, layer, head)
    proj = Projections(f"layer {layer + 1}, head {head + 1}", hp.m_q, hp.m_k, hp.m_v, hp.b_q, hp.b_k, hp.b_v)
    labels = list(unique_labels(real.pieces))
    X = real.inputs[layer].to(hp.m_q.device)  # (T, 384)
    before, before_name = similarity_matrix(X), f"X·Xᵀ (what enters layer {layer + 1})"
    st.info(
        "This is all-MiniLM-L6-v2, a real 6-layer transformer. It does not read GloVe words: it reads its own "
        "WordPiece tokens (below, with [CLS] and [SEP] added), each a 384-number vector X, and one head's "
        "M_Q, M_K, M_V (384 × 32 each, plus a bias) turn it into 32-number queries, keys and values.",
        icon=":material/neurology:",
    )
else:
    tokens = sentence_tokens()
    if not need_words(tokens, 2):
        st.stop()
    labels = list(tokens.labels)
    X = vectors_for(kv, tokens.words, device)  # (T, 50)
    before, before_name = similarity_matrix(X), "I·Iᵀ (lesson 2's S)"
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
show.step("The three matrices")
shape = " × ".join(str(s) for s in proj.m_q.shape)
cols = st.columns(3)
for col, (name, m) in zip(cols, [("M_Q", proj.m_q), ("M_K", proj.m_k), ("M_V", proj.m_v)], strict=True):
    show.chart(
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
            "trained": "Learned by the loop above. M_V is the identity here: only who-looks-at-whom was trained.",
        }[kind]
    )

# --- Q·Kᵀ next to I·Iᵀ ------------------------------------------------------------------------------------
show.step("Q·Kᵀ next to " + before_name.split(" ")[0])
own = (qkv.scores.argmax(dim=1) == torch.arange(n, device=qkv.scores.device)).float().mean().item()
answered = predict_first(
    "proj_predict_self",
    "In lesson 2 most words scored highest with themselves. In how many rows of Q·Kᵀ will the word itself "
    "have the largest score?",
    ["most rows (80% or more)", "some rows", "few or none (20% or less)"],
    correct=0 if own >= 0.8 else 2 if own <= 0.2 else 1,
    explain=f"Here the word itself wins {own:.0%} of the {n} rows of Q·Kᵀ ({proj.name}).",
)
if answered:
    top_k = plots.auto_top_k(n)
    a, b = st.columns(2)
    qk_title = f"Q·Kᵀ (MiniLM, {proj.name})" if kind == "real" else f"Q·Kᵀ ({proj.name})"
    for col, matrix, title, key in ((a, before, before_name, "proj_before"), (b, qkv.scores, qk_title, "proj_QK")):
        big = float(matrix.abs().max()) >= 100  # three-digit scores get no decimals, or they spill out of the cells
        show.chart(
            plots.heatmap(matrix, labels, labels, title=title, row_title="query", col_title="key",
                          value_name="score", decimals=0 if big else 1, top_k=top_k, narrow=True),
            key=key, name=title.split(" (")[0], where=col, csv=(matrix, labels, labels),
        )  # fmt: skip
    if top_k:
        st.caption(f"{n} tokens: each row keeps its {top_k} highest scores; hover a cell for its words and value.")
    if kind == "identity":
        gap = float((qkv.scores - before).abs().max())
        st.caption(f"Largest difference between the two: {gap:g}. With the identity, Q·Kᵀ is lesson 2's S exactly.")
    else:
        winners = [f"{labels[i]} → {labels[j]}" for i, j in enumerate(qkv.scores.argmax(dim=1).tolist())]
        st.caption(
            "Highest key in each row: "
            + md_escape(", ".join(winners[:24]))
            + (" …" if n > 24 else "")
            + (
                ". Training only scored the rows of nouns (or verbs), so the other rows are free: they often look "
                "for the same kind of word."
                if kind == "trained"
                else ""
            )
        )

# --- before and after M_Q -----------------------------------------------------------------------------------
show.step("What M_Q does to the vectors")
if kind == "real":
    st.caption("The real M_Q turns 384 numbers into 32, so before and after do not share a space to draw them in.")
else:
    moved = before_after(X, proj.m_q)
    show.chart(
        plots.moves(
            moved.before, moved.after, labels, names=("I (before)", "Q = I·M_Q (after)"),
            title=f"Each word before and after M_Q, in one 2-D view ({float(moved.share.sum()):.0%} of the spread)",
        ),
        key="proj_moves", name="M_Q moves the words",
    )  # fmt: skip
    st.caption(
        "With the identity nothing moves: every arrow has length zero."
        if kind == "identity"
        else "A matrix turns, stretches and squeezes vectors. The 2-D view is fitted on both sets together, so the "
        "arrows show the matrix's doing. Words pushed the same way end up with high dot products with each other."
    )

# --- one query, step by step ----------------------------------------------------------------------------------
show.step("One query against every key")


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
    show.chart(
        plots.strip(rows, row_names, title="q on top, then every key", height=min(900, 160 + 30 * (n + 1))),
        key="proj_qk_rows", name="query and keys",
        csv=(rows, row_names, [str(i) for i in range(rows.shape[1])]),
    )  # fmt: skip
    st.markdown("**2. The scores.** q is compared with every key: one dot product k·q per word.")
    show.chart(
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
    )
    if kind == "real":
        weights = torch.softmax(qkv.scores[focus] / math.sqrt(proj.width), dim=-1)  # (T,)
        best = weights.argsort(descending=True)[:3].tolist()
        st.caption(
            "The real head first divides by √32 and applies softmax (lesson 4); its weights in this row: "
            + md_escape(", ".join(f"{labels[j]} {float(weights[j]):.0%}" for j in best))
            + ". Attention to [CLS] or [SEP] often means the head has nothing to do for this word."
        )
    else:
        st.caption("The weights are raw scores: they do not add up to 1 and can be negative. Lesson 4 fixes both.")


show.section(one_query)
