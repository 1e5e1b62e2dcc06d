"""Longformer: a sliding window of w neighbours plus a few global tokens, computed in banded chunks.

Beltagy, Peters, Cohan, "Longformer: The Long-Document Transformer" (2020). Token t attends to the keys
t − w/2 … t + w/2 and to every global token; a global token attends to, and is attended by, every token.

No T×S matrix is ever formed. The queries are cut into chunks of c consecutive tokens; the keys a chunk needs
are one contiguous run of c + w positions, which is a strided view of K (no copy). Per chunk:

    s = q_chunk·k_runᵀ·scale + triangles   (c × (c + w)), the triangles -inf outside the band
    g = q_chunk·k_globalᵀ·scale            (c × G)
    p = 2^(s − m), 2^(g − m)                m = 0 when |q|·|k| proves no score can overflow, else the row max
    O = (p·v_run + p_g·v_global) / Σp        one softmax over band and global keys

Global rows are ordinary exact attention over all keys, accumulated in the same pass with an online softmax
(as FlashAttention's), while each group's keys are in the cache. Time O(T·(c+w)·D), memory O(T·D) plus one
group of chunks.

Dilation d (the paper's dilated sliding window) spreads the window's keys d apart: t − d·w/2, …, t − d, t, t + d,
…, t + d·w/2. It goes through the same banded pass with a band d times as wide and the positions between the
dilated ones masked out: a simple path (the T×T mask is built), for pictures and short inputs; d = 1 is the
fast path above, untouched.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import (
    LOG2E,
    NEG_INF,
    Partial,
    as_mask_4d,
    check_qkv,
    finish,
    flat,
    mask_gather,
    merge_,
    positive_int,
    resolve_scale,
    safe_max,
    weights_from_lse,
)
from attnviz.efficient.registry import Fit, Knob, KnobValue, TimingCase, VariantSpec
from attnviz.errors import AttnvizInputError

# how many scores one group of chunks may hold at once (4 MiB of float32: it stays in the CPU's cache)
GROUP_SCORES = 1 << 20
# the largest base-2 score, in absolute value, for which banded_attention skips subtracting the row maxima:
# every weight then lies between 2^-40 and 2^40, far from float32's limits (2^±126) even summed over a run
SHIFT_FREE_BOUND = 40.0


@dataclass(frozen=True, kw_only=True)
class LongformerAttention(Attention):
    """Longformer's result. ``weights`` (T×S, zero off the pattern) only with return_weights=True."""

    window: int  # w: each token sees w//2 neighbours on each side, itself included in the middle
    global_tokens: Tensor  # (G,) long, positions that attend everywhere and are attended by all
    logsumexp: Tensor  # (..., T) log of each row's softmax denominator
    dilation: int = 1  # d: the window's keys are d apart


def longformer_mask(
    t: int,
    window: int,
    global_tokens: Sequence[int] = (),
    device: torch.device | str | None = None,
    dilation: int = 1,
) -> Tensor:
    """The Longformer pattern as a picture, without attending through it.

    Args:
        dilation: d; the window's keys are t ± d·j for j = 0 … w//2 (1: the plain sliding window).
    Returns:
        (T, T) bool, True where token t (row) may attend to token s (column).
    """
    radius = window // 2
    dilation = positive_int(dilation, "the dilation")
    pos = torch.arange(t, device=device)
    gap = pos[:, None] - pos[None, :]  # (T, T)
    allowed = (gap.abs() <= radius * dilation) & (gap % dilation == 0)  # (T, T) the (dilated) band
    glob = _global_index(global_tokens, t, device)
    allowed[glob, :] = True  # global rows see everything
    allowed[:, glob] = True  # every row sees the global columns
    return allowed


def _global_index(global_tokens: Sequence[int] | Tensor, t: int, device: torch.device | str | None) -> Tensor:
    glob = torch.as_tensor(list(map(int, global_tokens)), dtype=torch.long)
    if glob.numel() and (glob.min() < 0 or glob.max() >= t):
        raise AttnvizInputError(f"global tokens must be positions 0..{t - 1}, got {glob.tolist()}")
    return glob.unique().to(device)  # sorted, each once


def band_windows(x3: Tensor, first: int, n_windows: int, step: int, width: int) -> Tensor:
    """Overlapping runs x3[:, first + i·step : first + i·step + width] for i < n_windows, as a view.

    Positions outside 0..L-1 read as zero (only the runs that touch an edge are copied, to pad them).

    Args:
        x3: (N, L, D)
    Returns:
        (N, n_windows, width, D)
    """
    n, length, d = x3.shape
    last = first + (n_windows - 1) * step + width  # one past the last position read
    lo, hi = max(first, 0), min(last, length)
    if lo == first and hi == last:
        base, offset = x3.contiguous(), first
    else:
        # zero padding for the edges, copied for this group of runs only
        base = torch.nn.functional.pad(x3[:, lo:hi], (0, 0, lo - first, last - hi)).contiguous()
        offset = 0
    return base.as_strided(
        (n, n_windows, width, d),
        (base.stride(0), step * d, d, 1),
        base.storage_offset() + offset * d,
    )


def _band_triangles(chunk: int, left: int, right: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The band inside one chunk, (c, c + left + right), as the scores' additive term: query a (row) sees key b
    (column of the run) when a ≤ b ≤ a + left + right; only two triangles fall outside, -inf there, else 0."""
    a = torch.arange(chunk, device=device)[:, None]
    b = torch.arange(chunk + left + right, device=device)[None, :]
    outside = (b < a) | (b > a + left + right)  # (c, c + left + right)
    return torch.zeros(chunk, chunk + left + right, dtype=dtype, device=device).masked_fill_(outside, NEG_INF)


def banded_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    left: int,
    right: int,
    scale: float,
    mask: Tensor | None = None,
    shared: Tensor | None = None,
    chunk: int | None = None,
    extra: Callable[[int, int], Sequence[Partial]] = lambda start, stop: (),
) -> tuple[Tensor, Tensor]:
    # One function on purpose: the banded pass is read top to bottom beside the module's formula, steps 1–4.
    """Exact attention of every token t to the keys t − left … t + right and to global tokens, in chunks.

    Never forms T×S. The chunks are handled a group at a time (about GROUP_SCORES scores, which stay in the
    CPU's cache), each group in three passes over its scores: a product writes them (the band's two
    triangles come in as -inf through the product's additive term), one pass exponentiates them in place, a
    product applies them to the values. The global keys go through the same passes, so the softmax over band
    and global keys is one softmax, not two slices to merge; and the global rows, which see every key, take
    their share of each group's keys while those are in the cache (an online softmax, as FlashAttention's).

    The usual pass that subtracts each row's maximum is skipped when the scores cannot overflow: |q·k| ≤
    |q|·|k| bounds every score of a group by its longest query times its longest key, and when that bound is
    at most SHIFT_FREE_BOUND (in base 2) the softmax is computed unshifted, which is the same softmax (it does
    not change when all the scores of a row move together) and in float32 just as precise. Otherwise the
    group is shifted by its row maxima, as usual.

    Args:
        q: (..., T, D), k: (..., T, D), v: (..., T, Dv) self-attention: queries and keys are the same tokens.
        left, right: how far the band reaches back and forward.
        scale: multiplies the scores.
        mask: bool broadcastable to (..., T, T), True where allowed (intersected with the band).
        shared: (G,) long, distinct global positions: every row attends to them besides its band (the band
            skips them, so they count once), and they attend to every key.
        chunk: queries per chunk (default 32: small products waste less of the run, large ones run faster).
        extra: given a row range, other slices of the softmax for those rows (N, rows, ·) to merge in.
    Returns:
        output (..., T, Dv), and the log-sum-exp of each row (..., T).
    """
    lead, t, dv = q.shape[:-2], q.shape[-2], v.shape[-1]
    chunk = positive_int(chunk, "chunk") if chunk is not None else min(t, 32)
    span = chunk + left + right  # keys one chunk can touch
    n_chunks = -(-t // chunk)
    q3, k3, v3 = flat(q), flat(k), flat(v)  # (N, T, D), (N, T, D), (N, T, Dv)
    n, d = q3.shape[0], q3.shape[-1]
    dev = q.device
    output = q3.new_empty(n, t, dv)  # (N, T, Dv)
    lse = q3.new_empty(n, t)  # (N, T)
    group = min(n_chunks, max(1, GROUP_SCORES // (n * chunk * span)))  # chunks per group
    base2 = scale * LOG2E  # the products give base-2 scores (see _common)

    triangles = _band_triangles(chunk, left, right, q3.dtype, dev)  # (c, c + left + right)
    b = torch.arange(span, device=dev)[None, :]  # (1, c + left + right) the columns of a run
    shared = torch.zeros(0, dtype=torch.long, device=dev) if shared is None else shared.to(dev)
    n_shared = shared.numel()
    pos_ok = torch.ones(t, dtype=torch.bool, device=dev)
    pos_ok[shared] = False  # the band skips the shared keys
    refused = shared.sort().values.tolist()  # positions the band must skip, in order
    k_shared = k3[:, shared]  # (N, G, D)
    v_shared = v3[:, shared]  # (N, G, Dv)
    k_shared_len = float(torch.linalg.vector_norm(k_shared, dim=-1).amax()) if n_shared else 0.0
    # the global rows: their queries, and their softmax over the keys seen so far (see flash.py)
    q_shared = q3[:, shared] * base2  # (N, G, D) base 2
    shared_max = q3.new_full((n, n_shared, 1), NEG_INF)  # (N, G, 1) running maximum
    shared_sum = q3.new_zeros(n, n_shared, 1)  # (N, G, 1) running sum
    shared_acc = q3.new_zeros(n, n_shared, dv)  # (N, G, Dv) running unnormalised output
    # buffers reused by every group (fresh megabytes each time would be paid for in page faults)
    scores_buf = q3.new_empty(n * group, chunk, span)  # (N·group, c, c + left + right)
    shared_buf = q3.new_empty(n * group, chunk, n_shared)  # (N·group, c, G)
    acc_buf = q3.new_empty(n * group, chunk, dv)  # (N·group, c, Dv)
    sum_buf = q3.new_empty(n * group, chunk, 1)  # (N·group, c, 1)
    unshifted = q3.new_zeros(n * group, chunk, 1)  # (N·group, c, 1) the row maximum taken as 0

    for c0 in range(0, n_chunks, group):
        c1 = min(c0 + group, n_chunks)
        g, r0, r1 = c1 - c0, c0 * chunk, min(c1 * chunk, t)
        lo, hi = r0 - left, c1 * chunk + right  # the keys this group touches
        # 1. the queries of these chunks (the last one padded), and the run of keys each chunk needs (a view
        #    of K when N = 1, else a copy)
        q_blk = q3[:, r0:r1]  # (N, rows, D)
        if r1 - r0 < g * chunk:
            q_blk = torch.nn.functional.pad(q_blk, (0, 0, 0, g * chunk - (r1 - r0)))
        q_blk = q_blk.reshape(n * g, chunk, d)  # (N·g, c, D)
        k_run = band_windows(k3, lo, g, chunk, span).reshape(n * g, span, d)  # (N·g, c + left + right, D)
        v_run = band_windows(v3, lo, g, chunk, span).reshape(n * g, span, dv)  # (N·g, c + left + right, Dv)
        # 2. the base-2 scores of every chunk against its run, -inf outside the band, in one batched
        #    product; and against the shared keys
        scores = torch.baddbmm(
            triangles, q_blk, k_run.transpose(1, 2), alpha=base2, out=scores_buf[: n * g]
        )  # (N·g, c, c + left + right)
        to_shared = shared_buf[: n * g]  # (N·g, c, G)
        if n_shared:
            flat_shared = to_shared.view(n, g * chunk, n_shared)
            torch.baddbmm(
                flat_shared, q_blk.view(n, g * chunk, d), k_shared.transpose(1, 2), beta=0, alpha=base2, out=flat_shared
            )
        # 3. -inf where needed outside the sequence, at the shared keys and where the mask says no
        touches_refused = bisect.bisect_left(refused, lo) < bisect.bisect_left(refused, hi)
        if lo < 0 or hi > t or touches_refused or mask is not None:
            key_pos = lo + torch.arange(g, device=dev)[:, None] * chunk + b  # (g, c + left + right)
            allowed = ((key_pos >= 0) & (key_pos < t) & pos_ok[key_pos.clamp(0, t - 1)])[:, None, :]
            if mask is not None:
                rows = (r0 + torch.arange(g * chunk, device=dev)).clamp(max=t - 1).view(g, chunk, 1)
                allowed = allowed & mask_gather(mask, rows, key_pos.clamp(0, t - 1)[:, None, :])
                shared_ok = mask_gather(mask, rows, shared[None, None, :])  # (..., g, c, G)
                to_shared.view(*lead, g, chunk, n_shared).masked_fill_(~shared_ok, NEG_INF)
            scores.view(*lead, g, chunk, span).masked_fill_(~allowed, NEG_INF)
        # 4. the softmax numerators: unshifted when the bound allows it, else shifted by each row's maximum
        q_len = torch.linalg.vector_norm(q_blk, dim=-1).amax()
        k_len = torch.linalg.vector_norm(k3[:, max(lo, 0) : min(hi, t)], dim=-1).amax()
        if bool(q_len * torch.clamp(k_len, min=k_shared_len) * abs(base2) <= SHIFT_FREE_BOUND):
            row_max = unshifted[: n * g]
        else:
            row_max = scores.amax(dim=-1, keepdim=True)  # (N·g, c, 1)
            if n_shared:
                row_max = torch.maximum(row_max, to_shared.amax(dim=-1, keepdim=True))
            row_max = safe_max(row_max)
            scores.sub_(row_max)
            to_shared.sub_(row_max)
        weights = scores.exp2_()  # (N·g, c, c + left + right) in place
        row_sum = torch.sum(weights, dim=-1, keepdim=True, out=sum_buf[: n * g])  # (N·g, c, 1)
        acc = torch.bmm(weights, v_run, out=acc_buf[: n * g])  # (N·g, c, Dv)
        if n_shared:
            to_shared.exp2_()
            row_sum += to_shared.sum(dim=-1, keepdim=True)
            acc.view(n, g * chunk, dv).baddbmm_(to_shared.view(n, g * chunk, n_shared), v_shared)
            # the global rows against this group's own keys r0 … r1 − 1 (each key in exactly one group)
            tile = q_shared @ k3[:, r0:r1].transpose(1, 2)  # (N, G, rows) base 2
            if mask is not None:
                keys = torch.arange(r0, r1, device=dev)[None, :]
                tile.view(*lead, n_shared, r1 - r0).masked_fill_(~mask_gather(mask, shared[:, None], keys), NEG_INF)
            new_max = torch.maximum(shared_max, tile.amax(dim=-1, keepdim=True))  # (N, G, 1)
            shift = safe_max(new_max)
            correction = torch.exp2(shared_max - shift)  # (N, G, 1) 0 while a row has seen nothing
            tile = tile.sub_(shift).exp2_()
            shared_sum.mul_(correction).add_(tile.sum(dim=-1, keepdim=True))
            shared_acc.mul_(correction).baddbmm_(tile, v3[:, r0:r1])
            shared_max = new_max
        band = Partial(
            row_max=row_max.view(n, g * chunk, 1)[:, : r1 - r0],
            row_sum=row_sum.view(n, g * chunk, 1)[:, : r1 - r0],
            acc=acc.view(n, g * chunk, dv)[:, : r1 - r0],
        )
        _, lse[:, r0:r1] = merge_([band, *extra(r0, r1)], out=output[:, r0:r1])
    if n_shared:
        output[:, shared], lse[:, shared] = finish(shared_acc, shared_sum, shared_max)
    return output.view(*lead, t, dv), lse.view(*lead, t)


def longformer_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    window: int = 256,
    global_tokens: Sequence[int] = (),
    dilation: int = 1,
    chunk: int | None = None,
    return_weights: bool = False,
) -> LongformerAttention:
    """Sliding-window attention plus global tokens, exact on its pattern.

    Args:
        q: (..., T, D) queries.
        k: (..., T, D) keys (the same tokens: the window is defined on positions).
        v: (..., T, Dv) values.
        mask: bool broadcastable to (..., T, T), True where allowed; intersected with the pattern.
        scale: multiplies the scores; default 1/√D.
        window: w; token t sees t − w//2 … t + w//2.
        global_tokens: positions that attend to all tokens and that all tokens attend to ([CLS], a question).
        dilation: d; the window's keys are t ± d·j, j = 0 … w//2 (1: the plain window, the fast path; above 1
            a simple path that builds the T×T pattern, for short inputs).
        chunk: queries per chunk (a speed knob; the result does not depend on it).
        return_weights: also rebuild the T×S weights (zero off the pattern) for pictures, small T.
    Returns:
        LongformerAttention; output equals scaled_dot_product with mask = longformer_mask(...) & mask.
    """
    check_qkv(q, k, v, self_attention=True)
    if isinstance(window, bool) or int(window) != window or window < 0:
        raise AttnvizInputError(f"the window must be a whole number of at least 0, got {window!r}")
    scale = resolve_scale(scale, q.shape[-1])
    lead, t = q.shape[:-2], q.shape[-2]
    if mask is not None:
        mask = as_mask_4d(mask, lead)
    glob = _global_index(global_tokens, t, q.device)  # (G,)
    radius = int(window) // 2
    dilation = positive_int(dilation, "the dilation")

    if dilation == 1:
        # every row: its band and the global keys; global rows: every key
        output, lse = banded_attention(
            q, k, v, left=radius, right=radius, scale=scale, mask=mask, shared=glob, chunk=chunk
        )
    else:
        # a band d times as wide, the positions between the dilated ones masked out (the global rows and
        # columns stay allowed: the mask also reaches the global keys and the global rows)
        between = longformer_mask(t, window, glob.tolist(), q.device, dilation)  # (T, T)
        reach = radius * dilation
        band_mask = between if mask is None else between & mask
        output, lse = banded_attention(
            q, k, v, left=reach, right=reach, scale=scale, mask=band_mask, shared=glob, chunk=chunk
        )

    weights = None
    if return_weights:
        allowed = longformer_mask(t, window, glob.tolist(), q.device, dilation)
        weights = weights_from_lse(q, k, lse, scale, allowed if mask is None else allowed & mask)
    return LongformerAttention(
        output=output,
        weights=weights,
        scale=scale,
        window=int(window),
        global_tokens=glob,
        logsumexp=lse,
        dilation=dilation,
    )


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _longformer_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    g = fit.cut(int(knobs["globals"]), "Global tokens")
    return {"window": int(knobs["window"]), "global_tokens": tuple(range(g)), "dilation": int(knobs["dilation"])}


def _longformer_pattern(q: Tensor, kwargs: Mapping[str, object]) -> Tensor:
    window, dilation = int(kwargs["window"]), int(kwargs.get("dilation", 1))  # type: ignore[call-overload]
    return longformer_mask(q.shape[-2], window, kwargs["global_tokens"], dilation=dilation)  # type: ignore[arg-type]


def longformer_flops(n: int, heads: int, d: int) -> float:
    """The window of 256 (and its 2 global tokens, not counted) of the timed case."""
    return 4.0 * n * min(256, n) * d * heads


SPEC = VariantSpec(
    name="longformer",
    fn=longformer_attention,
    kind="pattern",
    knobs=(
        Knob("window", (1, 3, 5, 7, 9, 13, 17, 25, 33), 3),
        Knob("globals", (0, 1, 2, 3, 4), 1),
        Knob("dilation", (1, 2, 3, 4), 1),
    ),
    to_kwargs=_longformer_kwargs,
    pattern=_longformer_pattern,
    swept="window",
    cases={
        "longformer": TimingCase(
            make=lambda q, k, v: lambda: longformer_attention(q, k, v, window=256, global_tokens=(0, 1)),
            flops=longformer_flops,
            setting="w=256, 2 global tokens",
            growth=("T", "T"),
            label="Longformer (ours)",
        )
    },
)
