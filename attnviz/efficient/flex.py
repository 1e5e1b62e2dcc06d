"""PyTorch's own kernels beside ours: SDPA with one backend forced, and FlexAttention on our patterns.

``sdpa_backends(device)`` says which of SDPA's backends run on a device (found by trying each on a tiny input);
``sdpa_with(backend)`` calls SDPA with only that backend allowed. FlexAttention (``torch.nn.attention.
flex_attention``) runs a mask given as a function of (query, key) positions as block-sparse fused attention:
blocks of 128×128 that the pattern leaves empty are skipped. The block mask is built here from block indices
(``BlockMask.from_kv_blocks``), so making it costs (T/128)² small integers, not the T² pairs that
``create_block_mask`` would evaluate; the mask function then masks inside the blocks kept.

``torch.compile(flex_attention)`` turns it into a fused kernel (C++ on the CPU, Triton on CUDA); uncompiled it runs
a slow reference path. The compile happens on the first call, once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

BLOCK = 128  # FlexAttention's tile: the block mask says which 128×128 blocks are computed
BACKENDS = ("flash", "efficient", "math")  # SDPBackend.FLASH_ATTENTION, EFFICIENT_ATTENTION, MATH


def _backend(name: str):
    from torch.nn.attention import SDPBackend

    return {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "math": SDPBackend.MATH}[name]  # fmt: skip


@functools.cache
def sdpa_backends(device: str = "cpu") -> tuple[str, ...]:
    """The SDPA backends (of BACKENDS) that run float32 attention of the lab's shape on ``device``."""
    import torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel

    q = torch.randn(1, 2, 64, 64, device=device)  # (1, H, T, Dh)
    found = []
    for name in BACKENDS:
        try:
            with sdpa_kernel(_backend(name)):
                F.scaled_dot_product_attention(q, q, q)
        except RuntimeError:
            continue
        found.append(name)
    return tuple(found)


def sdpa_with(backend: str) -> Callable[..., Tensor]:
    """SDPA with only ``backend`` allowed: ``f(q, k, v)`` with q, k, v (..., H, T, Dh) → (..., H, T, Dh)."""
    import torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel

    chosen = _backend(backend)

    def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        with sdpa_kernel(chosen):
            return F.scaled_dot_product_attention(q, k, v)

    return attend


def _blocks(rows: Sequence[Sequence[int]], device: torch.device | str) -> tuple[Tensor, Tensor]:
    """Per query block, the key blocks to compute, as (1, 1, Bq) counts and (1, 1, Bq, Bk) indices."""
    nk = max(len(r) for r in rows)
    idx = torch.zeros(1, 1, len(rows), max(nk, 1), dtype=torch.int32)  # (1, 1, Bq, Bk), padded with 0
    for i, r in enumerate(rows):
        idx[0, 0, i, : len(r)] = torch.tensor(sorted(r), dtype=torch.int32)
    count = torch.tensor([[[len(r) for r in rows]]], dtype=torch.int32)  # (1, 1, Bq)
    return count.to(device), idx.to(device)


def longformer_block_mask(t: int, window: int, global_tokens: Sequence[int] = (), device: torch.device | str = "cpu"):
    """The Longformer pattern (as attnviz.efficient.longformer.longformer_mask, no dilation) as a BlockMask.

    Token t sees t − w//2 … t + w//2 and every global token; a global token sees every token.
    """
    from torch.nn.attention.flex_attention import BlockMask

    radius = window // 2
    nb = -(-t // BLOCK)
    glob = sorted({int(g) for g in global_tokens})
    if any(g < 0 or g >= t for g in glob):
        raise ValueError(f"global tokens must be positions 0..{t - 1}, got {glob}")
    is_glob = torch.zeros(t, dtype=torch.bool, device=device)  # (T,)
    is_glob[glob] = True
    glob_blocks = {g // BLOCK for g in glob}
    rows = []
    for i in range(nb):
        if any(i * BLOCK <= g < (i + 1) * BLOCK for g in glob):
            rows.append(range(nb))  # a global row in this block sees every key
            continue
        lo, hi = max(0, i * BLOCK - radius) // BLOCK, min(t - 1, (i + 1) * BLOCK - 1 + radius) // BLOCK
        rows.append(sorted(set(range(lo, hi + 1)) | glob_blocks))

    def mask_mod(b, h, q_idx, kv_idx):
        return ((q_idx - kv_idx).abs() <= radius) | is_glob[q_idx] | is_glob[kv_idx]

    count, idx = _blocks(rows, device)
    return BlockMask.from_kv_blocks(count, idx, BLOCK_SIZE=BLOCK, mask_mod=mask_mod, seq_lengths=(t, t))


def causal_block_mask(t: int, device: torch.device | str = "cpu"):
    """Causal attention (token t sees 0 … t) as a BlockMask: block i computes key blocks 0 … i."""
    from torch.nn.attention.flex_attention import BlockMask

    nb = -(-t // BLOCK)

    def mask_mod(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx

    count, idx = _blocks([range(i + 1) for i in range(nb)], device)
    return BlockMask.from_kv_blocks(count, idx, BLOCK_SIZE=BLOCK, mask_mod=mask_mod, seq_lengths=(t, t))


def _blocks_from_layout(layout: Tensor, device: torch.device | str) -> tuple[Tensor, Tensor]:
    """Per query block, the key blocks to compute, from a (Bq, Bk) bool layout of 128×128 blocks."""
    count = layout.sum(dim=1, dtype=torch.int32)  # (Bq,)
    order = torch.sort((~layout).to(torch.int8), dim=1, stable=True).indices  # (Bq, Bk) kept blocks first
    idx = order.to(torch.int32)  # (Bq, Bk), past count: ignored (BlockMask reads Bk from this width)
    return count[None, None].to(device), idx[None, None].to(device)


def _from_layout(t: int, layout: Tensor, mask_mod, device: torch.device | str, full: Tensor | None = None):
    """A BlockMask computing the blocks of ``layout``; those also in ``full`` (every pair allowed) skip mask_mod."""
    from torch.nn.attention.flex_attention import BlockMask

    if full is None:
        count, idx = _blocks_from_layout(layout, device)
        return BlockMask.from_kv_blocks(count, idx, BLOCK_SIZE=BLOCK, mask_mod=mask_mod, seq_lengths=(t, t))
    count, idx = _blocks_from_layout(layout & ~full, device)
    full_count, full_idx = _blocks_from_layout(full, device)
    return BlockMask.from_kv_blocks(count, idx, full_count, full_idx, BLOCK_SIZE=BLOCK, mask_mod=mask_mod,
                                    seq_lengths=(t, t))  # fmt: skip


def bigbird_block_mask(
    t: int,
    *,
    block_size: int = 64,
    window_blocks: int = 3,
    global_blocks: int = 2,
    random_blocks: int = 3,
    seed: int = 0,
    device: torch.device | str = "cpu",
):
    """BigBird's pattern (attnviz.efficient.bigbird.bigbird_layout, the same random blocks for a seed) as a
    BlockMask: a 128×128 block is computed when one of BigBird's b×b blocks that overlaps it is in the layout."""
    from attnviz.efficient.bigbird import bigbird_layout

    b = int(block_size)
    nbp, nb = -(-t // b), -(-t // BLOCK)
    layout = bigbird_layout(
        nbp, window_blocks=window_blocks, global_blocks=global_blocks, random_blocks=random_blocks, seed=seed
    )  # (nbp, nbp)
    # the 128-blocks each of BigBird's blocks touches: first … last (a b-block can straddle two)
    p = torch.arange(nbp)
    first, last = p * b // BLOCK, (torch.clamp((p + 1) * b, max=t) - 1) // BLOCK  # (nbp,) each
    rows, cols = layout.nonzero(as_tuple=True)  # (P,) the pairs of b-blocks kept
    kept = torch.zeros(nb, nb, dtype=torch.int64)  # (nb, nb) pairs of b-blocks kept inside each 128-block pair
    span = -(-b // BLOCK) + 1  # a b-block touches at most this many 128-blocks
    for dq in range(span):
        for dk in range(span):
            fq, fk = first[rows] + dq, first[cols] + dk  # (P,) each
            ok = (fq <= last[rows]) & (fk <= last[cols])
            kept.index_put_((fq[ok], fk[ok]), torch.ones(int(ok.sum()), dtype=torch.int64), accumulate=True)
    touching = torch.zeros(nb, dtype=torch.int64)  # (nb,) b-blocks overlapping each 128-block
    for d in range(span):
        f = first + d
        touching.index_add_(0, f[f <= last], torch.ones(int((f <= last).sum()), dtype=torch.int64))
    flex_layout = kept > 0  # (nb, nb)
    full = kept == touching[:, None] * touching[None, :]  # every b-block pair inside is kept: no mask needed
    if t % BLOCK:
        full[-1, :] = full[:, -1] = False  # the last block's padding: leave it to the mask
    lookup = layout.to(device)  # (nbp, nbp)

    def mask_mod(batch, head, q_idx, kv_idx):
        return lookup[(q_idx // b).clamp(max=nbp - 1), (kv_idx // b).clamp(max=nbp - 1)]

    return _from_layout(t, flex_layout, mask_mod, device, full=full)


def sparse_block_mask(
    t: int,
    *,
    pattern: str = "strided",
    stride: int | None = None,
    summary: int = 1,
    causal: bool = True,
    device: torch.device | str = "cpu",
):
    """The Sparse Transformer's strided or fixed pattern (attnviz.efficient.sparse.sparse_allowed decides each
    pair) as a BlockMask. Which 128×128 blocks hold an allowed pair is worked out from each block's first and last
    rows and columns, (T/128)² blocks, never T² pairs; the tests check it against sparse_mask block by block."""
    from attnviz.efficient.sparse import _check, sparse_allowed

    stride, summary = _check(t, pattern, stride, summary)
    l, nb = stride, -(-t // BLOCK)
    start = torch.arange(nb) * BLOCK  # (nb,)
    end = torch.clamp(start + BLOCK, max=t) - 1  # (nb,) last position in each block
    r0, r1, c0, c1 = start[:, None], end[:, None], start[None, :], end[None, :]  # rows (nb, 1), columns (1, nb)
    if causal:
        c1 = torch.minimum(c1, r1)  # only keys j ≤ i, and i ≤ r1
    some = c0 <= c1  # (nb, nb) some key left in the block
    if pattern == "strided":  # i − j takes every value from r0 − c1 to r1 − c0
        lo, hi = r0 - c1, r1 - c0
        if causal:
            lo = lo.clamp(min=0)
        near = (lo < l) & (hi > -l) & (lo <= hi)  # A: some |i − j| < l
        every = (torch.div(hi, l, rounding_mode="floor") * l >= lo) & (lo <= hi)  # B: a multiple of l in range
        layout = some & (near | every)
    else:
        own = torch.maximum(r0 // l, c0 // l) <= torch.minimum(r1 // l, c1 // l)  # A: an l-block shared
        last_summary = (c1 % l >= l - summary) | ((c1 // l) * l - 1 >= c0)  # B: a summary key j ≤ c1
        layout = some & (own | last_summary)

    def mask_mod(batch, head, q_idx, kv_idx):
        return sparse_allowed(q_idx, kv_idx, pattern=pattern, stride=l, summary=summary, causal=causal)

    return _from_layout(t, layout, mask_mod, device)


def block_share(block_mask) -> float:
    """The share of the (T/128)² blocks that FlexAttention computes for a BlockMask (1.0: all)."""
    return blocks_computed(block_mask) / block_mask.kv_num_blocks.shape[-1] ** 2


def blocks_computed(block_mask) -> int:
    """How many 128×128 blocks FlexAttention computes for a BlockMask: those with the mask and those without."""
    full = block_mask.full_kv_num_blocks
    return int(block_mask.kv_num_blocks.sum()) + (0 if full is None else int(full.sum()))


@functools.cache
def compiled_flex() -> Callable[..., Tensor]:
    """``torch.compile(flex_attention)``, made once per process (it compiles on its first call)."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention)


def flex(q: Tensor, k: Tensor, v: Tensor, block_mask, *, compiled: bool = True) -> Tensor:
    """FlexAttention over ``block_mask``: q, k, v (B, H, T, Dh) → (B, H, T, Dh). ``compiled=False``: eager."""
    from torch.nn.attention.flex_attention import flex_attention

    fn = compiled_flex() if compiled else flex_attention
    return fn(q, k, v, block_mask=block_mask)


@functools.cache
def longformer_block_share(t: int, window: int = 256, global_tokens: tuple[int, ...] = (0, 1)) -> float:
    """The share of the (T/128)² blocks that FlexAttention computes for the Longformer pattern (1.0: all)."""
    return block_share(longformer_block_mask(t, window, global_tokens))
