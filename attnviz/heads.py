"""Several heads side by side: a seeded toy multi-head layer, how different heads are, what each row attends to.

Vaswani et al., "Attention Is All You Need" (2017), section 3.2.2: H heads, each with its own M_Q, M_K, M_V
of width Dh, attend in parallel; their outputs are concatenated and mixed back to the model's width by W_O.

    Q_h, K_h, V_h = I·M_Q^h, I·M_K^h, I·M_V^h      (T, Dh) each, h = 1 … H
    O_h = softmax(Q_h·K_hᵀ/√Dh)·V_h                (T, Dh)
    O = [O_1 … O_H]·W_O                            (T, H·Dh)·(H·Dh, D) → (T, D)

The toy layer's heads are random, not trained: each head draws its own matrices from its own seed, so that
adding a head never changes the heads already there. How different two heads are is measured row by row with
the Jensen–Shannon divergence (Lin, "Divergence measures based on the Shannon entropy", 1991), in bits:
0 when the two rows are the same distribution, 1 when they share no key at all.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import MultiHead, multi_head
from attnviz.checks import whole_number
from attnviz.errors import AttnvizInputError
from attnviz.pooling import pool_attention

MAX_HEADS = 8  # the toy layer's largest H: beyond it the maps side by side get too small to read
HEAD_DIMS = (4, 8, 16)  # head widths Dh offered by the lesson; H·Dh stays at most 128
QK_GAIN = 2.0  # M_Q and M_K are drawn with std QK_GAIN/√D: at 1 the rows of random heads are nearly flat


@dataclass(frozen=True, eq=False)
class ToyWeights:
    """The matrices of a toy multi-head layer, right-acting as in the course (Q = I·M_Q)."""

    w_q: Tensor  # (D, H·Dh) every head's M_Q side by side: head h owns columns h·Dh … (h+1)·Dh − 1
    w_k: Tensor  # (D, H·Dh)
    w_v: Tensor  # (D, H·Dh)
    w_o: Tensor  # (H·Dh, D) head h's output enters through rows h·Dh … (h+1)·Dh − 1
    n_heads: int  # H
    head_dim: int  # Dh
    seed: int  # what the heads were drawn from


def toy_weights(d_model: int, n_heads: int, head_dim: int = 8, seed: int = 0) -> ToyWeights:
    """Draw a toy layer's M_Q, M_K, M_V and W_O, one seeded generator per head.

    Head h's matrices depend on (seed, h, d_model, head_dim) only, so the first three heads of H = 4 are the
    three heads of H = 3. W_O is scaled by 1/√(H·Dh) so the output keeps the input's size whatever H is.

    Args:
        d_model: D, the width of the input vectors (50 for GloVe).
        n_heads: H, 1 … MAX_HEADS.
        head_dim: Dh, 1 … 64.
        seed: any whole number ≥ 0; another seed draws other heads.
    Returns:
        ToyWeights, float32 on the CPU.
    """
    whole_number(n_heads, "the number of heads", 1, MAX_HEADS)
    whole_number(head_dim, "the head width", 1, 64)
    whole_number(d_model, "the model width", 1, 4096)
    whole_number(seed, "the seed", 0, 2**31 - 1)
    return draw_heads(d_model, n_heads, head_dim, seed)


def draw_heads(d_model: int, n_heads: int, head_dim: int, seed: int = 0) -> ToyWeights:
    """`toy_weights` without its limits on H and Dh (the efficient-attention toy draws 12 heads of 32 the same way)."""
    q, k, v, o = [], [], [], []
    for h in range(n_heads):
        # one generator per head: its matrices do not depend on how many heads come after it
        gen = torch.Generator().manual_seed(seed * 1_000_003 + h)
        q.append(torch.randn(d_model, head_dim, generator=gen) * (QK_GAIN / math.sqrt(d_model)))  # (D, Dh)
        k.append(torch.randn(d_model, head_dim, generator=gen) * (QK_GAIN / math.sqrt(d_model)))  # (D, Dh)
        v.append(torch.randn(d_model, head_dim, generator=gen) / math.sqrt(d_model))  # (D, Dh)
        o.append(torch.randn(head_dim, d_model, generator=gen))  # (Dh, D)
    return ToyWeights(
        w_q=torch.cat(q, dim=1),  # (D, H·Dh)
        w_k=torch.cat(k, dim=1),  # (D, H·Dh)
        w_v=torch.cat(v, dim=1),  # (D, H·Dh)
        w_o=torch.cat(o, dim=0) / math.sqrt(n_heads * head_dim),  # (H·Dh, D)
        n_heads=n_heads,
        head_dim=head_dim,
        seed=seed,
    )


def toy_layer(x: Tensor, weights: ToyWeights) -> MultiHead:
    """Run the toy layer on a sentence with the course's own `multi_head`.

    Args:
        x: (T, D) the sentence's word vectors, T ≥ 1.
        weights: from `toy_weights` with the same D.
    Returns:
        MultiHead: q, k, v (H, T, Dh), heads.weights (H, T, T), concat (T, H·Dh), output (T, D).
    """
    if x.dim() != 2 or x.shape[0] < 1:
        raise AttnvizInputError(f"the layer needs one vector per word, (T, D) with T ≥ 1, got {tuple(x.shape)}")
    if x.shape[1] != weights.w_q.shape[0]:
        raise AttnvizInputError(f"the vectors have {x.shape[1]} numbers, the layer expects {weights.w_q.shape[0]}")
    w = weights
    x = x.to(device=w.w_q.device, dtype=w.w_q.dtype)
    return multi_head(x, w.w_q, w.w_k, w.w_v, w.w_o, w.n_heads)


# ----------------------------------------------------------------------------------------------------------
# How different are the heads?
# ----------------------------------------------------------------------------------------------------------


def entropy_bits(p: Tensor) -> Tensor:
    """Shannon entropy along the last axis, in bits; 0·log 0 counts as 0.

    Args:
        p: (..., S) rows that sum to 1.
    Returns:
        (...,)
    """
    return -torch.special.xlogy(p, p).sum(dim=-1) / math.log(2.0)  # (...,)


def js_divergence(p: Tensor, q: Tensor) -> Tensor:
    """Jensen–Shannon divergence between distributions along the last axis, in bits (0 … 1).

    JS(P, Q) = ½·KL(P ‖ M) + ½·KL(Q ‖ M) with M = ½(P + Q), which is the same as H(M) − ½·H(P) − ½·H(Q) (H the
    entropy): computed that way, each row's own entropy is worked out once however many rows it is compared with.
    Symmetric, and finite even where one of the two is zero.

    Args:
        p, q: (..., S) rows that sum to 1 (broadcastable against each other).
    Returns:
        (...,)
    """
    m = 0.5 * (p + q)  # (..., S)
    return (entropy_bits(m) - 0.5 * (entropy_bits(p) + entropy_bits(q))).clamp(0.0, 1.0)  # (...,)


@dataclass(frozen=True, eq=False)
class HeadDifference:
    """How differently the heads of one layer spread their attention over the same sentence."""

    pairwise: Tensor  # (..., H, H) mean over the T rows of the JS divergence between two heads' rows, bits
    mean: Tensor  # (...,) mean of `pairwise` over the pairs of distinct heads; 0 when H = 1
    agree: Tensor  # (...,) share of the rows whose largest weight falls on the same key in every head


def head_difference(weights: Tensor) -> HeadDifference:
    """Compare every head with every other, row by row.

    Args:
        weights: (..., H, T, S) attention weights, e.g. (H, T, T) for one layer or (L, H, T, T) for a model.
    Returns:
        HeadDifference.
    """
    if weights.dim() < 3:
        raise AttnvizInputError(f"expected weights of shape (..., H, T, S), got {tuple(weights.shape)}")
    h = weights.shape[-3]
    own = entropy_bits(weights)  # (..., H, T) each row's entropy, once
    pairwise = weights.new_zeros(*weights.shape[:-3], h, h)  # (..., H, H) zero on the diagonal
    # head i against the heads after it (the divergence is symmetric): memory stays the size of `weights`
    for i in range(h - 1):
        mix = entropy_bits(0.5 * (weights[..., i : i + 1, :, :] + weights[..., i + 1 :, :, :]))  # (..., H-1-i, T)
        js = (mix - 0.5 * (own[..., i : i + 1, :] + own[..., i + 1 :, :])).clamp(0.0, 1.0)  # (..., H-1-i, T)
        pairwise[..., i, i + 1 :] = pairwise[..., i + 1 :, i] = js.mean(dim=-1)
    off = ~torch.eye(h, dtype=torch.bool, device=weights.device)  # (H, H)
    mean = pairwise[..., off].mean(dim=-1) if h > 1 else pairwise.new_zeros(pairwise.shape[:-2])  # (...,)
    best = weights.argmax(dim=-1)  # (..., H, T)
    agree = (best == best[..., :1, :]).all(dim=-2).float().mean(dim=-1)  # (...,)
    return HeadDifference(pairwise=pairwise, mean=mean, agree=agree)


@dataclass(frozen=True, eq=False)
class TopKeys:
    """The strongest keys of every row: what a long map says when its labels no longer fit."""

    indices: Tensor  # (..., T, K) key positions, strongest first
    values: Tensor  # (..., T, K) their weights


def top_keys(weights: Tensor, k: int = 3) -> TopKeys:
    """The k largest weights of every row (fewer when a row has fewer keys).

    Args:
        weights: (..., T, S).
        k: 1 or more.
    """
    whole_number(k, "k", 1, 1_000_000)
    values, indices = torch.topk(weights, min(k, weights.shape[-1]), dim=-1)  # (..., T, K)
    return TopKeys(indices=indices, values=values)


# ----------------------------------------------------------------------------------------------------------
# Long maps, pooled for thumbnails
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Pooled:
    """An attention map with consecutive tokens merged into blocks."""

    weights: Tensor  # (..., G, G) block g attends to block j: summed over j's keys, averaged over g's queries
    spans: tuple[tuple[int, int], ...]  # G (start, end) token ranges, end excluded


def pool_blocks(weights: Tensor, max_size: int) -> Pooled:
    """Merge consecutive tokens into at most ``max_size`` blocks of near-equal length.

    Keys are summed and queries averaged (`attnviz.pooling.pool_attention`, as for words), so every row
    still sums to what it summed to before. A map that already fits is returned as it is.

    Args:
        weights: (..., T, S) with T == S.
        max_size: the most rows and columns wanted, 1 or more.
    """
    whole_number(max_size, "the block count", 1, 1_000_000)
    t = weights.shape[-1]
    if weights.shape[-2] != t:
        raise AttnvizInputError(f"expected a square map, got {tuple(weights.shape[-2:])}")
    if t <= max_size:
        return Pooled(weights=weights, spans=tuple((i, i + 1) for i in range(t)))
    edges = [round(i * t / max_size) for i in range(max_size + 1)]
    spans = tuple(itertools.pairwise(edges))
    pooled = pool_attention(weights, [range(a, b) for a, b in spans])  # (..., G, G)
    return Pooled(weights=pooled, spans=spans)


__all__ = [
    "HEAD_DIMS",
    "MAX_HEADS",
    "HeadDifference",
    "Pooled",
    "TopKeys",
    "ToyWeights",
    "head_difference",
    "js_divergence",
    "pool_blocks",
    "top_keys",
    "toy_layer",
    "toy_weights",
]
