"""Lesson 6's efficient attentions swapped into every layer of the decoder, judged by what a decoder is for: the
next token.

Each variant replaces the attention of all 30 layers (every query head, through `forward`'s ``attend``: q (H, T, Dh),
k and v (H, S, Dh) with each group's key/value head handed to its three query heads, and the causal mask (T, S)). The
model is not retrained: it meets each variant as it was trained, with full causal attention. On a text, against
the same model with full exact attention, each variant gives:

- its next-token loss: −ln p(token t+1 | the tokens it lets position t see), for t = 0 … T−2, the measure of
  `attnviz.decoder.sinks` (`next_token_losses`), and the perplexity exp(mean loss);
- the top next token after the text, and whether it changed;
- the share of the T positions whose top prediction (the argmax of its logits) changed.

The variants (page 6's functions, `attnviz.efficient`, run causal):

    flash      FlashAttention (Dao et al., 2022; FlashAttention-2's Algorithm 1, Dao, 2023): exact, tile by tile
    strided    Sparse Transformer, strided pattern (Child et al., 2019, Section 4.3): the last l tokens and every
               l-th one before
    fixed      Sparse Transformer, fixed pattern (Child et al., 2019, Section 4.3): the token's own block of l and
               the last token (c = 1) of every earlier block
    window     a sliding window of the last l tokens alone (the strided pattern's first part); the window that also
               keeps the first tokens (StreamingLLM, Xiao et al., 2023) is `sinks.sink_experiment`
    mqa        multi-query attention (Shazeer, 2019) by the GQA paper's conversion (Ainslie et al., 2023, Section 2.1):
               each layer's 3 key/value heads mean-pooled into 1; the paper then uptrains with 5% of the original
               pre-training compute (abstract); here there is no uptraining

l is round(√T) by default (the paper's stride ≈ √n, Section 4.3). Pooling after RoPE equals pooling the projection
matrices before it (the paper's "mean pooling"): RoPE turns every head's key at a position by the same angles, a
linear map, so it commutes with the mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, causal_mask
from attnviz.checks import whole_number
from attnviz.decoder.forward import forward, read_tokens
from attnviz.decoder.model import Model
from attnviz.decoder.sinks import LossCurve, next_token_losses, window_mask, windowed
from attnviz.decoder.tokens import MAX_TOKENS, Tokens
from attnviz.efficient.flash import flash_attention
from attnviz.efficient.mqa import grouped_query_attention
from attnviz.efficient.sparse import sparse_attention, sparse_mask
from attnviz.errors import AttnvizInputError

VARIANTS = ("flash", "strided", "fixed", "window", "mqa")  # the order of the table


@dataclass(frozen=True)
class Variant:
    """One swapped attention, described for the table."""

    name: str  # one of VARIANTS
    label: str  # what the table calls it
    keeps: str  # what it keeps of full causal attention
    source: str  # its paper


def stride_for(n_tokens: int) -> int:
    """l = round(√T), at least 1: the Sparse Transformer's stride "close to √n" (Child et al., 2019, Section 4.3)."""
    return max(1, round(math.sqrt(n_tokens)))


def describe(name: str, stride: int, kv_heads: int) -> Variant:
    """The table's words for a variant at stride (and window) l and the model's key/value heads."""
    text = {
        "flash": ("FlashAttention", "every earlier token, exactly: the same sum tile by tile", "Dao et al., 2022"),
        "strided": (
            f"Sparse Transformer, strided (l = {stride})",
            f"the last {stride} tokens and every token a multiple of {stride} back",
            "Child et al., 2019",
        ),
        "fixed": (
            f"Sparse Transformer, fixed (l = {stride}, c = 1)",
            f"the earlier tokens of its own block of {stride} and the last token of every earlier block",
            "Child et al., 2019",
        ),
        "window": (
            f"sliding window of {stride}",
            f"the last {stride} tokens only",
            "Beltagy et al., 2020 (Longformer), Section 3.1",
        ),
        "mqa": (
            f"multi-query: {kv_heads} key/value heads pooled into 1",
            f"every earlier token, but one mean key/value head for all query heads instead of {kv_heads}, "
            "not retrained",
            "Shazeer, 2019; Ainslie et al., 2023",
        ),
    }
    if name not in text:
        raise AttnvizInputError(f"unknown variant {name!r}: one of {', '.join(VARIANTS)}")
    return Variant(name, *text[name])


def _extra_mask(mask: Tensor | None, t: int, s: int) -> Tensor | None:
    """The caller's (T, S) mask, or None when it is only the causal mask that ``causal=True`` applies anyway: a full
    mask makes the tiled variants gather it tile by tile (8× slower per layer for flash at 256 tokens here)."""
    if mask is None or (mask.shape == (t, s) and torch.equal(mask, causal_mask(t, s, device=mask.device))):
        return None
    return mask  # (T, S)


def _flash(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: float | None = None) -> Attention:
    # Dao et al., 2022: exact attention one tile at a time; causal=True skips the tiles above the diagonal
    extra = _extra_mask(mask, q.shape[-2], k.shape[-2])  # (T, S) or None
    return flash_attention(q, k, v, mask=extra, scale=scale, causal=True)  # output (H, T, Dh)


def _sparse(pattern: str, stride: int) -> AttentionFn:
    # Child et al., 2019, Section 4.3, both parts merged into one head; causal: keys j ≤ i only
    def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: float | None = None) -> Attention:
        extra = _extra_mask(mask, q.shape[-2], k.shape[-2])  # (T, S) or None
        return sparse_attention(q, k, v, extra, scale, pattern=pattern, stride=stride, summary=1, causal=True)

    return attend


def _mqa(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: float | None = None) -> Attention:
    # Ainslie et al., 2023, Section 2.1: mean pooling. k and v arrive as (H, S, Dh), each key/value head repeated for
    # its 3 query heads, so the mean over the H copies is the mean over the Hkv heads: (1, S, Dh)
    return grouped_query_attention(q, k, v, mask=mask, scale=scale, groups=1)  # output (H, T, Dh)


def attention_for(name: str, stride: int) -> AttentionFn:
    """The `AttentionFn` of a variant at stride (and window) l, for every layer."""
    whole_number(stride, "the stride l", 1)
    if name == "flash":
        return _flash
    if name in ("strided", "fixed"):
        return _sparse(name, stride)
    if name == "window":
        return windowed(stride)
    if name == "mqa":
        return _mqa
    raise AttnvizInputError(f"unknown variant {name!r}: one of {', '.join(VARIANTS)}")


def pairs_kept(name: str, t: int, stride: int) -> float:
    """The share of the T·(T+1)/2 causal (query, key) pairs a variant lets attention read."""
    causal = causal_mask(t, t)  # (T, T)
    if name in ("strided", "fixed"):
        allowed = sparse_mask(t, pattern=name, stride=stride, summary=1, causal=True) & causal  # (T, T)
    elif name == "window":
        allowed = window_mask(t, t, stride)  # (T, T)
    else:
        return 1.0  # flash and multi-query read every pair
    return float(allowed.sum()) / float(causal.sum())


@dataclass(frozen=True, eq=False)
class Swapped:
    """The decoder's predictions on a text with one kind of attention in all its layers."""

    variant: Variant | None  # None: full exact attention
    curve: LossCurve  # (T−1,) next-token losses
    top_ids: Tensor  # (T,) each position's top next token (argmax of its logits)
    next_id: int  # the top token after the text: top_ids[-1]
    next_text: str  # that token as text
    changed: Tensor  # (T,) bool: top_ids differs from full attention's
    pairs_kept: float  # share of causal pairs attended

    @property
    def loss(self) -> float:
        """Mean next-token loss over the T − 1 predictions, nats."""
        return float(self.curve.losses.mean())

    @property
    def changed_share(self) -> float:
        """Share of the T positions whose top prediction differs from full attention's."""
        return float(self.changed.float().mean())

    @property
    def next_changed(self) -> bool:
        """Whether the top token after the text differs from full attention's."""
        return bool(self.changed[-1])


@dataclass(frozen=True, eq=False)
class DecoderSwap:
    """Full exact attention and each variant in all layers, on one text."""

    tokens: Tokens
    stride: int  # l: the sparse patterns' stride and the window's width
    full: Swapped
    rows: tuple[Swapped, ...]  # in the order asked for

    def row(self, name: str) -> Swapped:
        """The variant called ``name``."""
        return next(r for r in self.rows if r.variant is not None and r.variant.name == name)


def _swapped(
    model: Model, logits: Tensor, ids: Tensor, variant: Variant | None, full_top: Tensor | None, kept: float
) -> Swapped:
    from attnviz.decoder.tokens import decode

    top = logits.argmax(dim=-1)  # (T,)
    changed = torch.zeros_like(top, dtype=torch.bool) if full_top is None else top != full_top  # (T,)
    name = "full attention" if variant is None else variant.label
    next_id = int(top[-1])
    return Swapped(
        variant=variant,
        curve=LossCurve(name=name, losses=next_token_losses(logits, ids)),  # (T−1,)
        top_ids=top,
        next_id=next_id,
        next_text=decode(model, [next_id]),
        changed=changed,
        pairs_kept=kept,
    )


@torch.inference_mode()
def decoder_swap(
    model: Model,
    tokens_or_text: Tokens | str,
    names: tuple[str, ...] = VARIANTS,
    stride: int | None = None,
    *,
    attend_of: Callable[[str, int], AttentionFn] = attention_for,
    max_tokens: int = MAX_TOKENS,
) -> DecoderSwap:
    """The text through the decoder with full attention, then with each variant in all layers: one pass each.

    Args:
        model: from `load_model`.
        tokens_or_text: the text, at least 2 tokens (read up to ``max_tokens``).
        names: variants from `VARIANTS`.
        stride: l, the sparse patterns' stride and the window's width; default `stride_for` (round(√T)).
        attend_of: (name, l) → the variant's `AttentionFn` (tests give their own).
        max_tokens: the most tokens read.
    Returns:
        DecoderSwap (1 + len(names) passes of the whole model).
    """
    tokens = read_tokens(model, tokens_or_text, max_tokens)
    t = len(tokens)
    if t < 2:
        raise AttnvizInputError(
            "Next-token loss needs a text of at least 2 tokens: with one, there is no next token of the text to "
            "predict. Type a longer text."
        )
    l_ = stride_for(t) if stride is None else whole_number(stride, "the stride l", 1, max_tokens)
    for name in names:
        describe(name, l_, model.config.n_kv_heads)  # unknown names fail before any pass
    ids = torch.tensor(tokens.ids, dtype=torch.long, device=model.device)  # (T,)
    full_logits = forward(model, tokens, keep_weights=False, max_tokens=max_tokens).logits  # (T, V)
    full = _swapped(model, full_logits, ids, None, None, 1.0)
    rows = []
    for name in names:
        variant = describe(name, l_, model.config.n_kv_heads)
        attend = attend_of(name, l_)
        logits = forward(model, tokens, attend, keep_weights=False, max_tokens=max_tokens).logits  # (T, V)
        rows.append(_swapped(model, logits, ids, variant, full.top_ids, pairs_kept(name, t, l_)))
    return DecoderSwap(tokens=tokens, stride=l_, full=full, rows=tuple(rows))


__all__ = [
    "VARIANTS",
    "DecoderSwap",
    "Swapped",
    "Variant",
    "attention_for",
    "decoder_swap",
    "describe",
    "pairs_kept",
    "stride_for",
]
