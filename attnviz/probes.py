"""Measurements on the real model's heads (page 5b and page 5c): what a head looks at, and what it passes on.

Each function turns one claim that is often made about BERT-style heads into a number for the sentences at hand:

- `referent_shift`: does the attention of a pronoun follow its referent when one word of the sentence changes
  the referent? A minimal pair ("…because it was tired" / "…because it was soft") separates a head that tracks
  the referent from a head that always sends "it" to the same noun (the Winograd-schema idea, Levesque et al.,
  "The Winograd Schema Challenge", 2012).
- `layer_census` (from `attnviz.census`): how much of each head's weight goes to the token itself, to the tokens
  right beside it, to [CLS]/[SEP], and elsewhere, with its rows' entropy and the distance it looks.
- `special_contribution`: the weight share of [CLS]/[SEP] beside their share of ‖weight · f(x)‖, where
  f(x) = (x·M_V + b_V)·W_O is what a token passes on (Kobayashi et al., "Attention is Not Only a Weight:
  Analyzing Transformers with Vector Norms", 2020). A large weight on a token whose f(x) is short moves little.
- `pair_heads`: rank every head by the weight from a labelled query word to its target (a verb to its subject),
  with the weight to the word just before the query beside it, since a head that always looks one word back
  scores wherever the target is the previous word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.census import HeadCensus, layer_census  # re-exported: see section 2
from attnviz.errors import AttnvizInputError
from attnviz.pretrained import Model, Tokens, encode, find_word, forward, group_attention, group_tokens
from attnviz.training import Example, parse_example

# ----------------------------------------------------------------------------------------------------------
# Word-level weights: [CLS] first, then one group per word, then [SEP]
# ----------------------------------------------------------------------------------------------------------


def word_weights(weights: Tensor, tokens: Tokens) -> Tensor:
    """Every head's map with pieces merged into words and [CLS]/[SEP] kept, rows not renormalised.

    Row and column ``1 + i`` are word ``i`` of ``tokens.words`` ([CLS] is 0): keys summed over a word's pieces,
    queries averaged over them (`attnviz.pretrained.group_attention`).

    Args:
        weights: (..., T, T) attention weights of the sentence.
    Returns:
        (..., G, G) with G = len(tokens.words) + 2.
    """
    grouping = group_tokens(tokens, words=True, keep_special=True)
    return group_attention(weights, grouping, renormalise=False).weights  # (..., G, G)


def _top_heads(score: Tensor, top: int) -> tuple[tuple[int, int], ...]:
    order = torch.argsort(score.flatten(), descending=True, stable=True)[:top]  # (K,)
    n_heads = score.shape[-1]
    return tuple((int(i) // n_heads, int(i) % n_heads) for i in order)


def _check_top(top: int) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise AttnvizInputError(f"top must be a whole number of heads, 1 or more, got {top!r}")


# ----------------------------------------------------------------------------------------------------------
# 1. A pronoun's referent, changed by one word
# ----------------------------------------------------------------------------------------------------------


def shift_scores(a_to_a: Tensor, a_to_b: Tensor, b_to_a: Tensor, b_to_b: Tensor) -> Tensor:
    """How far each head's attention from the pronoun follows the referent across a minimal pair.

    In sentence A the pronoun means referent a, in sentence B referent b. A head that follows the referent gives
    a more weight in A than in B, and b more in B than in A:

        score = (w_A(a) − w_B(a)) + (w_B(b) − w_A(b))

    0 for a head that weights both nouns the same in both sentences, whatever it weights them; at most 2.

    Args:
        a_to_a: (L, H) weight from the pronoun to referent a, in sentence A; a_to_b to referent b in sentence A;
            b_to_a and b_to_b the same in sentence B.
    Returns:
        (L, H) the score.
    """
    return (a_to_a - b_to_a) + (b_to_b - a_to_b)  # (L, H)


@dataclass(frozen=True, eq=False)
class ReferentShift:
    """Every head on a minimal pair: the pronoun's weight on each candidate referent in each sentence."""

    tokens_a: Tokens
    tokens_b: Tokens
    source: str  # the pronoun, as found in sentence A
    referent_a: str  # what it means in sentence A, as found there
    referent_b: str  # what it means in sentence B
    a_to_a: Tensor  # (L, H) sentence A: weight from the pronoun to referent a
    a_to_b: Tensor  # (L, H) sentence A: to referent b
    b_to_a: Tensor  # (L, H) sentence B: to referent a
    b_to_b: Tensor  # (L, H) sentence B: to referent b
    score: Tensor  # (L, H) `shift_scores`
    top: tuple[tuple[int, int], ...]  # (layer, head), 0-based, the highest score first

    @property
    def resolved(self) -> Tensor:
        """(L, H) True where the head gives the true referent more weight than the other one in both sentences."""
        return (self.a_to_a > self.a_to_b) & (self.b_to_b > self.b_to_a)


def referent_shift(
    model: Model,
    text_a: str,
    text_b: str,
    source: str = "it",
    referent_a: str = "cat",
    referent_b: str = "mat",
    *,
    top: int = 5,
) -> ReferentShift:
    """Rank every head by `shift_scores` on a minimal pair.

    Weights are raw (special tokens kept, rows not renormalised), summed over a referent's pieces and averaged
    over the pronoun's; each word is its first occurrence (case and accents ignored).

    Args:
        text_a: a sentence where ``source`` means ``referent_a``, e.g. "the cat sat on the mat because it was tired".
        text_b: a sentence where it means ``referent_b``, e.g. "…because it was soft". Both sentences must contain
            all three words.
    Returns:
        ReferentShift.
    Raises:
        AttnvizInputError: a word missing from either sentence, or two of the three words the same.
    """
    _check_top(top)
    tok_a, tok_b = encode(model, text_a), encode(model, text_b)
    found = []
    for tokens, name in ((tok_a, "A"), (tok_b, "B")):
        try:
            found.append([find_word(model, tokens, w) for w in (source, referent_a, referent_b)])
        except AttnvizInputError as err:
            raise AttnvizInputError(f"sentence {name}: {err}") from None
    for idx in found:
        if len(set(idx)) < 3:
            raise AttnvizInputError("the pronoun and the two referents must be three different words")
    (sa, aa, ab), (sb, ba, bb) = found
    wa = word_weights(forward(model, tok_a).weights, tok_a)  # (L, H, G, G)
    wb = word_weights(forward(model, tok_b).weights, tok_b)  # (L, H, G', G')
    a_to_a, a_to_b = wa[:, :, 1 + sa, 1 + aa], wa[:, :, 1 + sa, 1 + ab]  # (L, H)
    b_to_a, b_to_b = wb[:, :, 1 + sb, 1 + ba], wb[:, :, 1 + sb, 1 + bb]  # (L, H)
    score = shift_scores(a_to_a, a_to_b, b_to_a, b_to_b)  # (L, H)
    return ReferentShift(
        tokens_a=tok_a,
        tokens_b=tok_b,
        source=tok_a.words[sa],
        referent_a=tok_a.words[aa],
        referent_b=tok_b.words[bb],
        a_to_a=a_to_a,
        a_to_b=a_to_b,
        b_to_a=b_to_a,
        b_to_b=b_to_b,
        score=score,
        top=_top_heads(score, top),
    )


# ----------------------------------------------------------------------------------------------------------
# 2. Where each head's weight goes: itself, next door, [CLS]/[SEP], elsewhere
# ----------------------------------------------------------------------------------------------------------


# `layer_census` lives in `attnviz.census` (with the previous/next split, entropy, distance and labels of the head
# census on page 5b); it is imported here so that `probes.layer_census` keeps working.


# ----------------------------------------------------------------------------------------------------------
# 3. What [CLS]/[SEP] receive as weight, and what they pass on
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpecialContribution:
    """[CLS]/[SEP]'s share of each head's weight and of its weighted value norms, per word row averaged."""

    weight_share: Tensor  # (L, H) Σ_special α_ij, averaged over the rows of the words
    norm_share: Tensor  # (L, H) Σ_special α_ij‖f(x_j)‖ / Σ_all α_ij‖f(x_j)‖, averaged the same way
    value_norms: Tensor  # (L, H, T) ‖f(x_j)‖ = ‖(x_j·M_V + b_V)·W_O‖ of every token j, per head


def special_contribution(model: Model, text: Tokens | str, *, words: bool = True) -> SpecialContribution:
    """Kobayashi et al.'s norm-based view of [CLS]/[SEP], beside the plain weight.

    A head's output at row i is Σ_j α_ij f(x_j) (+ the bias of W_O), with f(x_j) = (x_j·M_V + b_V)·W_O restricted
    to the head's rows of W_O. ‖α_ij f(x_j)‖ = α_ij‖f(x_j)‖ is how much token j moves row i, before the terms add.

    Args:
        text: the sentence or its `encode` result.
        words: average a word's pieces into one row first (as page 5b's maps do); False for one row per piece.
    Returns:
        SpecialContribution; a sentence without words gives NaN shares.
    """
    fwd = forward(model, text)
    tokens = fwd.tokens
    grouping = group_tokens(tokens, words=words, keep_special=True)
    t = len(tokens)
    flags = torch.tensor(tokens.special, dtype=torch.bool)  # (T,)
    # rows of the words: each group's pieces averaged, then the groups averaged
    groups = [m for m, s in zip(grouping.members, grouping.special, strict=True) if not s]
    avg = torch.zeros(max(len(groups), 1), t)  # (G, T)
    for g, members in enumerate(groups):
        avg[g, list(members)] = 1.0 / len(members)
    shares_w, shares_n, norms = [], [], []
    dh = model.config.head_dim
    for layer, trace in zip(model.layers, fwd.layers, strict=True):
        w_o = layer.w_o.reshape(model.config.n_heads, dh, -1)  # (H, Dh, D) each head's rows of W_O
        f = torch.einsum("htd,hde->hte", trace.v, w_o)  # (H, T, D) what each token passes on, per head
        size = f.norm(dim=-1).float().cpu()  # (H, T)
        a = trace.weights.float().cpu()  # (H, T, T)
        moved = a * size[:, None, :]  # (H, T, T) α_ij‖f(x_j)‖
        row_w = a[..., flags].sum(-1)  # (H, T)
        row_n = moved[..., flags].sum(-1) / moved.sum(-1).clamp_min(torch.finfo(moved.dtype).tiny)  # (H, T)
        shares_w.append(row_w @ avg.T)  # (H, G)
        shares_n.append(row_n @ avg.T)  # (H, G)
        norms.append(size)
    if groups:
        weight_share = torch.stack(shares_w).mean(-1)  # (L, H)
        norm_share = torch.stack(shares_n).mean(-1)  # (L, H)
    else:
        weight_share = norm_share = torch.full((len(fwd.layers), model.config.n_heads), float("nan"))
    return SpecialContribution(weight_share=weight_share, norm_share=norm_share, value_norms=torch.stack(norms))


# ----------------------------------------------------------------------------------------------------------
# 4. Labelled pairs (a verb and its subject): which heads put weight there
# ----------------------------------------------------------------------------------------------------------


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
    _check_top(top)
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
        top=_top_heads(stacked.mean(dim=0), top),
    )


__all__ = [
    "HeadCensus",
    "PairHeads",
    "ReferentShift",
    "SpecialContribution",
    "layer_census",
    "pair_heads",
    "parse_pairs",
    "referent_shift",
    "shift_scores",
    "special_contribution",
    "word_weights",
]
