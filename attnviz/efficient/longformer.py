"""Longformer: a sliding window of w neighbours plus a few global tokens, computed in banded chunks.

Beltagy, Peters, Cohan, "Longformer: The Long-Document Transformer" (2020). Token t attends to the keys
t − w/2 … t + w/2 and to every global token; a global token attends to, and is attended by, every token.

No T×S matrix is ever formed. The queries are cut into chunks of c consecutive tokens; the keys a chunk needs
are one contiguous run of c + w positions, which is a strided view of K (no copy). Per chunk:

    s = q_chunk·k_runᵀ·scale          (c × (c + w)), -inf outside the band
    band part:   m₁, l₁, acc₁ = rowmax(s), Σ exp(s − m₁), exp(s − m₁)·v_run
    global part: the same against the G global keys
    O = merge(band, global)            the softmax over both, as if computed at once (see _common)

Global rows are ordinary exact attention over all keys (computed tiled by flash_attention). Time O(T·(c+w)·D),
memory O(T·D) plus one group of chunks.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
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
    flat,
    mask_gather,
    mask_rows,
    merge_,
    partial_softmax_,
    positive_int,
    resolve_scale,
    weights_from_lse,
)
from attnviz.efficient.flash import flash_attention
from attnviz.errors import AttnvizInputError

# how many scores one group of chunks may hold at once (4 MiB of float32: it stays in the CPU's cache)
GROUP_SCORES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class LongformerAttention(Attention):
    """Longformer's result. ``weights`` (T×S, zero off the pattern) only with return_weights=True."""

    window: int  # w: each token sees w//2 neighbours on each side, itself included in the middle
    global_tokens: Tensor  # (G,) long, positions that attend everywhere and are attended by all
    logsumexp: Tensor  # (..., T) log of each row's softmax denominator


def longformer_mask(
    t: int, window: int, global_tokens: Sequence[int] = (), device: torch.device | str | None = None
) -> Tensor:
    """The Longformer pattern as a picture, without attending through it.

    Returns:
        (T, T) bool, True where token t (row) may attend to token s (column).
    """
    radius = window // 2
    pos = torch.arange(t, device=device)
    allowed = (pos[:, None] - pos[None, :]).abs() <= radius  # (T, T) the band
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


def banded_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    left: int,
    right: int,
    scale: float,
    mask: Tensor | None = None,
    key_ok: Tensor | None = None,
    chunk: int | None = None,
    extra: Callable[[int, int], Sequence[Partial]] = lambda start, stop: (),
) -> tuple[Tensor, Tensor]:
    """Exact attention of every token t to the keys t − left … t + right, in chunks; never T×S.

    Args:
        q: (..., T, D), k: (..., T, D), v: (..., T, Dv) self-attention: queries and keys are the same tokens.
        left, right: how far the band reaches back and forward.
        scale: multiplies the scores.
        mask: bool broadcastable to (..., T, T), True where allowed (intersected with the band).
        key_ok: (T,) bool, keys the band may use at all (Longformer removes the global ones: they come in
            through ``extra``, and must not be counted twice).
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
    output = q3.new_empty(n, t, dv)  # (N, T, Dv)
    lse = q3.new_empty(n, t)  # (N, T)
    group = max(1, GROUP_SCORES // (n * chunk * span))  # chunks per group

    # the band inside one chunk: query a (row) may see key b (column of the run) when a ≤ b ≤ a + left +
    # right. Only the first and the last c columns of a run can fall outside it (two triangles):
    a = torch.arange(chunk, device=q.device)[:, None]
    b = torch.arange(span, device=q.device)[None, :]
    before = b[:, :chunk] < a  # (c, c) keys before the window, in the first c columns
    after = b[:, span - chunk :] > a + left + right  # (c, c) keys after it, in the last c columns
    pos_ok = torch.ones(t, dtype=torch.bool, device=q.device) if key_ok is None else key_ok.to(q.device)
    refused = (~pos_ok).nonzero().flatten().tolist()  # positions the band must skip, in order

    for c0 in range(0, n_chunks, group):
        c1 = min(c0 + group, n_chunks)
        g, r0, r1 = c1 - c0, c0 * chunk, min(c1 * chunk, t)
        # 1. the queries of these chunks (the last one padded), scaled for base-2 scores (see _common),
        #    and the run of keys each chunk needs (a view of K when N = 1, else a copy)
        q_blk = q3[:, r0:r1] * (scale * LOG2E)  # (N, rows, D)
        if r1 - r0 < g * chunk:
            q_blk = torch.nn.functional.pad(q_blk, (0, 0, 0, g * chunk - (r1 - r0)))
        k_run = band_windows(k3, r0 - left, g, chunk, span)  # (N, g, c + left + right, D)
        v_run = band_windows(v3, r0 - left, g, chunk, span)  # (N, g, c + left + right, Dv)
        # 2. the scores of every chunk against its run, in one batched product
        scores = torch.bmm(q_blk.reshape(n * g, chunk, d), k_run.reshape(n * g, span, d).transpose(1, 2))
        scores = scores.view(n, g, chunk, span)  # (N, g, c, c + left + right)
        # 3. -inf outside the band (the two triangles), and where needed outside the sequence, at refused
        #    keys and where the mask says no
        scores[..., :chunk].masked_fill_(before, NEG_INF)
        scores[..., span - chunk :].masked_fill_(after, NEG_INF)
        lo, hi = r0 - left, c1 * chunk + right  # the keys this group touches
        touches_refused = bisect.bisect_left(refused, lo) < bisect.bisect_left(refused, hi)
        if lo < 0 or hi > t or touches_refused or mask is not None:
            key_pos = lo + torch.arange(g, device=q.device)[:, None] * chunk + b  # (g, c + left + right)
            allowed = ((key_pos >= 0) & (key_pos < t) & pos_ok[key_pos.clamp(0, t - 1)])[:, None, :]
            if mask is not None:
                rows = (r0 + torch.arange(g * chunk, device=q.device)).clamp(max=t - 1).view(g, chunk, 1)
                allowed = allowed & mask_gather(mask, rows, key_pos.clamp(0, t - 1)[:, None, :])
            scores.view(*lead, g, chunk, span).masked_fill_(~allowed, NEG_INF)
        # 4. the band's slice of each row's softmax, merged with any extra slices for the same rows
        band_part = partial_softmax_(scores, v_run)  # fields (N, g, c, ·)
        band_part = Partial(
            row_max=band_part.row_max.view(n, g * chunk, 1)[:, : r1 - r0],
            row_sum=band_part.row_sum.view(n, g * chunk, 1)[:, : r1 - r0],
            acc=band_part.acc.view(n, g * chunk, dv)[:, : r1 - r0],
        )
        _, lse[:, r0:r1] = merge_([band_part, *extra(r0, r1)], out=output[:, r0:r1])
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
    is_global = torch.zeros(t, dtype=torch.bool, device=q.device)
    is_global[glob] = True

    k_glob, v_glob = k[..., glob, :], v[..., glob, :]  # (..., G, D), (..., G, Dv)
    k_glob3, v_glob3 = flat(k_glob), flat(v_glob)  # (N, G, D), (N, G, Dv)

    def global_keys(r0: int, r1: int) -> tuple[Partial, ...]:
        # every row also sees the global keys (the band skips them, so they count once)
        if glob.numel() == 0:
            return ()
        scores = (flat(q[..., r0:r1, :]) * (scale * LOG2E)) @ k_glob3.transpose(1, 2)  # (N, rows, G) base 2
        if mask is not None:
            ok = mask_gather(mask, torch.arange(r0, r1, device=q.device)[:, None], glob[None, :])
            scores.view(*lead, r1 - r0, glob.numel()).masked_fill_(~ok, NEG_INF)
        return (partial_softmax_(scores, v_glob3),)

    # 1. every row: its band and the global keys
    output, lse = banded_attention(
        q,
        k,
        v,
        left=radius,
        right=radius,
        scale=scale,
        mask=mask,
        key_ok=~is_global,
        chunk=chunk,
        extra=global_keys,
    )
    # 2. global rows attend to everything: plain exact attention, tiled so it stays O(T) in memory
    if glob.numel():
        few = glob.numel()
        rows = flash_attention(  # few rows, so tiles of many keys (about GROUP_SCORES scores each)
            q[..., glob, :],
            k,
            v,
            mask=None if mask is None else mask_rows(mask, glob),
            scale=scale,
            block_q=few,
            block_k=max(512, GROUP_SCORES // (few * math.prod(lead))),
        )
        output[..., glob, :] = rows.output
        lse[..., glob] = rows.logsumexp

    weights = None
    if return_weights:
        allowed = longformer_mask(t, window, glob.tolist(), q.device)
        weights = weights_from_lse(q, k, lse, scale, allowed if mask is None else allowed & mask)
    return LongformerAttention(
        output=output, weights=weights, scale=scale, window=int(window), global_tokens=glob, logsumexp=lse
    )
