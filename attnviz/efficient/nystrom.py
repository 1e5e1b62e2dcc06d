"""Nyströmformer: the attention matrix rebuilt from M landmarks with the Nyström method.

Xiong et al., "Nyströmformer: A Nyström-Based Algorithm for Approximating Self-Attention" (2021).
Landmarks Q̃, K̃ (M × D) are the means of M consecutive segments of the queries and keys. Three small softmax
matrices stand in for the big one:

    F = softmax(Q·K̃ᵀ·scale)    (T × M)
    A = softmax(Q̃·K̃ᵀ·scale)    (M × M)
    B = softmax(Q̃·Kᵀ·scale)    (M × S)
    softmax(Q·Kᵀ·scale) ≈ F·A⁺·B,    O = F·(A⁺·(B·V))

A⁺ is the Moore–Penrose pseudo-inverse, found by the iteration of Razavi et al. (2014), which needs only
matrix products:

    Z₀ = Aᵀ / (‖A‖₁·‖A‖∞),    Z ← ¼·Z·(13I − A·Z·(15I − A·Z·(7I − A·Z)))

(``pinv="svd"`` uses torch.linalg.pinv instead, for comparison: on a GPU it is far slower.) Time and memory
O(T·M). With M = T every landmark is one token, F = A = B is the exact matrix P, and P·P⁺·P = P.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import NEG_INF, check_qkv, key_mask, positive_int, resolve_scale
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText
from attnviz.errors import AttnvizInputError

PinvMethod = Literal["iterative", "svd"]


@dataclass(frozen=True, kw_only=True)
class NystromAttention(Attention):
    """Nyströmformer's intermediates. ``weights`` (= F·A⁺·B, T×S) only with return_weights=True."""

    q_landmarks: Tensor  # (..., M, D) mean query of each segment
    k_landmarks: Tensor  # (..., M, D) mean key of each segment
    kernel_f: Tensor  # (..., T, M) F = softmax(Q·K̃ᵀ·scale)
    kernel_a: Tensor  # (..., M, M) A = softmax(Q̃·K̃ᵀ·scale)
    kernel_a_pinv: Tensor  # (..., M, M) A⁺
    kernel_b: Tensor  # (..., M, S) B = softmax(Q̃·Kᵀ·scale)


def segment_of(length: int, n_segments: int, device: torch.device | str | None = None) -> Tensor:
    """(L,) long: the segment (landmark) each position is averaged into, M consecutive segments whose sizes
    differ by at most one (position i goes to segment ⌊i·M/L⌋)."""
    return torch.arange(length, device=device) * n_segments // length


def segment_means(x: Tensor, n_segments: int, keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The mean of each of M consecutive segments of the sequence (sizes differ by at most one).

    Args:
        x: (..., L, D)
        keep: (..., L) bool, positions that count (a padding mask); default all.
    Returns:
        means (..., M, D), and (..., M) bool: whether the segment held any kept position.
    """
    length = x.shape[-2]
    segment = segment_of(length, n_segments, x.device)  # (L,) segment of each position
    weight = torch.ones(length, dtype=x.dtype, device=x.device) if keep is None else keep.to(x.dtype)
    if keep is not None:
        x = x * keep.unsqueeze(-1)  # dropped positions add nothing
    # sum each segment (one pass over x), count its kept positions, divide
    sums = x.new_zeros(*x.shape[:-2], n_segments, x.shape[-1]).index_add_(-2, segment, x)  # (..., M, D)
    count = weight.new_zeros(*weight.shape[:-1], n_segments).index_add_(-1, segment, weight)  # (..., M)
    return sums / count.clamp_min(1.0).unsqueeze(-1), count > 0


def iterative_pinv(a: Tensor, iterations: int = 6) -> Tensor:
    """Moore–Penrose pseudo-inverse of each (M × M) matrix by the Razavi et al. iteration.

    It converges to A⁺ from Z₀ = Aᵀ/(‖A‖₁·‖A‖∞) (which puts every singular value of A·Z₀ in (0, 1]); the
    Nyströmformer uses 6 iterations.

    Args:
        a: (..., M, M)
    Returns:
        (..., M, M)
    """
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)  # (M, M)
    norm_1 = a.abs().sum(dim=-2).amax(dim=-1)  # (...,) largest column sum
    norm_inf = a.abs().sum(dim=-1).amax(dim=-1)  # (...,) largest row sum
    z = a.transpose(-2, -1) / (norm_1 * norm_inf).clamp_min(torch.finfo(a.dtype).tiny)[..., None, None]
    for _ in range(iterations):
        az = a @ z  # (..., M, M)
        z = 0.25 * z @ (13 * eye - az @ (15 * eye - az @ (7 * eye - az)))
    return z


def nystrom_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    n_landmarks: int = 64,
    pinv_iterations: int = 6,
    pinv: PinvMethod = "iterative",
    return_weights: bool = False,
) -> NystromAttention:
    """Attention rebuilt from M landmark queries and keys.

    Args:
        q: (..., T, D) queries.
        k: (..., S, D) keys.
        v: (..., S, Dv) values.
        mask: only a padding mask (..., 1, S): dropped keys leave the key landmarks and B. A per-query
            mask (causal) raises AttnvizInputError: landmarks average over positions.
        scale: multiplies the scores; default 1/√D.
        n_landmarks: M, at most min(T, S); more landmarks, smaller error.
        pinv_iterations: iterations of the pseudo-inverse (6 in the paper; more when M is close to T).
        pinv: ``"iterative"`` (the paper's) or ``"svd"`` (torch.linalg.pinv).
        return_weights: also build the implied T×S matrix F·A⁺·B (its rows sum to 1 with an exact inverse of
            A, since F, A and B are row-stochastic, and nearly with the iteration; entries can be negative).
    Returns:
        NystromAttention.
    """
    check_qkv(q, k, v)
    scale = resolve_scale(scale, q.shape[-1])
    lead, t, s = q.shape[:-2], q.shape[-2], k.shape[-2]
    m = positive_int(n_landmarks, "the number of landmarks")
    if m > min(t, s):
        raise AttnvizInputError(f"at most one landmark per token: {m} landmarks for {min(t, s)} tokens")
    if pinv not in ("iterative", "svd"):
        raise ValueError(f"unknown pseudo-inverse method {pinv!r}")
    keep = key_mask(mask, lead, s, "Nyströmformer")  # (..., S) or None

    # 1. landmarks: the mean query and mean key of each segment
    q_land, _ = segment_means(q, m)  # (..., M, D)
    k_land, k_land_alive = segment_means(k, m, keep)  # (..., M, D), (..., M)

    def softmax(scores: Tensor, allowed: Tensor | None) -> Tensor:
        if allowed is not None:  # a landmark made only of dropped keys, or a dropped key
            scores = scores.masked_fill(~allowed.unsqueeze(-2), NEG_INF)
        return torch.softmax(scores, dim=-1)

    # 2. the three small kernels (the scale goes on the landmarks, M×D, rather than on T×M scores)
    alive = None if keep is None else k_land_alive
    k_land_scaled, q_land_scaled = k_land * scale, q_land * scale  # (..., M, D)
    kernel_f = softmax(q @ k_land_scaled.transpose(-2, -1), alive)  # (..., T, M)
    kernel_a = softmax(q_land_scaled @ k_land.transpose(-2, -1), alive)  # (..., M, M)
    kernel_b = softmax(q_land_scaled @ k.transpose(-2, -1), keep)  # (..., M, S)
    # 3. pseudo-inverse of the landmark kernel
    exact_pinv = pinv == "svd"
    a_pinv = torch.linalg.pinv(kernel_a) if exact_pinv else iterative_pinv(kernel_a, pinv_iterations)  # (..., M, M)
    # 4. multiply from the right so that nothing T×S is ever formed
    output = kernel_f @ (a_pinv @ (kernel_b @ v))  # (..., T, Dv)

    weights = (kernel_f @ a_pinv) @ kernel_b if return_weights else None  # (..., T, S)
    return NystromAttention(
        output=output,
        weights=weights,
        scale=scale,
        q_landmarks=q_land,
        k_landmarks=k_land,
        kernel_f=kernel_f,
        kernel_a=kernel_a,
        kernel_a_pinv=a_pinv,
        kernel_b=kernel_b,
    )


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _nystrom_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    return {"n_landmarks": fit.cut(int(knobs["landmarks"]), "Landmarks"), "pinv_iterations": 12}


def _nystrom_flops(n: int, heads: int, d: int) -> float:
    return 12.0 * n * 64 * d * heads  # landmarks, F, B, B·V, F·(A⁺BV)


SPEC = VariantSpec(
    name="nystrom",
    fn=nystrom_attention,
    kind="approx",
    text=VariantText(
        title="Nyströmformer",
        paper="Xiong et al., 2021",
        knobs={
            "landmarks": KnobText(
                label="Landmarks m",
                help="Segment means standing in for all queries and keys.",
            ),
        },
        formula=(
            r"\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt d}\right) \approx F\,A^{+}B,\quad F = \mathrm{sm}(Q\tilde "
            r"K^\top),\; A = \mathrm{sm}(\tilde Q\tilde K^\top),\; B = \mathrm{sm}(\tilde Q K^\top)"
        ),
        time="O(T·m·D + m³)",
        memory="O(T·m)",
        # Xiong et al. (2021), Section 3: F, A, B are softmaxes; with an exact inverse of A the rows of F·A⁻¹·B sum
        # to 1 (A·1 = 1), the iterative A⁺ only nearly; A⁺ has negative entries, so weights can be negative
        keeps_exact="exact when m = T (with an exact pseudo-inverse); otherwise the structure seen from m landmarks",
        costs=(
            "weights can be negative, unlike a softmax's; rows sum to 1 with an exact inverse, and nearly with the "
            "iterative one; no causal mask"
        ),
        choose_when="long encoder inputs with smooth attention",
    ),
    knobs=(Knob("landmarks", (*range(1, 17), 20, 24, 32, 48, 64), 3),),
    to_kwargs=_nystrom_kwargs,
    swept="landmarks",
    page_part="app_support.efficient.efficient_nystrom",
    bench=(BenchRow("", lambda t, heads: {"n_landmarks": min(64, t)}),),  # 6 iterations of the pseudo-inverse
    cases={
        "nystrom": TimingCase(
            make=lambda q, k, v: lambda: nystrom_attention(q, k, v, n_landmarks=64),
            flops=_nystrom_flops,
            setting="m=64 landmarks, 6 pseudo-inverse iterations",
            growth=("T", "T"),
            label="Nyströmformer",
        ),
        "nystrom-svd": TimingCase(
            make=lambda q, k, v: lambda: nystrom_attention(q, k, v, n_landmarks=64, pinv="svd"),
            flops=_nystrom_flops,
            setting="m=64 landmarks, torch.linalg.pinv instead of the iteration",
            growth=("T", "T"),
            label="Nyströmformer (SVD pinv)",
        ),
    },
)
