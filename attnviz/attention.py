"""The exact formulas of attention, from the similarity matrix to multi-head attention.

Vaswani et al., "Attention Is All You Need" (2017). Every function returns its intermediates so that a
page can draw each step without computing it again.

    S = I·Iᵀ                      the similarity matrix (lesson 2)
    O = S·I                       every word becomes a weighted mix of the sentence (lesson 2)
    A = softmax(Q·Kᵀ·scale + M)   attention weights, M = 0 where allowed and -inf where masked (lesson 4)
    O = A·V
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import Tensor

SimilarityKind = Literal["dot", "cosine"]


def similarity_matrix(x: Tensor, kind: SimilarityKind = "dot") -> Tensor:
    """S = I·Iᵀ, every row of ``x`` against every other.

    Args:
        x: (T, D) one vector per token.
        kind: ``"dot"`` for raw dot products, ``"cosine"`` to divide each entry by both lengths first.
    Returns:
        (T, T) symmetric; the diagonal holds squared lengths (dot) or ones (cosine).
    """
    if kind == "cosine":
        x = torch.nn.functional.normalize(x, dim=-1)  # (T, D) unit rows
    elif kind != "dot":
        raise ValueError(f"unknown similarity kind {kind!r}")
    return x @ x.transpose(-2, -1)  # (T, T)


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
