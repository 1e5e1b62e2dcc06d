"""What the variants cost: FlashAttention's memory, steps and timings on one head, the KV cache of published
models with fewer K/V heads, and the numbers in a form a reader takes in."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from attnviz.attention import scaled_dot_product
from attnviz.efficient._common import LN2, LOG2E
from attnviz.efficient.flash import FlashAttention, FlashStep, flash_attention
from attnviz.efficient.mqa import kv_cache_bytes
from attnviz.errors import AttnvizInputError

BYTES = 4  # float32


# ----------------------------------------------------------------------------------------------------------
# FlashAttention: the step-through and its memory
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlashMemory:
    """Bytes of float32 the full matrix would take, against what the tiled pass holds at once."""

    full_matrix: int  # T·S numbers: the scores (the weights would be as many again)
    tile: int  # one tile of scores, block_q·block_k
    running: int  # m and ℓ of a row block, and its accumulator: block_q·(2 + Dv)


def flash_memory(t: int, s: int, dv: int, block_q: int, block_k: int) -> FlashMemory:
    bq, bk = min(block_q, t), min(block_k, s)
    return FlashMemory(full_matrix=t * s * BYTES, tile=bq * bk * BYTES, running=bq * (2 + dv) * BYTES)


def flash_steps(q: Tensor, k: Tensor, v: Tensor, tile: int) -> FlashAttention:
    """The tiled pass on one head, every step recorded. q, k: (T, Dh), v: (T, Dv)."""
    return flash_attention(q, k, v, block_q=tile, block_k=tile, record_steps=True, return_weights=True)


def flash_spans(t: int, s: int, tile: int) -> tuple[tuple[int, int, int, int], ...]:
    """(q_start, q_stop, k_start, k_stop) of every tile of the tiled pass, in the order it runs them (no mask, not
    causal): query blocks outside, key blocks inside, as in `flash_attention`."""
    return tuple((q0, min(q0 + tile, t), k0, min(k0 + tile, s)) for q0 in range(0, t, tile) for k0 in range(0, s, tile))


@dataclass(frozen=True)
class FlashWalk:
    """One step of the tile walk, computed on its own: the tiles of its block of query rows, and the scores so far.

    Row blocks are independent in the tiled pass, so the shown step's running state is the same as in a full pass
    that records every tile (`flash_steps`), from running only its block of rows.
    """

    spans: tuple[tuple[int, int, int, int], ...]  # every tile of the whole pass, in order
    step: int  # the shown tile (0-based)
    row_steps: tuple[FlashStep, ...]  # every tile of the shown tile's block of rows, in order (absolute rows)
    rows_output: Tensor  # (Tq, Dv) these rows' final output, after their last tile
    scores: Tensor  # (T, S) the scaled scores computed up to and including the shown tile, NaN elsewhere

    @property
    def now(self) -> FlashStep:
        """The shown tile's state."""
        q0, _, k0, _ = self.spans[self.step]
        return next(x for x in self.row_steps if x.k_start == k0 and x.q_start == q0)


def flash_walk(q: Tensor, k: Tensor, v: Tensor, tile: int, step: int) -> FlashWalk:
    """The tiled pass on one head at step ``step`` (0-based) of the walk, computing only the shown tile's block of
    query rows (S / tile tiles) instead of every tile. q, k: (T, Dh), v: (T, Dv)."""
    t, s = q.shape[-2], k.shape[-2]
    spans = flash_spans(t, s, tile)
    if not 0 <= step < len(spans):
        raise AttnvizInputError(f"tile {step + 1} does not exist: there are {len(spans)}")
    q0, q1, k0, _ = spans[step]
    block = flash_attention(q[q0:q1], k, v, block_q=tile, block_k=tile, record_steps=True)
    row_steps = tuple(replace(x, q_start=x.q_start + q0, q_stop=x.q_stop + q0) for x in block.steps)
    scores = torch.full((t, s), math.nan, dtype=q.dtype)  # (T, S)
    if q0 > 0:  # the row blocks before this one: all their tiles are done (scaled in base 2, as the pass does)
        scale = 1.0 / math.sqrt(q.shape[-1])
        scores[:q0] = (q[:q0] * (scale * LOG2E)) @ k.mT * LN2  # (q0, S)
    for x in row_steps:
        if x.k_start > k0:
            break
        scores[x.q_start : x.q_stop, x.k_start : x.k_stop] = x.scaled
    return FlashWalk(spans=spans, step=step, row_steps=row_steps, rows_output=block.output, scores=scores)


def flash_progress(t: int, s: int, steps: Sequence[tuple[int, int, int, int]], upto: int) -> np.ndarray:
    """(T, S) which score cells have been computed after step ``upto`` (0-based): 0 not yet, 1 earlier, 2 now.

    Args:
        steps: (q_start, q_stop, k_start, k_stop) of every tile in order.
    """
    done = np.zeros((t, s), dtype=np.int8)
    for i, (q0, q1, k0, k1) in enumerate(steps[: upto + 1]):
        done[q0:q1, k0:k1] = 2 if i == upto else 1
    return done


@dataclass(frozen=True)
class Timings:
    """Median seconds of one attention pass on one head, three ways, measured on ``device``."""

    device: str  # where it ran, e.g. "CPU (1 thread)"
    tiled: float  # attnviz's readable tiled loop (flash_attention), with the caller's tile size
    fused: float  # torch.nn.functional.scaled_dot_product_attention
    plain: float  # the matrix path: scores, weights and output all kept (attention.scaled_dot_product)
    fused_backend: str  # the kernel PyTorch chose for the fused call ("FLASH_ATTENTION", "MATH", …)


def _fused_backend(q: Tensor) -> str:
    try:  # a private helper of PyTorch: which kernel scaled_dot_product_attention will run for these inputs
        from torch.nn.attention import SDPBackend

        return SDPBackend(int(torch._fused_sdp_choice(q, q, q))).name
    except Exception:  # any change in PyTorch's internals: say it is unknown, never fail the caller
        return "not reported"


def median_seconds(call: Callable[[], object], min_run_time: float) -> float:
    """The median time of ``call`` over repeated runs for about ``min_run_time`` seconds, after one warm-up run.

    A warm-up run that takes ten times ``min_run_time`` or more is the answer itself (a first call's own overhead
    is milliseconds; a long tiled loop on a long sentence would otherwise take seconds more).
    """
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    if first >= 10 * min_run_time:
        return first
    times: list[float] = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < min_run_time and len(times) < 10_000):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def flash_timings(q: Tensor, k: Tensor, v: Tensor, tile: int, min_run_time: float = 0.1) -> Timings:
    """Time the tiled pass, PyTorch's fused kernel and the matrix path on one head (see `median_seconds`).

    Args:
        q, k: (T, Dh); v: (T, Dv), on the device to measure (CUDA calls are synchronised before the clock stops).
        min_run_time: seconds each of the three is run for.
    """
    from attnviz.device import describe

    q4, k4, v4 = q[None, None], k[None, None], v[None, None]  # (1, 1, T, D): the shape the fused call expects
    cuda = q.device.type == "cuda"

    def synced(fn: Callable[[], object]) -> Callable[[], object]:
        def call() -> object:
            out = fn()
            if cuda:
                torch.cuda.synchronize(q.device)
            return out

        return call

    calls = {
        "tiled": lambda: flash_attention(q4, k4, v4, block_q=tile, block_k=tile),
        "fused": lambda: torch.nn.functional.scaled_dot_product_attention(q4, k4, v4),
        "plain": lambda: scaled_dot_product(q4, k4, v4),
    }
    seconds = {key: median_seconds(synced(call), min_run_time) for key, call in calls.items()}
    return Timings(device=describe(q.device), fused_backend=_fused_backend(q4), **seconds)


# ----------------------------------------------------------------------------------------------------------
# Multi-query / grouped-query: the KV cache
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """The attention shape of a published model, for the KV-cache meter."""

    name: str
    layers: int
    heads: int  # query heads
    kv_heads: int  # K/V heads as released (equal to heads: multi-head; 1: multi-query)
    head_dim: int
    dtype: torch.dtype  # what the cache is usually kept in
    decoder: bool = True  # False: an encoder, which reads its whole input at once and keeps no KV cache


# the published configurations (the models' config.json): layers, attention heads, K/V heads, head width
SHAPES: tuple[ModelShape, ...] = (
    ModelShape("Llama 2 7B (multi-head)", 32, 32, 32, 128, torch.float16),
    ModelShape("Mistral 7B v0.1 (8 K/V heads)", 32, 32, 8, 128, torch.float16),
    ModelShape("Llama 2 70B (8 K/V heads)", 80, 64, 8, 128, torch.float16),
    ModelShape("Falcon 7B (multi-query: 1 K/V head)", 32, 71, 1, 64, torch.float16),
    ModelShape("all-MiniLM-L6-v2, this course's model (an encoder: hypothetical)", 6, 12, 12, 32, torch.float32,
               decoder=False),
    ModelShape("BERT-base (an encoder: hypothetical)", 12, 12, 12, 64, torch.float32, decoder=False),
)  # fmt: skip


def cache_bytes(shape: ModelShape, groups: int, length: int, batch: int = 1) -> int:
    """The KV cache of ``shape`` with ``groups`` K/V heads, for ``length`` tokens."""
    if shape.heads % groups:
        raise AttnvizInputError(f"{groups} groups do not divide {shape.heads} heads")
    return kv_cache_bytes(
        kv_heads=groups, length=length, head_dim=shape.head_dim, layers=shape.layers, batch=batch, dtype=shape.dtype
    )


def group_options(heads: int) -> list[int]:
    """The numbers of K/V groups that divide ``heads`` evenly."""
    return [g for g in range(1, heads + 1) if heads % g == 0]


def human_bytes(n: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def large_number(x: float) -> str:
    """12345 → '12,345'; 4.9e8 → '4.9 × 10⁸'; infinity → 'more than 10³⁰⁸'."""
    if math.isinf(x):
        return "more than 10³⁰⁸"
    if abs(x) < 1e6:
        return f"{x:,.0f}"
    exponent = math.floor(math.log10(abs(x)))
    mantissa = x / 10**exponent
    if round(mantissa, 1) >= 10:  # 9.96e8 rounds up to 10.0
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f} × 10{str(exponent).translate(_SUPERSCRIPT)}"
