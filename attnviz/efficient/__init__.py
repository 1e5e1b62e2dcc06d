"""Efficient attention: nine variants, each a pure function with the signature of the exact attention.

Every ``*_attention(q, k, v, mask=None, scale=None, **knobs)`` is an ``attnviz.attention.AttentionFn`` and
returns a frozen dataclass that subclasses ``Attention`` with the variant's own extras. The T×S fields
(scores, scaled, weights) stay None unless a variant is asked for them (``return_weights=True``): not
building that matrix is the point. Sparse patterns also come as masks for pictures (``*_mask``).

    exact on their pattern   flash (all pairs), longformer, bigbird, sparse, reformer (its buckets), mqa
    approximations           linformer (low rank), performer (random features), nystrom (landmarks)

Tay et al., "Efficient Transformers: A Survey" (2022) places them side by side.
"""

from __future__ import annotations

from attnviz.efficient.flash import FlashAttention, FlashStep, flash_attention
from attnviz.efficient.linformer import LinformerAttention, linformer_attention, linformer_projection
from attnviz.efficient.nystrom import NystromAttention, iterative_pinv, nystrom_attention
from attnviz.efficient.performer import PerformerAttention, orthogonal_features, performer_attention

__all__ = [
    "FlashAttention",
    "FlashStep",
    "LinformerAttention",
    "NystromAttention",
    "PerformerAttention",
    "flash_attention",
    "iterative_pinv",
    "linformer_attention",
    "linformer_projection",
    "nystrom_attention",
    "orthogonal_features",
    "performer_attention",
]
