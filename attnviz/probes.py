"""Measurements on the real model's heads: what a head looks at, and what it passes on.

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
  scores wherever the target is the previous word. It lives in `attnviz.pairs`, re-exported here with
  `parse_pairs` and `pair_summary`; `word_weights` lives in `attnviz.pretrained`, re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.census import HeadCensus, layer_census  # re-exported: see section 2
from attnviz.errors import AttnvizInputError
from attnviz.pairs import PairHeads, PairSummary, pair_heads, pair_summary, parse_pairs
from attnviz.pretrained import (
    Model,
    SentencePair,
    Tokens,
    check_top,
    encode,
    find_word,
    forward,
    group_tokens,
    top_heads,
    word_weights,
)

# ----------------------------------------------------------------------------------------------------------
# 1. A pronoun's referent, changed by one word
# ----------------------------------------------------------------------------------------------------------


def shift_scores(a_to_a: Tensor, a_to_b: Tensor, b_to_a: Tensor, b_to_b: Tensor) -> Tensor:
    """How far each head's attention from the pronoun follows the referent across a minimal pair.

    In sentence A the pronoun means referent a, in sentence B referent b. A head that follows the referent gives
    a more weight in A than in B, and b more in B than in A:

        score = (w_A(a) − w_B(a)) + (w_B(b) − w_A(b))

    0 when each noun keeps the weight it had in A when the sentence becomes B, whatever that weight is (or when a
    gain on one side cancels a loss on the other); at most 2, a complete switch; below 0 the weight moves the wrong
    way.

    Args:
        a_to_a: (L, H) weight from the pronoun to referent a, in sentence A; a_to_b to referent b in sentence A;
            b_to_a and b_to_b the same in sentence B.
    Returns:
        (L, H) the score.
    """
    return (a_to_a - b_to_a) + (b_to_b - a_to_b)  # (L, H)


@dataclass(frozen=True, eq=False)
class ReferentShift(SentencePair):
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
    source_row_a: int  # the pronoun's row in sentence A's `word_weights` (1 + its word index: [CLS] is row 0)
    source_row_b: int  # the same in sentence B

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
    check_top(top)
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
        top=top_heads(score, top),
        source_row_a=1 + sa,
        source_row_b=1 + sb,
    )


# ----------------------------------------------------------------------------------------------------------
# 2. Where each head's weight goes: itself, next door, [CLS]/[SEP], elsewhere
# ----------------------------------------------------------------------------------------------------------


# `layer_census` lives in `attnviz.census` (with the previous/next split, entropy, distance and labels of the head
# head census); it is imported here so that `probes.layer_census` keeps working.


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
        words: average a word's pieces into one row first (as the maps by word do); False for one row per piece.
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


__all__ = [
    "HeadCensus",
    "PairHeads",
    "PairSummary",
    "ReferentShift",
    "SpecialContribution",
    "layer_census",
    "pair_heads",
    "pair_summary",
    "parse_pairs",
    "referent_shift",
    "shift_scores",
    "special_contribution",
    "word_weights",
]
