"""FlashAttention's forward pass as a GPU kernel, written in Triton to be read next to ``flash.py``.

The algorithm is the one in ``attnviz.efficient.flash``: FlashAttention's tiles (Dao et al. 2022) in the loop order
of FlashAttention-2 (Dao 2023, Algorithm 1; its HBM traffic is counted in ``attnviz.efficient.io.flash2_io``): one
block of query rows keeps a running maximum m, a running sum ℓ and an unnormalised output acc, takes the keys and
values one tile at a time, and divides by ℓ once at the end. What changes in kernel form:

* the outer loop over query blocks is gone: the GPU launches one *program* per (block of query rows, head), all
  at once, and ``tl.program_id`` tells each program which block is its own;
* the block's queries, m, ℓ and acc live in the program's registers and on-chip memory (SRAM) for the whole loop
  over K/V tiles; only Q, K, V are read from the GPU's main memory (HBM), and only O and the log-sum-exp are written
  back to it. The T×S matrix of scores exists one BLOCK_M×BLOCK_N tile at a time, on chip, and never in HBM.

This module needs ``triton`` and runs on a CUDA GPU (or on the CPU in Triton's interpreter, ``TRITON_INTERPRET=1``
set before triton is imported, which the tests use: slow, but the same program). Nothing else in attnviz imports it
unless ``flash.flash_attention(..., gpu_kernel=True)`` is called on CUDA tensors with triton installed, as the
scaling timings of FlashAttention and multi-query attention do (`attnviz.scaling`).
"""

from __future__ import annotations

import contextlib
import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from attnviz.efficient._common import LOG2E, check_qkv, flat, resolve_scale

MIN_HEAD_DIM = 16  # tl.dot needs at least 16 along every side of its tiles
MAX_HEAD_DIM = 128  # a 128-wide block of queries, keys and values still fits in one program's on-chip memory
KERNEL_BLOCKS = (64, 64)  # (query rows per program, keys per tile) that flash.flash_attention launches with


@triton.jit
def flash_forward_kernel(
    Q,  # (N, T, D) queries, contiguous; N = batch × heads
    K,  # (N, S, D) keys
    V,  # (N, S, DV) values
    O,  # (N, T, DV) output, written once per row at the end
    LSE,  # (N, T) float32 log-sum-exp per row (natural log)
    T,  # query rows
    S,  # keys
    causal_offset,  # S − T: query t may see keys 0 .. t + causal_offset
    qk_scale,  # scale · log₂e: scores in base 2, exponentials as exp2
    CAUSAL: tl.constexpr,
    D: tl.constexpr,  # head width of q and k (a power of two, 16..128)
    DV: tl.constexpr,  # head width of v
    BLOCK_M: tl.constexpr,  # query rows per program
    BLOCK_N: tl.constexpr,  # keys per tile
    PRECISION: tl.constexpr,  # "ieee" for float32: exact products, not tf32
):
    # One function on purpose: a Triton kernel is one program, flash.py's loop (steps A–C, 1–5) read beside it.
    # A. Which block am I? Program (i, n) owns query rows i·BLOCK_M ..
    #    i·BLOCK_M + BLOCK_M − 1 of head n. In flash.py this is the outer loop
    #    `for q0 in range(0, t, block_q)`; here every block runs at once.
    block = tl.program_id(0)
    head = tl.program_id(1).to(tl.int64)  # 64-bit: head·T·D cannot overflow
    rows = block * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,) query indices
    dims = tl.arange(0, D)  # (D,)
    dvs = tl.arange(0, DV)  # (DV,)
    row_ok = rows < T  # (BLOCK_M,) the last block may run past T
    Q = Q + head * T * D  # this head's queries
    K = K + head * S * D  # its keys
    V = V + head * S * DV  # its values

    # B. Load this block of queries once: it stays on chip for the whole loop.
    q_at = Q + rows[:, None] * D + dims[None, :]  # (BLOCK_M, D) addresses
    q = tl.load(q_at, mask=row_ok[:, None], other=0.0)  # (BLOCK_M, D)

    # C. The running state per query row, in float32 whatever the input type:
    m = tl.full([BLOCK_M], float("-inf"), tl.float32)  # (BLOCK_M,) maximum m
    l = tl.zeros([BLOCK_M], tl.float32)  # (BLOCK_M,) running sum ℓ
    acc = tl.zeros([BLOCK_M, DV], tl.float32)  # (BLOCK_M, DV) unnormalised output

    # Causal: tiles wholly right of this block's last row hold nothing allowed.
    k_end = S
    if CAUSAL:
        k_end = tl.minimum(S, (block + 1) * BLOCK_M + causal_offset)

    # One K/V tile at a time: flash.py's inner loop, its steps 1–5.
    for k0 in range(0, k_end, BLOCK_N):
        cols = k0 + tl.arange(0, BLOCK_N)  # (BLOCK_N,) key indices of this tile
        col_ok = cols < S  # (BLOCK_N,) the last tile may run past S
        kt_at = K + cols[None, :] * D + dims[:, None]  # (D, BLOCK_N) Kᵀ addresses
        kt = tl.load(kt_at, mask=col_ok[None, :], other=0.0)  # (D, BLOCK_N)
        v_at = V + cols[:, None] * DV + dvs[None, :]  # (BLOCK_N, DV) addresses
        v = tl.load(v_at, mask=col_ok[:, None], other=0.0)  # (BLOCK_N, DV)

        # 1. the tile of scores, base 2; −inf for keys past S (and, causal,
        #    for keys after the query)
        s = tl.dot(q, kt, input_precision=PRECISION) * qk_scale  # (BLOCK_M, BLOCK_N)
        allowed = col_ok[None, :]  # (1, BLOCK_N)
        if CAUSAL:
            allowed = allowed & (cols[None, :] <= rows[:, None] + causal_offset)
        s = tl.where(allowed, s, float("-inf"))  # (BLOCK_M, BLOCK_N)

        # 2. the new running maximum m', and c = 2^(m − m'): how much the old
        #    ℓ and acc must shrink (a row that saw no key yet shifts by 0)
        m_new = tl.maximum(m, tl.max(s, 1))  # (BLOCK_M,)
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)  # (BLOCK_M,)
        c = tl.exp2(m - shift)  # (BLOCK_M,) 0 while the row had seen nothing

        # 3. this tile's weights relative to m'
        p = tl.exp2(s - shift[:, None])  # (BLOCK_M, BLOCK_N); 0 where masked

        # 4. fold the tile in: ℓ = ℓ·c + rowsum(p), acc = acc·c + p·V
        l = l * c + tl.sum(p, 1)  # (BLOCK_M,)
        pv = tl.dot(p.to(v.dtype), v, input_precision=PRECISION)  # (BLOCK_M, DV)
        acc = acc * c[:, None] + pv  # (BLOCK_M, DV)
        m = m_new

    # 5. Divide by ℓ once, at the end (a row that saw no key keeps output 0, as
    #    in flash.py); write O and the log-sum-exp, back in natural units (× ln 2)
    seen = l > 0  # (BLOCK_M,)
    out = acc / tl.where(seen, l, 1.0)[:, None]  # (BLOCK_M, DV)
    lse2 = m + tl.log2(tl.where(seen, l, 1.0))  # (BLOCK_M,) log₂ Σ 2^s
    lse = tl.where(seen, lse2 * 0.6931471805599453, float("-inf"))  # (BLOCK_M,)
    o_at = O + head * T * DV + rows[:, None] * DV + dvs[None, :]  # (BLOCK_M, DV)
    tl.store(o_at, out.to(O.dtype.element_ty), mask=row_ok[:, None])
    tl.store(LSE + head * T + rows, lse, mask=row_ok)


def _padded_width(width: int, what: str) -> int:
    """The power of two ≥ 16 the kernel runs at for this head width (zero columns fill the rest)."""
    if width > MAX_HEAD_DIM:
        raise ValueError(f"the Triton kernel handles head widths up to {MAX_HEAD_DIM}; {what} is {width} wide")
    return max(MIN_HEAD_DIM, 1 << max(0, math.ceil(math.log2(width))))


def supports(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """Whether the kernel accepts these shapes and types (the caller still needs a CUDA device or the interpreter)."""
    return (
        q.dtype in (torch.float32, torch.float16, torch.bfloat16)
        and q.dtype == k.dtype == v.dtype
        and 0 < q.shape[-1] <= MAX_HEAD_DIM
        and 0 < v.shape[-1] <= MAX_HEAD_DIM
    )


def flash_attention_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float | None = None,
    *,
    causal: bool = False,
    block_m: int = KERNEL_BLOCKS[0],
    block_n: int = KERNEL_BLOCKS[1],
) -> tuple[Tensor, Tensor]:
    """softmax(Q·Kᵀ·scale)·V by the kernel above; the same result as ``flash.flash_attention``.

    Args:
        q: (..., T, D) queries, float32, float16 or bfloat16, e.g. (B·H, T, D) or (H, T, D).
        k: (..., S, D) keys, same type.
        v: (..., S, Dv) values, same type.
        scale: multiplies the scores; default 1/√D.
        causal: query t sees keys 0 .. t + S − T only (aligned to the end, as ``causal_mask``).
        block_m: query rows per program (a power of two, at least 16).
        block_n: keys per tile (a power of two, at least 16).
    Returns:
        output (..., T, Dv) in q's type, and the natural log-sum-exp (..., T) in float32 (−inf for a row without
        keys, whose output is 0). Head widths that are not a power of two from 16 to 128 are padded with zeros
        (which changes no score and no output); widths above 128 raise ValueError.
    """
    check_qkv(q, k, v)
    if not supports(q, k, v):
        raise ValueError(
            "the Triton kernel takes float32, float16 or bfloat16 q, k, v of one type with head widths "
            f"1..{MAX_HEAD_DIM}; got {q.dtype}/{k.dtype}/{v.dtype}, widths {q.shape[-1]} and {v.shape[-1]}"
        )
    for block, name in ((block_m, "block_m"), (block_n, "block_n")):
        if block < 16 or block & (block - 1):
            raise ValueError(f"{name} must be a power of two, at least 16; got {block}")
    scale = resolve_scale(scale, q.shape[-1])  # from the true width, before any padding
    lead, t, s, d, dv = q.shape[:-2], q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    d_pad, dv_pad = _padded_width(d, "q"), _padded_width(dv, "v")
    q3, k3, v3 = flat(q), flat(k), flat(v)  # (N, T, D), (N, S, D), (N, S, Dv)
    if d_pad != d:
        q3 = torch.nn.functional.pad(q3, (0, d_pad - d))  # (N, T, D_pad) zero columns: q·k unchanged
        k3 = torch.nn.functional.pad(k3, (0, d_pad - d))  # (N, S, D_pad)
    if dv_pad != dv:
        v3 = torch.nn.functional.pad(v3, (0, dv_pad - dv))  # (N, S, Dv_pad) zero columns, cut off below
    q3, k3, v3 = q3.contiguous(), k3.contiguous(), v3.contiguous()
    n = q3.shape[0]
    out = q3.new_empty(n, t, dv_pad)  # (N, T, Dv_pad)
    lse = torch.empty(n, t, device=q.device, dtype=torch.float32)  # (N, T)
    if n and t:
        grid = (triton.cdiv(t, block_m), n)  # one program per (block of query rows, head)
        with torch.cuda.device(q.device) if q.is_cuda else contextlib.nullcontext():  # launch on q's GPU
            flash_forward_kernel[grid](
                q3,
                k3,
                v3,
                out,
                lse,
                t,
                s,
                s - t,
                scale * LOG2E,
                CAUSAL=bool(causal),
                D=d_pad,
                DV=dv_pad,
                BLOCK_M=block_m,
                BLOCK_N=block_n,
                PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
            )
    return out[..., :dv].reshape(*lead, t, dv), lse.view(*lead, t)


__all__ = ["KERNEL_BLOCKS", "flash_attention_triton", "flash_forward_kernel", "supports"]
