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

import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, scaled_dot_product
from attnviz.efficient._common import positive_int
from attnviz.efficient.registry import (
    BenchRow,
    Fit,
    Knob,
    KnobText,
    KnobValue,
    Question,
    TimingCase,
    VariantSpec,
    VariantText,
    band,
    full_flops,
)
from attnviz.errors import AttnvizInputError

if TYPE_CHECKING:
    from attnviz.efficient.compare import Run


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


# ----------------------------------------------------------------------------------------------------------
# Decoding with a KV cache: one new token per step
# ----------------------------------------------------------------------------------------------------------


def decode_step(q: Tensor, k_cache: Tensor, v_cache: Tensor, scale: float | None = None) -> Tensor:
    """One new query per head against everything cached so far, each K/V head read once for its group.

    Args:
        q: (B, H, Dh) the new token's queries.
        k_cache, v_cache: (B, G, S, Dh) the cached keys and values, G dividing H.
    Returns:
        (B, H, Dh) the new token's attention output.
    """
    b, h, d = q.shape
    g = k_cache.shape[1]
    scale = d**-0.5 if scale is None else scale
    q_g = q.reshape(b, g, h // g, d)  # (B, G, H/G, Dh): the query heads of a group share its K/V head
    scores = (q_g @ k_cache.mT) * scale  # (B, G, H/G, S)
    weights = scores.softmax(dim=-1)  # (B, G, H/G, S)
    return (weights @ v_cache).reshape(b, h, v_cache.shape[-1])  # (B, H, Dh)


@dataclass(frozen=True)
class Decoding:
    """A decoding loop's outputs and the size of its cache after every step."""

    outputs: Tensor  # (L, B, H, N, Dh) one output per layer, query head and generated token
    cache_bytes: tuple[int, ...]  # N: bytes held in the cache (all layers, K and V) after each step
    step_seconds: tuple[float, ...] | None  # N: how long each step took (all layers), when a clock was given


def decode(q: Tensor, k: Tensor, v: Tensor, *, prefill: int = 0, clock: Callable[[], float] | None = None) -> Decoding:
    """Generate token by token with a KV cache: step t appends token t's K and V, then attends its query.

    The first ``prefill`` tokens (a prompt) go into the cache at once; the loop decodes the other N = T − prefill.
    The cache is allocated once for T tokens (as a static cache is) and only its filled part is read.

    Args:
        q: (L, B, H, T, Dh) queries of every layer (attention only: no projections between layers).
        k, v: (L, B, G, T, Dh) keys and values, G K/V heads dividing the H query heads.
        clock: seconds now (``time.perf_counter``), to time each step; setting up the cache is not timed.
    Returns:
        Decoding; its outputs equal causal attention's rows prefill … T−1.
    """
    layers, batch, heads, t, d = q.shape
    g = k.shape[2]
    if k.shape != v.shape or k.shape[:2] != (layers, batch) or k.shape[3:] != (t, d):
        raise ValueError("k and v must be (L, B, G, T, Dh) with q's L, B, T and Dh")
    if heads % g:
        raise AttnvizInputError(f"{g} K/V heads do not divide {heads} query heads evenly")
    if not 0 <= prefill < t:
        raise AttnvizInputError(f"the prompt must be 0 to {t - 1} tokens, not {prefill}")
    k_cache = torch.empty_like(k)  # (L, B, G, T, Dh): room for every token, filled as the loop goes
    v_cache = torch.empty_like(v)
    k_cache[..., :prefill, :] = k[..., :prefill, :]
    v_cache[..., :prefill, :] = v[..., :prefill, :]
    outputs = q.new_empty(layers, batch, heads, t - prefill, v.shape[-1])  # (L, B, H, N, Dh)
    sizes, seconds = [], []
    for step in range(prefill, t):
        start = clock() if clock is not None else 0.0
        for layer in range(layers):
            # 1. append this token's K and V to the layer's cache
            k_cache[layer, :, :, step] = k[layer, :, :, step]
            v_cache[layer, :, :, step] = v[layer, :, :, step]
            # 2. its query reads the whole cache so far
            filled = slice(0, step + 1)
            outputs[layer, :, :, step - prefill] = decode_step(
                q[layer, :, :, step], k_cache[layer, :, :, filled], v_cache[layer, :, :, filled]
            )
        if clock is not None:
            seconds.append(clock() - start)
        held = (k_cache[..., : step + 1, :], v_cache[..., : step + 1, :])  # what the loop has written so far
        sizes.append(sum(x.numel() * x.element_size() for x in held))
    return Decoding(outputs=outputs, cache_bytes=tuple(sizes), step_seconds=tuple(seconds) if clock else None)


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _mqa_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    groups = int(knobs["groups"])
    if fit.heads % groups:
        usable = max(g for g in range(1, groups + 1) if fit.heads % g == 0)
        fit.notes.append(f"{groups} groups do not divide {fit.heads} heads evenly: using {usable}.")
        groups = usable
    return {"groups": groups}


def _mqa_case(q: Tensor, k: Tensor, v: Tensor) -> Callable[[], object]:
    from attnviz.efficient.flash import flash_attention

    # the H query heads become H× the query rows against one K/V head: H× taller tiles keep them as big
    k1, v1 = k[:, :1].contiguous(), v[:, :1].contiguous()
    tiled = functools.partial(flash_attention, block_q=256 * q.shape[-3], gpu_kernel=True)
    return lambda: grouped_query_attention(q, k1, v1, attend=tiled)


def _groups_question(spec: VariantSpec, run: Run, head_label: str) -> Question:
    """How far the head's map moves when its keys and values are shared by a group (a converted checkpoint)."""
    moved = run.comparison.approx.weights_rel_frobenius or 0.0
    groups = run.settings.kwargs["groups"]
    heads = max(int(v) for v in spec.knob("groups").values)  # the layer's heads: G = H, one per head
    question = (
        f"With {groups} K/V groups, one per head, this is ordinary multi-head attention: {head_label} keeps its "
        "own keys. How far will its attention map move (relative error)?"
        if groups == heads
        else f"With {groups} K/V group{'s' if groups > 1 else ''}, {head_label} loses its own keys and shares "
        "averaged ones. How far will its attention map move (relative error)?"
    )
    return Question(
        question,
        ("under 10%", "10% to 50%", "over 50%"),
        band(moved, 0.1, 0.5),
        f"It moves by {moved:.0%}. "
        + (
            "With one K/V group per head nothing is shared or averaged: this is exact multi-head attention."
            if groups == heads
            else "Averaging keys blurs what each head looked for; a model trained with shared K/V (or uptrained "
            "after the conversion, as in the GQA paper) learns to live with it, but a multi-head checkpoint "
            "converted as-is does not."
        ),
    )


SPEC = VariantSpec(
    name="mqa",
    fn=grouped_query_attention,
    kind="exact",
    question=_groups_question,
    text=VariantText(
        title="Multi-Query / Grouped-Query Attention",
        paper="Shazeer, 2019; Ainslie et al., 2023",
        knobs={
            "groups": KnobText(
                label="K/V groups G",
                help="1: one K/V head for all query heads (multi-query). 12: ordinary multi-head.",
            ),
        },
        formula=(
            r"O_h = \mathrm{softmax}\!\left(\frac{Q_h K_{g(h)}^\top}{\sqrt d}\right)V_{g(h)},\quad g(h) = \lfloor hG/H "
            r"\rfloor"
        ),
        time="O(T²·D), as exact",
        memory="KV cache 2·G·S·Dh per layer instead of 2·H·S·Dh",
        keeps_exact="the softmax is exact; the keys and values are shared by each group",
        costs="each head's own K and V (the model must be trained or uptrained this way)",
        choose_when="decoding with long contexts and large batches: the KV cache is the bottleneck",
    ),
    knobs=(Knob("groups", (1, 2, 3, 4, 6, 12), 1),),
    exact_when=lambda kwargs, t, heads: int(kwargs["groups"]) == heads,  # one K/V group per head: multi-head
    to_kwargs=_mqa_kwargs,
    swept="groups",
    all_heads=True,
    page_part="app_support.efficient.efficient_mqa",
    bench=(BenchRow("2 groups, pooled", lambda t, heads: {"groups": 2 if heads % 2 == 0 else 1}),),
    cases={
        "mqa": TimingCase(
            make=_mqa_case,
            flops=full_flops,
            setting="1 K/V head for 8 query heads, flash inside (block_q=2048; on CUDA with triton, the kernel's "
            "64×64)",
            growth=("T²", "T"),  # exact attention (tiled) over one shared K/V head
            label="Multi-query (1 K/V head, whole sequence)",
            exact=True,
        )
    },
)


# ----------------------------------------------------------------------------------------------------------
# Timing the decoding loop (the scaling lab and the bench)
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecoderShape:
    """The attention of one decoder layer, for the timed decoding loop."""

    heads: int  # H query heads
    head_dim: int  # Dh
    batch: int  # B sequences decoded together
    steps: int  # N tokens generated (timed), after a prompt that fills the cache to the context length


DECODER = DecoderShape(heads=32, head_dim=128, batch=2, steps=8)  # a Llama-style layer: 32 heads × 128


def time_decoding(
    kv_heads: int, context: int, shape: DecoderShape = DECODER, repeats: int = 2, seed: int = 0
) -> dict[str, float]:
    """Time a decoding loop with a KV cache (one layer, float32, this process): ``shape.steps`` tokens generated
    after a prompt of ``context`` tokens, with ``kv_heads`` K/V heads; ``repeats`` runs after a warm-up run.

    Returns the median seconds of one decoding step (one generated token: append its K/V, attend its queries over
    the cache), and the layer's cache at the end in bytes. Filling the cache with the prompt is not timed.
    """
    t = context + shape.steps
    g = torch.Generator().manual_seed(seed)
    q = torch.zeros(1, shape.batch, shape.heads, t, shape.head_dim)  # (L=1, B, H, T, Dh): the prompt's are unused
    q[..., context:, :] = torch.randn(1, shape.batch, shape.heads, shape.steps, shape.head_dim, generator=g)
    k = torch.randn(1, shape.batch, kv_heads, t, shape.head_dim, generator=g)  # (L=1, B, G, T, Dh)
    v = torch.randn(1, shape.batch, kv_heads, t, shape.head_dim, generator=g)  # (L=1, B, G, T, Dh)
    times: list[float] = []
    cache = 0
    for i in range(repeats + 1):  # the first run warms up
        run = decode(q, k, v, prefill=context, clock=time.perf_counter)
        if i:
            times.extend(run.step_seconds or ())
        cache = run.cache_bytes[-1]
    warm = sorted(times)
    return {"per_token_s": warm[len(warm) // 2], "cache_bytes": float(cache), "steps": float(len(warm))}
