"""Multi-query and grouped-query attention: fewer key/value heads, each shared by a group of query heads.

Shazeer, "Fast Transformer Decoding: One Write-Head is All You Need" (2019): multi-query, one K/V head.
Ainslie et al., "GQA: Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints"
(2023): G groups, G K/V heads. Query head h uses K/V head ⌊h·G/H⌋:

    G = H   ordinary multi-head attention
    G = 1   multi-query attention

The attention itself is exact; what shrinks is the KV cache a decoder keeps, 2·G·S·Dh numbers per layer and
sequence instead of 2·H·S·Dh, and the memory traffic of reading it at every generated token. A multi-head
checkpoint becomes grouped by averaging the K and V heads of each group (the GQA paper's conversion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, scaled_dot_product
from attnviz.efficient._common import positive_int
from attnviz.errors import AttnvizInputError


@dataclass(frozen=True, kw_only=True)
class GroupedQueryAttention(Attention):
    """Grouped-query attention. The T×S fields carry the query-head axis: weights (..., H, T, S)."""

    groups: int  # G, the number of K/V heads (1: multi-query, H: multi-head)
    k_shared: Tensor  # (..., G, S, Dh) the K heads actually used
    v_shared: Tensor  # (..., G, S, Dv) the V heads actually used
    kv_cache_bytes: int  # bytes a decoder caches for these K and V (this layer, this batch)
    kv_cache_bytes_multi_head: int  # the same with one K/V head per query head, for comparison


def kv_cache_bytes(
    *,
    kv_heads: int,
    length: int,
    head_dim: int,
    layers: int = 1,
    batch: int = 1,
    dtype: torch.dtype = torch.float32,
) -> int:
    """Bytes of the KV cache: keys and values for every layer, K/V head, cached token and batch row.

    2 (K and V) · layers · batch · kv_heads · length · head_dim · bytes per number.
    """
    width = torch.empty((), dtype=dtype).element_size()
    return 2 * layers * batch * kv_heads * length * head_dim * width


def pool_kv_heads(x: Tensor, groups: int) -> Tensor:
    """Average each group of consecutive heads: (..., H, S, D) → (..., G, S, D), G dividing H.

    This is how the GQA paper turns a multi-head checkpoint into a grouped one before uptraining.
    """
    heads = x.shape[-3]
    groups = positive_int(groups, "the number of K/V groups")
    if heads % groups:
        raise AttnvizInputError(f"{groups} groups do not divide {heads} heads evenly")
    return x.unflatten(-3, (groups, heads // groups)).mean(dim=-3)  # (..., G, S, D)


def grouped_query_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    groups: int | None = None,
    attend: AttentionFn = scaled_dot_product,
) -> GroupedQueryAttention:
    """Attention where every group of H/G query heads shares one K and one V head.

    Args:
        q: (..., H, T, Dh) queries, one per head.
        k: (..., G, S, Dh) shared keys, or (..., H, S, Dh) per-head keys to be averaged into G groups.
        v: (..., G, S, Dv) or (..., H, S, Dv), like k.
        mask: bool, broadcastable to (..., H, T, S), True where allowed.
        scale: multiplies the scores; default 1/√Dh.
        groups: G; default the number of K/V heads given. G = H is multi-head, G = 1 multi-query.
        attend: the attention that runs inside each group (exact by default; flash_attention to save memory).
    Returns:
        GroupedQueryAttention; with G = H it equals multi-head scaled_dot_product on the same q, k, v.
    """
    if q.dim() < 3 or k.dim() != q.dim() or v.dim() != q.dim():
        raise ValueError("q, k and v must be (..., heads, length, width) with the same number of dimensions")
    heads, kv_heads = q.shape[-3], k.shape[-3]
    if v.shape[-3] != kv_heads:
        raise ValueError(f"{kv_heads} key heads but {v.shape[-3]} value heads")
    g = kv_heads if groups is None else positive_int(groups, "the number of K/V groups")
    if heads % g:
        raise AttnvizInputError(f"{g} K/V groups do not divide {heads} query heads evenly")
    if kv_heads == heads and g != heads:
        k, v = pool_kv_heads(k, g), pool_kv_heads(v, g)  # (..., G, S, ·)
    elif kv_heads != g:
        raise ValueError(f"k and v have {kv_heads} heads: give {heads} (to be pooled) or exactly {g}")

    # 1. the H/G query heads of a group become H/G times as many query rows against the group's one K/V head
    per_group, t, s = heads // g, q.shape[-2], k.shape[-2]
    q_rows = q.unflatten(-3, (g, per_group)).flatten(-3, -2)  # (..., G, H/G·T, Dh)
    if mask is not None:
        mask = mask.reshape((1,) * (q.dim() - mask.dim()) + tuple(mask.shape))  # (..., 1 or H, 1 or T, S)
        if mask.shape[-3] != 1 or mask.shape[-2] != 1:  # differs per head or per query: lay it out by rows
            mask = mask.expand(*mask.shape[:-3], heads, t, s).unflatten(-3, (g, per_group)).flatten(-3, -2)
    # 2. plain attention per group: the shared K and V are read once for all its query heads, never copied
    inner = attend(q_rows, k, v, mask=mask, scale=scale)

    def heads_back(x: Tensor | None) -> Tensor | None:  # (..., G, H/G·T, ·) → (..., H, T, ·)
        return None if x is None else x.unflatten(-2, (per_group, t)).flatten(-4, -3)

    dh, dv = k.shape[-1], v.shape[-1]
    batch = math.prod(q.shape[:-3])  # 1 when there is no batch axis
    width = q.element_size()
    return GroupedQueryAttention(
        output=heads_back(inner.output),
        scores=heads_back(inner.scores),
        scaled=heads_back(inner.scaled),
        weights=heads_back(inner.weights),
        scale=inner.scale,
        groups=g,
        k_shared=k,
        v_shared=v,
        kv_cache_bytes=batch * g * s * (dh + dv) * width,
        kv_cache_bytes_multi_head=batch * heads * s * (dh + dv) * width,
    )
