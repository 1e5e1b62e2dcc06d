"""Deterministic results worth keeping between reruns, keyed by their arguments (bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
import torch
from gensim.models import KeyedVectors

from attnviz import embeddings, pretrained
from attnviz.attention import ScoreVariance, score_variance
from attnviz.embeddings import Analogy, ClaimCheck, Expression, check_noun_claim
from attnviz.heads import head_difference, pool_blocks
from attnviz.labels import unique_labels
from attnviz.training import TrainResult

if TYPE_CHECKING:
    from attnviz.padding import PaddedBatch
    from attnviz.pretrained import Model


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
    return fwd.tokens, fwd.weights.float().cpu().numpy()  # (L, H, T, T)


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
        weights=grouped.weights.numpy(),
        dropped=grouped.dropped.numpy(),
        special_share=share.numpy(),
        thumbs=pooled.weights.numpy(),
        thumb_labels=thumb_labels,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def layer_difference(_model: pretrained.Model, text: str, words: bool, keep_special: bool) -> np.ndarray:
    """(L,) mean Jensen–Shannon divergence between the heads of each layer, bits. Apart from `real_view` because
    it costs O(H²·G²) per layer, which only lesson 5b shows (on a 500-token text in 5c it took 24 s)."""
    view = real_view(_model, text, words, keep_special)
    return head_difference(torch.from_numpy(view.weights)).mean.numpy()


@dataclass(frozen=True)
class Coreference:
    """The heads that link one word to another, measured by `attnviz.pretrained.find_coreference_heads`."""

    tokens: pretrained.Tokens
    source_word: str  # as found in the sentence
    target_word: str
    source_index: int  # into tokens.words
    target_index: int
    weights: np.ndarray  # (L, H) attention from the source to the target in every head
    others: np.ndarray  # (L, H) mean attention from the sentence's other words to the target (NaN if none)
    uniform: float  # what an evenly spread head would give the target
    top: tuple[pretrained.HeadScore, ...]  # the strongest heads first


@st.cache_data(show_spinner=False, max_entries=16)
def coreference(_model: pretrained.Model, text: str, source: str, target: str, top: int = 5) -> Coreference:
    """Rank every head by how much ``source`` attends to ``target``. Bad words fail before any forward pass."""
    tokens = pretrained.encode(_model, text)
    pretrained.find_word(_model, tokens, source)  # raises AttnvizInputError with a message for the learner
    pretrained.find_word(_model, tokens, target)
    found = pretrained.find_coreference_heads(_model, tokens, source, target, top=top)
    # does the source stand out, or does every word look at the target in that head? Words grouped, [CLS] first.
    grouped = real_view(_model, text, True, True).weights  # (L, H, G, G)
    rest = [1 + w for w in range(len(tokens.words)) if w not in (found.source_index, found.target_index)]
    to_target = grouped[:, :, rest, 1 + found.target_index]  # (L, H, R)
    others = to_target.mean(axis=-1) if rest else np.full(grouped.shape[:2], np.nan, dtype=np.float32)  # (L, H)
    return Coreference(
        tokens=found.tokens,
        source_word=found.source_word,
        target_word=found.target_word,
        source_index=found.source_index,
        target_index=found.target_index,
        weights=found.weights.float().cpu().numpy(),
        others=others,
        uniform=found.uniform,
        top=found.top,
    )


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
