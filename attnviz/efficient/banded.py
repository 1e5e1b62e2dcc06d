"""The banded pass that Longformer's sliding window and the Sparse Transformer's local part share: each query sees
the keys of a band around it (``left`` before, ``right`` after), and no T×S matrix is formed.

The queries are cut into chunks of c consecutive tokens; the keys a chunk needs are one contiguous run of
c + left + right positions, a strided view of K (`band_windows`, no copy). Per chunk, the scores of the run plus two
-inf triangles outside the band, one softmax, the run's values; rows that share keys with every query (Longformer's
global tokens) are added in the same pass. `attnviz.efficient.longformer` describes the pass step by step.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from attnviz.efficient._common import (
    LOG2E,
    NEG_INF,
    Partial,
    finish,
    flat,
    mask_gather,
    merge_,
    positive_int,
    safe_max,
)

# how many scores one group of chunks may hold at once (4 MiB of float32: it stays in the CPU's cache)
GROUP_SCORES = 1 << 20
# the largest base-2 score, in absolute value, for which banded_attention skips subtracting the row maxima:
# every weight then lies between 2^-40 and 2^40, far from float32's limits (2^±126) even summed over a run
SHIFT_FREE_BOUND = 40.0


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
