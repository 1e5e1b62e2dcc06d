"""Labelled pairs (a verb and its subject): which of the real model's heads put weight from one word on the other.

`pair_heads` ranks every head by the weight from a labelled query word to its target, with the weight to the word
just before the query beside it, since a head that always looks one word back scores wherever the target is the
previous word. `pair_summary` is the same measurement reduced over the pairs, with the words named, as it is shown.
The names are re-exported by `attnviz.probes`, beside the other probes of the heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.errors import AttnvizInputError
from attnviz.pretrained import Model, check_top, encode, forward, top_heads, word_weights
from attnviz.training import Example, parse_example


def parse_pairs(text: str, name: str = "pairs") -> tuple[Example, ...]:
    """Labelled sentences in the format of `attnviz.training` (sentence, a tab, query>target pairs); comment lines
    and section headers ([train], [held-out]) are skipped: every sentence is used.

    Raises:
        AttnvizInputError: a line that is not a sentence, a tab and pairs of its words; no sentences at all.
    """
    examples = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or (line.startswith("[") and line.endswith("]")):
            continue
        examples.append(parse_example(raw, f"{name}, line {n}"))
    if not examples:
        raise AttnvizInputError(f"{name}: no labelled sentences")
    return tuple(examples)


@dataclass(frozen=True, eq=False)
class PairHeads:
    """Every head on a set of labelled sentences: the weight from each query word to its target."""

    weights: Tensor  # (N, L, H) per labelled pair, the weight from the query word to the target word
    previous: Tensor  # (N, L, H) per pair, from the query word to the word just before it (NaN if it is first)
    on_top: Tensor  # (N, L, H) True where the target gets the query's largest weight among the words
    adjacent: Tensor  # (N,) True where the target is the word just before the query
    any_previous: Tensor  # (L, H) every word (but the first) to the word before it, averaged over all the sentences
    uniform: float  # mean over the pairs of 1/T: the weight of a one-piece target when a head spreads evenly
    sentences: tuple[int, ...]  # N: the example each pair comes from
    top: tuple[tuple[int, int], ...]  # (layer, head) by mean weight, highest first

    @property
    def mean(self) -> Tensor:
        """(L, H) mean weight from the query to its target."""
        return self.weights.mean(dim=0)

    @property
    def mean_previous(self) -> Tensor:
        """(L, H) mean weight from the query to the word before it."""
        return self.previous.nanmean(dim=0)

    @property
    def top_share(self) -> Tensor:
        """(L, H) the share of pairs where the target is the query's most weighted word."""
        return self.on_top.float().mean(dim=0)


def pair_heads(model: Model, examples: Sequence[Example], *, top: int = 5) -> PairHeads:
    """Rank every head by the mean weight from each labelled query word to its target (raw weights, [CLS]/[SEP]
    kept; a word's pieces summed as keys, averaged as queries).

    Args:
        examples: labelled sentences (`parse_pairs`, or a training set's ``train + heldout``); their words must be
            the model's words, as in lower-case text without punctuation.
    Returns:
        PairHeads.
    Raises:
        AttnvizInputError: no examples, or a sentence the model splits into other words than the labels.
    """
    check_top(top)
    if not examples:
        raise AttnvizInputError("no labelled sentences")
    weights, previous, on_top, adjacent, sentences, uniform = [], [], [], [], [], []
    back_sum, back_n = 0.0, 0
    for n, ex in enumerate(examples):
        text = " ".join(ex.words)
        tokens = encode(model, text)
        norm = model.tokenizer.normalizer
        if tuple(norm.normalize_str(w) for w in tokens.words) != tuple(norm.normalize_str(w) for w in ex.words):
            raise AttnvizInputError(f"{text!r}: the model splits it into other words than the labels")
        w = word_weights(forward(model, tokens).weights, tokens)  # (L, H, G, G), word i at 1 + i
        inner = w[..., 1:-1, 1:-1]  # (L, H, W, W) the words only, [CLS] and [SEP] left out
        n_words = inner.shape[-1]
        if n_words > 1:
            back_sum = back_sum + inner.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1)  # (L, H) word i → i − 1
            back_n += n_words - 1
        for q, s in ex.pairs:
            weights.append(inner[:, :, q, s])  # (L, H)
            previous.append(
                inner[:, :, q, q - 1] if q > 0 else torch.full(inner.shape[:2], float("nan"), device=inner.device)
            )
            on_top.append(inner[:, :, q].argmax(dim=-1) == s)  # (L, H)
            adjacent.append(s == q - 1)
            sentences.append(n)
            uniform.append(1.0 / len(tokens))
    stacked = torch.stack(weights).float().cpu()  # (N, L, H)
    return PairHeads(
        weights=stacked,
        previous=torch.stack(previous).float().cpu(),
        on_top=torch.stack(on_top).cpu(),
        adjacent=torch.tensor(adjacent),
        any_previous=(back_sum / back_n).float().cpu() if back_n else torch.full(stacked.shape[1:], float("nan")),
        uniform=sum(uniform) / len(uniform),
        sentences=tuple(sentences),
        top=top_heads(stacked.mean(dim=0), top),
    )


@dataclass(frozen=True, eq=False)
class PairSummary:
    """`pair_heads` reduced over the pairs, with each pair's words named: what a table or chart of it needs."""

    sentences: tuple[str, ...]  # N sentences, one per pair (a sentence with two pairs appears twice)
    queries: tuple[str, ...]  # N query words (the verbs)
    targets: tuple[str, ...]  # N target words (their subjects)
    query_rows: tuple[int, ...]  # N: the query's row in the sentence's `word_weights` (1 + its word index)
    mean: Tensor  # (L, H) mean weight from the query to its target
    mean_previous: Tensor  # (L, H) mean weight from the query to the word before it
    top_share: Tensor  # (L, H) share of pairs where the target is the query's most weighted word
    any_previous: Tensor  # (L, H) every word to the word before it, over all the sentences
    uniform: float  # what an evenly spread head gives a one-piece target, on average
    adjacent: int  # pairs whose target stands right before the query
    top: tuple[tuple[int, int], ...]  # (layer, head) by mean weight, highest first


def pair_summary(model: Model, examples: Sequence[Example], *, top: int = 5) -> PairSummary:
    """`pair_heads` on ``examples``, reduced over the pairs.

    Raises:
        AttnvizInputError: as `pair_heads`.
    """
    found = pair_heads(model, examples, top=top)
    pairs = [(ex, q, s) for ex in examples for q, s in ex.pairs]
    return PairSummary(
        sentences=tuple(" ".join(ex.words) for ex, _, _ in pairs),
        queries=tuple(ex.words[q] for ex, q, _ in pairs),
        targets=tuple(ex.words[s] for ex, _, s in pairs),
        query_rows=tuple(1 + q for _, q, _ in pairs),
        mean=found.mean,
        mean_previous=found.mean_previous,
        top_share=found.top_share,
        any_previous=found.any_previous,
        uniform=found.uniform,
        adjacent=int(found.adjacent.sum()),
        top=found.top,
    )


__all__ = ["PairHeads", "PairSummary", "pair_heads", "pair_summary", "parse_pairs"]
