"""What each variant keeps and drops, measured: low rank (Linformer), the weight a pattern leaves out, buckets
(Reformer), dilation (Longformer), hops through a pattern (BigBird), landmarks (Nyströmformer) and the noise of
random features (Performer)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnviz.efficient.bigbird import bigbird_mask
from attnviz.efficient.compare import Sweep, shared_keys
from attnviz.efficient.longformer import longformer_mask
from attnviz.efficient.nystrom import nystrom_attention, segment_of
from attnviz.efficient.sparse import sparse_mask
from attnviz.errors import AttnvizInputError
from attnviz.host import to_host
from attnviz.metrics import attention_mass_kept

# ----------------------------------------------------------------------------------------------------------
# Linformer: how close real attention is to low rank
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spectrum:
    """Singular values of attention matrices, and how much of each matrix the first k of them hold."""

    values: np.ndarray  # (H, T) singular values of each head's map, largest first
    energy: np.ndarray  # (H, T) Σ_{i≤k} σ_i² / Σ σ_i²: the share of ‖A‖_F² a rank-k matrix can keep
    rank_90: np.ndarray  # (H,) the smallest k that keeps 90% of ‖A‖_F²


def spectrum(weights: Tensor) -> Spectrum:
    """Singular values of each (T, S) attention map.

    The best rank-k approximation keeps Σ_{i≤k} σ_i² of ‖A‖_F² (Eckart–Young), so ``energy`` says how close
    to low rank each map is.

    Args:
        weights: (H, T, S)
    """
    sv = torch.linalg.svdvals(weights.double())  # (H, min(T, S))
    power = sv**2
    energy = power.cumsum(-1) / power.sum(-1, keepdim=True).clamp_min(1e-300)  # (H, K)
    rank_90 = (energy < 0.9 - 1e-12).sum(-1) + 1  # (H,)
    return Spectrum(values=to_host(sv), energy=to_host(energy), rank_90=to_host(rank_90))


# ----------------------------------------------------------------------------------------------------------
# Sparse patterns: what they drop
# ----------------------------------------------------------------------------------------------------------


def mass_dropped(weights: Tensor, pattern: Tensor) -> float:
    """Mean over rows of the exact attention weight outside the pattern: 1 − attention_mass_kept."""
    return 1.0 - attention_mass_kept(weights, pattern)


def mass_dropped_per_row(weights: Tensor, pattern: Tensor) -> Tensor:
    """(T,) the exact weight each row loses to the pattern."""
    return (weights * ~pattern).sum(dim=-1)


def weight_outside(weights: Tensor, pattern: Tensor) -> bool:
    """Whether any exact weight falls outside the pattern: then KL(exact‖variant) is infinite (log p/0)."""
    return bool((weights * ~pattern).gt(0).any())


def uniform_share(pattern: Tensor, allowed: Tensor | None = None) -> float:
    """Mean over rows of the weight uniform attention (over the ``allowed`` keys) puts on the pattern: what a
    pattern of this size keeps by chance, to set beside `attention_mass_kept` of the exact map.

    Args:
        pattern, allowed: (T, S) bool.
    """
    ok = torch.ones_like(pattern) if allowed is None else allowed
    return float(((pattern & ok).sum(-1) / ok.sum(-1).clamp_min(1)).double().mean())


def mean_row_l1(exact_weights: Tensor, approx_weights: Tensor) -> float:
    """Mean over rows of Σ_s |A_exact − A|: a row that loses weight p to a pattern and is renormalised moves by
    2p (p taken off the dropped keys, p added to the kept ones)."""
    return float((approx_weights.double() - exact_weights.double()).abs().sum(-1).mean())


# ----------------------------------------------------------------------------------------------------------
# Reformer: similar queries share buckets
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketPairs:
    """How the hash treated each pair of tokens, by the cosine of their queries."""

    cosine: np.ndarray  # (T, T) cosine between the queries (= between the shared keys)
    rounds_shared: np.ndarray  # (T, T) in how many rounds the pair landed in the same bucket
    same_mean: float | None  # mean cosine of the pairs sharing a bucket in some round (None: no such pair)
    apart_mean: float | None  # mean cosine of the pairs never in the same bucket (None: no such pair)


def bucket_pairs(q: Tensor, buckets: Tensor) -> BucketPairs:
    """Cosines of the query pairs against the buckets they were hashed into.

    Args:
        q: (T, D) queries.
        buckets: (R, T) long, the bucket of every token in every round.
    """
    unit = shared_keys(q.double())  # (T, D)
    cos = to_host(unit @ unit.T)  # (T, T)
    b = to_host(buckets)
    shared = (b[:, :, None] == b[:, None, :]).sum(0)  # (T, T)
    off = ~np.eye(cos.shape[0], dtype=bool)
    same, apart = cos[off & (shared > 0)], cos[off & (shared == 0)]
    return BucketPairs(
        cosine=cos,
        rounds_shared=shared,
        same_mean=float(same.mean()) if same.size else None,
        apart_mean=float(apart.mean()) if apart.size else None,
    )


# ----------------------------------------------------------------------------------------------------------
# Longformer: dilation; BigBird: how many layers information needs; Nyströmformer: the landmarks
# ----------------------------------------------------------------------------------------------------------


def dilation_kept(weights: Tensor, window: int, global_tokens: Sequence[int], dilations: Sequence[int]) -> list[float]:
    """The exact weight the Longformer pattern keeps (mean over rows) at every dilation, the rest fixed.

    Args:
        weights: (T, S) the exact map.
    """
    t = weights.shape[-2]
    return [attention_mass_kept(weights, longformer_mask(t, window, global_tokens, dilation=d)) for d in dilations]


def hops(pattern: Tensor) -> int | None:
    """The most layers information needs to reach any token from any other through the pattern (a token t
    reads key s in one layer where pattern[t, s]); None when some token can never reach another.

    Args:
        pattern: (T, T) bool.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    t = pattern.shape[-1]
    if t < 2:
        return 0
    # breadth-first search from every token: O(T·edges), where powers of the pattern would cost O(T⁴)
    dist = shortest_path(csr_matrix(to_host(pattern)), method="D", unweighted=True)  # (T, T)
    return None if np.isinf(dist).any() else int(dist.max())


@dataclass(frozen=True)
class SparseReach:
    """How many pairs the Sparse Transformer's pattern covers, both ways and causal."""

    both: int  # pairs of the pattern reaching both ways (what the comparison computes with)
    causal: int  # pairs of the paper's causal pattern (s ≤ t)
    last_row: int  # keys the last token sees, both ways


def sparse_reach(t: int, pattern: str, stride: int) -> SparseReach:
    both = sparse_mask(t, pattern=pattern, stride=stride, causal=False)  # type: ignore[arg-type]  # (T, T)
    back = sparse_mask(t, pattern=pattern, stride=stride, causal=True)  # type: ignore[arg-type]  # (T, T)
    return SparseReach(both=int(both.sum()), causal=int(back.sum()), last_row=int(both[-1].sum()))


@dataclass(frozen=True)
class BigBirdHops:
    """Layers information needs to reach every token from every other (see `hops`); None: never."""

    pattern: int | None  # the pattern as set
    no_global: int | None  # the same without the global block
    window: int | None  # the window blocks alone


def bigbird_hops(t: int, kwargs: Mapping[str, object]) -> BigBirdHops:
    """`hops` of BigBird's pattern with its settings (``kwargs`` as `settings` gives them), without its global
    block, and with the window alone."""
    common = {key: int(kwargs[key]) for key in ("block_size", "window_blocks", "seed")}  # type: ignore[call-overload]
    glob, rand = int(kwargs["global_blocks"]), int(kwargs["random_blocks"])  # type: ignore[call-overload]
    return BigBirdHops(
        pattern=hops(bigbird_mask(t, global_blocks=glob, random_blocks=rand, **common)),
        no_global=hops(bigbird_mask(t, global_blocks=0, random_blocks=rand, **common)),
        window=hops(bigbird_mask(t, global_blocks=0, random_blocks=0, **common)),
    )


def landmark_segments(t: int, m: int) -> list[range]:
    """The contiguous stretch of positions each of Nyströmformer's m landmarks is the mean of."""
    seg = segment_of(t, m).tolist()
    return [range(seg.index(j), len(seg) - seg[::-1].index(j)) for j in range(m)]


@dataclass(frozen=True)
class NystromRows:
    """How Nyströmformer's map F·A⁺·B differs from a softmax's, with the page's iterative inverse and an exact one.

    F, A and B are softmaxes, so each row sums to 1: B·1 = 1, and A·1 = 1 gives A⁻¹·1 = 1 for an invertible A, so
    with an exact inverse every row of F·A⁺·B sums to 1 (F·A⁻¹·B·1 = F·1 = 1). Only the iteration's A⁺ drifts. What
    no exact inverse removes are negative weights: A⁺ has negative entries.
    """

    lowest: float  # the smallest weight of the map with the iterative inverse (< 0: a key weighed against)
    sum_low: float  # its smallest row sum
    sum_high: float  # its largest row sum
    exact_lowest: float  # the same three with torch.linalg.pinv, in float64
    exact_sum_low: float
    exact_sum_high: float


def nystrom_rows(q: Tensor, k: Tensor, v: Tensor, kwargs: Mapping[str, object]) -> NystromRows:
    """The smallest weight and the range of the row sums of F·A⁺·B, iterative and exact.

    Args:
        q, k, v: (T, D) one head.
        kwargs: the variant's keyword arguments (``n_landmarks``, ``pinv_iterations``), as the page ran it.
    """
    ours = nystrom_attention(q, k, v, return_weights=True, **kwargs).weights  # (T, S)
    exact_kwargs = {**kwargs, "pinv": "svd"}
    exact = nystrom_attention(q.double(), k.double(), v.double(), return_weights=True, **exact_kwargs).weights
    assert ours is not None and exact is not None
    sums, exact_sums = ours.sum(-1), exact.sum(-1)  # (T,) each
    return NystromRows(
        lowest=float(ours.min()),
        sum_low=float(sums.min()),
        sum_high=float(sums.max()),
        exact_lowest=float(exact.min()),
        exact_sum_low=float(exact_sums.min()),
        exact_sum_high=float(exact_sums.max()),
    )


# ----------------------------------------------------------------------------------------------------------
# Performer: how hard the kernel is to estimate
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpread:
    """‖x + y‖² for every query–key pair, x = q/d^{1/4}, y = k/d^{1/4}: it sets the noise of FAVOR+'s estimate.

    One positive random feature estimates e^{x·y} = e^{q·k/√d} without bias, with relative variance
    e^{‖x+y‖²} − 1 (Choromanski et al., 2021, Lemma 2); m independent features divide that variance by m.
    """

    sq: np.ndarray  # (T, S) ‖q_t + k_s‖²/√d
    typical: float  # the median over the pairs
    largest: float  # the largest


def kernel_spread(q: Tensor, k: Tensor) -> KernelSpread:
    """‖q_t + k_s‖²/√d over every pair (the usual scale 1/√d split evenly between q and k).

    Args:
        q: (T, D), k: (S, D).
    """
    q64, k64 = q.double().detach().cpu(), k.double().detach().cpu()
    sq = ((q64[:, None, :] + k64[None, :, :]) ** 2).sum(-1) / math.sqrt(q.shape[-1])  # (T, S)
    flat_ = sq.flatten()
    return KernelSpread(sq=to_host(sq), typical=float(flat_.median()), largest=float(flat_.max()))


def kernel_relative_sd(sq: float, m: int) -> float:
    """Relative standard deviation of one kernel estimate from m independent features, for ‖x + y‖² = ``sq``."""
    return math.sqrt(_expm1(sq) / m)


def _expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:  # beyond e^709: no number of features is enough
        return math.inf


def features_needed(sq: float, target: float = 0.1) -> float:
    """How many independent features bring one kernel estimate's relative standard deviation down to ``target``."""
    return _expm1(sq) / target**2


def error_slope(s: Sweep) -> float:
    """The exponent b of a least-squares fit error ≈ c·m^b over a numeric sweep (−0.5 is 1/√m)."""
    m = np.log(np.asarray(s.values, dtype=float))
    err = np.log(np.maximum(np.asarray(s.mean, dtype=float), 1e-300))
    if len(m) < 2:
        raise AttnvizInputError("a slope needs at least two settings")
    return float(np.polyfit(m, err, 1)[0])
