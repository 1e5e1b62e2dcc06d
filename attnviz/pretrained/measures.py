"""Measurements on the real model's attention and hidden states, by word.

- `group_attention`, `group_states`, `word_weights`: a map or the token vectors merged into words (or pieces
  without [CLS]/[SEP]), by the pooling rule of `attnviz.pooling`.
- `attention_view`: every head's map of a sentence, grouped as it is drawn, with the share [CLS]/[SEP] received and
  thumbnails pooled into blocks.
- `find_coreference_heads`: every head ranked by the weight from one word to another (`top_heads`).
- `drift_across_layers`: one word's vector followed through the layers of two sentences.

More measurements on the heads (a minimal pair, a census, labelled pairs) are in `attnviz.probes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnviz.attention import AttentionFn, attention_received
from attnviz.checks import whole_number
from attnviz.errors import AttnvizInputError
from attnviz.heads import pool_blocks
from attnviz.labels import unique_labels
from attnviz.pooling import average_rows, pool_attention
from attnviz.pretrained.encoder import forward
from attnviz.pretrained.model import Model
from attnviz.pretrained.tokens import Grouping, SentencePair, Tokens, encode, find_word, group_tokens, piece_positions

THUMB_MAX = 48  # `attention_view` pools the thumbnails of longer sentences into this many blocks

# ----------------------------------------------------------------------------------------------------------
# Maps and vectors by word
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroupedAttention:
    """An attention map with rows and columns merged into groups."""

    grouping: Grouping
    weights: Tensor  # (..., G, G) row g: how much group g attends to each group
    dropped: Tensor  # (..., G) each row's attention that went to tokens left out (before renormalising)


def group_attention(weights: Tensor, grouping: Grouping, *, renormalise: bool = True) -> GroupedAttention:
    """Merge an attention map from tokens to groups (words, or pieces without [CLS]/[SEP]).

    Keys are summed: a word receives all the attention that went to any of its pieces, so rows still sum
    to 1. Queries are averaged: a word attends the way its pieces do on average, so a long word does not
    count more than a short one.

    When special tokens are left out, the attention they received is gone from every row. BERT's heads send a
    large share there ([SEP] especially, a "no-op" when the head finds nothing to do; Clark et al., "What
    Does BERT Look At?", 2019), which would leave most rows pale. With ``renormalise`` each row is divided by
    what is left, so it shows how the head splits its attention among the visible words; ``dropped`` keeps
    the share that was removed so that it can be reported.

    Args:
        weights: (..., T, T) attention weights, e.g. (L, H, T, T) for the whole grid.
        grouping: from `group_tokens` on the same tokens.
        renormalise: divide each row by its remaining sum (a row with nothing left stays zero).
    Returns:
        GroupedAttention with weights (..., G, G).
    """
    t = weights.shape[-1]
    if weights.shape[-2] != t or any(p >= t for m in grouping.members for p in m):
        raise AttnvizInputError(f"the attention map ({tuple(weights.shape)}) does not fit these {t} tokens")
    # sum over the key pieces of each group, average over its query pieces
    grouped = pool_attention(weights, grouping.members)  # (..., G, G)
    total = average_rows(weights.sum(dim=-1, keepdim=True), grouping.members)  # (..., G, 1) each row's full sum
    kept = grouped.sum(dim=-1, keepdim=True)  # (..., G, 1)
    dropped = (total - kept).clamp_min(0.0).squeeze(-1)  # (..., G)
    if renormalise:
        grouped = grouped / kept.clamp_min(torch.finfo(grouped.dtype).tiny)
    return GroupedAttention(grouping=grouping, weights=grouped, dropped=dropped)


def word_weights(weights: Tensor, tokens: Tokens) -> Tensor:
    """Every head's map with pieces merged into words and [CLS]/[SEP] kept, rows not renormalised.

    Row and column ``1 + i`` are word ``i`` of ``tokens.words`` ([CLS] is 0): keys summed over a word's pieces,
    queries averaged over them (`group_attention`).

    Args:
        weights: (..., T, T) attention weights of the sentence.
    Returns:
        (..., G, G) with G = len(tokens.words) + 2.
    """
    grouping = group_tokens(tokens, words=True, keep_special=True)
    return group_attention(weights, grouping, renormalise=False).weights  # (..., G, G)


def group_states(states: Tensor, grouping: Grouping) -> Tensor:
    """Average token vectors within each group (a word's vector is the mean of its pieces').

    Args:
        states: (..., T, D), e.g. Forward.hidden_states (L+1, T, D).
    Returns:
        (..., G, D)
    """
    return average_rows(states, grouping.members)  # (..., G, D)


@dataclass(frozen=True, eq=False)
class AttentionView:
    """Every head's map of one sentence as it is drawn: pieces or words, [CLS]/[SEP] in or out."""

    tokens: Tokens  # what the model read, with its notes
    labels: tuple[str, ...]  # G row/column labels, made unique
    special: tuple[bool, ...]  # G; True for [CLS] and [SEP]
    weights: Tensor  # (L, H, G, G) rows renormalised when the special tokens are left out
    dropped: Tensor  # (L, H, G) the share of each row that went to [CLS]/[SEP] (0 when they are shown)
    special_share: Tensor  # (L, H) mean share of a word's attention that goes to [CLS] or [SEP]
    thumbs: Tensor  # (L, H, G', G') G' ≤ max_blocks: `weights` pooled into blocks of consecutive rows
    thumb_labels: tuple[str, ...]  # G' labels, "first … last" for a block


def attention_view(
    tokens: Tokens, weights: Tensor, *, words: bool, keep_special: bool, max_blocks: int = THUMB_MAX
) -> AttentionView:
    """Group every head's map for display (`group_attention`), and measure what [CLS]/[SEP] receive.

    Args:
        tokens: the sentence's tokens.
        weights: (L, H, T, T) their attention weights, e.g. `Forward.weights`.
        words: merge each word's pieces; keep_special: keep [CLS] and [SEP] (as in `group_tokens`).
        max_blocks: the thumbnails' largest size.
    Returns:
        AttentionView; [CLS]/[SEP]'s share is measured with them present and averaged over the rows of the words.
    """
    grouping = group_tokens(tokens, words=words, keep_special=keep_special)
    grouped = group_attention(weights, grouping)  # weights (L, H, G, G)
    labels = unique_labels(grouping.labels)
    with_special = group_tokens(tokens, words=words, keep_special=True)
    flags = torch.tensor(with_special.special, device=weights.device)  # (G,)
    share = group_attention(weights, with_special).weights[..., flags]  # (L, H, G, S)
    share = share.sum(dim=-1)[..., ~flags].mean(dim=-1) if (~flags).any() else share.sum(-1).mean(-1)  # (L, H)
    pooled = pool_blocks(grouped.weights, max_blocks)
    thumb_labels = tuple(labels[a] if b - a == 1 else f"{labels[a]} … {labels[b - 1]}" for a, b in pooled.spans)
    return AttentionView(
        tokens=tokens,
        labels=labels,
        special=grouping.special,
        weights=grouped.weights,
        dropped=grouped.dropped,
        special_share=share,
        thumbs=pooled.weights,
        thumb_labels=thumb_labels,
    )


def even_received(tokens: Tokens, *, words: bool = True, keep_special: bool = True) -> Tensor:
    """The attention each group would receive (column sums) if every token spread its weight evenly over all T
    tokens, grouped as `attention_view` groups a map: keys summed over a word's pieces, queries averaged. A word of
    p pieces then receives G·p/T (G groups): exactly 1 for every group only when each word is one piece.

    Returns:
        (G,) in the order of `group_tokens(tokens, words=words, keep_special=keep_special)`.
    """
    grouping = group_tokens(tokens, words=words, keep_special=keep_special)
    t = len(tokens.pieces)
    uniform = torch.full((t, t), 1.0 / t)  # (T, T) every row spread evenly
    return attention_received(group_attention(uniform, grouping).weights).total  # (G,)


# ----------------------------------------------------------------------------------------------------------
# One word to another, one word across two sentences
# ----------------------------------------------------------------------------------------------------------


def check_top(top: int) -> None:
    """Refuse a head count that is not a whole number, 1 or more (before any forward pass)."""
    whole_number(top, "top (a number of heads)", 1)


def top_heads(score: Tensor, top: int) -> tuple[tuple[int, int], ...]:
    """The ``top`` (layer, head) pairs of an (L, H) score, 0-based, highest first (a tie keeps the earlier head)."""
    check_top(top)
    order = torch.argsort(score.flatten(), descending=True, stable=True)[:top]  # (K,)
    n_heads = score.shape[-1]
    return tuple((int(i) // n_heads, int(i) % n_heads) for i in order)


@dataclass(frozen=True)
class HeadScore:
    """One head's attention from the source word to the target word."""

    layer: int  # 0-based
    head: int  # 0-based
    weight: float  # in [0, 1]: summed over the target's pieces, averaged over the source's


@dataclass(frozen=True, eq=False)
class CoreferenceHeads:
    """Every head measured on one sentence: how strongly the source word attends to the target word."""

    tokens: Tokens
    source_word: str  # as found in the sentence
    target_word: str
    source_index: int  # into tokens.words
    target_index: int
    weights: Tensor  # (L, H) attention weight from source to target in each head
    uniform: float  # what a head that attends evenly would give: target pieces / T
    top: tuple[HeadScore, ...]  # the strongest heads first


def find_coreference_heads(
    model: Model,
    text: Tokens | str,
    source_word: str = "it",
    target_word: str = "cat",
    *,
    top: int = 5,
    attend: AttentionFn | None = None,
) -> CoreferenceHeads:
    """Rank every (layer, head) by the attention weight from ``source_word`` to ``target_word``.

    Nothing is hard-coded: the heads that resolve "it" → "cat" are the ones this measurement puts first.
    The weight is the raw one (special tokens kept, no renormalising), so it compares across heads.

    Args:
        text: e.g. "the cat sat on the mat because it was tired".
        source_word, target_word: words of the sentence (first occurrence; case and accents ignored).
        top: how many heads to list.
        attend: as in `forward`.
    Returns:
        CoreferenceHeads.
    """
    check_top(top)
    fwd = forward(model, text, attend)
    tokens = fwd.tokens
    src, tgt = find_word(model, tokens, source_word), find_word(model, tokens, target_word)
    if src == tgt:
        raise AttnvizInputError("the source and target must be two different words")
    # summed over the target's pieces, averaged over the source's; word i is row 1 + i ([CLS] is row 0)
    weights = word_weights(fwd.weights, tokens)[..., 1 + src, 1 + tgt]  # (L, H)
    best = tuple(HeadScore(layer=lh, head=hh, weight=float(weights[lh, hh])) for lh, hh in top_heads(weights, top))
    return CoreferenceHeads(
        tokens=tokens,
        source_word=tokens.words[src],
        target_word=tokens.words[tgt],
        source_index=src,
        target_index=tgt,
        weights=weights,
        uniform=len(piece_positions(tokens, tgt)) / len(tokens),
        top=best,
    )


@dataclass(frozen=True, eq=False)
class Drift(SentencePair):
    """How one word's representation differs between two sentences, layer by layer."""

    word: str  # as looked for
    labels: tuple[str, ...]  # L+1: "embeddings", "layer 1", …, "layer L"
    cosines: tuple[float, ...]  # L+1 cosine between the word's vectors in the two sentences
    vectors_a: Tensor  # (L+1, D) the word's vector in sentence A at each depth (mean of its pieces)
    vectors_b: Tensor  # (L+1, D)
    tokens_a: Tokens
    tokens_b: Tokens


def drift_across_layers(
    model: Model,
    text_a: Tokens | str,
    text_b: Tokens | str,
    word: str = "bank",
    *,
    attend: AttentionFn | None = None,
) -> Drift:
    """Cosine between ``word``'s hidden state in two sentences at every depth, embeddings included.

    At the embedding layer the two vectors differ only by position; each layer then mixes in context, so in
    "I walked by the river bank" and "I deposited money at the bank" the two "bank"s move apart.

    Args:
        text_a, text_b: two sentences that both contain ``word`` (its first occurrence is used).
        word: the word to follow; a word of several pieces is the mean of its pieces.
        attend: as in `forward`.
    Returns:
        Drift with L+1 cosines.
    Raises:
        AttnvizInputError: ``word`` is missing from either sentence (before any forward pass).
    """
    ta, tb = (encode(model, t) if isinstance(t, str) else t for t in (text_a, text_b))
    # a word missing from either sentence fails before any forward pass
    wa, wb = find_word(model, ta, word), find_word(model, tb, word)
    fa, fb = forward(model, ta, attend), forward(model, tb, attend)
    va = fa.hidden_states[:, piece_positions(fa.tokens, wa)].mean(dim=1)  # (L+1, D)
    vb = fb.hidden_states[:, piece_positions(fb.tokens, wb)].mean(dim=1)  # (L+1, D)
    cos = F.cosine_similarity(va, vb, dim=-1)  # (L+1,)
    labels = ("embeddings", *(f"layer {i + 1}" for i in range(model.config.n_layers)))
    return Drift(
        word=word,
        labels=labels,
        cosines=tuple(float(c) for c in cos),
        vectors_a=va,
        vectors_b=vb,
        tokens_a=fa.tokens,
        tokens_b=fb.tokens,
    )


__all__ = [
    "THUMB_MAX",
    "AttentionView",
    "CoreferenceHeads",
    "Drift",
    "GroupedAttention",
    "HeadScore",
    "attention_view",
    "check_top",
    "drift_across_layers",
    "find_coreference_heads",
    "group_attention",
    "group_states",
    "top_heads",
    "word_weights",
]
