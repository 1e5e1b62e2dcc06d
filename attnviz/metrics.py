"""How far an approximate attention is from the exact one, always reported beside uniform attention.

Measures used by the efficient-attention lessons (Tay et al., "Efficient Transformers: A Survey", 2022, lists
the variants they compare): relative Frobenius error and largest error of the attention matrix and of the
output, mean KL divergence of the rows, cosine of the outputs, and the share of attention a sparse pattern
keeps.

On random inputs the exact softmax is nearly flat, and several approximations are no closer to it than the
trivial answer "every key weighs the same" (every output is the mean of V). So every comparison carries the
same figures for that uniform attention: an approximation is only worth its cost where it beats it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from attnviz.attention import Attention


def relative_frobenius_error(approx: Tensor, exact: Tensor) -> float:
    """‖approx − exact‖_F / ‖exact‖_F over all entries (0 when both are 0)."""
    diff = (approx - exact).norm()
    norm = exact.norm()
    return float(diff / norm) if norm > 0 else float(diff)


def max_abs_error(approx: Tensor, exact: Tensor) -> float:
    """The largest entry-wise difference."""
    return float((approx - exact).abs().max()) if exact.numel() else 0.0


def mean_row_kl(exact_weights: Tensor, approx_weights: Tensor, eps: float = 1e-9) -> float:
    """Mean over rows of KL(exact‖approx) = Σ_s p_s·log(p_s/q_s).

    Approximate rows are clamped at ``eps`` and renormalised first, since Linformer and Nyström rows can hold
    negative entries and a sparse pattern's zeros would make the divergence infinite (log(1/eps) then stands
    for "this weight was dropped"). Rows that are entirely masked in the exact weights are left out.

    Args:
        exact_weights, approx_weights: (..., T, S)
    """
    q = approx_weights.clamp_min(eps)
    q = q / q.sum(dim=-1, keepdim=True)
    p = exact_weights
    kl = (torch.xlogy(p, p) - p * q.log()).sum(dim=-1)  # (..., T); xlogy: 0·log 0 = 0
    live = p.sum(dim=-1) > 0
    return float(kl[live].mean()) if live.any() else 0.0


def output_cosine(approx_output: Tensor, exact_output: Tensor) -> float:
    """Mean over tokens of the cosine between approximate and exact output vectors (1 is a perfect match)."""
    return float(torch.nn.functional.cosine_similarity(approx_output, exact_output, dim=-1).mean())


def attention_mass_kept(exact_weights: Tensor, pattern: Tensor) -> float:
    """Mean over rows of the exact attention weight that falls on a sparse pattern (1: nothing dropped).

    Args:
        exact_weights: (..., T, S)
        pattern: bool broadcastable to (..., T, S), True where the pattern attends.
    """
    kept = (exact_weights * pattern).sum(dim=-1)  # (..., T)
    live = exact_weights.sum(dim=-1) > 0
    return float(kept[live].mean()) if live.any() else 1.0


def uniform_attention(v: Tensor, t: int, mask: Tensor | None = None) -> Attention:
    """The baseline: every allowed key weighs the same, every output is a plain mean of the values.

    Args:
        v: (..., S, Dv) values.
        t: T, the number of queries.
        mask: bool broadcastable to (..., T, S), True where allowed.
    Returns:
        Attention with weights (..., T, S) and output (..., T, Dv).
    """
    s = v.shape[-2]
    allowed = torch.ones(t, s, dtype=v.dtype, device=v.device) if mask is None else mask.to(v.dtype)
    allowed = allowed.expand(*v.shape[:-2], t, s)  # (..., T, S)
    weights = allowed / allowed.sum(dim=-1, keepdim=True).clamp_min(1.0)  # (..., T, S)
    return Attention(output=weights @ v, weights=weights, scale=0.0)


@dataclass(frozen=True)
class ErrorFigures:
    """How far one attention is from the exact one. None where the attention has no T×S weights."""

    weights_rel_frobenius: float | None  # ‖A − A_exact‖_F / ‖A_exact‖_F
    weights_max_abs: float | None  # max |A − A_exact|
    row_kl: float | None  # mean over rows of KL(A_exact‖A)
    output_rel_frobenius: float  # ‖O − O_exact‖_F / ‖O_exact‖_F
    output_max_abs: float  # max |O − O_exact|
    output_cosine: float  # mean cosine between O and O_exact rows
    mass_kept: float | None  # exact attention mass on the sparse pattern, when one is given


@dataclass(frozen=True)
class Comparison:
    """An approximation's figures next to uniform attention's, the bar it has to clear."""

    approx: ErrorFigures  # the approximation against exact attention
    uniform: ErrorFigures  # uniform attention against exact attention

    @property
    def beats_uniform(self) -> bool:
        """Whether the approximation's output is closer to exact than uniform attention's."""
        return self.approx.output_rel_frobenius < self.uniform.output_rel_frobenius


def error_figures(exact: Attention, approx: Attention, pattern: Tensor | None = None) -> ErrorFigures:
    """Every error figure of ``approx`` against ``exact`` (which must carry its weights).

    Args:
        exact: the exact attention, e.g. scaled_dot_product(q, k, v, mask).
        approx: any variant's result; its weights are compared when it has them (return_weights=True).
        pattern: bool (..., T, S), the sparse pattern the variant attends through, for the mass it keeps.
    """
    if exact.weights is None:
        raise ValueError("the exact attention must carry its weights (use scaled_dot_product)")
    w = approx.weights
    return ErrorFigures(
        weights_rel_frobenius=None if w is None else relative_frobenius_error(w, exact.weights),
        weights_max_abs=None if w is None else max_abs_error(w, exact.weights),
        row_kl=None if w is None else mean_row_kl(exact.weights, w),
        output_rel_frobenius=relative_frobenius_error(approx.output, exact.output),
        output_max_abs=max_abs_error(approx.output, exact.output),
        output_cosine=output_cosine(approx.output, exact.output),
        mass_kept=None if pattern is None else attention_mass_kept(exact.weights, pattern),
    )


def compare(
    exact: Attention, approx: Attention, v: Tensor, mask: Tensor | None = None, pattern: Tensor | None = None
) -> Comparison:
    """The approximation's error figures beside those of uniform attention on the same values.

    Args:
        exact: exact attention with weights (..., T, S).
        approx: the variant's result.
        v: (..., S, Dv) the values both attended over.
        mask: the mask both were given, so that uniform attention spreads over the same keys.
        pattern: the variant's sparse pattern, if it has one.
    """
    uniform = uniform_attention(v, exact.output.shape[-2], mask)
    return Comparison(approx=error_figures(exact, approx, pattern), uniform=error_figures(exact, uniform))
