"""Efficient attention: nine variants, each a pure function with the signature of the exact attention.

Every ``*_attention(q, k, v, mask=None, scale=None, **knobs)`` is an ``attnviz.attention.AttentionFn`` and
returns a frozen dataclass that subclasses ``Attention`` with the variant's own extras. The T×S fields
(scores, scaled, weights) stay None unless a variant is asked for them (``return_weights=True``): not
building that matrix is the point. Sparse patterns also come as masks for pictures (``*_mask``).
Each module also exports its ``SPEC`` (see `attnviz.efficient.registry`), collected in ``REGISTRY`` below.

    exact on their pattern   flash (all pairs), longformer, bigbird, sparse, reformer (its buckets), mqa
    approximations           linformer (low rank), performer (random features), nystrom (landmarks)

Tay et al., "Efficient Transformers: A Survey" (2022) places them side by side.
"""

from __future__ import annotations

from types import MappingProxyType

from attnviz.attention import AttentionFn
from attnviz.efficient import bigbird, flash, linformer, longformer, mqa, nystrom, performer, reformer, sparse
from attnviz.efficient.bigbird import BigBirdAttention, bigbird_attention, bigbird_layout, bigbird_mask
from attnviz.efficient.flash import FlashAttention, FlashStep, flash_attention
from attnviz.efficient.linformer import LinformerAttention, linformer_attention, linformer_projection
from attnviz.efficient.longformer import (
    LongformerAttention,
    banded_attention,
    longformer_attention,
    longformer_mask,
)
from attnviz.efficient.mqa import (
    GroupedQueryAttention,
    grouped_query_attention,
    kv_cache_bytes,
    pool_kv_heads,
)
from attnviz.efficient.nystrom import NystromAttention, iterative_pinv, nystrom_attention
from attnviz.efficient.performer import PerformerAttention, orthogonal_features, performer_attention
from attnviz.efficient.reformer import ReformerAttention, lsh_buckets, reformer_attention, reformer_mask
from attnviz.efficient.registry import Knob, KnobValue, TimingCase, VariantSpec
from attnviz.efficient.sparse import SparseAttention, sparse_attention, sparse_mask

# the variants' records, in the order the course teaches them: adding a variant is its module and one line here
REGISTRY: MappingProxyType[str, VariantSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            flash.SPEC,
            linformer.SPEC,
            performer.SPEC,
            nystrom.SPEC,
            longformer.SPEC,
            bigbird.SPEC,
            reformer.SPEC,
            sparse.SPEC,
            mqa.SPEC,
        )
    }
)
# name → function (read-only: no module-level mutable state)
VARIANTS: MappingProxyType[str, AttentionFn] = MappingProxyType({name: spec.fn for name, spec in REGISTRY.items()})

__all__ = [
    "REGISTRY",
    "VARIANTS",
    "BigBirdAttention",
    "FlashAttention",
    "FlashStep",
    "GroupedQueryAttention",
    "Knob",
    "KnobValue",
    "LinformerAttention",
    "LongformerAttention",
    "NystromAttention",
    "PerformerAttention",
    "ReformerAttention",
    "SparseAttention",
    "TimingCase",
    "VariantSpec",
    "banded_attention",
    "bigbird_attention",
    "bigbird_layout",
    "bigbird_mask",
    "flash_attention",
    "grouped_query_attention",
    "iterative_pinv",
    "kv_cache_bytes",
    "linformer_attention",
    "linformer_projection",
    "longformer_attention",
    "longformer_mask",
    "lsh_buckets",
    "nystrom_attention",
    "orthogonal_features",
    "performer_attention",
    "pool_kv_heads",
    "reformer_attention",
    "reformer_mask",
    "sparse_attention",
    "sparse_mask",
]
