"""Performer (FAVOR+): softmax attention through positive orthogonal random features, in linear time.

Choromanski et al., "Rethinking Attention with Performers" (2021). The softmax kernel is an expectation over
random directions ω ~ N(0, I):

    exp(x·y) = E_ω[ exp(ω·x − ‖x‖²/2) · exp(ω·y − ‖y‖²/2) ]

so with M drawn directions, φ(x) = exp(ω_i·x − ‖x‖²/2)/√M gives exp(q·k·scale) ≈ φ(q)·φ(k) (with x = q·√scale,
y = k·√scale). Then attention is reassociated:

    O = D⁻¹·φ(Q)·(φ(K)ᵀ·V),   D = diag(φ(Q)·(φ(K)ᵀ·1))

and φ(K)ᵀ·V is only (M × Dv): time and memory O(T·M·D). The features are positive (so D > 0 and no weight is
negative) and the directions are orthogonal in blocks of D, which lowers the variance (FAVOR+).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import check_qkv, generator, key_mask, positive_int, resolve_scale


@dataclass(frozen=True, kw_only=True)
class PerformerAttention(Attention):
    """FAVOR+'s intermediates. ``weights`` (the implied T×S matrix) only with return_weights=True."""

    features: Tensor  # (M, D) the random directions ω, orthogonal in blocks of D
    q_features: Tensor  # (..., T, M) φ(q), up to a per-row factor that cancels in D⁻¹
    k_features: Tensor  # (..., S, M) φ(k), up to a per-head factor that cancels in D⁻¹
    normalizer: Tensor  # (..., T) the row sums D_tt that replace the softmax denominator


def orthogonal_features(n_features: int, width: int, seed: int = 0, orthogonal: bool = True) -> Tensor:
    """M random directions in D dimensions, distributed like Gaussian vectors.

    With ``orthogonal``, every block of D directions is made exactly orthogonal (QR of a Gaussian matrix) and
    each direction gets the length of an independent Gaussian vector, so each ω is still N(0, I) on its own.

    Returns:
        (M, D)
    """
    n_features = positive_int(n_features, "the number of random features m")
    g = generator(seed)
    if not orthogonal:
        return torch.randn(n_features, width, generator=g)
    blocks = []
    for _ in range(math.ceil(n_features / width)):
        basis, _ = torch.linalg.qr(torch.randn(width, width, generator=g))  # (D, D) orthonormal columns
        blocks.append(basis.T)
    directions = torch.cat(blocks)[:n_features]  # (M, D) unit rows
    lengths = torch.randn(n_features, width, generator=g).norm(dim=1, keepdim=True)  # (M, 1) chi(D)
    return directions * lengths


def positive_features(x: Tensor, features: Tensor, *, per_row: bool) -> Tensor:
    """φ(x) = exp(ω·x − ‖x‖²/2 − c)/√M with the shift c chosen against overflow.

    The shift is the row's own maximum for queries (``per_row``: it cancels between numerator and D) and one
    maximum per head for keys (every key of a head must share it for the same reason).

    Args:
        x: (..., L, D) queries or keys, already multiplied by √scale.
        features: (M, D) directions ω.
    Returns:
        (..., L, M)
    """
    proj = x @ features.T  # (..., L, M) ω·x
    proj.sub_((x * x).sum(dim=-1, keepdim=True) / 2)  # (..., L, M) in place: these are T×M, the big ones
    shift = proj.amax(dim=-1, keepdim=True) if per_row else proj.amax(dim=(-2, -1), keepdim=True)
    return proj.sub_(shift).exp_().mul_(1 / math.sqrt(features.shape[0]))  # (..., L, M)


def performer_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    n_features: int = 256,
    seed: int = 0,
    orthogonal: bool = True,
    return_weights: bool = False,
) -> PerformerAttention:
    """Softmax attention estimated with M positive random features, never forming T×S.

    Args:
        q: (..., T, D) queries.
        k: (..., S, D) keys.
        v: (..., S, Dv) values.
        mask: only a padding mask (..., 1, S): a dropped key gets φ(k) = 0. A per-query mask (causal)
            raises AttnvizInputError: φ(K)ᵀ·V sums over every key before any query is seen.
        scale: multiplies the scores; default 1/√D.
        n_features: M, the number of random features; the error falls roughly like 1/√M.
        seed: which random directions (redraw with another seed).
        orthogonal: FAVOR+'s orthogonal blocks (False: independent Gaussian directions).
        return_weights: also build the implied attention matrix D⁻¹·φ(Q)·φ(K)ᵀ (T×S, for pictures).
    Returns:
        PerformerAttention.
    """
    check_qkv(q, k, v)
    scale = resolve_scale(scale, q.shape[-1])
    lead, s = q.shape[:-2], k.shape[-2]
    keep = key_mask(mask, lead, s, "Performer")  # (..., S) or None
    features = orthogonal_features(n_features, q.shape[-1], seed, orthogonal).to(q.device, q.dtype)

    # 1. split the scale between both sides so that x_q·x_k = q·k·scale
    root = math.sqrt(scale)
    # 2. positive random features of queries and keys
    q_feat = positive_features(q * root, features, per_row=True)  # (..., T, M)
    k_feat = positive_features(k * root, features, per_row=False)  # (..., S, M)
    if keep is not None:
        k_feat = k_feat * keep.unsqueeze(-1)  # a dropped key adds nothing to either sum
    # 3. reassociate: sum over the keys first, (M × Dv) and (M,), independent of T
    kv = k_feat.transpose(-2, -1) @ v  # (..., M, Dv)
    k_sum = k_feat.sum(dim=-2)  # (..., M)
    # 4. each query reads the sums through its features; D replaces the softmax denominator
    numerator = q_feat @ kv  # (..., T, Dv)
    normalizer = q_feat @ k_sum.unsqueeze(-1)  # (..., T, 1)
    # a row whose keys were all dropped has a zero numerator; keep its output 0 rather than 0/0
    denominator = torch.where(normalizer > 0, normalizer, 1.0)  # (..., T, 1)
    output = numerator / denominator  # (..., T, Dv)

    weights = None
    if return_weights:
        weights = (q_feat @ k_feat.transpose(-2, -1)) / denominator  # (..., T, S)
    return PerformerAttention(
        output=output,
        weights=weights,
        scale=scale,
        features=features,
        q_features=q_feat,
        k_features=k_feat,
        normalizer=normalizer.squeeze(-1),
    )
