"""Pieces every efficient variant shares: input checks, masks cut to a block, and the softmax in pieces.

The softmax of one row can be computed over separate slices of its keys and merged afterwards, as long
as each slice keeps its own maximum and sum (Milakov & Gimelshein, "Online normalizer calculation for
softmax", 2018). FlashAttention does this tile by tile; Longformer, the Sparse Transformer and Reformer do it
to join a band with global, strided or per-round keys without ever building the T×S matrix:

    m = max_i m_i        l = Σ_i l_i·exp(m_i − m)        O = Σ_i acc_i·exp(m_i − m) / l

Like FlashAttention's kernels, the pieces work in base 2: scores are multiplied by log₂e along with the
scale, so that every exponential is a power of two, exp(x) = 2^(x·log₂e), which this CPU computes about
twice as fast. Only the log-sum-exps handed back are converted to natural logarithms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.errors import AttnvizInputError

NEG_INF = float("-inf")
LOG2E = math.log2(math.e)  # multiply natural-log scores by this to work in base 2
LN2 = math.log(2.0)  # and a base-2 logarithm by this to get back to natural logs

# Queries handled together by Performer: the T×M features of one block stay in the CPU cache instead of
# streaming through main memory, several times faster and the same result.
QUERY_BLOCK = 256


def check_qkv(q: Tensor, k: Tensor, v: Tensor, *, self_attention: bool = False) -> None:
    """Raise ValueError unless q (..., T, D), k (..., S, D) and v (..., S, Dv) fit together."""
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError("q, k and v need at least two dimensions: (..., length, width)")
    if q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            f"q, k and v must share their leading dimensions, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries have width {q.shape[-1]} but keys have width {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{k.shape[-2]} keys but {v.shape[-2]} values")
    if self_attention and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"this pattern is defined on positions, so queries and keys must be the same tokens "
            f"(got T={q.shape[-2]}, S={k.shape[-2]})"
        )


def resolve_scale(scale: float | None, width: int) -> float:
    """1/√D unless the caller gave a scale."""
    return 1.0 / math.sqrt(width) if scale is None else float(scale)


def positive_int(value: int, name: str, *, minimum: int = 1) -> int:
    """A knob a learner sets; raise AttnvizInputError when it is out of range."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise AttnvizInputError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(value)


def flat(x: Tensor) -> Tensor:
    """(..., L, D) → (N, L, D) with N the product of the leading dimensions (a view when x is contiguous)."""
    return x.reshape(math.prod(x.shape[:-2]), x.shape[-2], x.shape[-1])


def as_mask_4d(mask: Tensor, lead: torch.Size) -> Tensor:
    """Give a (..., T, S) mask as many leading dimensions as the batch, so it lines up with it (a view)."""
    if mask.dtype != torch.bool:
        raise ValueError("masks are bool tensors, True where attention is allowed")
    if mask.dim() < 2:
        raise ValueError("a mask needs at least two dimensions (..., T, S)")
    missing = len(lead) + 2 - mask.dim()
    if missing < 0:
        raise ValueError(f"mask of shape {tuple(mask.shape)} has more dimensions than the batch {tuple(lead)}")
    return mask.reshape((1,) * missing + tuple(mask.shape))


def key_mask(mask: Tensor | None, lead: torch.Size, s: int, variant: str) -> Tensor | None:
    """Reduce a mask that only drops keys (shape (..., 1, S)) to (..., S); refuse per-query masks.

    Linformer, Performer and Nyströmformer mix the keys before any query meets them, so a mask that differs
    from query to query (causal, a band) cannot be applied; dropping keys (padding) can.
    """
    if mask is None:
        return None
    mask = as_mask_4d(mask, lead)
    if mask.shape[-2] != 1:
        raise AttnvizInputError(
            f"{variant} mixes the keys before comparing them with queries, so it can only drop keys "
            "(a padding mask of shape (..., 1, S)), not a mask that differs per query such as the causal one"
        )
    return mask[..., 0, :].expand(*lead, s)  # (..., S)


def mask_rows(mask: Tensor, rows: slice | Tensor) -> Tensor:
    """The rows of a broadcastable (..., T, S) mask; a mask with one row (padding) is shared by all."""
    return mask if mask.shape[-2] == 1 else mask[..., rows, :]


def mask_block(mask: Tensor, rows: slice, cols: slice) -> Tensor:
    """mask[..., rows, cols] for a broadcastable mask, keeping its size-1 dimensions as they are."""
    r = slice(None) if mask.shape[-2] == 1 else rows
    c = slice(None) if mask.shape[-1] == 1 else cols
    return mask[..., r, c]


def mask_gather(mask: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """mask[..., rows, cols] with index tensors that broadcast against each other.

    Args:
        mask: (..., T, S) bool, any of the two last dimensions may be 1.
        rows: long indices of queries; cols: long indices of keys; e.g. rows (C, c, 1), cols (C, 1, W).
    Returns:
        (..., *broadcast(rows, cols)) bool.
    """
    r = torch.zeros_like(rows) if mask.shape[-2] == 1 else rows
    c = torch.zeros_like(cols) if mask.shape[-1] == 1 else cols
    return mask[..., r, c]


def mask_gather_per_row(mask: Tensor, lead: torch.Size, rows: Tensor, cols: Tensor) -> Tensor:
    """Like mask_gather, with different indices for every batch entry (Reformer sorts each head its own way).

    Args:
        mask: (..., T, S) bool with as many leading dimensions as ``lead`` (see as_mask_4d), each 1 or full.
        lead: the batch's leading dimensions; N = their product.
        rows, cols: (N, ...) long indices, broadcastable against each other.
    Returns:
        (N, *broadcast(rows, cols)[1:]) bool: mask[batch entry n, rows[n], cols[n]].
    """
    n = math.prod(lead)
    rest = torch.arange(n, device=rows.device).view(n, *([1] * (max(rows.dim(), cols.dim()) - 1)))
    index: list[Tensor] = []
    for size, mask_size in reversed(list(zip(lead, mask.shape[:-2], strict=True))):
        # the flat batch index n, decomposed into one index per leading dimension (the last varies fastest)
        index.insert(0, rest % size if mask_size != 1 else torch.zeros_like(rest))
        rest = rest // size
    r = torch.zeros_like(rows) if mask.shape[-2] == 1 else rows
    c = torch.zeros_like(cols) if mask.shape[-1] == 1 else cols
    return mask[(*index, r, c)]


@dataclass(frozen=True)
class Partial:
    """A row's softmax over one slice of its keys, before normalisation (in base 2, see above)."""

    row_max: Tensor  # (..., T, 1) largest base-2 score in the slice; -inf where the row saw no allowed key
    row_sum: Tensor  # (..., T, 1) Σ 2^(s − row_max) over the slice
    acc: Tensor  # (..., T, Dv) Σ 2^(s − row_max)·v over the slice


def safe_max(row_max: Tensor) -> Tensor:
    """The row maximum with -inf replaced by 0: a row without keys then gives 2^(-inf - 0) = 0, not NaN."""
    return row_max.masked_fill(row_max == NEG_INF, 0.0)


def partial_softmax_(scores2: Tensor, v: Tensor) -> Partial:
    """One slice of the softmax. Overwrites ``scores2`` with 2^(scores2 − row_max) to save memory.

    Args:
        scores2: (..., T, W) base-2 scores of the slice (q·kᵀ·scale·log₂e), -inf where masked.
        v: (..., W, Dv) the values of the slice.
    """
    row_max = scores2.amax(dim=-1, keepdim=True)  # (..., T, 1)
    p = scores2.sub_(safe_max(row_max)).exp2_()  # (..., T, W) unnormalised weights, in place
    return Partial(row_max=row_max, row_sum=p.sum(dim=-1, keepdim=True), acc=p @ v)


def merge_(parts: Sequence[Partial], out: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Join slices of the same rows: the softmax over all their keys, as if computed at once.

    Overwrites the first part's accumulator (the others are only read).

    Args:
        parts: slices of the same rows, each with fields (..., T, ·).
        out: (..., T, Dv) where to write the output (a new tensor when None).
    Returns:
        output (..., T, Dv), and the natural log-sum-exp of every row (..., T) (-inf for a row without keys).
    """
    if len(parts) == 1:  # nothing to rescale
        return finish(parts[0].acc, parts[0].row_sum, parts[0].row_max, out)
    row_max = parts[0].row_max
    for part in parts[1:]:
        row_max = torch.maximum(row_max, part.row_max)
    shift = safe_max(row_max)  # (..., T, 1)
    # rescale each slice from its own maximum to the common one
    factor = torch.exp2(parts[0].row_max - shift)  # (..., T, 1)
    row_sum = parts[0].row_sum * factor
    acc = parts[0].acc.mul_(factor)  # (..., T, Dv)
    for part in parts[1:]:
        factor = torch.exp2(part.row_max - shift)
        row_sum += part.row_sum * factor
        acc.addcmul_(part.acc, factor)
    return finish(acc, row_sum, row_max, out)


def finish(acc: Tensor, row_sum: Tensor, row_max: Tensor, out: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Divide by the softmax sum. Returns output (..., T, Dv) and the natural log-sum-exp (..., T).

    A row that saw no key has row_sum = 0 and accumulator 0; dividing it by 1 instead leaves its output 0, as
    in the exact path. (Every other row has row_sum > 0: at least 1 when its slices were shifted by their
    maximum, at least 2^-SHIFT_FREE_BOUND when they were not, see banded.banded_attention.)
    """
    output = torch.div(acc, row_sum.masked_fill(row_sum == 0, 1.0), out=out)  # (..., T, Dv)
    lse = ((safe_max(row_max) + row_sum.log2()) * LN2).squeeze(-1)  # (..., T); log 0 = -inf for empty rows
    return output, lse


def weights_from_lse(q: Tensor, k: Tensor, lse: Tensor, scale: float, allowed: Tensor | None = None) -> Tensor:
    """Rebuild the attention matrix exp(q·kᵀ·scale − lse) from the row log-sum-exps an efficient pass kept.

    This is how FlashAttention's backward pass recovers the weights; here it serves the pictures, on request,
    for small T. Entries outside ``allowed`` are 0.

    Args:
        q: (..., T, D), k: (..., S, D), lse: (..., T), allowed: bool broadcastable to (..., T, S).
    Returns:
        (..., T, S)
    """
    scaled = (q @ k.transpose(-2, -1)) * scale  # (..., T, S)
    seen = torch.isfinite(lse).unsqueeze(-1)  # (..., T, 1) rows that saw at least one key
    weights = torch.exp(scaled - torch.where(seen, lse.unsqueeze(-1), 0.0))  # (..., T, S)
    weights = torch.where(seen, weights, 0.0)
    return weights if allowed is None else weights.masked_fill(~allowed, 0.0)


def generator(seed: int) -> torch.Generator:
    """A CPU generator: draws are made on the CPU so that a seed gives the same draw on every device."""
    return torch.Generator().manual_seed(int(seed))
