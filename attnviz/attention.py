"""The exact formulas of attention, from the similarity matrix to multi-head attention.

Vaswani et al., "Attention Is All You Need" (2017). Every function returns its intermediates so that a
caller can show each step without computing it again.

    S = I·Iᵀ                      the similarity matrix
    O = S·I                       every word becomes a weighted mix of the sentence
    A = softmax(Q·Kᵀ·scale + M)   attention weights, M = 0 where allowed and -inf where masked
    O = A·V
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from attnviz.checks import whole_number
from attnviz.errors import AttnvizInputError


def mix(weights: Tensor, values: Tensor) -> Tensor:
    """O = W·V: row t of the output is Σ_s weights[t, s] · values[s].

    Args:
        weights: (..., T, S) one row of mixing weights per output token.
        values: (..., S, D) the vectors being mixed.
    Returns:
        (..., T, D)
    """
    return weights @ values  # (..., T, D)


@dataclass(frozen=True)
class Attention:
    """Everything one call of attention computed. Efficient variants subclass it with their own extras.

    A variant that never builds the T×S matrix (FlashAttention, Performer) leaves ``scores``, ``scaled`` and
    ``weights`` as None.
    """

    output: Tensor  # (..., T, D) the mixed values
    scores: Tensor | None = None  # (..., T, S) raw q·k
    scaled: Tensor | None = None  # (..., T, S) scores·scale/temperature, -inf where masked
    weights: Tensor | None = None  # (..., T, S) row-wise softmax of `scaled`; each allowed row sums to 1
    scale: float = 1.0  # the factor the scores were multiplied by (1/√D unless given)


class AttentionFn(Protocol):
    """The signature every attention implementation shares, so that one can be swapped for another."""

    def __call__(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: float | None = None
    ) -> Attention: ...


def causal_mask(t: int, s: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """Decoder-style mask: token t may look at keys 0..t only.

    Returns:
        (T, S) bool, True where attention is allowed.
    """
    s = t if s is None else s
    return torch.ones(t, s, dtype=torch.bool, device=device).tril(diagonal=s - t)  # (T, S)


def padding_mask(keep: Tensor) -> Tensor:
    """Mask out padded keys.

    Args:
        keep: (B, S) bool, True for real tokens.
    Returns:
        (B, 1, 1, S) bool, broadcastable against (B, H, T, S) scores.
    """
    return keep[:, None, None, :].to(torch.bool)


def scaled_dot_product(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    temperature: float = 1.0,
) -> Attention:
    """softmax(Q·Kᵀ·scale/temperature + M)·V with every intermediate kept.

    Args:
        q: (..., T, D) queries.
        k: (..., S, D) keys.
        v: (..., S, Dv) values.
        mask: bool, broadcastable to (..., T, S), True where attention is allowed.
        scale: multiplies the scores; default 1/√D.
        temperature: divides the scaled scores; above 1 flattens the rows, below 1 sharpens them.
    Returns:
        Attention. A row whose keys are all masked gets zero weights and a zero output.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    # 1. how well each query matches each key
    scores = q @ k.transpose(-2, -1)  # (..., T, S)
    # 2. scale, so that the spread of the scores does not grow with D
    scaled = scores * (scale / temperature)  # (..., T, S)
    if mask is not None:
        scaled = scaled.masked_fill(~mask, float("-inf"))
    # 3. softmax along each row; a fully masked row would be 0/0, make it all zeros instead
    weights = torch.softmax(scaled, dim=-1)  # (..., T, S)
    if mask is not None:
        weights = torch.nan_to_num(weights, nan=0.0)
    # 4. mix the values
    output = weights @ v  # (..., T, Dv)
    return Attention(output=output, scores=scores, scaled=scaled, weights=weights, scale=scale)


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """(..., T, H·Dh) → (..., H, T, Dh)."""
    *lead, t, width = x.shape
    if width % n_heads:
        raise ValueError(f"width {width} does not split into {n_heads} heads")
    return x.reshape(*lead, t, n_heads, width // n_heads).transpose(-3, -2)  # (..., H, T, Dh)


def merge_heads(x: Tensor) -> Tensor:
    """(..., H, T, Dh) → (..., T, H·Dh), the heads side by side."""
    *lead, h, t, dh = x.shape
    return x.transpose(-3, -2).reshape(*lead, t, h * dh)  # (..., T, H·Dh)


@dataclass(frozen=True)
class MultiHead:
    """Multi-head attention with its pieces: per-head Q, K, V and attention, the concatenation, W_O."""

    q: Tensor  # (..., H, T, Dh)
    k: Tensor  # (..., H, S, Dh)
    v: Tensor  # (..., H, S, Dh)
    heads: Attention  # every field carries the head axis: weights (..., H, T, S), output (..., H, T, Dh)
    concat: Tensor  # (..., T, H·Dh)
    output: Tensor  # (..., T, Dout) concat·W_O (+ b_O)


def multi_head(
    x: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    w_o: Tensor,
    n_heads: int,
    *,
    b_q: Tensor | None = None,
    b_k: Tensor | None = None,
    b_v: Tensor | None = None,
    b_o: Tensor | None = None,
    mask: Tensor | None = None,
    temperature: float = 1.0,
    attend: AttentionFn | None = None,
    context: Tensor | None = None,
) -> MultiHead:
    """Project, split into heads, attend per head, concatenate, project back.

    Weights act on the right, as in the course's Q = I·M_Q.

    Args:
        x: (..., T, D) token vectors (queries come from here).
        w_q, w_k, w_v: (D, H·Dh) projections; b_*: (H·Dh,) optional biases.
        w_o: (H·Dh, Dout) output projection; b_o: (Dout,) optional bias.
        n_heads: H.
        mask: bool, broadcastable to (..., H, T, S), True where attention is allowed.
        temperature: passed to the exact attention (ignored when ``attend`` is given).
        attend: an attention implementation to use instead of the exact one.
        context: (..., S, D) where keys and values come from; default ``x`` (self-attention).
    """
    ctx = x if context is None else context

    def project(inp: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        out = inp @ w  # (..., T, H·Dh)
        return out if b is None else out + b

    q = split_heads(project(x, w_q, b_q), n_heads)  # (..., H, T, Dh)
    k = split_heads(project(ctx, w_k, b_k), n_heads)  # (..., H, S, Dh)
    v = split_heads(project(ctx, w_v, b_v), n_heads)  # (..., H, S, Dh)
    if attend is None:
        heads = scaled_dot_product(q, k, v, mask=mask, temperature=temperature)
    else:
        heads = attend(q, k, v, mask=mask)
    concat = merge_heads(heads.output)  # (..., T, H·Dh)
    output = project(concat, w_o, b_o)  # (..., T, Dout)
    return MultiHead(q=q, k=k, v=v, heads=heads, concat=concat, output=output)


# ------------------------------------------------------------------------------ why the scores are scaled, measured


@dataclass(frozen=True)
class ScoreVariance:
    """The spread of q·k for random vectors, measured at several widths D (why attention divides by √D)."""

    dims: tuple[int, ...]  # the widths measured
    raw: tuple[float, ...]  # variance of q·k at each width; theory: D
    scaled: tuple[float, ...]  # variance of q·k/√D; theory: 1
    samples: int  # (q, k) pairs drawn per width
    seed: int


DEFAULT_DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
MAX_SAMPLES = 100_000


def score_variance(dims: tuple[int, ...] = DEFAULT_DIMS, samples: int = 4000, seed: int = 0) -> ScoreVariance:
    """Measure Var(q·k) for q, k with independent N(0, 1) entries, at each width in ``dims``.

    q·k = Σᵢ qᵢkᵢ is a sum of D independent terms of variance 1, so its variance is D: the wider the head,
    the larger the scores and the closer softmax comes to one-hot. Dividing by √D brings it back to 1.

    Args:
        dims: widths, each a whole number from 1 to 4096.
        samples: pairs per width, 2 to `MAX_SAMPLES`.
        seed: the draws are reproducible.
    Returns:
        ScoreVariance (unbiased sample variances).
    """
    if not dims:
        raise AttnvizInputError("no widths to measure")
    for d in dims:
        whole_number(d, "each width", 1, 4096)
    whole_number(samples, "samples", 2, MAX_SAMPLES)
    g = torch.Generator().manual_seed(seed)
    raw, scaled = [], []
    for d in dims:
        q = torch.randn(samples, d, generator=g, dtype=torch.float64)  # (N, D)
        k = torch.randn(samples, d, generator=g, dtype=torch.float64)  # (N, D)
        dots = (q * k).sum(dim=-1)  # (N,) one q·k per pair
        raw.append(float(dots.var()))
        scaled.append(float((dots / math.sqrt(d)).var()))
    return ScoreVariance(dims=tuple(dims), raw=tuple(raw), scaled=tuple(scaled), samples=samples, seed=seed)


@dataclass(frozen=True)
class SoftmaxStats:
    """How peaked the rows of an attention matrix are."""

    row_sums: tuple[float, ...]  # T; 1 for every row that has an allowed key
    top_weight: tuple[float, ...]  # T; the largest weight in each row
    one_hot_rows: int  # rows whose largest weight is above `ONE_HOT`
    mean_top: float  # mean of top_weight: 1/S for even rows, 1 for one-hot rows


ONE_HOT = 0.9  # a row giving more than this to one key counts as (nearly) one-hot


def softmax_stats(weights: Tensor) -> SoftmaxStats:
    """Row sums and peakedness of (T, S) attention weights."""
    if weights.ndim != 2:
        raise AttnvizInputError("expected one (T, S) matrix of weights")
    top = weights.max(dim=-1).values  # (T,)
    return SoftmaxStats(
        row_sums=tuple(float(s) for s in weights.sum(dim=-1)),
        top_weight=tuple(float(t) for t in top),
        one_hot_rows=int((top > ONE_HOT).sum()),
        mean_top=float(top.mean()),
    )


def top_weight_curve(
    scores: Tensor, temperatures: Sequence[float], scale: float = 1.0, allowed: Tensor | None = None
) -> list[float]:
    """The largest softmax weight of one row of scores at each temperature: how fast the row saturates.

    Args:
        scores: (S,) one row of raw q·k.
        temperatures: positive values of τ.
        scale: multiplies the scores first (1/√D for scaled attention).
        allowed: (S,) bool, True where the key may be attended to.
    Returns:
        one largest weight per temperature, in [1/S, 1].
    """
    taus = torch.tensor(list(temperatures), dtype=scores.dtype, device=scores.device)  # (N,)
    if taus.numel() == 0 or bool((taus <= 0).any()):
        raise AttnvizInputError("temperatures must be positive")
    scaled = scores[None, :] * (scale / taus[:, None])  # (N, S)
    if allowed is not None:
        scaled = scaled.masked_fill(~allowed[None, :], float("-inf"))
    return torch.softmax(scaled, dim=-1).max(dim=-1).values.tolist()  # (N,)


def even_split(allowed: Tensor) -> Tensor:
    """The weight each key would get if a row spread its attention evenly over the keys it may see.

    Args:
        allowed: (..., T, S) bool, True where attention is allowed (e.g. `causal_mask`).
    Returns:
        (..., T) 1 / (number of allowed keys) per row; 0 for a row with none. Under the causal mask row i sees
        i + 1 keys, so the even split is 1/(i+1), not 1/S.
    """
    counts = allowed.sum(dim=-1).to(torch.float32)  # (..., T)
    return torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))  # (..., T)


@dataclass(frozen=True)
class Received:
    """How much attention each key receives, summed over the rows that look at it."""

    total: Tensor  # (..., S) column sums of the weights; over all keys they add up to the number of rows
    mean: Tensor  # (..., S) total / the number of rows allowed to see the key (0 where none may)
    even: Tensor  # (..., S) what `mean` would be if every row spread its weight evenly over its allowed keys


def attention_received(weights: Tensor, allowed: Tensor | None = None) -> Received:
    """Column sums of an attention matrix: the attention each word receives from the whole sentence.

    Args:
        weights: (..., T, S) softmax rows.
        allowed: bool, broadcastable to (..., T, S), True where attention is allowed; default everywhere.
    Returns:
        Received.
    """
    if weights.ndim < 2:
        raise AttnvizInputError("expected a (T, S) matrix of weights")
    allowed = torch.ones_like(weights, dtype=torch.bool) if allowed is None else allowed.expand_as(weights)
    total = weights.sum(dim=-2)  # (..., S)
    lookers = allowed.sum(dim=-2).to(weights.dtype)  # (..., S) rows that may attend to each key
    mean = torch.where(lookers > 0, total / lookers.clamp(min=1), torch.zeros_like(total))  # (..., S)
    split = even_split(allowed).to(weights.dtype)  # (..., T)
    even_total = (allowed.to(weights.dtype) * split[..., :, None]).sum(dim=-2)  # (..., S)
    even = torch.where(lookers > 0, even_total / lookers.clamp(min=1), torch.zeros_like(total))  # (..., S)
    return Received(total=total, mean=mean, even=even)
