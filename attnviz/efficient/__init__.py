"""Efficient attention: the variants of `REGISTRY`, each a pure function with the signature of the exact attention.

Every ``*_attention(q, k, v, mask=None, scale=None, **knobs)`` is an ``attnviz.attention.AttentionFn`` and
returns a frozen dataclass that subclasses ``Attention`` with the variant's own extras. The T×S fields
(scores, scaled, weights) stay None unless a variant is asked for them (``return_weights=True``): not
building that matrix is the point. Sparse patterns also come as masks for pictures (``*_mask``).
Each module also exports its ``SPEC`` (see `attnviz.efficient.registry`): its compute, knobs and text, collected
in ``REGISTRY`` below.

    exact on their pattern   flash (all pairs), longformer, bigbird, sparse, reformer (its buckets), mqa
    approximations           linformer (low rank), performer (random features), nystrom (landmarks)

Tay et al., "Efficient Transformers: A Survey" (2022) places them side by side.
"""

from __future__ import annotations

from types import MappingProxyType

from attnviz.attention import AttentionFn
from attnviz.efficient import bigbird, flash, linformer, longformer, mqa, nystrom, performer, reformer, sparse
from attnviz.efficient.banded import banded_attention
from attnviz.efficient.bigbird import BigBirdAttention, bigbird_attention, bigbird_layout, bigbird_mask
from attnviz.efficient.flash import FlashAttention, FlashStep, flash_attention
from attnviz.efficient.linformer import LinformerAttention, linformer_attention, linformer_projection
from attnviz.efficient.longformer import LongformerAttention, longformer_attention, longformer_mask
from attnviz.efficient.lsh import lsh_buckets
from attnviz.efficient.mqa import (
    GroupedQueryAttention,
    grouped_query_attention,
    kv_cache_bytes,
    pool_kv_heads,
)
from attnviz.efficient.nystrom import NystromAttention, iterative_pinv, nystrom_attention
from attnviz.efficient.performer import PerformerAttention, orthogonal_features, performer_attention
from attnviz.efficient.reformer import ReformerAttention, reformer_attention, reformer_mask
from attnviz.efficient.registry import Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText
from attnviz.efficient.sparse import SparseAttention, sparse_attention, sparse_mask

# the variants' records, in the order the course teaches them: the one list of variants. Pages 6 and 6b's choosers,
# 6c's closing table, the scaling lab's cases, the bench and the tests read it. Adding a variant is its module (with
# its SPEC) and one line here; `register` adds one at run time (a test's toy variant), `unregister` takes it out
_RECORDS: dict[str, VariantSpec] = {
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
_FUNCTIONS: dict[str, AttentionFn] = {name: spec.fn for name, spec in _RECORDS.items()}
REGISTRY: MappingProxyType[str, VariantSpec] = MappingProxyType(_RECORDS)  # read-only: change it with `register`
VARIANTS: MappingProxyType[str, AttentionFn] = MappingProxyType(_FUNCTIONS)  # name → function, read-only


def register(spec: VariantSpec) -> None:
    """Add a variant after the others. Raises ValueError when its name is taken.

    Everything reads the registry when it runs (the choosers, the page parts, 6c's timed cases and closing table,
    the bench), so it sees the new variant; a case timed in a fresh process (`attnviz.scaling.run_case`) does not.
    """
    if spec.name in _RECORDS:
        raise ValueError(f"a variant called {spec.name!r} is registered already")
    _RECORDS[spec.name] = spec
    _FUNCTIONS[spec.name] = spec.fn


def unregister(name: str) -> None:
    """Take a variant out of the registry (a test's toy variant, once the test is done). KeyError if there is none."""
    del _RECORDS[name]
    del _FUNCTIONS[name]


__all__ = [
    "REGISTRY",
    "VARIANTS",
    "BigBirdAttention",
    "FlashAttention",
    "FlashStep",
    "GroupedQueryAttention",
    "Knob",
    "KnobText",
    "KnobValue",
    "LinformerAttention",
    "LongformerAttention",
    "NystromAttention",
    "PerformerAttention",
    "ReformerAttention",
    "SparseAttention",
    "TimingCase",
    "VariantSpec",
    "VariantText",
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
    "register",
    "sparse_attention",
    "sparse_mask",
    "unregister",
]
