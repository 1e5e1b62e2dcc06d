"""Grouped-query attention: GQA (Ainslie et al., "GQA: Training Generalized Multi-Query Transformer Models from
Multi-Head Checkpoints", 2023, Section 2.2).

SmolLM2 has 9 query heads per layer but only 3 key/value heads: query heads 0–2 read key/value head 0, 3–5 head 1,
6–8 head 2 (consecutive groups, as llama.cpp and transformers' ``repeat_kv`` share them). Each query head still has
its own attention map; heads of one group score the same keys with different queries and mix the same values.
Only the key/value heads are computed and cached, so the KV cache is 3/9 of what 9 separate key/value heads
would need. Multi-query attention (Shazeer, 2019) is the extreme of one key/value head for all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnviz.checks import whole_number
from attnviz.errors import AttnvizInputError


def kv_head_of(n_heads: int, n_kv_heads: int) -> tuple[int, ...]:
    """For each query head, the key/value head it reads: h // (H / Hkv).

    >>> kv_head_of(9, 3)
    (0, 0, 0, 1, 1, 1, 2, 2, 2)
    """
    whole_number(n_kv_heads, "the number of key/value heads", 1, n_heads)
    if n_heads % n_kv_heads:
        raise AttnvizInputError(f"{n_heads} query heads do not split into {n_kv_heads} equal groups")
    group = n_heads // n_kv_heads
    return tuple(h // group for h in range(n_heads))


def groups(n_heads: int, n_kv_heads: int) -> tuple[tuple[int, ...], ...]:
    """For each key/value head, the query heads that share it: ((0, 1, 2), (3, 4, 5), (6, 7, 8))."""
    mapping = kv_head_of(n_heads, n_kv_heads)
    return tuple(tuple(h for h, g in enumerate(mapping) if g == kv) for kv in range(n_kv_heads))


def membership(n_heads: int, n_kv_heads: int) -> np.ndarray:
    """(Hkv, H): 1 where query head h reads key/value head g, else 0 (each column has one 1).

    >>> membership(4, 2).astype(int).tolist()
    [[1, 1, 0, 0], [0, 0, 1, 1]]
    """
    mapping = np.asarray(kv_head_of(n_heads, n_kv_heads))  # (H,)
    return (mapping[None, :] == np.arange(n_kv_heads)[:, None]).astype(np.float64)  # (Hkv, H)


def expand_kv(x: Tensor, n_heads: int) -> Tensor:
    """Hand each query head its group's keys (or values).

    Args:
        x: (Hkv, S, Dh) keys or values of the key/value heads.
        n_heads: H, the number of query heads.
    Returns:
        (H, S, Dh): row h is x[kv_head_of(H, Hkv)[h]] (a copy; the cache keeps only the Hkv heads).
    """
    mapping = torch.tensor(kv_head_of(n_heads, x.shape[0]), device=x.device)  # (H,)
    return x.index_select(0, mapping)  # (H, S, Dh)


@dataclass(frozen=True)
class CacheSize:
    """Bytes of the KV cache per token, with this model's key/value heads and with one per query head."""

    n_layers: int  # L
    n_heads: int  # H query heads
    n_kv_heads: int  # key/value heads actually cached
    head_dim: int  # Dh
    bytes_per_number: int  # 4 for the float32 cache we keep (2 for float16)

    @property
    def per_token(self) -> int:
        """2 (key and value) × L × Hkv × Dh × bytes: what one more token adds to this model's cache."""
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim * self.bytes_per_number

    @property
    def per_token_separate(self) -> int:
        """The same with one key/value head per query head (multi-head attention)."""
        return 2 * self.n_layers * self.n_heads * self.head_dim * self.bytes_per_number

    @property
    def saving(self) -> float:
        """per_token / per_token_separate: Hkv / H."""
        return self.per_token / self.per_token_separate

    def total(self, n_tokens: int) -> int:
        """Bytes for ``n_tokens`` tokens of this model's cache."""
        return n_tokens * self.per_token


def cache_size(n_layers: int, n_heads: int, n_kv_heads: int, head_dim: int, bytes_per_number: int = 4) -> CacheSize:
    """`CacheSize` for a model's shape (`attnviz.decoder.Config` carries all four)."""
    kv_head_of(n_heads, n_kv_heads)  # checks the grouping
    return CacheSize(n_layers, n_heads, n_kv_heads, head_dim, bytes_per_number)


__all__ = ["CacheSize", "cache_size", "expand_kv", "groups", "kv_head_of", "membership"]
