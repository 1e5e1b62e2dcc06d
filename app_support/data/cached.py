"""Deterministic results worth keeping between reruns, keyed by their arguments, bounded in entries and, for those
that grow with the text, in bytes (`max_size`: pickled bytes, which is what st.cache_data keeps). All of them together
are bounded by `server.maxCacheDataSize` in .streamlit/config.toml, Streamlit's budget across every st.cache_data
(README, "Serving a class": the memory ceiling)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from gensim.models import KeyedVectors

from app_support.data import lazy, loaders
from app_support.data.store import BoundedStore
from attnviz import embeddings
from attnviz.embeddings import Analogy, ClaimCheck, Expression, check_noun_claim
from attnviz.host import fields_to_host, to_host

if TYPE_CHECKING:
    import torch

    from attnviz import pretrained
    from attnviz.attention import ScoreVariance, score_variance
    from attnviz.census import HeadCensus
    from attnviz.heads import head_difference
    from attnviz.padding import PaddedBatch
    from attnviz.pretrained import Model
    from attnviz.probes import PairSummary, ReferentShift
    from attnviz.training import TrainResult
else:  # imported on first use: lesson 1 uses only the NumPy caches above and is drawn before torch loads
    torch = lazy.module("torch")
    pretrained = lazy.module("attnviz.pretrained")
    score_variance = lazy.function("attnviz.attention", "score_variance")
    head_difference = lazy.function("attnviz.heads", "head_difference")


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


_TRAINED: BoundedStore[TrainResult] = BoundedStore(max_entries=16)  # keyed by (goal, seed, steps)


def trained(goal: str, seed: int, steps: int) -> TrainResult | None:
    """The finished training run with these settings, or None if there is none (yet, or any more).

    Training runs on the page (it draws a live progress bar, which a cached function could not replay); a finished
    run is handed to `keep_trained`.
    """
    return _TRAINED.get((goal, seed, steps))


def keep_trained(goal: str, seed: int, steps: int, result: TrainResult) -> None:
    """Store a run that completed. An interrupted run never reaches here, so it is never kept."""
    _TRAINED.put((goal, seed, steps), result)


@st.cache_data(show_spinner=False, max_entries=32, max_size="32MiB")  # 2.3 MiB at 256 pieces
def real_sentence(_model: Model, text: str) -> tuple[pretrained.Tokens, torch.Tensor]:
    """The sentence's tokens (`Forward.tokens`: pieces, notes) and (L, T, D) the hidden state entering each layer (X
    in Q = X·M_Q + b_Q), on the CPU. One forward pass per sentence; a layer or head switch then costs a cache hit."""
    fwd = pretrained.forward(_model, text)
    inputs = torch.stack([layer.input for layer in fwd.layers]).cpu().clone()  # (L, T, D), a normal tensor
    return fwd.tokens, inputs


# ---------------------------------------------------------------------------------------------- lesson 4


@st.cache_data(show_spinner=False, max_entries=4)
def variance(samples: int, seed: int) -> ScoreVariance:
    """Var(q·k) against the width, measured once per server."""
    return score_variance(samples=samples, seed=seed)


@st.cache_data(show_spinner=False, max_entries=4, max_size="80MiB")  # 39 MiB pickled with a 256-piece text
def padded(_model: Model, first: str, second: str) -> PaddedBatch:
    """Two sentences through MiniLM as one padded batch, and each alone (`attnviz.padding.padded_batch`)."""
    from attnviz.padding import padded_batch  # only lesson 4 needs it

    return padded_batch(_model, (first, second))


# ----------------------------------------------------------------------------------------------------------
# Lesson 5: the pretrained transformer and the probes of its heads, as plain arrays (`fields_to_host`)
# ----------------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16, max_size="72MiB")  # 18 MiB at 256 pieces
def real_weights(_model: pretrained.Model, text: str) -> tuple[pretrained.Tokens, np.ndarray]:
    """The sentence's tokens and every head's attention weights, (L, H, T, T) float32, one forward pass."""
    fwd = pretrained.forward(_model, text)
    return fwd.tokens, to_host(fwd.weights.float())  # (L, H, T, T)


@st.cache_data(show_spinner=False, max_entries=32, max_size="96MiB")  # 18 MiB at 256 pieces
def real_view(_model: pretrained.Model, text: str, words: bool, keep_special: bool) -> pretrained.AttentionView:
    """`attnviz.pretrained.attention_view` of `real_weights`: every head's map as drawn, with numpy fields."""
    tokens, raw = real_weights(_model, text)
    view = pretrained.attention_view(tokens, torch.from_numpy(raw), words=words, keep_special=keep_special)
    return fields_to_host(view)


@st.cache_data(show_spinner=False, max_entries=32)
def layer_difference(_model: pretrained.Model, text: str, words: bool, keep_special: bool) -> np.ndarray:
    """(L,) mean Jensen–Shannon divergence between the heads of each layer, bits. Apart from `real_view` because
    it costs O(H²·G²) per layer, which only lesson 5b shows (on a 500-token text in 5c it took 24 s)."""
    view = real_view(_model, text, words, keep_special)
    return to_host(head_difference(torch.from_numpy(view.weights)).mean)


@st.cache_data(show_spinner=False, max_entries=16)
def drift(_model: pretrained.Model, text_a: str, text_b: str, word: str) -> pretrained.Drift:
    """`attnviz.pretrained.drift_across_layers`: ``word`` in the two sentences at every depth (numpy fields; bad
    words fail before any forward pass)."""
    return fields_to_host(pretrained.drift_across_layers(_model, text_a, text_b, word))


@st.cache_data(show_spinner=False, max_entries=32)
def text_census(_model: pretrained.Model, text: str) -> HeadCensus | None:
    """`attnviz.census.layer_census` of every head on the text's pieces, [CLS] and [SEP] kept (tensor fields, as
    `attnviz.census.label_heads` reads them); None when the text has no words."""
    from attnviz.census import layer_census

    tokens, raw = real_weights(_model, text)  # raw (L, H, T, T)
    if tokens.is_empty:
        return None
    return layer_census(torch.from_numpy(raw), tokens.special)


@st.cache_data(show_spinner=False, max_entries=32)
def census(_model: pretrained.Model, text: str) -> HeadCensus | None:
    """`text_census` with numpy fields; None when the text has no words."""
    found = text_census(_model, text)
    return None if found is None else fields_to_host(found)


@st.cache_data(show_spinner="Taking the census of our own paragraphs (once per server)…", max_entries=1)
def paragraphs_census(_model: pretrained.Model) -> HeadCensus:
    """The census over `attnviz.census_paragraphs.PARAGRAPHS`, all their rows together (tensor fields)."""
    from attnviz.census import layer_census, merge
    from attnviz.census_paragraphs import PARAGRAPHS

    found = []
    for text in PARAGRAPHS:
        fwd = pretrained.forward(_model, text)
        found.append(layer_census(fwd.weights.detach().cpu().float(), fwd.tokens.special))
    return merge(found)


@st.cache_data(show_spinner=False, max_entries=32)
def special_contribution(_model: pretrained.Model, text: str, words: bool) -> tuple[np.ndarray, np.ndarray]:
    """(L, H) [CLS]/[SEP]'s share of the weight and (L, H) their share of ‖weight · f(x)‖ (Kobayashi et al., 2020)."""
    from attnviz.probes import special_contribution as measure

    found = measure(_model, text, words=words)
    return to_host(found.weight_share), to_host(found.norm_share)


@st.cache_data(show_spinner=False, max_entries=16)
def referent_shift(
    _model: pretrained.Model, text_a: str, text_b: str, source: str, referent_a: str, referent_b: str
) -> ReferentShift:
    """`attnviz.probes.referent_shift` on a minimal pair (numpy fields). Bad words fail with a message for the
    learner."""
    from attnviz.probes import referent_shift as measure

    return fields_to_host(measure(_model, text_a, text_b, source, referent_a, referent_b))


@st.cache_data(show_spinner=False, max_entries=2)
def verb_subject_sets() -> dict[str, tuple]:
    """The labelled verb → subject sentences: page 3's training set (both splits), and ours with words between."""
    from attnviz.probes import parse_pairs

    page3 = loaders.training_sets()["verb_subject"]
    far = loaders.ASSETS / "probes" / "verb_subject_far.txt"
    return {"page3": page3.train + page3.heldout, "far": parse_pairs(far.read_text(encoding="utf-8"), far.name)}


@st.cache_data(show_spinner="Running the model on every labelled sentence (once per server)…", max_entries=4)
def pair_heads(_model: pretrained.Model, name: str, _examples: tuple) -> PairSummary:
    """`attnviz.probes.pair_summary` of one labelled set (keyed by its name: the shipped sets never change while
    the app runs), numpy fields."""
    from attnviz.probes import pair_summary

    return fields_to_host(pair_summary(_model, _examples))
