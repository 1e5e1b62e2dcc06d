"""The learned projections of attention: Q = I·M_Q, K = I·M_K, V = I·M_V.

Vaswani et al., "Attention Is All You Need" (2017), section 3.2.2: every head multiplies the token vectors by its
own matrices before comparing them. With all three matrices the identity, Q·Kᵀ is the similarity matrix
S = I·Iᵀ exactly.

    Q = I·M_Q + b_Q     (T, Dk)   what each token is looking for
    K = I·M_K + b_K     (S, Dk)   what each token offers to be found by
    V = I·M_V + b_V     (S, Dv)   what each token hands over once found
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.checks import whole_number
from attnviz.embeddings import pca
from attnviz.errors import AttnvizInputError
from attnviz.host import to_host

MAX_SEED = 2**31 - 1  # torch.Generator takes any 64-bit seed; pages keep to this range


@dataclass(frozen=True, eq=False)
class Projections:
    """M_Q, M_K, M_V of one head, acting on the right as in Q = I·M_Q. Biases are optional (the real model has
    them; the GloVe choices do not)."""

    name: str  # what they are, for titles: "identity", "random (seed 0)", "trained here", "layer 1, head 3"
    m_q: Tensor  # (D, Dk)
    m_k: Tensor  # (D, Dk)
    m_v: Tensor  # (D, Dv)
    b_q: Tensor | None = None  # (Dk,)
    b_k: Tensor | None = None  # (Dk,)
    b_v: Tensor | None = None  # (Dv,)

    @property
    def width(self) -> int:
        """Dk, the length of a query or key vector."""
        return int(self.m_q.shape[1])


@dataclass(frozen=True, eq=False)
class QKV:
    """A sentence pushed through one head's projections."""

    q: Tensor  # (T, Dk)
    k: Tensor  # (T, Dk)
    v: Tensor  # (T, Dv)
    scores: Tensor  # (T, T) Q·Kᵀ, raw: no scale and no softmax yet


def identity_projections(d: int, device: torch.device | str | None = None) -> Projections:
    """M_Q = M_K = M_V = the D×D identity: Q = K = V = I, so Q·Kᵀ = I·Iᵀ and (Q·Kᵀ)·V = S·I."""
    eye = torch.eye(whole_number(d, "the width", 1), device=device)  # (D, D)
    return Projections(name="identity", m_q=eye, m_k=eye, m_v=eye)


def random_projections(
    d: int, width: int | None = None, seed: int = 0, device: torch.device | str | None = None
) -> Projections:
    """Three seeded random matrices, entries drawn from N(0, 1/D) so that a vector keeps about its length.

    Args:
        d: D, the width of the input vectors.
        width: Dk = Dv, the width of q, k and v; default D.
    Returns:
        Projections; the same seed always gives the same matrices, on any device.
    """
    d = whole_number(d, "the width", 1)
    width = d if width is None else whole_number(width, "the projection width", 1)
    g = torch.Generator().manual_seed(whole_number(seed, "the seed", 0, MAX_SEED))
    m_q, m_k, m_v = (torch.randn(d, width, generator=g) / math.sqrt(d) for _ in range(3))  # (D, Dk) each
    return Projections(name=f"random (seed {seed})", m_q=m_q.to(device), m_k=m_k.to(device), m_v=m_v.to(device))


def project(x: Tensor, p: Projections) -> QKV:
    """Q, K, V and the raw scores Q·Kᵀ of a sentence.

    Args:
        x: (T, D) one vector per token (I for GloVe words, a hidden state for the real model).
        p: the head's projections, (D, Dk) each.
    Returns:
        QKV.
    """
    if x.ndim != 2 or x.shape[1] != p.m_q.shape[0]:
        raise AttnvizInputError(f"vectors of shape {tuple(x.shape)} do not fit projections of {p.m_q.shape[0]} rows")
    q = x @ p.m_q  # (T, Dk)
    k = x @ p.m_k  # (T, Dk)
    v = x @ p.m_v  # (T, Dv)
    if p.b_q is not None:
        q = q + p.b_q
    if p.b_k is not None:
        k = k + p.b_k
    if p.b_v is not None:
        v = v + p.b_v
    scores = q @ k.transpose(-2, -1)  # (T, T)
    return QKV(q=q, k=k, v=v, scores=scores)


@dataclass(frozen=True, eq=False)
class BeforeAfter:
    """Token vectors before and after a square projection, in one shared 2-D view."""

    before: Tensor  # (T, 2) the rows of I
    after: Tensor  # (T, 2) the rows of I·M
    share: Tensor  # (2,) share of the variance of both sets together that the two axes explain


def _pca2(rows: Tensor) -> tuple[Tensor, Tensor]:
    """`attnviz.embeddings.pca` (NumPy) onto 2 directions: coords (N, 2) and shares (2,), on the rows' device."""
    coords, share = pca(to_host(rows), k=2)  # (N, 2), (2,)
    return torch.from_numpy(coords).to(rows.device), torch.from_numpy(share).to(rows.device)


def before_after(x: Tensor, m: Tensor) -> BeforeAfter:
    """Project the rows of ``x`` and of ``x·m`` onto the same two principal directions.

    The PCA is fitted on both sets together, so a point's move is the projection's doing, not the picture's.

    Args:
        x: (T, D) token vectors.
        m: (D, D) a projection that keeps the width (the square choices on GloVe vectors).
    """
    if m.ndim != 2 or m.shape[0] != m.shape[1] or x.shape[-1] != m.shape[0]:
        raise AttnvizInputError("the before/after picture needs a square projection that fits the vectors")
    after = x @ m  # (T, D)
    coords, share = _pca2(torch.cat([x, after]))  # (2T, 2)
    t = x.shape[0]
    return BeforeAfter(before=coords[:t], after=coords[t:], share=share)


@dataclass(frozen=True, eq=False)
class QueryKeyView:
    """Token vectors, their queries and their keys, in one shared 2-D view."""

    before: Tensor  # (T, 2) the rows of I
    q: Tensor  # (T, 2) the rows of Q = I·M_Q
    k: Tensor  # (T, 2) the rows of K = I·M_K
    share: Tensor  # (2,) share of the variance of all three sets together that the two axes explain


def query_key_view(x: Tensor, m_q: Tensor, m_k: Tensor, unit: bool = True) -> QueryKeyView:
    """Project the rows of ``x``, ``x·m_q`` and ``x·m_k`` onto the same two principal directions.

    A score is q_i·k_j: where M_Q sends word i and where M_K sends word j, so the two are drawn together.

    Args:
        x: (T, D) token vectors.
        m_q, m_k: (D, D) square projections (the square choices on GloVe vectors).
        unit: scale every row to length 1 first, so that the picture shows directions only (queries are often
            much longer than keys, and lengths would otherwise pull the two sets apart).
    """
    for m in (m_q, m_k):
        if m.ndim != 2 or m.shape[0] != m.shape[1] or x.shape[-1] != m.shape[0]:
            raise AttnvizInputError("the query/key picture needs square projections that fit the vectors")
    q, k = x @ m_q, x @ m_k  # (T, D) each
    rows = torch.cat([x, q, k])  # (3T, D)
    if unit:
        rows = torch.nn.functional.normalize(rows, dim=-1)
    coords, share = _pca2(rows)  # (3T, 2)
    t = x.shape[0]
    return QueryKeyView(before=coords[:t], q=coords[t : 2 * t], k=coords[2 * t :], share=share)


@dataclass(frozen=True, eq=False)
class Alignment:
    """For each query, its best key: how well the two line up after the projections and before them."""

    best: Tensor  # (T,) long, the key with the largest score q_i·k_j, the word itself left out
    cos_after: Tensor  # (T,) cos(q_i, k_best)
    cos_before: Tensor  # (T,) cos(x_i, x_best), the same two words as plain vectors


def alignment(x: Tensor, qkv: QKV) -> Alignment:
    """Which key each query scores highest (itself excluded) and the cosines of that pair, after and before.

    Args:
        x: (T, D) the vectors that went in (T ≥ 2).
        qkv: `project(x, …)`.
    """
    t = x.shape[0]
    if t < 2:
        raise AttnvizInputError("alignment needs two words or more")
    eye = torch.eye(t, dtype=torch.bool, device=qkv.scores.device)  # (T, T)
    best = qkv.scores.masked_fill(eye, float("-inf")).argmax(dim=-1)  # (T,)
    unit = torch.nn.functional.normalize
    cos_after = (unit(qkv.q, dim=-1) * unit(qkv.k[best], dim=-1)).sum(dim=-1)  # (T,)
    cos_before = (unit(x, dim=-1) * unit(x[best], dim=-1)).sum(dim=-1)  # (T,)
    return Alignment(best=best, cos_after=cos_after, cos_before=cos_before)


@dataclass(frozen=True, eq=False)
class ValueEffect:
    """One word's output mixed from the values of one M_V, against the same mix with M_V = I."""

    output: Tensor  # (Dout,) the mix of values, carried back to width D when a way back is given
    plain: Tensor  # (D,) the same weights applied to the word vectors themselves (M_V = I)
    cosine: float  # cos(output, plain): 1 when M_V keeps directions, about 0 for a scrambling one
    norm_ratio: float  # |output| / |plain|


def value_effect(
    weights: Tensor, x: Tensor, m_v: Tensor, b_v: Tensor | None = None, back: Tensor | None = None
) -> ValueEffect:
    """What M_V does to one word's output: Σ_j w_j·(x_j·M_V + b_V) [·back] against Σ_j w_j·x_j.

    Args:
        weights: (T,) the word's mixing weights (raw scores or a softmax row).
        x: (T, D) the vectors that went in.
        m_v: (D, Dv) the value projection; b_v: (Dv,) its bias, if any.
        back: (Dv, D) a matrix that carries the values back to width D (the real head's rows of W_O);
            needed when Dv ≠ D.
    Returns:
        ValueEffect.
    """
    v = x @ m_v if b_v is None else x @ m_v + b_v  # (T, Dv)
    out = weights @ v  # (Dv,)
    if back is not None:
        out = out @ back  # (D,)
    plain = weights @ x  # (D,)
    if out.shape != plain.shape:
        raise AttnvizInputError("the values do not come back to the width of the words: pass `back`")
    cos = torch.nn.functional.cosine_similarity(out, plain, dim=0)
    return ValueEffect(
        output=out, plain=plain, cosine=float(cos), norm_ratio=float(out.norm() / plain.norm().clamp(min=1e-12))
    )


__all__ = [
    "QKV",
    "Alignment",
    "BeforeAfter",
    "Projections",
    "QueryKeyView",
    "ValueEffect",
    "alignment",
    "before_after",
    "identity_projections",
    "project",
    "query_key_view",
    "random_projections",
    "value_effect",
]
