"""Deterministic results worth keeping between reruns, keyed by their arguments (bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st
import torch
from gensim.models import KeyedVectors

from attnviz.attention import ScoreVariance, score_variance
from attnviz.embeddings import ClaimCheck, check_noun_claim
from attnviz.training import TrainResult

if TYPE_CHECKING:
    from attnviz.pretrained import Model


@st.cache_data(show_spinner=False, max_entries=64)
def noun_claim(_kv: KeyedVectors, nouns: tuple[str, ...], verbs: tuple[str, ...], kind: str) -> ClaimCheck:
    """The claim check over two word lists (the vectors never change, so they are not part of the key)."""
    return check_noun_claim(_kv, nouns, verbs, kind)


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
