"""BigBird: window, global and random blocks, computed block-sparse.

Zaheer et al., "Big Bird: Transformers for Longer Sequences" (2020). The sequence is cut into blocks of b
tokens and attention is decided per pair of blocks (the layout):

    window   each block sees its window_blocks // 2 neighbouring blocks on each side (and itself)
    global   the first global_blocks blocks see every block and are seen by every block (ITC, "internal")
    random   each other block also sees random_blocks blocks drawn at random (fixed by the seed)

Only the chosen key blocks are gathered: a query block's scores are (b × W·b) with W the blocks it sees, so
time and memory are O(T·W·b·D), linear in T. Global query blocks are plain exact attention (tiled, O(T)).
The random layout is the same for every head and batch row here (the paper draws one per head).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import (
    LOG2E,
    NEG_INF,
    as_mask_4d,
    check_qkv,
    finish,
    flat,
    generator,
    mask_gather,
    mask_rows,
    partial_softmax_,
    positive_int,
    resolve_scale,
    weights_from_lse,
)
from attnviz.efficient.flash import flash_attention
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText

# how many scores one group of query blocks may hold at once (as in banded.py: it stays in cache)
GROUP_SCORES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class BigBirdAttention(Attention):
    """BigBird's result. ``weights`` (T×S, zero off the pattern) only with return_weights=True."""

    block_size: int  # b, tokens per block
    layout: Tensor  # (T/b, T/b) bool, which key blocks (columns) each query block (row) sees
    logsumexp: Tensor  # (..., T) log of each row's softmax denominator


def bigbird_layout(
    n_blocks: int, *, window_blocks: int = 3, global_blocks: int = 2, random_blocks: int = 3, seed: int = 0
) -> Tensor:
    """Which key blocks each query block attends to.

    Returns:
        (n_blocks, n_blocks) bool.
    """
    n_blocks = positive_int(n_blocks, "the number of blocks")
    window_blocks = positive_int(window_blocks, "window_blocks")
    global_blocks = positive_int(global_blocks, "global_blocks", minimum=0)
    random_blocks = positive_int(random_blocks, "random_blocks", minimum=0)
    idx = torch.arange(n_blocks)
    layout = (idx[:, None] - idx[None, :]).abs() <= window_blocks // 2  # (nb, nb) window
    layout[:global_blocks, :] = True  # global blocks see all ...
    layout[:, :global_blocks] = True  # ... and are seen by all
    if random_blocks:
        # per row, the random_blocks highest of random numbers among the blocks not chosen yet
        noise = torch.rand(n_blocks, n_blocks, generator=generator(seed))  # (nb, nb)
        noise = noise.masked_fill(layout, -1.0)
        pick = noise.topk(min(random_blocks, n_blocks), dim=1).indices  # (nb, r)
        chosen = torch.zeros_like(layout).scatter_(1, pick, True)
        chosen[:global_blocks] = False  # global rows already see everything
        layout |= chosen
    return layout


def bigbird_mask(
    t: int,
    *,
    block_size: int = 64,
    window_blocks: int = 3,
    global_blocks: int = 2,
    random_blocks: int = 3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Tensor:
    """The BigBird pattern token by token, as a picture, without attending through it.

    Returns:
        (T, T) bool, True where token t (row) may attend to token s (column).
    """
    block_size, _, layout = _token_layout(t, block_size, window_blocks, global_blocks, random_blocks, seed)
    tokens = layout.repeat_interleave(block_size, 0).repeat_interleave(block_size, 1)  # (nb·b, nb·b)
    return tokens[:t, :t].to(device)


def _token_layout(
    t: int, block_size: int, window_blocks: int, global_blocks: int, random_blocks: int, seed: int
) -> tuple[int, int, Tensor]:
    """For T tokens in blocks of ``block_size``: (b, the number of blocks nb, the (nb, nb) bool block layout)."""
    b = positive_int(block_size, "block_size")
    n_blocks = -(-t // b)
    layout = bigbird_layout(
        n_blocks, window_blocks=window_blocks, global_blocks=global_blocks, random_blocks=random_blocks, seed=seed
    )
    return b, n_blocks, layout


def _seen_blocks(layout: Tensor, n_global: int) -> tuple[Tensor, Tensor]:
    """For every query block, the key blocks it sees (seen ones first), padded to one width W: the widest
    non-global row (global rows are attended separately, over every key).

    Returns:
        (nb, W) long block indices, and (nb, W) bool, False for padding entries.
    """
    n_blocks = layout.shape[0]
    order = torch.sort((~layout).to(torch.int8), dim=1, stable=True).indices  # (nb, nb) seen blocks first
    width = int(layout[n_global:].sum(dim=1).max()) if n_global < n_blocks else 1
    cols = order[:, :width]  # (nb, W) block indices
    return cols, layout.gather(1, cols)


def bigbird_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    block_size: int = 64,
    window_blocks: int = 3,
    global_blocks: int = 2,
    random_blocks: int = 3,
    seed: int = 0,
    return_weights: bool = False,
) -> BigBirdAttention:
    # One function on purpose: BigBird's block-sparse pass, steps 1–4 in order, read beside the layout on the page.
    """Block-sparse attention over BigBird's layout, exact on its pattern.

    Args:
        q: (..., T, D) queries.
        k: (..., T, D) keys (the same tokens).
        v: (..., T, Dv) values.
        mask: bool broadcastable to (..., T, T), True where allowed; intersected with the pattern.
        scale: multiplies the scores; default 1/√D.
        block_size: b, tokens per block (the last block may be partly empty).
        window_blocks: blocks in the sliding window, the query's own block in the middle (3: one each side).
        global_blocks: how many leading blocks are global.
        random_blocks: random key blocks per query block.
        seed: which random blocks.
        return_weights: also rebuild the T×S weights (zero off the pattern) for pictures, small T.
    Returns:
        BigBirdAttention; output equals scaled_dot_product with mask = bigbird_mask(...) & mask.
    """
    check_qkv(q, k, v, self_attention=True)
    scale = resolve_scale(scale, q.shape[-1])
    lead, t, dv = q.shape[:-2], q.shape[-2], v.shape[-1]
    b, n_blocks, layout = _token_layout(t, block_size, window_blocks, global_blocks, random_blocks, seed)
    if mask is not None:
        mask = as_mask_4d(mask, lead)
    n_global = min(global_blocks, n_blocks)

    # 1. for every query block, the list of key blocks it sees, padded to one width W
    cols, col_ok = _seen_blocks(layout, n_global)  # (nb, W) block indices, False for padding entries
    cols, col_ok = cols.to(q.device), col_ok.to(q.device)
    width = cols.shape[1]

    # 2. blocks of queries, keys and values (the sequence padded to whole blocks)
    pad = n_blocks * b - t
    q3, k3, v3 = flat(q), flat(k), flat(v)  # (N, T, ·)
    n = q3.shape[0]
    q2 = q3 * (scale * LOG2E)  # base-2 scores, see _common
    q_blocks = torch.nn.functional.pad(q2, (0, 0, 0, pad)).view(n, n_blocks, b, -1)  # (N, nb, b, D)
    k_blocks = torch.nn.functional.pad(k3, (0, 0, 0, pad)).view(n, n_blocks, b, -1)  # (N, nb, b, D)
    v_blocks = torch.nn.functional.pad(v3, (0, 0, 0, pad)).view(n, n_blocks, b, dv)  # (N, nb, b, Dv)
    offsets = torch.arange(b, device=q.device)
    output = q3.new_empty(n, n_blocks * b, dv)  # (N, nb·b, Dv)
    lse = q3.new_empty(n, n_blocks * b)  # (N, nb·b)

    # 3. non-global query blocks, a group at a time: gather their key blocks, attend, normalise
    group = max(1, GROUP_SCORES // (n * b * width * b))
    for g0 in range(n_global, n_blocks, group):
        g1 = min(g0 + group, n_blocks)
        blk_cols = cols[g0:g1]  # (g, W)
        k_seen = k_blocks[:, blk_cols].flatten(2, 3)  # (N, g, W·b, D) the gathered key blocks
        v_seen = v_blocks[:, blk_cols].flatten(2, 3)  # (N, g, W·b, Dv)
        scores = q_blocks[:, g0:g1] @ k_seen.transpose(-2, -1)  # (N, g, b, W·b)
        key_pos = (blk_cols[:, :, None] * b + offsets).flatten(1)  # (g, W·b) token position of every key
        allowed = (col_ok[g0:g1, :, None] & (key_pos.view(g1 - g0, width, b) < t)).flatten(1)  # (g, W·b)
        allowed = allowed[:, None, :]  # (g, 1, W·b)
        if mask is not None:
            rows = (g0 * b + torch.arange((g1 - g0) * b, device=q.device)).clamp(max=t - 1).view(g1 - g0, b, 1)
            allowed = allowed & mask_gather(mask, rows, key_pos.clamp(max=t - 1)[:, None, :])
        scores.view(*lead, g1 - g0, b, width * b).masked_fill_(~allowed, NEG_INF)
        part = partial_softmax_(scores, v_seen)  # fields (N, g, b, ·)
        out, row_lse = finish(part.acc, part.row_sum, part.row_max)
        output[:, g0 * b : g1 * b] = out.flatten(1, 2)
        lse[:, g0 * b : g1 * b] = row_lse.flatten(1, 2)
    output_, lse_ = output[:, :t].reshape(*lead, t, dv), lse[:, :t].reshape(*lead, t)

    # 4. global query blocks attend to everything: exact attention, tiled
    g_rows = min(n_global * b, t)
    if g_rows:
        rows = flash_attention(
            q[..., :g_rows, :],
            k,
            v,
            mask=None if mask is None else mask_rows(mask, slice(0, g_rows)),
            scale=scale,
        )
        output_[..., :g_rows, :] = rows.output
        lse_[..., :g_rows] = rows.logsumexp

    weights = None
    if return_weights:
        pattern = layout.repeat_interleave(b, 0).repeat_interleave(b, 1)[:t, :t].to(q.device)  # (T, T)
        weights = weights_from_lse(q, k, lse_, scale, pattern if mask is None else pattern & mask)
    return BigBirdAttention(output=output_, weights=weights, scale=scale, block_size=b, layout=layout, logsumexp=lse_)


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _bigbird_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    layout = {"block_size": int(knobs["block"]), "window_blocks": 3, "global_blocks": 1}
    return layout | {"random_blocks": int(knobs["random"]), "seed": 0}


def _bigbird_pattern(q: Tensor, kwargs: Mapping[str, object]) -> Tensor:
    keys = ("block_size", "window_blocks", "global_blocks", "random_blocks", "seed")  # the run's own seed
    return bigbird_mask(q.shape[-2], **{key: int(kwargs[key]) for key in keys})  # type: ignore[call-overload]


def _bigbird_bench(t: int, heads: int) -> dict[str, object]:
    """The bench's setting: the function's own layout (3 window, 2 global, 3 random blocks, seed 0), in blocks of
    64 (16 below 256 tokens)."""
    return {"block_size": 64 if t >= 256 else 16, "window_blocks": 3, "global_blocks": 2, "random_blocks": 3, "seed": 0}


SPEC = VariantSpec(
    name="bigbird",
    fn=bigbird_attention,
    kind="pattern",
    text=VariantText(
        title="BigBird",
        paper="Zaheer et al., 2020",
        knobs={
            "random": KnobText(
                label="Random blocks per block",
                help="Blocks seen at random, fixed by a seed.",
            ),
            "block": KnobText(
                label="Block size b",
                help="Tokens per block; the pattern is decided block by block.",
            ),
        },
        formula=r"\text{blocks: window (3)} \;\cup\; \text{global (first block)} \;\cup\; r \text{ random blocks}",
        time="O(T·(3 + 1 + r)·b·D)",
        memory="O(T·(3 + 1 + r)·b)",
        keeps_exact="exact softmax on window, global and random blocks",
        costs="every block pair not chosen; the random part changes with the seed",
        choose_when="long inputs where some far links matter (question answering over long text)",
    ),
    knobs=(Knob("random", (0, 1, 2, 3, 4, 6, 8), 1), Knob("block", (1, 2, 3, 4), 2)),
    to_kwargs=_bigbird_kwargs,
    pattern=_bigbird_pattern,
    random=lambda knobs: True,
    swept="random",
    page_part="app_support.efficient.efficient_bigbird",
    bench=(BenchRow("", _bigbird_bench),),
    cases={
        "bigbird": TimingCase(
            make=lambda q, k, v: lambda: bigbird_attention(q, k, v),
            flops=lambda n, h, d: 4.0 * n * min(8 * 64, n) * d * h,
            setting="block 64, 3 window + 2 global + 3 random blocks",
            growth=("T", "T"),
            label="BigBird",
        )
    },
)
