"""Linformer: attention through K projected keys and values instead of S.

Wang, Li, Khabsa, Fang, Ma, "Linformer: Self-Attention with Linear Complexity" (2020). Attention matrices are
close to low rank, so project the S keys and values down to K rows with E, F (K × S) first:

    P̄ = softmax(Q·(E·K)ᵀ·scale)      (T × K) instead of (T × S)
    O = P̄·(F·V)

In token space this is the attention matrix P̄·F, of rank at most K: time and memory O(T·K).
The paper learns E and F. Untrained, two choices:

    "gaussian"  random mixes, N(0, 1/S) entries, untrained. Reference code starts from other random draws:
                fairseq's Linformer (examples/linformer, MultiheadLinearAttention.reset_parameters) initialises
                E and F Xavier-uniform with gain 1/√2, entries within ±√(3/(S + K)); lucidrains' linformer
                (LinformerSelfAttention) uniform within ±1/√K. A random mix of values is no average of them, so
                the output is far from exact attention until E and F are learned: the point to see.
    "pool"      each projected key and value is the mean of S/K consecutive ones, the pooling the paper also
                tries; sensible without training.

With K = S pooling is the identity, and so is any E = F = I given explicitly: exact attention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from attnviz.attention import Attention
from attnviz.efficient._common import (
    check_qkv,
    generator,
    key_mask,
    positive_int,
    resolve_scale,
)
from attnviz.efficient.registry import BenchRow, Fit, Knob, KnobText, KnobValue, TimingCase, VariantSpec, VariantText
from attnviz.errors import AttnvizInputError


@dataclass(frozen=True, kw_only=True)
class LinformerAttention(Attention):
    """Linformer's intermediates. ``weights`` (T × S, = weights_proj·proj_v) only with return_weights=True."""

    proj_k: Tensor  # (K, S) E: each of the K projected keys is a mix of the S keys
    proj_v: Tensor  # (K, S) F: the same for values
    k_proj: Tensor  # (..., K, D) E·K
    v_proj: Tensor  # (..., K, Dv) F·V
    weights_proj: Tensor | None = None  # (..., T, K) softmax over the K projected keys (with return_weights)


ProjectionKind = Literal["gaussian", "pool"]


def linformer_projection(
    rank: int, length: int, seed: int = 0, n: int = 1, kind: ProjectionKind = "gaussian"
) -> tuple[Tensor, ...]:
    """``n`` projections (K, S): Gaussian with N(0, 1/S) entries (the same for a given seed), or pooling.

    Args:
        rank: K, rows of each projection.
        length: S, the number of keys it mixes.
        seed: which Gaussian draw.
        n: how many projections (2: one for keys, one for values; independent draws when Gaussian).
        kind: ``"gaussian"`` or ``"pool"`` (row i averages positions ⌊i·S/K⌋ … of K equal-as-can-be segments).
    """
    rank = positive_int(rank, "the projection rank k")
    if kind == "pool":
        if rank > length:
            raise AttnvizInputError(f"pooling {length} keys into {rank} needs k ≤ {length}")
        segment = torch.arange(length) * rank // length  # (S,) the segment of each position
        member = (segment == torch.arange(rank)[:, None]).float()  # (K, S)
        return (member / member.sum(dim=1, keepdim=True),) * n
    if kind != "gaussian":
        raise ValueError(f"unknown projection kind {kind!r}")
    g = generator(seed)
    return tuple(torch.randn(rank, length, generator=g) / length**0.5 for _ in range(n))


def _projections(
    q: Tensor,
    s: int,
    proj_k: Tensor | None,
    proj_v: Tensor | None,
    *,
    rank: int,
    projection: ProjectionKind,
    seed: int,
    share_kv: bool,
) -> tuple[Tensor, Tensor]:
    """E and F, each (K, S) on q's device and dtype: the given ones (F = E when only E is given), else drawn."""
    if proj_k is None:
        drawn = linformer_projection(rank, s, seed, n=1 if share_kv else 2, kind=projection)
        proj_k, proj_v = drawn[0], drawn[-1]
    elif proj_v is None:
        proj_v = proj_k
    for name, proj in (("proj_k", proj_k), ("proj_v", proj_v)):
        if proj.dim() != 2 or proj.shape[1] != s:
            raise ValueError(f"{name} must be (K, S) with S = {s}, got {tuple(proj.shape)}")
    return proj_k.to(device=q.device, dtype=q.dtype), proj_v.to(device=q.device, dtype=q.dtype)


def linformer_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
    *,
    rank: int = 256,
    projection: ProjectionKind = "gaussian",
    seed: int = 0,
    share_kv: bool = False,
    proj_k: Tensor | None = None,
    proj_v: Tensor | None = None,
    return_weights: bool = False,
) -> LinformerAttention:
    """Attention over K linear mixes of the keys and values.

    Args:
        q: (..., T, D) queries.
        k: (..., S, D) keys.
        v: (..., S, Dv) values.
        mask: only a padding mask (..., 1, S): dropped keys and values are zeroed before they are mixed.
            A per-query mask (causal) raises AttnvizInputError: every projected key mixes every position.
        scale: multiplies the scores; default 1/√D.
        rank: K, the number of projected keys (ignored when projections are given).
        projection: ``"gaussian"`` random mixes (untrained) or ``"pool"`` segment means; see the module.
        seed: which random projections to draw.
        share_kv: use one projection for keys and values (E = F), the paper's "key-value sharing".
        proj_k: (K, S) a given E instead of a random one; proj_v: (K, S) F (defaults to E when only E given).
        return_weights: also keep the T×K weights and build the implied T×S attention matrix weights_proj·F.
    Returns:
        LinformerAttention.
    """
    check_qkv(q, k, v)
    scale = resolve_scale(scale, q.shape[-1])
    lead, s = q.shape[:-2], k.shape[-2]
    keep = key_mask(mask, lead, s, "Linformer")  # (..., S) or None
    proj_k, proj_v = _projections(q, s, proj_k, proj_v, rank=rank, projection=projection, seed=seed, share_kv=share_kv)

    if keep is not None:
        # a dropped key and its value must not enter any mix
        k = k * keep.unsqueeze(-1)  # (..., S, D)
        v = v * keep.unsqueeze(-1)  # (..., S, Dv)
    # 1. project the keys and values along the sequence: S rows become K rows
    k_proj = proj_k @ k  # (..., K, D)
    v_proj = proj_v @ v  # (..., K, Dv)
    # 2. ordinary attention against the K projected keys: softmax(q·(E·K)ᵀ·scale)·(F·V). That is plain
    #    attention, so PyTorch's own kernel runs it (the same kernel the exact attention is measured with);
    #    with return_weights it runs step by step instead, to keep the T×K weights, with the same output
    if return_weights:
        weights_proj = torch.softmax((q @ k_proj.transpose(-2, -1)) * scale, dim=-1)  # (..., T, K)
        output = weights_proj @ v_proj  # (..., T, Dv)
    else:
        weights_proj = None
        output = F.scaled_dot_product_attention(q, k_proj, v_proj, scale=scale)  # (..., T, Dv)

    weights = None
    if weights_proj is not None:
        # O = P̄·(F·V) = (P̄·F)·V, so P̄·F is the attention matrix in token space (rows need not be ≥ 0)
        weights = weights_proj @ proj_v  # (..., T, S)
        if keep is not None:
            weights = weights * keep.unsqueeze(-2)
    return LinformerAttention(
        output=output,
        weights=weights,
        scale=scale,
        proj_k=proj_k,
        proj_v=proj_v,
        k_proj=k_proj,
        v_proj=v_proj,
        weights_proj=weights_proj,
    )


# ----------------------------------------------------------------------------------------------------------
# The registry's record (see attnviz.efficient.registry)
# ----------------------------------------------------------------------------------------------------------

_SMALL = (*range(1, 17), 20, 24, 32, 48, 64)


def _linformer_kwargs(knobs: Mapping[str, KnobValue], fit: Fit) -> dict[str, object]:
    return {"rank": fit.cut(int(knobs["rank"]), "Rank"), "projection": knobs["proj"], "seed": 0}


def _linformer_case(q: Tensor, k: Tensor, v: Tensor) -> Callable[[], object]:
    # the projections are drawn once, outside the timing, like weights
    e, f = (p.to(q.device) for p in linformer_projection(min(256, q.shape[-2]), q.shape[-2], seed=0, n=2))
    return lambda: linformer_attention(q, k, v, proj_k=e, proj_v=f)


SPEC = VariantSpec(
    name="linformer",
    fn=linformer_attention,
    kind="approx",
    text=VariantText(
        title="Linformer",
        paper="Wang et al., 2020",
        knobs={
            "rank": KnobText(
                label="Rank k (projected keys)",
                help="How many mixes of the keys and values replace them.",
            ),
            "proj": KnobText(
                label="Projection",
                # what the reference code initialises E and F with (checked in the code, 2026-12):
                # fairseq examples/linformer, MultiheadLinearAttention.reset_parameters: xavier_uniform_(gain=1/√2);
                # lucidrains/linformer, LinformerSelfAttention: init_ on (seq_len, k), uniform within ±1/√k
                help=(
                    "pool: each projected key and value is the mean of one of k stretches of the sentence. "
                    "gaussian: random mixes with N(0, 1/T) entries, never trained. Reference code starts training "
                    "from other random draws: fairseq's Linformer from Xavier-uniform E and F (gain 1/√2), "
                    "lucidrains' linformer from entries uniform within ±1/√k."
                ),
            ),
        },
        formula=(
            r"O = \mathrm{softmax}\!\left(\frac{Q\,(E K)^\top}{\sqrt{d}}\right)(F V),\quad E, F \in "
            r"\mathbb{R}^{k\times T}"
        ),
        time="O(T·k·D)",
        memory="O(T·k)",
        keeps_exact="nothing exactly; the matrix is forced to rank ≤ k",
        costs="fixed length (E and F are T wide), no causal mask, and E, F must be learned",
        choose_when="long inputs of one fixed length in an encoder, when a trained model is available",
    ),
    # pooling k = T stretches of one key each is the identity (E = F = I): exact attention; a Gaussian E never is
    exact_when=lambda kwargs, t, heads: kwargs["projection"] == "pool" and int(kwargs["rank"]) == t,  # type: ignore
    knobs=(Knob("rank", _SMALL, 4), Knob("proj", ("pool", "gaussian"), "pool")),
    to_kwargs=_linformer_kwargs,
    random=lambda knobs: knobs.get("proj", "pool") == "gaussian",  # pooling draws nothing
    swept="rank",
    page_part="app_support.efficient.efficient_linformer",
    bench=(
        BenchRow("gaussian, untrained", lambda t, heads: {"rank": min(256, t)}),
        BenchRow("mean pooling", lambda t, heads: {"rank": min(256, t), "projection": "pool"}),
    ),
    cases={
        "linformer": TimingCase(
            make=_linformer_case,
            flops=lambda n, h, d: 8.0 * n * min(256, n) * d * h,  # E·K, F·V, Q·(EK)ᵀ, P·(FV)
            setting="k=256 (projections drawn once, outside the timing, like weights)",
            growth=("T", "T"),
            label="Linformer",
        )
    },
)
