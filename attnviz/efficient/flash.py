"""FlashAttention: exact attention computed tile by tile, never holding the T×S matrix.

Dao, Fu, Ermon, Rudra, Ré, "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness"
(2022), with the loop order of Dao, "FlashAttention-2" (2023): queries in the outer loop, keys inside.

For one block of query rows, keep per row a running maximum m, a running sum l and an unnormalised output
acc. For each block of keys:

    s    = q·kᵀ·scale                     the tile of scores
    m'   = max(m, rowmax(s))               the new running maximum
    p    = exp(s − m')                     this tile's weights, relative to the new maximum
    c    = exp(m − m')                     how much everything summed so far shrinks
    l    = l·c + rowsum(p)
    acc  = acc·c + p·v
    O    = acc / l                         after the last tile: exactly softmax(q·kᵀ·scale)·v

Extra memory is O(T) in total instead of O(T·S): two numbers per query row (m and l) plus one tile (and the
block's accumulator, which becomes its output). On a GPU the tile stays in on-chip memory (SRAM) and the T×S
matrix never travels to and from the large, slow memory (HBM): that traffic, counted in `attnviz.efficient.io`
after the paper's Theorem 2, is where the speed-up comes from. This loop is written to be read; it is slower
than a fused kernel such as PyTorch's scaled_dot_product_attention. As in the FlashAttention kernels the scores are
kept in base 2 (scaled by log₂e as well, exponentials as powers of two: see _common); the recorded steps
are converted back to natural units.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from attnviz.attention import Attention, causal_mask
from attnviz.efficient._common import (
    LN2,
    LOG2E,
    NEG_INF,
    as_mask_4d,
    check_qkv,
    finish,
    flat,
    mask_block,
    positive_int,
    resolve_scale,
    safe_max,
    weights_from_lse,
)
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
    full_flops,
)

if TYPE_CHECKING:
    from attnviz.efficient.compare import Run


@dataclass(frozen=True)
class FlashStep:
    """The state after one tile, recorded only when asked for (for the step-through)."""

    q_start: int  # first query row of the tile
    q_stop: int  # one past its last query row
    k_start: int  # first key of the tile
    k_stop: int  # one past its last key
    scaled: Tensor  # (..., Tq, Sk) the tile's scaled scores, -inf where masked
    row_max: Tensor  # (..., Tq) running maximum m after this tile
    row_sum: Tensor  # (..., Tq) running sum l after this tile
    correction: Tensor  # (..., Tq) exp(m_before − m_after), the factor the earlier sum and output shrank by
    output: Tensor  # (..., Tq, Dv) acc / l: the output if the keys ended with this tile


@dataclass(frozen=True, kw_only=True)
class FlashAttention(Attention):
    """Exact attention from the tiled pass. ``weights`` is filled only with ``return_weights=True``."""

    block_q: int  # query rows per tile
    block_k: int  # keys per tile
    logsumexp: Tensor  # (..., T) log Σ_s exp(scaled[t, s]): all a later pass needs to rebuild any weight
    steps: tuple[FlashStep, ...] = ()  # every tile in order, when record_steps=True


def _triton_kernel_applies(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """True on CUDA when triton is importable and the kernel takes these tensors (else the loop below runs)."""
    if not q.is_cuda or importlib.util.find_spec("triton") is None:
        return False
    from attnviz.efficient.flash_triton import supports

    return supports(q, k, v)


def triton_kernel_source() -> str:
    """The source of flash_triton's kernel, read from its file (so it can be shown without triton installed)."""
    spec = importlib.util.find_spec("attnviz.efficient.flash_triton")
    text = Path(spec.origin).read_text(encoding="utf-8")
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "flash_forward_kernel")
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    return "\n".join(text.splitlines()[first - 1 : node.end_lineno]) + "\n"


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    block_q: int = 256,
    block_k: int = 256,
    causal: bool = False,
    record_steps: bool = False,
    return_weights: bool = False,
    gpu_kernel: bool = False,
) -> FlashAttention:
    # One function on purpose: it is FlashAttention-2's Algorithm 1 (Dao, 2023; query blocks outside, keys inside)
    # line by line (steps 1–5), read beside the formula.
    """softmax(Q·Kᵀ·scale + M)·V, exactly, one (block_q × block_k) tile at a time.

    Args:
        q: (..., T, D) queries.
        k: (..., S, D) keys.
        v: (..., S, Dv) values.
        mask: bool, broadcastable to (..., T, S), True where attention is allowed. A padding mask
            (..., 1, S) costs nothing extra; a full (T, S) mask is itself O(T·S) memory, so prefer ``causal``.
        scale: multiplies the scores; default 1/√D.
        block_q: query rows per tile.
        block_k: keys per tile.
        causal: let token t see keys 0..t only (aligned to the end when S > T), skipping the tiles above the
            diagonal instead of computing and discarding them.
        record_steps: keep a copy of the running state after every tile (for teaching; costs memory).
        return_weights: also rebuild the T×S weights from the kept log-sum-exps (for pictures, small T).
        gpu_kernel: on a CUDA tensor with triton installed, and with no mask, steps or weights asked for, run the
            same algorithm as one fused GPU kernel (``flash_triton.flash_attention_triton``) instead of this loop,
            with the kernel's own 64×64 tiles, which the result's ``block_q`` and ``block_k`` then record. Anywhere
            else (on the CPU always) this loop runs.
    Returns:
        FlashAttention; ``output`` equals scaled_dot_product's to float precision.
    """
    check_qkv(q, k, v)
    block_q = positive_int(block_q, "block_q")
    block_k = positive_int(block_k, "block_k")
    scale = resolve_scale(scale, q.shape[-1])
    if gpu_kernel and mask is None and not record_steps and not return_weights and _triton_kernel_applies(q, k, v):
        # on a CUDA GPU with triton installed: the same algorithm as one fused kernel (flash_triton.py), with its
        # own tile sizes, which the result records
        from attnviz.efficient.flash_triton import KERNEL_BLOCKS, flash_attention_triton

        output_, lse = flash_attention_triton(q, k, v, scale, causal=causal)
        return FlashAttention(
            output=output_,
            weights=None,
            scale=scale,
            block_q=KERNEL_BLOCKS[0],
            block_k=KERNEL_BLOCKS[1],
            logsumexp=lse.to(q.dtype),
        )
    lead, t, s, dv = q.shape[:-2], q.shape[-2], k.shape[-2], v.shape[-1]
    if mask is not None:
        mask = as_mask_4d(mask, lead)
    offset = s - t  # causal: query t sees keys up to t + offset, as in causal_mask
    q3, k3, v3 = flat(q), flat(k), flat(v)  # (N, T, D), (N, S, D), (N, S, Dv) with N = prod(...)
    n = q3.shape[0]
    output = q3.new_empty(n, t, dv)  # (N, T, Dv)
    logsumexp = q3.new_empty(n, t)  # (N, T)
    steps: list[FlashStep] = []
    # one tile of scores, reused for every tile (as the on-chip memory would be): no allocation per tile
    tile_buffer = q3.new_empty(n, min(block_q, t), min(block_k, s))

    for q0 in range(0, t, block_q):
        q1 = min(q0 + block_q, t)
        q_blk = q3[:, q0:q1] * (scale * LOG2E)  # (N, Tq, D) scaled once here, not once per tile
        row_max = q3.new_full((n, q1 - q0, 1), NEG_INF)  # (N, Tq, 1) running maximum m
        row_sum = q3.new_zeros(n, q1 - q0, 1)  # (N, Tq, 1) running sum l
        acc = q3.new_zeros(n, q1 - q0, dv)  # (N, Tq, Dv) running unnormalised output
        k_end = min(s, q1 + offset) if causal else s  # tiles past the diagonal hold nothing allowed
        for k0 in range(0, max(k_end, 0), block_k):
            k1 = min(k0 + block_k, k_end)
            # 1. the tile of scaled scores (base 2), masked
            k_tile_t = k3[:, k0:k1].transpose(1, 2)  # (N, D, Sk)
            full = (q1 - q0, k1 - k0) == tile_buffer.shape[1:]  # edge tiles are smaller: allocated
            tile = torch.bmm(q_blk, k_tile_t, out=tile_buffer if full else None)  # (N, Tq, Sk)
            if mask is not None:
                tile.view(*lead, q1 - q0, k1 - k0).masked_fill_(
                    ~mask_block(mask, slice(q0, q1), slice(k0, k1)), NEG_INF
                )
            if causal and k1 - 1 > q0 + offset:  # the tile crosses the diagonal
                rows = torch.arange(q0, q1, device=q.device)[:, None]  # (Tq, 1)
                cols = torch.arange(k0, k1, device=q.device)[None, :]  # (1, Sk)
                tile.masked_fill_(cols > rows + offset, NEG_INF)
            if record_steps:
                scaled_tile = tile.clone()
            # 2. the new running maximum, and how much the old sum and accumulator must shrink to match it
            new_max = torch.maximum(row_max, tile.amax(dim=-1, keepdim=True))  # (N, Tq, 1)
            shift = safe_max(new_max)  # (N, Tq, 1) (0 for a row that has seen no key yet)
            correction = torch.exp2(row_max - shift)  # (N, Tq, 1); 0 while the row saw nothing
            # 3. this tile's weights relative to the new maximum (in place: the tile is not needed again)
            p = tile.sub_(shift).exp2_()  # (N, Tq, Sk)
            # 4. fold the tile into the running sum and output
            row_sum.mul_(correction).add_(p.sum(dim=-1, keepdim=True))
            acc.mul_(correction).baddbmm_(p, v3[:, k0:k1])  # acc·c + p·v, one fused call
            row_max = new_max
            if record_steps:
                steps.append(
                    FlashStep(
                        q_start=q0,
                        q_stop=q1,
                        k_start=k0,
                        k_stop=k1,
                        scaled=scaled_tile.view(*lead, q1 - q0, k1 - k0) * LN2,  # natural units again
                        row_max=row_max.view(*lead, q1 - q0) * LN2,
                        row_sum=row_sum.view(*lead, q1 - q0).clone(),
                        correction=correction.view(*lead, q1 - q0),
                        output=(acc / row_sum.clamp_min(1.0)).view(*lead, q1 - q0, dv),
                    )
                )
        # 5. divide by the sum once, at the end of the row block
        output[:, q0:q1], logsumexp[:, q0:q1] = finish(acc, row_sum, row_max)

    output_, lse = output.view(*lead, t, dv), logsumexp.view(*lead, t)
    weights = None
    if return_weights:
        allowed = mask
        if causal:
            tri = causal_mask(t, s, device=q.device)  # (T, S)
            allowed = tri if allowed is None else allowed & tri
        weights = weights_from_lse(q, k, lse, scale, allowed)  # (..., T, S)
    return FlashAttention(
        output=output_,
        weights=weights,
        scale=scale,
        block_q=block_q,
        block_k=block_k,
        logsumexp=lse,
        steps=tuple(steps),
    )


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


WALK_SIDE = 16  # the walk offers tile sizes that keep it to at most 16 × 16 tiles


def flash_tile_floor(t: int, side: int = WALK_SIDE) -> int:
    """The smallest tile that keeps a T×T walk to at most ``side`` × ``side`` tiles: ⌈T / side⌉."""
    return max(1, -(-t // side))


def flash_tile_options(t: int, options: Sequence[int], side: int = WALK_SIDE) -> tuple[int, ...]:
    """The tile sizes of ``options`` at or above `flash_tile_floor` (the largest option when none is)."""
    floor = flash_tile_floor(t, side)
    kept = tuple(o for o in options if o >= floor)
    return kept or (max(options),)


def _flash_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    tile = int(knobs["tile"])
    return {"block_q": tile, "block_k": tile}


def _flash_question(spec: VariantSpec, run: Run, head_label: str) -> Question:
    """How close the tiled pass comes to exact attention (rounding: it is the same sum in another order)."""
    c = run.comparison
    err = c.approx.output_max_abs
    return Question(
        "FlashAttention never holds the whole score matrix; it sees the keys one tile at a time. How close will "
        "its output be to exact attention?",
        ("the same, up to rounding", "close, about 1% off", "clearly different"),
        0 if err < 1e-5 else (1 if c.approx.output_rel_frobenius < 0.05 else 2),
        f"The largest difference of any output number is {err:.1e}: float rounding. The running maximum "
        "and sum make the tiled softmax the very same sum, only added up in a different order.",
    )


SPEC = VariantSpec(
    name="flash",
    fn=flash_attention,
    kind="exact",
    question=_flash_question,
    text=VariantText(
        title="FlashAttention",
        paper="Dao et al., 2022, in the loop order of FlashAttention-2 (Dao, 2023)",
        knobs={
            "tile": KnobText(
                label="Tile size (query rows = keys per tile)",
                help="Bigger tiles: fewer steps, more fast memory per step. The result never changes.",
            ),
        },
        formula=(
            r"\begin{aligned} m' &= \max\big(m,\ \max_j s_j\big) \\ \ell' &= \ell\,e^{m-m'} + \textstyle\sum_j "
            r"e^{s_j-m'} \\ \mathrm{acc}' &= \mathrm{acc}\,e^{m-m'} + \textstyle\sum_j e^{s_j-m'}\,v_j \\ O &= "
            r"\mathrm{acc}/\ell \quad \text{after the last tile} \end{aligned}"
        ),
        time="O(T²·D), the same as exact",
        memory="O(T) in total: a running max and sum per query row, plus one tile; never the T×S matrix",
        keeps_exact="everything: it is exact attention",
        costs="nothing but a more complex kernel",
        choose_when="always, when a kernel exists: it is the default of modern frameworks",
    ),
    knobs=(Knob("tile", (1, 2, 3, 4, 6, 8, 16, 32, 64), 4, offered=flash_tile_options),),  # page 6 walks the tiles
    to_kwargs=_flash_kwargs,
    page_part="app_support.efficient.efficient_flash",
    bench=(BenchRow("", lambda t, heads: {}),),  # the function's own tiles, 256 × 256
    cases={
        "flash": TimingCase(
            make=lambda q, k, v: lambda: flash_attention(q, k, v, gpu_kernel=True),  # Triton on CUDA, if installed
            flops=full_flops,
            setting="block_q=256, block_k=256; on CUDA with triton installed, the Triton kernel (64×64 tiles)",
            growth=("T²", "T"),
            label="FlashAttention (ours, Python)",
            exact=True,
        )
    },
)
