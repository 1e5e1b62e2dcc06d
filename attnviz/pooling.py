"""Merging token positions into groups: the one rule for shrinking an attention map, and for averaging vectors.

A group is a set of token positions: the pieces of a word, or a block of consecutive tokens in a long map. Merging
an attention map sums the keys of a group (a group receives all the attention that went to any of its members, so
rows still sum to what they summed to) and averages its queries (a group attends the way its members do on
average, so a long word does not count more than a short one).

`attnviz.pretrained.group_attention` (words) and `attnviz.heads.pool_blocks` (blocks) both call `pool_attention`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def membership(members: Sequence[Sequence[int]], t: int, like: Tensor) -> Tensor:
    """(G, T) 1 where token t belongs to group g, in ``like``'s dtype and device."""
    p = torch.zeros(len(members), t, dtype=like.dtype, device=like.device)  # (G, T)
    for g, positions in enumerate(members):
        p[g, list(positions)] = 1.0
    return p


def average_rows(x: Tensor, members: Sequence[Sequence[int]]) -> Tensor:
    """Average the rows of each group: (..., T, D) → (..., G, D).

    A word's vector is the mean of its pieces'; a group's query row is the mean of its members' rows.
    """
    p = membership(members, x.shape[-2], x)  # (G, T)
    return (p / p.sum(dim=1, keepdim=True)) @ x  # (..., G, D)


def pool_attention(weights: Tensor, members: Sequence[Sequence[int]]) -> Tensor:
    """Merge an attention map into groups: keys summed over each group, queries averaged over it.

    Args:
        weights: (..., T, T) attention weights.
        members: G groups of token positions (each non-empty, all below T).
    Returns:
        (..., G, G) row g: how much group g attends to each group.
    """
    # sums by index, not by a (G, T) membership matrix product: O(T²) additions instead of O(T²·G) for a long map
    tok = torch.tensor([t for g in members for t in g], dtype=torch.long, device=weights.device)  # (N,) members
    group = torch.tensor([i for i, g in enumerate(members) for _ in g], dtype=torch.long, device=weights.device)  # (N,)
    size = torch.tensor([len(g) for g in members], dtype=weights.dtype, device=weights.device)  # (G,)
    g = len(members)
    keys = weights.new_zeros(*weights.shape[:-1], g).index_add_(-1, group, weights[..., tok])  # (..., T, G)
    rows = keys.new_zeros(*keys.shape[:-2], g, g).index_add_(-2, group, keys[..., tok, :])  # (..., G, G) summed
    return rows / size[:, None]  # (..., G, G) averaged over each group's queries


__all__ = ["average_rows", "membership", "pool_attention"]
