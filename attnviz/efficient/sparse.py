"""Sparse Transformer: the strided and fixed factorised patterns, each the union of two cheap parts.

Child, Gray, Radford, Sutskever, "Generating Long Sequences with Sparse Transformers" (2019). With stride l
(about √T) and, for "fixed", c summary positions per block, token i attends to key j when (causal: j ≤ i)

    strided   A: i − l < j ≤ i (the previous l tokens)       B: (i − j) mod l = 0 (every l-th token back)
    fixed     A: ⌊j/l⌋ = ⌊i/l⌋ (its own block)               B: j mod l ≥ l − c (the last c of every block)

Here both parts are merged into one head (the paper's "merged" variant); with ``causal=False`` the same
patterns reach both ways. Each part is computed on its own and the two softmax slices are joined (see
_common.merge), the keys they share counted once:

    strided A is a band (banded.banded_attention); strided B is, for each residue t mod l, plain attention
    along the T/l tokens of that residue; fixed A is block-diagonal; fixed B is attention to the T·c/l summary
    keys. Time O(T·(l + T/l)·D) = O(T·√T·D) for l = √T; no T×S matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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
    merge_,
    partial_softmax_,
    positive_int,
    resolve_scale,
    weights_from_lse,
)
from attnviz.efficient.banded import banded_attention
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText
from attnviz.errors import AttnvizInputError

SparsePattern = Literal["strided", "fixed"]


@dataclass(frozen=True, kw_only=True)
class SparseAttention(Attention):
    """The Sparse Transformer's result. ``weights`` (T×S, 0 off the pattern) only with return_weights=True."""

    pattern: SparsePattern  # "strided" or "fixed"
    stride: int  # l
    summary: int  # c, summary positions per block ("fixed" only)
    causal: bool  # whether tokens see only earlier keys
    logsumexp: Tensor  # (..., T) log of each row's softmax denominator


def _check(t: int, pattern: str, stride: int | None, summary: int) -> tuple[int, int]:
    if pattern not in ("strided", "fixed"):
        raise AttnvizInputError(f"the Sparse Transformer pattern is 'strided' or 'fixed', not {pattern!r}")
    stride = max(1, round(math.sqrt(t))) if stride is None else positive_int(stride, "the stride l")
    summary = positive_int(summary, "the number of summary positions c")
    return stride, min(summary, stride)


def sparse_mask(
    t: int,
    *,
    pattern: SparsePattern = "strided",
    stride: int | None = None,
    summary: int = 1,
    causal: bool = True,
    device: torch.device | str | None = None,
) -> Tensor:
    """The pattern as a picture, without attending through it.

    Returns:
        (T, T) bool, True where token i (row) may attend to token j (column).
    """
    stride, summary = _check(t, pattern, stride, summary)
    i = torch.arange(t, device=device)[:, None]
    j = torch.arange(t, device=device)[None, :]
    return sparse_allowed(i, j, pattern=pattern, stride=stride, summary=summary, causal=causal)


def sparse_allowed(i: Tensor, j: Tensor, *, pattern: str, stride: int, summary: int, causal: bool) -> Tensor:
    """Whether query position i may attend to key position j (integer tensors that broadcast): the pattern's
    one definition, used by sparse_mask and by FlexAttention's mask function (attnviz.efficient.flex)."""
    if pattern == "strided":
        near = (i - j).abs() < stride  # A
        allowed = near | ((i - j) % stride == 0)  # ∪ B
    else:
        allowed = (i // stride == j // stride) | (j % stride >= stride - summary)  # A ∪ B
    return allowed & (j <= i) if causal else allowed


def _strided_part(
    q3: Tensor, k3: Tensor, v3: Tensor, lead: torch.Size, stride: int, causal: bool, mask: Tensor | None
) -> Partial:
    """Keys l, 2l, 3l … away (not the token itself): for each residue, attention along its T/l tokens."""
    n, t = q3.shape[0], q3.shape[1]
    rows = -(-t // stride)  # R: tokens per residue
    pad = rows * stride - t

    def grid(x: Tensor) -> Tensor:  # (N, T, ·) → (N, l, R, ·), position = row·l + residue
        return torch.nn.functional.pad(x, (0, 0, 0, pad)).view(n, rows, stride, -1).transpose(1, 2)

    scores = grid(q3) @ grid(k3).transpose(-2, -1)  # (N, l, R, R)
    pos = torch.arange(rows, device=q3.device)[:, None] * stride + torch.arange(stride, device=q3.device)
    pos = pos.T  # (l, R) token position of every grid cell
    row_q = torch.arange(rows, device=q3.device)[:, None]
    row_k = torch.arange(rows, device=q3.device)[None, :]
    allowed = (row_k < row_q) if causal else (row_k != row_q)  # (R, R) the token itself is in the band
    allowed = allowed & (pos < t)[:, None, :]  # (l, R, R) padding is no key
    if mask is not None:
        p = pos.clamp(max=t - 1)
        allowed = allowed & mask_gather(mask, p[:, :, None], p[:, None, :])
    scores.view(*lead, stride, rows, rows).masked_fill_(~allowed, NEG_INF)
    part = partial_softmax_(scores, grid(v3))  # fields (N, l, R, ·)

    def tokens(x: Tensor) -> Tensor:  # (N, l, R, ·) → (N, T, ·)
        return x.transpose(1, 2).reshape(n, rows * stride, -1)[:, :t]

    return Partial(row_max=tokens(part.row_max), row_sum=tokens(part.row_sum), acc=tokens(part.acc))


def _fixed_parts(
    q3: Tensor,
    k3: Tensor,
    v3: Tensor,
    lead: torch.Size,
    stride: int,
    summary: int,
    causal: bool,
    mask: Tensor | None,
) -> list[Partial]:
    """A: attention inside each block of l tokens; B: attention to the summary keys of the other blocks."""
    n, t, dv = q3.shape[0], q3.shape[1], v3.shape[-1]
    blocks = -(-t // stride)
    pad = blocks * stride - t
    device = q3.device

    def blocked(x: Tensor) -> Tensor:  # (N, T, ·) → (N, nb, l, ·)
        return torch.nn.functional.pad(x, (0, 0, 0, pad)).view(n, blocks, stride, -1)

    # A: block-diagonal
    pos = torch.arange(blocks * stride, device=device).view(blocks, stride)  # (nb, l)
    scores = blocked(q3) @ blocked(k3).transpose(-2, -1)  # (N, nb, l, l)
    allowed = (pos < t)[:, None, :]  # (nb, 1, l)
    if causal:
        allowed = allowed & torch.ones(stride, stride, dtype=torch.bool, device=device).tril()
    if mask is not None:
        p = pos.clamp(max=t - 1)
        allowed = allowed & mask_gather(mask, p[:, :, None], p[:, None, :])
    scores.view(*lead, blocks, stride, stride).masked_fill_(~allowed, NEG_INF)
    own = partial_softmax_(scores, blocked(v3))  # fields (N, nb, l, ·)
    own = Partial(
        row_max=own.row_max.view(n, -1, 1)[:, :t],
        row_sum=own.row_sum.view(n, -1, 1)[:, :t],
        acc=own.acc.view(n, -1, dv)[:, :t],
    )

    # B: the last `summary` positions of every block, seen from the other (causal: earlier) blocks
    cols = pos[:, stride - summary :].reshape(-1)  # (nb·c,) summary positions
    cols = cols[cols < t]
    if cols.numel() == 0:  # a single, partial block has no summary keys
        return [own]
    scores = q3 @ k3[:, cols].transpose(1, 2)  # (N, T, nb·c)
    block_q = torch.arange(t, device=device)[:, None] // stride
    block_k = cols[None, :] // stride
    allowed = (block_k < block_q) if causal else (block_k != block_q)  # (T, nb·c)
    if mask is not None:
        allowed = allowed & mask_gather(mask, torch.arange(t, device=device)[:, None], cols[None, :])
    scores.view(*lead, t, cols.numel()).masked_fill_(~allowed, NEG_INF)
    return [own, partial_softmax_(scores, v3[:, cols])]


def sparse_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    pattern: SparsePattern = "strided",
    stride: int | None = None,
    summary: int = 1,
    causal: bool = True,
    return_weights: bool = False,
) -> SparseAttention:
    """Attention over the Sparse Transformer's strided or fixed pattern, exact on the pattern.

    Args:
        q: (..., T, D) queries.
        k: (..., T, D) keys (the same tokens).
        v: (..., T, Dv) values.
        mask: bool broadcastable to (..., T, T), True where allowed; intersected with the pattern.
        scale: multiplies the scores; default 1/√D.
        pattern: ``"strided"`` (for data with a period, images) or ``"fixed"`` (for text).
        stride: l; default round(√T).
        summary: c, summary positions at the end of each block ("fixed").
        causal: keys only up to the query (as in the paper, a decoder); False reaches both ways.
        return_weights: also rebuild the T×S weights (zero off the pattern) for pictures, small T.
    Returns:
        SparseAttention; output equals scaled_dot_product with mask = sparse_mask(...) & mask.
    """
    check_qkv(q, k, v, self_attention=True)
    scale = resolve_scale(scale, q.shape[-1])
    lead, t, dv = q.shape[:-2], q.shape[-2], v.shape[-1]
    stride, summary = _check(t, pattern, stride, summary)
    if mask is not None:
        mask = as_mask_4d(mask, lead)
    q3, k3, v3 = flat(q * (scale * LOG2E)), flat(k), flat(v)  # (N, T, ·), base-2 scores (see _common)

    if pattern == "strided":
        # 1. every l-th key back (and forward, if not causal), for all rows at once
        strided = _strided_part(q3, k3, v3, lead, stride, causal, mask)
        # 2. the band of the l nearest keys, joined chunk by chunk with the strided slice of the same rows
        output, lse = banded_attention(
            q,
            k,
            v,
            left=stride - 1,
            right=0 if causal else stride - 1,
            scale=scale,
            mask=mask,
            extra=lambda r0, r1: (
                Partial(strided.row_max[:, r0:r1], strided.row_sum[:, r0:r1], strided.acc[:, r0:r1]),
            ),
        )
    else:
        # 1. own block, 2. summary keys of the other blocks, 3. one softmax over both
        output3, lse3 = merge_(_fixed_parts(q3, k3, v3, lead, stride, summary, causal, mask))
        output, lse = output3.view(*lead, t, dv), lse3.view(*lead, t)

    weights = None
    if return_weights:
        allowed = sparse_mask(t, pattern=pattern, stride=stride, summary=summary, causal=causal, device=q.device)
        weights = weights_from_lse(q, k, lse, scale, allowed if mask is None else allowed & mask)
    return SparseAttention(
        output=output,
        weights=weights,
        scale=scale,
        pattern=pattern,
        stride=stride,
        summary=summary,
        causal=causal,
        logsumexp=lse,
    )


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _sparse_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    return {"stride": fit.cut(int(knobs["stride"]), "Stride"), "pattern": knobs["pattern"], "causal": False}


def _sparse_pattern(q: Tensor, kwargs: Mapping[str, object]) -> Tensor:
    return sparse_mask(q.shape[-2], pattern=kwargs["pattern"], stride=int(kwargs["stride"]), causal=False)  # type: ignore


def _sparse_flops(n: int, heads: int, d: int) -> float:
    stride = max(1, round(math.sqrt(n)))
    return 4.0 * n * (stride + n / stride) / 2 * d * heads  # causal: half of band + strided


def _sparse_bench(t: int, heads: int) -> dict[str, object]:
    """The bench's setting: the strided pattern with l = round(√T), both directions (as on page 6)."""
    return {"stride": max(1, round(math.sqrt(t))), "pattern": "strided", "causal": False}


SPEC = VariantSpec(
    name="sparse",
    fn=sparse_attention,
    kind="pattern",
    text=VariantText(
        title="Sparse Transformer",
        paper="Child et al., 2019",
        knobs={
            "stride": KnobText(
                label="Stride l",
                help="About √T in the paper.",
            ),
            "pattern": KnobText(
                label="Pattern",
                help=(
                    "Both directions here. strided: every token less than l away and every l-th token, on either "
                    "side. fixed: the token's own block of l and the last token of every block."
                ),
            ),
        },
        formula=(
            r"\text{strided: } |t-s| < l \;\lor\; (t-s) \bmod l = 0,\qquad \text{fixed: } \lfloor s/l\rfloor = \lfloor "
            r"t/l\rfloor \;\lor\; s \bmod l = l-1"
        ),
        time="O(T·√T·D) with l = √T",
        memory="O(T·√T)",
        keeps_exact="exact softmax on its two-part pattern",
        costs="every pair off the pattern",
        choose_when="long sequences with a period (images, audio, music)",
    ),
    knobs=(Knob("stride", (1, 2, 3, 4, 5, 6, 8, 10, 12, 16), 3), Knob("pattern", ("strided", "fixed"), "strided")),
    to_kwargs=_sparse_kwargs,
    pattern=_sparse_pattern,
    swept="stride",
    page_part="app_support.efficient.efficient_sparse",
    bench=(BenchRow("strided, both ways", _sparse_bench),),
    cases={
        "sparse": TimingCase(
            make=lambda q, k, v: lambda: sparse_attention(q, k, v, pattern="strided"),
            flops=_sparse_flops,
            setting="strided, l=round(√n), causal",
            growth=("T·√T", "T·√T"),  # stride √T: √T neighbours plus T/√T strided keys per query
            label="Sparse Transformer",
        )
    },
)
