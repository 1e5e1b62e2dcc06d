"""Deterministic results worth keeping between reruns, keyed by their arguments (bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from gensim.models import KeyedVectors

from app_support import lazy, loaders
from attnviz import embeddings
from attnviz.embeddings import Analogy, ClaimCheck, Expression, check_noun_claim
from attnviz.host import to_host
from attnviz.labels import unique_labels

if TYPE_CHECKING:
    import torch

    from attnviz import pretrained
    from attnviz.attention import ScoreVariance, score_variance
    from attnviz.heads import head_difference, pool_blocks
    from attnviz.padding import PaddedBatch
    from attnviz.pretrained import Model
    from attnviz.training import TrainResult
else:  # imported on first use: lesson 1 uses only the NumPy caches above and is drawn before torch loads
    torch = lazy.module("torch")
    pretrained = lazy.module("attnviz.pretrained")
    score_variance = lazy.function("attnviz.attention", "score_variance")
    head_difference = lazy.function("attnviz.heads", "head_difference")
    pool_blocks = lazy.function("attnviz.heads", "pool_blocks")


@st.cache_data(show_spinner=False, max_entries=64)
def noun_claim(_kv: KeyedVectors, nouns: tuple[str, ...], verbs: tuple[str, ...], kind: str) -> ClaimCheck:
    """The claim check over two word lists (the vectors never change, so they are not part of the key)."""
    return check_noun_claim(_kv, nouns, verbs, kind)


@st.cache_data(show_spinner=False, max_entries=256)
def neighbours(_kv: KeyedVectors, vector: np.ndarray, topn: int, exclude: tuple[str, ...]) -> list[tuple[str, float]]:
    """`attnviz.embeddings.neighbours`: a search through 100,000 vectors (3 ms), the same for a whole class that
    looks at the same word."""
    return embeddings.neighbours(_kv, vector, topn, exclude=exclude)


@st.cache_data(show_spinner=False, max_entries=64)
def analogy(_kv: KeyedVectors, expression: Expression, topn: int, exclude_inputs: bool) -> Analogy:
    """`attnviz.embeddings.solve_analogy`, kept for the next student who asks the same."""
    return embeddings.solve_analogy(_kv, expression, topn, exclude_inputs)


# ---------------------------------------------------------------------------------------------- lesson 3


class _NotTrained(Exception):
    """Raised inside `_trained` on a miss: an exception is never cached, so nothing is stored."""


@st.cache_data(show_spinner=False, max_entries=16)
def _trained(goal: str, seed: int, steps: int, _result: TrainResult | None = None) -> TrainResult:
    # A store keyed by the training settings. Training itself runs on the page (it draws a live progress bar,
    # which a cached function could not replay); a finished run is handed in through `_result`.
    if _result is None:
        raise _NotTrained
    return _result


def trained(goal: str, seed: int, steps: int) -> TrainResult | None:
    """The finished training run with these settings, or None if there is none (yet, or any more)."""
    try:
        return _trained(goal, seed, steps)
    except _NotTrained:
        return None


def keep_trained(goal: str, seed: int, steps: int, result: TrainResult) -> None:
    """Store a run that completed. An interrupted run never reaches here, so it is never kept."""
    _trained(goal, seed, steps, _result=result)


@dataclass(frozen=True, eq=False)
class RealSentence:
    """What lesson 3 needs from one forward pass of the real model: the tokens and each layer's input."""

    pieces: tuple[str, ...]  # T WordPiece tokens, [CLS] and [SEP] included
    notes: tuple[str, ...]  # what to tell the learner ([UNK] words, truncation, empty text)
    inputs: torch.Tensor  # (L, T, D) the hidden state entering each layer: X in Q = X·M_Q + b_Q


@st.cache_data(show_spinner=False, max_entries=32)
def real_sentence(_model: Model, text: str) -> RealSentence:
    """One forward pass per sentence; a layer or head switch then costs a cache hit, not a forward pass."""
    from attnviz.pretrained import forward  # only pages that show the real model import it

    fwd = forward(_model, text)
    inputs = torch.stack([layer.input for layer in fwd.layers]).clone()  # (L, T, D), a normal tensor
    return RealSentence(pieces=fwd.tokens.pieces, notes=fwd.tokens.notes, inputs=inputs.cpu())


# ---------------------------------------------------------------------------------------------- lesson 4


@st.cache_data(show_spinner=False, max_entries=4)
def variance(samples: int, seed: int) -> ScoreVariance:
    """Var(q·k) against the width, measured once per server."""
    return score_variance(samples=samples, seed=seed)


@st.cache_data(show_spinner=False, max_entries=4)  # at 512 tokens one batch keeps ~75 MB of weights
def padded(_model: Model, first: str, second: str) -> PaddedBatch:
    """Two sentences through MiniLM as one padded batch, and each alone (`attnviz.padding.padded_batch`)."""
    from attnviz.padding import padded_batch  # only lesson 4 needs it

    return padded_batch(_model, (first, second))


# ----------------------------------------------------------------------------------------------------------
# Lesson 5: the pretrained transformer, reduced to what the pages draw (plain arrays, no Forward)
# ----------------------------------------------------------------------------------------------------------

GRID_MAX = 48  # thumbnails of longer sentences pool consecutive tokens into this many blocks


@dataclass(frozen=True)
class RealView:
    """Every head's map of one sentence, as a page shows it: pieces or words, [CLS]/[SEP] in or out."""

    tokens: pretrained.Tokens  # what the model read, with its notes
    labels: tuple[str, ...]  # G row/column labels
    special: tuple[bool, ...]  # G; True for [CLS] and [SEP]
    weights: np.ndarray  # (L, H, G, G) float32; rows renormalised when the special tokens are left out
    dropped: np.ndarray  # (L, H, G) the share of each row that went to [CLS]/[SEP] (0 when they are shown)
    special_share: np.ndarray  # (L, H) mean share of a word's attention that goes to [CLS] or [SEP]
    thumbs: np.ndarray  # (L, H, G', G') G' ≤ GRID_MAX: `weights` pooled into blocks for the grid
    thumb_labels: tuple[str, ...]  # G' labels, "first … last" for a block


@st.cache_data(show_spinner=False, max_entries=16)
def real_weights(_model: pretrained.Model, text: str) -> tuple[pretrained.Tokens, np.ndarray]:
    """The sentence's tokens and every head's attention weights, (L, H, T, T) float32, one forward pass."""
    fwd = pretrained.forward(_model, text)
    return fwd.tokens, to_host(fwd.weights.float())  # (L, H, T, T)


@st.cache_data(show_spinner=False, max_entries=32)
def real_view(_model: pretrained.Model, text: str, words: bool, keep_special: bool) -> RealView:
    """`real_weights` grouped for display (see `attnviz.pretrained.group_attention`)."""
    tokens, raw = real_weights(_model, text)
    full = torch.from_numpy(raw)  # (L, H, T, T)
    grouping = pretrained.group_tokens(tokens, words=words, keep_special=keep_special)
    grouped = pretrained.group_attention(full, grouping)  # weights (L, H, G, G)
    labels = unique_labels(grouping.labels)
    # [CLS]/[SEP]'s share, measured with them present and averaged over the rows of the real words
    with_special = pretrained.group_tokens(tokens, words=words, keep_special=True)
    flags = torch.tensor(with_special.special)  # (G,)
    share = pretrained.group_attention(full, with_special).weights[..., flags]  # (L, H, G, S)
    share = share.sum(dim=-1)[..., ~flags].mean(dim=-1) if (~flags).any() else share.sum(-1).mean(-1)  # (L, H)
    pooled = pool_blocks(grouped.weights, GRID_MAX)
    thumb_labels = tuple(labels[a] if b - a == 1 else f"{labels[a]} … {labels[b - 1]}" for a, b in pooled.spans)
    return RealView(
        tokens=tokens,
        labels=labels,
        special=grouping.special,
        weights=to_host(grouped.weights),
        dropped=to_host(grouped.dropped),
        special_share=to_host(share),
        thumbs=to_host(pooled.weights),
        thumb_labels=thumb_labels,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def layer_difference(_model: pretrained.Model, text: str, words: bool, keep_special: bool) -> np.ndarray:
    """(L,) mean Jensen–Shannon divergence between the heads of each layer, bits. Apart from `real_view` because
    it costs O(H²·G²) per layer, which only lesson 5b shows (on a 500-token text in 5c it took 24 s)."""
    view = real_view(_model, text, words, keep_special)
    return to_host(head_difference(torch.from_numpy(view.weights)).mean)


@dataclass(frozen=True)
class Drift:
    """One word followed through the layers of two sentences (`attnviz.pretrained.drift_across_layers`)."""

    labels: tuple[str, ...]  # L+1: "embeddings", "layer 1", …
    cosines: tuple[float, ...]  # L+1
    notes_a: tuple[str, ...]  # the model's notes on each sentence, e.g. [UNK] words, truncation
    notes_b: tuple[str, ...]


@st.cache_data(show_spinner=False, max_entries=16)
def drift(_model: pretrained.Model, text_a: str, text_b: str, word: str) -> Drift:
    """Cosine between ``word`` in the two sentences at every depth. Bad words fail before any forward pass."""
    a, b = pretrained.encode(_model, text_a), pretrained.encode(_model, text_b)
    for tokens in (a, b):
        pretrained.find_word(_model, tokens, word)
    found = pretrained.drift_across_layers(_model, a, b, word)
    return Drift(labels=found.labels, cosines=found.cosines, notes_a=a.notes, notes_b=b.notes)


# ----------------------------------------------------------------------------------------------------------
# Pages 5b and 5c: measurements of `attnviz.probes`, as plain arrays
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Census:
    """Each head's weight split into itself / neighbours (±1) / [CLS] and [SEP] / elsewhere (`probes.layer_census`)."""

    itself: np.ndarray  # (L, H)
    neighbours: np.ndarray  # (L, H)
    special: np.ndarray  # (L, H)
    elsewhere: np.ndarray  # (L, H)
    heads_over_half: np.ndarray  # (L,) heads with more than half their weight on the neighbours


@st.cache_data(show_spinner=False, max_entries=32)
def census(_model: pretrained.Model, text: str) -> Census | None:
    """The census of the sentence's 72 heads, on the pieces; None when the text has no words."""
    from attnviz.probes import layer_census

    tokens, raw = real_weights(_model, text)
    if tokens.is_empty:
        return None
    found = layer_census(torch.from_numpy(raw), tokens.special)
    return Census(
        itself=to_host(found.itself),
        neighbours=to_host(found.neighbours),
        special=to_host(found.special),
        elsewhere=to_host(found.elsewhere),
        heads_over_half=to_host(found.heads_over(0.5)),
    )


@st.cache_data(show_spinner=False, max_entries=32)
def special_contribution(_model: pretrained.Model, text: str, words: bool) -> tuple[np.ndarray, np.ndarray]:
    """(L, H) [CLS]/[SEP]'s share of the weight and (L, H) their share of ‖weight · f(x)‖ (Kobayashi et al., 2020)."""
    from attnviz.probes import special_contribution as measure

    found = measure(_model, text, words=words)
    return to_host(found.weight_share), to_host(found.norm_share)


@dataclass(frozen=True)
class Shift:
    """A minimal pair measured by `attnviz.probes.referent_shift`, as arrays."""

    notes_a: tuple[str, ...]  # the model's notes on each sentence ([UNK], truncation)
    notes_b: tuple[str, ...]
    source: str  # the pronoun as found in sentence A
    referent_a: str
    referent_b: str
    source_row_a: int  # the pronoun's row in `real_view(text, True, True)` of each sentence
    source_row_b: int
    a_to_a: np.ndarray  # (L, H) sentence A: pronoun → referent a
    a_to_b: np.ndarray  # (L, H)
    b_to_a: np.ndarray  # (L, H) sentence B: pronoun → referent a
    b_to_b: np.ndarray  # (L, H)
    score: np.ndarray  # (L, H) (a_to_a − b_to_a) + (b_to_b − a_to_b)
    resolved: np.ndarray  # (L, H) bool: the true referent gets more weight than the other in both sentences
    top: tuple[tuple[int, int], ...]  # (layer, head), highest score first


@st.cache_data(show_spinner=False, max_entries=16)
def referent_shift(
    _model: pretrained.Model, text_a: str, text_b: str, source: str, referent_a: str, referent_b: str
) -> Shift:
    """Rank the heads on a minimal pair. Bad words fail with a message for the learner."""
    from attnviz.probes import referent_shift as measure

    found = measure(_model, text_a, text_b, source, referent_a, referent_b)
    row_a = 1 + pretrained.find_word(_model, found.tokens_a, source)
    row_b = 1 + pretrained.find_word(_model, found.tokens_b, source)
    return Shift(
        notes_a=found.tokens_a.notes,
        notes_b=found.tokens_b.notes,
        source=found.source,
        referent_a=found.referent_a,
        referent_b=found.referent_b,
        source_row_a=row_a,
        source_row_b=row_b,
        a_to_a=to_host(found.a_to_a.float()),
        a_to_b=to_host(found.a_to_b.float()),
        b_to_a=to_host(found.b_to_a.float()),
        b_to_b=to_host(found.b_to_b.float()),
        score=to_host(found.score.float()),
        resolved=to_host(found.resolved),
        top=found.top,
    )


@dataclass(frozen=True)
class Pairs:
    """Labelled verb → subject pairs measured by `attnviz.probes.pair_heads`, as arrays."""

    sentences: tuple[str, ...]  # N sentences, one per pair
    queries: tuple[str, ...]  # N verbs
    targets: tuple[str, ...]  # N subjects
    query_rows: tuple[int, ...]  # N: the verb's row in `real_view(sentence, True, True)`
    mean: np.ndarray  # (L, H) mean weight from the verb to its subject
    mean_previous: np.ndarray  # (L, H) mean weight from the verb to the word before it
    top_share: np.ndarray  # (L, H) share of pairs where the subject is the verb's most weighted word
    any_previous: np.ndarray  # (L, H) every word to the word before it, over all the sentences
    uniform: float  # what an evenly spread head gives a one-piece subject, on average
    adjacent: int  # pairs whose subject stands right before the verb
    top: tuple[tuple[int, int], ...]  # (layer, head) by mean weight, highest first


@st.cache_data(show_spinner=False, max_entries=2)
def verb_subject_sets() -> dict[str, tuple]:
    """The labelled verb → subject sentences: page 3's training set (both splits), and ours with words between."""
    from attnviz.probes import parse_pairs

    page3 = loaders.training_sets()["verb_subject"]
    far = loaders.ASSETS / "probes" / "verb_subject_far.txt"
    return {"page3": page3.train + page3.heldout, "far": parse_pairs(far.read_text(encoding="utf-8"), far.name)}


@st.cache_data(show_spinner="Running the model on every labelled sentence (once per server)…", max_entries=4)
def pair_heads(_model: pretrained.Model, name: str, _examples: tuple) -> Pairs:
    """Every head on one labelled set (keyed by its name: the shipped sets never change while the app runs)."""
    from attnviz.probes import pair_heads as measure

    found = measure(_model, _examples)
    pairs = [(ex, q, s) for ex in _examples for q, s in ex.pairs]
    return Pairs(
        sentences=tuple(" ".join(ex.words) for ex, _, _ in pairs),
        queries=tuple(ex.words[q] for ex, q, _ in pairs),
        targets=tuple(ex.words[s] for ex, _, s in pairs),
        query_rows=tuple(1 + q for _, q, _ in pairs),
        mean=to_host(found.mean),
        mean_previous=to_host(found.mean_previous),
        top_share=to_host(found.top_share),
        any_previous=to_host(found.any_previous),
        uniform=found.uniform,
        adjacent=int(found.adjacent.sum()),
        top=found.top,
    )
