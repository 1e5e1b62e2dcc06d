"""Performer (FAVOR+): softmax attention through positive orthogonal random features, in linear time.

Choromanski et al., "Rethinking Attention with Performers" (2021). The softmax kernel is an expectation over
random directions ω ~ N(0, I):

    exp(x·y) = E_ω[ exp(ω·x − ‖x‖²/2) · exp(ω·y − ‖y‖²/2) ]

so with M drawn directions, φ(x) = exp(ω_i·x − ‖x‖²/2)/√M gives exp(q·k·scale) ≈ φ(q)·φ(k) (with x = q·√scale,
y = k·√scale, i.e. q/d^{1/4} and k/d^{1/4} for the usual scale). Then attention is reassociated:

    O_t = φ(q_t)·(φ(K)ᵀ·V) / z_t,   z_t = φ(q_t)·(φ(K)ᵀ·1)

and φ(K)ᵀ·V is only (M × Dv): time and memory O(T·M·D) for width D. The features are positive (so z > 0 and no
weight is negative) and the directions are orthogonal in blocks of D, which lowers the variance (FAVOR+).

What is unbiased is the kernel: E[φ(q)·φ(k)] = exp(q·k·scale) exactly. A weight is a ratio of two such estimates,
φ(q_t)·φ(k_s) / z_t, and is only nearly unbiased. With M independent directions one kernel estimate has relative
variance (exp(‖x + y‖²) − 1)/M (the paper's Lemma 2): the error falls like 1/√M, but with a constant that grows
exponentially with ‖q + k‖²·scale, so on heads with long queries and keys it needs a very large M to show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import (
    QUERY_BLOCK,
    check_qkv,
    generator,
    key_mask,
    positive_int,
    resolve_scale,
)
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText


@dataclass(frozen=True, kw_only=True)
class PerformerAttention(Attention):
    """FAVOR+'s intermediates. ``weights`` and ``q_features`` (T×S, T×M) only with return_weights=True."""

    features: Tensor  # (M, D) the random directions ω, orthogonal in blocks of D
    k_features: Tensor  # (..., S, M) φ(k), up to one factor per head (it cancels in the division by z)
    q_features: Tensor | None = None  # (..., T, M) φ(q), up to one factor per row (it cancels in the division by z)


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
        basis, upper = torch.linalg.qr(torch.randn(width, width, generator=g))  # (D, D) orthonormal columns
        # QR's signs are a convention, not random: without flipping each column by the sign of R's diagonal the
        # directions are not uniform on the sphere, and the estimate of exp(x·y) is biased (by −18% in 4-d)
        signs = torch.sign(torch.diagonal(upper))  # (D,)
        blocks.append((basis * torch.where(signs == 0, 1.0, signs)).T)
    directions = torch.cat(blocks)[:n_features]  # (M, D) unit rows
    lengths = torch.randn(n_features, width, generator=g).norm(dim=1, keepdim=True)  # (M, 1) chi(D)
    return directions * lengths


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
        n_features: M, the number of random features; see the module docstring for how the error falls with M.
        seed: which random directions (redraw with another seed).
        orthogonal: FAVOR+'s orthogonal blocks (False: independent Gaussian directions).
        return_weights: also build the implied attention matrix φ(Q)·φ(K)ᵀ / z (T×S, for pictures).
    Returns:
        PerformerAttention.
    """
    check_qkv(q, k, v)
    scale = resolve_scale(scale, q.shape[-1])
    lead, t, s, dv = q.shape[:-2], q.shape[-2], k.shape[-2], v.shape[-1]
    keep = key_mask(mask, lead, s, "Performer")  # (..., S) or None
    features = orthogonal_features(n_features, q.shape[-1], seed, orthogonal).to(q.device, q.dtype)
    # 1. split the scale between both sides, x = q·√scale and y = k·√scale, by folding √scale into ω
    omega_t = (features * math.sqrt(scale)).T  # (D, M)

    # 2. key features φ(k) = exp(ω·y − ‖y‖²/2 − c)/√M; the shift c (one per head, against overflow) and
    #    1/√M multiply every key alike, so they cancel in the division by z: 1/√M is left out
    k_feat = k @ omega_t  # (..., S, M) ω·y
    k_feat -= (k * k).sum(dim=-1, keepdim=True) * (scale / 2)  # − ‖y‖²/2
    k_feat = k_feat.sub_(k_feat.amax(dim=(-2, -1), keepdim=True)).exp_()  # (..., S, M), in place
    if keep is not None:
        k_feat = k_feat * keep.unsqueeze(-1)  # a dropped key adds nothing to either sum
    # 3. reassociate: sum over the keys first. φ(K)ᵀ·[V | 1] holds φ(K)ᵀ·V and, in its last column, φ(K)ᵀ·1
    ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)
    kv = k_feat.transpose(-2, -1) @ torch.cat([v, ones], dim=-1)  # (..., M, Dv + 1), independent of T

    # 4. each query reads the sums through its features, a block of queries at a time (see QUERY_BLOCK);
    #    for a query, −‖x‖²/2 and the shift are one number per row and cancel in the division by z: only the max is
    #    subtracted, against overflow
    output = q.new_empty(*lead, t, dv)  # (..., T, Dv)
    kept = []
    for t0 in range(0, t, QUERY_BLOCK):
        rows = slice(t0, min(t0 + QUERY_BLOCK, t))
        q_feat = q[..., rows, :] @ omega_t  # (..., B, M)
        q_feat = q_feat.sub_(q_feat.amax(dim=-1, keepdim=True)).exp_()  # (..., B, M) φ(q) up to a factor
        mixed = q_feat @ kv  # (..., B, Dv + 1)
        normalizer = mixed[..., dv:]  # (..., B, 1) z, the stand-in for the softmax denominator
        # a row whose keys were all dropped has z = 0 and a zero numerator: keep its output 0, not 0/0
        output[..., rows, :] = mixed[..., :dv] / torch.where(normalizer > 0, normalizer, 1.0)
        if return_weights:
            kept.append(q_feat)

    q_features = weights = None
    if return_weights:
        q_features = torch.cat(kept, dim=-2)  # (..., T, M)
        weights = q_features @ k_feat.transpose(-2, -1)  # (..., T, S)
        weights = weights / weights.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(weights.dtype).tiny)
    return PerformerAttention(
        output=output,
        weights=weights,
        scale=scale,
        features=features,
        k_features=k_feat,
        q_features=q_features,
    )


def softmax_kernel_estimate(q: Tensor, k: Tensor, features: Tensor, scale: float | None = None) -> Tensor:
    """FAVOR+'s unnormalised estimate of exp(q·k·scale) for every pair, with nothing cancelled or shifted.

    Its expectation over the directions is exactly exp(q·k·scale); the attention weights divide it by its row sum.

    Args:
        q: (..., T, D) queries.
        k: (..., S, D) keys.
        features: (M, D) the directions ω (see orthogonal_features).
    Returns:
        (..., T, S) φ(q_t)·φ(k_s).
    """
    scale = resolve_scale(scale, q.shape[-1])
    root = math.sqrt(scale)
    x, y = q * root, k * root  # (..., T, D), (..., S, D)
    phi_x = torch.exp(x @ features.T - (x * x).sum(-1, keepdim=True) / 2)  # (..., T, M)
    phi_y = torch.exp(y @ features.T - (y * y).sum(-1, keepdim=True) / 2)  # (..., S, M)
    return phi_x @ phi_y.transpose(-2, -1) / features.shape[0]  # (..., T, S)


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------


def _performer_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    return {"n_features": int(knobs["features"]), "seed": 0}


SPEC = VariantSpec(
    name="performer",
    fn=performer_attention,
    kind="approx",
    text=VariantText(
        title="Performer (FAVOR+)",
        paper="Choromanski et al., 2021",
        knobs={
            "features": KnobText(
                label="Random features m",
                help="More features: a less noisy estimate of exp(q·k/√d), linearly more work.",
            ),
        },
        formula=(
            r"\begin{aligned} e^{q\cdot k/\sqrt d} &\approx \varphi(q)\cdot\varphi(k) \\ \varphi(x)_i &= "
            r"\tfrac{1}{\sqrt m}\, e^{\,\omega_i\cdot x/d^{1/4} \,-\, \|x\|^2/(2\sqrt d)},\quad \omega_i \sim \mathcal "
            r"N(0, I_d),\ i = 1, \dots, m \\ O_t &= \frac{\varphi(q_t)\cdot\big(\sum_s \varphi(k_s)\, "
            r"v_s^\top\big)}{\varphi(q_t)\cdot\sum_s \varphi(k_s)} \end{aligned}"
        ),
        time="O(T·m·D)",
        memory="O(T·m)",
        keeps_exact=(
            "nothing exactly; each kernel value e^(q·k/√d) is estimated without bias, each weight (a ratio of two "
            "estimates) only nearly"
        ),
        # Choromanski et al. (2021), Lemma 2: MSE of the positive features = (1/m)·exp(‖x+y‖²)·SM²(x, y)·(1 −
        # exp(−‖x+y‖²)), x = q/d^¼, y = k/d^¼: the error relative to the kernel value SM grows like e^(‖q+k‖²/(2√d))
        costs=(
            "a random error, relative to the kernel value it estimates, that grows like e^(‖q+k‖²/(2√d)) and shrinks "
            "like 1/√m; no causal mask without a prefix sum"
        ),
        choose_when="very long inputs where rough attention is enough (proteins, long documents)",
    ),
    knobs=(Knob("features", (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), 16),),
    to_kwargs=_performer_kwargs,
    random=lambda knobs: True,
    swept="features",
    page_part="app_support.efficient.efficient_performer",
    bench=(BenchRow("", lambda t, heads: {"n_features": 256}),),
    cases={
        "performer": TimingCase(
            make=lambda q, k, v: lambda: performer_attention(q, k, v, n_features=256),
            flops=lambda n, h, d: 8.0 * n * 256 * d * h,  # φ(K), φ(K)ᵀV, φ(Q), φ(Q)·(φ(K)ᵀV)
            setting="m=256 orthogonal features (drawn inside the call)",
            growth=("T", "T"),
            label="Performer",
        )
    },
)
