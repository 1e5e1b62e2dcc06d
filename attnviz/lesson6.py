"""Lesson 6, efficient attention: the knobs of the nine variants and what each section measures.

Everything here runs one variant on one head's Q, K, V (T tokens, width Dh) and compares it with exact
attention, always beside uniform attention (see `attnviz.metrics`). A knob is chosen from a fixed list of
values, so a link keeps meaning the same thing on any sentence; a value larger than the sentence allows (a rank
above T, a stride above T) is cut to what the sentence has, and the result says so.

    flash       tile size (exact at every size: the knob trades memory for speed)
    linformer   rank k and the kind of projection          performer   random features m
    nystrom     landmarks m                                longformer  window w, global tokens, dilation d
    bigbird     random blocks and the block size           reformer    buckets and rounds of hashing
    sparse      stride l and the pattern                   mqa         K/V groups G
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, scaled_dot_product
from attnviz.efficient import (
    VARIANTS,
    FlashAttention,
    bigbird_mask,
    flash_attention,
    kv_cache_bytes,
    longformer_mask,
    reformer_mask,
    sparse_mask,
)
from attnviz.efficient.nystrom import segment_of
from attnviz.errors import AttnvizInputError
from attnviz.host import to_host
from attnviz.metrics import Comparison, attention_mass_kept, compare, relative_frobenius_error

KnobValue = int | str
SEEDS = (0, 1, 2, 3, 4)  # the draws a random variant's error is averaged over
BYTES = 4  # float32


@dataclass(frozen=True)
class Knob:
    """One setting of a variant that trades accuracy (or memory) for cost."""

    name: str  # the keyword it becomes, and the end of the page's URL key (``l6_<name>``)
    label: str  # what the learner reads
    values: tuple[KnobValue, ...]  # the values offered, smallest cost first where that makes sense
    default: KnobValue
    help: str


@dataclass(frozen=True)
class VariantInfo:
    """What the lesson says about one variant."""

    name: str  # key in attnviz.efficient.VARIANTS
    title: str
    paper: str
    knobs: tuple[Knob, ...]
    formula: str  # LaTeX
    time: str  # time complexity
    memory: str  # extra memory beyond Q, K, V and the output
    keeps_exact: str  # what it keeps exact (closing table)
    costs: str  # what it gives up
    choose_when: str  # when to choose it
    kind: str  # "exact", "pattern" (exact on a sparse pattern) or "approx" (an approximation)


_SMALL = (*range(1, 17), 20, 24, 32, 48, 64)
INFO: Mapping[str, VariantInfo] = {
    "flash": VariantInfo(
        "flash", "FlashAttention", "Dao et al., 2022",
        (Knob("tile", "Tile size (query rows = keys per tile)", (1, 2, 3, 4, 6, 8, 16, 32, 64), 4,
              "Bigger tiles: fewer steps, more fast memory per step. The result never changes."),),
        r"\begin{aligned} m' &= \max\big(m,\ \max_j s_j\big) \\ "
        r"\ell' &= \ell\,e^{m-m'} + \textstyle\sum_j e^{s_j-m'} \\ "
        r"\mathrm{acc}' &= \mathrm{acc}\,e^{m-m'} + \textstyle\sum_j e^{s_j-m'}\,v_j \\ "
        r"O &= \mathrm{acc}/\ell \quad \text{after the last tile} \end{aligned}",
        "O(T²·D), the same as exact",
        "O(T) in total: a running max and sum per query row, plus one tile; never the T×S matrix",
        "everything: it is exact attention", "nothing but a more complex kernel",
        "always, when a kernel exists: it is the default of modern frameworks", "exact",
    ),
    "linformer": VariantInfo(
        "linformer", "Linformer", "Wang et al., 2020",
        (Knob("rank", "Rank k (projected keys)", _SMALL, 4, "How many mixes of the keys and values replace them."),
         Knob("proj", "Projection", ("pool", "gaussian"), "pool",
              "pool: means of k stretches of the sentence. gaussian: random mixes, what training starts from.")),
        r"O = \mathrm{softmax}\!\left(\frac{Q\,(E K)^\top}{\sqrt{d}}\right)(F V),\quad E, F \in \mathbb{R}^{k\times T}",
        "O(T·k·D)", "O(T·k)",
        "nothing exactly; the matrix is forced to rank ≤ k",
        "fixed length (E and F are T wide), no causal mask, and E, F must be learned",
        "long inputs of one fixed length in an encoder, when a trained model is available", "approx",
    ),
    "performer": VariantInfo(
        "performer", "Performer (FAVOR+)", "Choromanski et al., 2021",
        (Knob("features", "Random features m", (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), 16,
              "More features: a less noisy estimate of exp(q·k/√d), linearly more work."),),
        r"\begin{aligned} e^{q\cdot k/\sqrt d} &\approx \varphi(q)\cdot\varphi(k) \\ "
        r"\varphi(x)_i &= \tfrac{1}{\sqrt m}\, e^{\,\omega_i\cdot x/d^{1/4} \,-\, \|x\|^2/(2\sqrt d)},"
        r"\quad \omega_i \sim \mathcal N(0, I_d),\ i = 1, \dots, m \\ "
        r"O_t &= \frac{\varphi(q_t)\cdot\big(\sum_s \varphi(k_s)\, v_s^\top\big)}"
        r"{\varphi(q_t)\cdot\sum_s \varphi(k_s)} \end{aligned}",
        "O(T·m·D)", "O(T·m)",
        "nothing exactly; each kernel value e^(q·k/√d) is estimated without bias, each weight (a ratio of two "
        "estimates) only nearly",
        "a random error whose size grows like e^(‖q+k‖²/(2√d)) and shrinks like 1/√m; no causal mask without a "
        "prefix sum",
        "very long inputs where rough attention is enough (proteins, long documents)", "approx",
    ),
    "nystrom": VariantInfo(
        "nystrom", "Nyströmformer", "Xiong et al., 2021",
        (Knob("landmarks", "Landmarks m", _SMALL, 3, "Segment means standing in for all queries and keys."),),
        r"\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt d}\right) \approx F\,A^{+}B,\quad "
        r"F = \mathrm{sm}(Q\tilde K^\top),\; A = \mathrm{sm}(\tilde Q\tilde K^\top),\; "
        r"B = \mathrm{sm}(\tilde Q K^\top)",
        "O(T·m·D + m³)", "O(T·m)",
        "exact when m = T; otherwise the structure seen from m landmarks",
        "rows need not sum to 1 and can go negative; no causal mask",
        "long encoder inputs with smooth attention", "approx",
    ),
    "longformer": VariantInfo(
        "longformer", "Longformer", "Beltagy et al., 2020",
        (Knob("window", "Window w", (1, 3, 5, 7, 9, 13, 17, 25, 33), 3,
              "Each token sees itself and (w − 1)/2 window positions on each side."),
         Knob("globals", "Global tokens (from the start)", (0, 1, 2, 3, 4), 1,
              "The first g tokens see every token and every token sees them. With the real model the first is "
              "[CLS]; with GloVe it is your first word."),
         Knob("dilation", "Dilation d", (1, 2, 3, 4), 1,
              "The window's positions are d apart: t ± d, t ± 2d, … (1: the plain sliding window).")),
        r"\text{token } t \text{ sees } s \iff \big(|t-s| \le d\,\tfrac{w-1}{2} \;\land\; d \mid t-s\big)"
        r" \;\lor\; t \in G \;\lor\; s \in G",
        "O(T·(w + g)·D)", "O(T·(w + g))",
        "exact softmax on its pattern: (dilated) window plus global tokens",
        "every weight outside the window (unless global)",
        "long documents where most links are local (with a few global tokens for the task)", "pattern",
    ),
    "bigbird": VariantInfo(
        "bigbird", "BigBird", "Zaheer et al., 2020",
        (Knob("random", "Random blocks per block", (0, 1, 2, 3, 4, 6, 8), 1, "Blocks seen at random, fixed by a seed."),
         Knob("block", "Block size b", (1, 2, 3, 4), 2, "Tokens per block; the pattern is decided block by block.")),
        r"\text{blocks: window (3)} \;\cup\; \text{global (first block)} \;\cup\; r \text{ random blocks}",
        "O(T·(3 + 1 + r)·b·D)", "O(T·(3 + 1 + r)·b)",
        "exact softmax on window, global and random blocks",
        "every block pair not chosen; the random part changes with the seed",
        "long inputs where some far links matter (question answering over long text)", "pattern",
    ),
    "reformer": VariantInfo(
        "reformer", "Reformer (LSH attention)", "Kitaev et al., 2020",
        (Knob("buckets", "Buckets", (1, 2, 4, 6, 8, 12, 16), 4,
              "Angular LSH: a random rotation R sends x to bucket argmax [xR; −xR], so vectors pointing the same "
              "way tend to share a bucket."),
         Knob("rounds", "Rounds of hashing", (1, 2, 3, 4, 6, 8), 1,
              "Each round hashes with a new R; a pair counts if it met in any round.")),
        r"\begin{gathered}k_s = \frac{q_s}{\lVert q_s\rVert},\quad h(x) = \arg\max\,[xR;\,-xR],\quad "
        r"c = \lceil 2T/n_{\text{buckets}} \rceil \\ "
        r"t \text{ sees } s \ne t \iff \exists r\!:\; h_r(q_t) = h_r(q_s) \,\land\, "
        r"\mathrm{chunk}_r(s) \in \{\mathrm{chunk}_r(t),\, \mathrm{chunk}_r(t) - 1\}\end{gathered}",
        "O(R·T·(n_buckets + c)·D) plus a sort: hashing, then chunks of c sorted tokens",
        "O(R·T·c)",
        "exact softmax on the pairs its buckets and chunks allow",
        "pairs hashed apart in every round, even when their weight is large",
        "very long inputs where each query needs only its nearest keys", "pattern",
    ),
    "sparse": VariantInfo(
        "sparse", "Sparse Transformer", "Child et al., 2019",
        (Knob("stride", "Stride l", (1, 2, 3, 4, 5, 6, 8, 10, 12, 16), 3, "About √T in the paper."),
         Knob("pattern", "Pattern", ("strided", "fixed"), "strided",
              "Both directions here. strided: every token less than l away and every l-th token, on either side. "
              "fixed: the token's own block of l and the last token of every block.")),
        r"\text{strided: } |t-s| < l \;\lor\; (t-s) \bmod l = 0,\qquad "
        r"\text{fixed: } \lfloor s/l\rfloor = \lfloor t/l\rfloor \;\lor\; s \bmod l = l-1",
        "O(T·√T·D) with l = √T", "O(T·√T)",
        "exact softmax on its two-part pattern",
        "every pair off the pattern",
        "long sequences with a period (images, audio, music)", "pattern",
    ),
    "mqa": VariantInfo(
        "mqa", "Multi-Query / Grouped-Query Attention", "Shazeer, 2019; Ainslie et al., 2023",
        (Knob("groups", "K/V groups G", (1, 2, 3, 4, 6, 12), 1,
              "1: one K/V head for all query heads (multi-query). 12: ordinary multi-head."),),
        r"O_h = \mathrm{softmax}\!\left(\frac{Q_h K_{g(h)}^\top}{\sqrt d}\right)V_{g(h)},\quad "
        r"g(h) = \lfloor hG/H \rfloor",
        "O(T²·D), as exact", "KV cache 2·G·S·Dh per layer instead of 2·H·S·Dh",
        "the softmax is exact; the keys and values are shared by each group",
        "each head's own K and V (the model must be trained or uptrained this way)",
        "decoding with long contexts and large batches: the KV cache is the bottleneck", "exact",
    ),
}  # fmt: skip


def default_knobs(name: str) -> dict[str, KnobValue]:
    """Every knob of a variant at its default."""
    return {knob.name: knob.default for knob in INFO[name].knobs}


def _divisors(n: int) -> list[int]:
    return [g for g in range(1, n + 1) if n % g == 0]


@dataclass(frozen=True)
class Settings:
    """The knobs as the variant received them for this sentence."""

    kwargs: Mapping[str, object]  # keyword arguments of the variant's function
    notes: tuple[str, ...]  # what was cut to fit the sentence, for the learner


def settings(name: str, knobs: Mapping[str, KnobValue], t: int, heads: int = 1) -> Settings:
    """The variant's keyword arguments for a sentence of T tokens (and H heads, for mqa), knobs cut to fit.

    Raises AttnvizInputError for an unknown variant or a knob value outside its list.
    """
    if name not in INFO:
        raise AttnvizInputError(f"unknown variant {name!r}; choose one of {', '.join(INFO)}")
    if t < 1:
        raise AttnvizInputError("the sentence has no tokens")
    full = default_knobs(name) | dict(knobs)
    for knob in INFO[name].knobs:
        if full[knob.name] not in knob.values:
            raise AttnvizInputError(f"{knob.label} cannot be {full[knob.name]!r}; choose one of {list(knob.values)}")
    notes: list[str] = []

    def cut(value: int, limit: int, what: str) -> int:
        if value > limit:
            notes.append(f"{what} {value} is more than your {limit} tokens allow: using {limit}.")
            return limit
        return value

    if name == "flash":
        tile = int(full["tile"])
        return Settings({"block_q": tile, "block_k": tile}, ())
    if name == "linformer":
        rank = cut(int(full["rank"]), t, "Rank")
        return Settings({"rank": rank, "projection": full["proj"], "seed": 0}, tuple(notes))
    if name == "performer":
        return Settings({"n_features": int(full["features"]), "seed": 0}, ())
    if name == "nystrom":
        m = cut(int(full["landmarks"]), t, "Landmarks")
        return Settings({"n_landmarks": m, "pinv_iterations": 12}, tuple(notes))
    if name == "longformer":
        g = cut(int(full["globals"]), t, "Global tokens")
        knobs_ = {"window": int(full["window"]), "global_tokens": tuple(range(g)), "dilation": int(full["dilation"])}
        return Settings(knobs_, tuple(notes))
    if name == "bigbird":
        settings_ = {"block_size": int(full["block"]), "window_blocks": 3, "global_blocks": 1}
        return Settings(settings_ | {"random_blocks": int(full["random"]), "seed": 0}, ())
    if name == "reformer":
        # The paper's shared-QK attention: run_variant passes k = q/‖q‖, and a token attends to itself only when
        # nothing else is in its bucket (q·q/‖q‖ would always win)
        knobs_ = {"n_buckets": int(full["buckets"]), "n_rounds": int(full["rounds"]), "exclude_self": True}
        return Settings(knobs_ | {"seed": 0}, ())
    if name == "sparse":
        stride = cut(int(full["stride"]), t, "Stride")
        return Settings({"stride": stride, "pattern": full["pattern"], "causal": False}, tuple(notes))
    groups = int(full["groups"])
    if heads % groups:
        usable = max(g for g in _divisors(heads) if g <= groups)
        notes.append(f"{groups} groups do not divide {heads} heads evenly: using {usable}.")
        groups = usable
    return Settings({"groups": groups}, tuple(notes))


def pattern_of(name: str, q: Tensor, kwargs: Mapping[str, object]) -> Tensor | None:
    """The (T, T) bool pattern a sparse variant attends through (None for the others).

    Args:
        q: (T, D) the queries (Reformer's buckets depend on them).
    """
    t = q.shape[-2]
    if name == "longformer":
        window, dilation = int(kwargs["window"]), int(kwargs.get("dilation", 1))  # type: ignore[call-overload]
        return longformer_mask(t, window, kwargs["global_tokens"], dilation=dilation)  # type: ignore[arg-type]
    if name == "bigbird":
        keys = ("block_size", "window_blocks", "global_blocks", "random_blocks", "seed")  # the run's own seed
        return bigbird_mask(t, **{key: int(kwargs[key]) for key in keys})  # type: ignore[arg-type]
    if name == "sparse":
        return sparse_mask(t, pattern=kwargs["pattern"], stride=int(kwargs["stride"]), causal=False)  # type: ignore
    if name == "reformer":
        return reformer_mask(
            q,
            n_buckets=int(kwargs["n_buckets"]),
            n_rounds=int(kwargs["n_rounds"]),
            seed=int(kwargs.get("seed", 0)),  # type: ignore[arg-type]
            exclude_self=bool(kwargs.get("exclude_self", True)),
        )
    return None


@dataclass(frozen=True, eq=False)
class Run:
    """One variant against exact attention on one head."""

    name: str
    settings: Settings
    exact: Attention  # weights (T, S), output (T, Dv)
    approx: Attention  # the variant's own result, weights (T, S) rebuilt for the picture
    comparison: Comparison  # its error figures beside uniform attention's
    pattern: Tensor | None  # (T, S) bool, for the sparse variants
    exact_mask: Tensor | None = None  # (T, S) bool, the keys exact attention may use (Reformer: not itself)


def shared_keys(q: Tensor) -> Tensor:
    """The Reformer's keys in shared-QK attention: every token's query at unit length, k = q/‖q‖.

    Args:
        q: (..., T, D)
    Returns:
        (..., T, D)
    """
    return torch.nn.functional.normalize(q, dim=-1)


def not_self(t: int) -> Tensor | None:
    """(T, T) bool, every key but the token's own: shared-QK attention's rule (None for one token, which has no
    other key and so attends to itself)."""
    return None if t < 2 else ~torch.eye(t, dtype=torch.bool)


def run_variant(
    name: str, q: Tensor, k: Tensor, v: Tensor, knobs: Mapping[str, KnobValue], head: int = 0, seed: int = 0
) -> Run:
    """Run a variant and exact attention on one head, with the error figures.

    Args:
        q, k, v: (H, T, Dh) every head of a layer (only mqa uses the others).
        head: which head is compared.
        seed: the draw, for the random variants (Linformer's Gaussian projections, Performer, Reformer, BigBird).

    The Reformer runs as the paper defines it, shared-QK: its keys are the head's queries at unit length
    (`shared_keys`), and the exact attention it is compared with is full shared-QK attention with every token
    off its own key (`not_self`), the model the Reformer approximates.
    """
    if q.dim() != 3:
        raise ValueError("q, k and v are (H, T, Dh)")
    if not 0 <= head < q.shape[0]:
        raise AttnvizInputError(f"head {head + 1} does not exist: there are {q.shape[0]}")
    t = q.shape[-2]
    chosen = settings(name, knobs, t, q.shape[0])
    kwargs = dict(chosen.kwargs)
    if "seed" in kwargs:
        kwargs["seed"] = seed
    qh, kh, vh = q[head], k[head], v[head]  # (T, Dh) each
    exact_mask = None
    if name == "reformer":
        kh, exact_mask = shared_keys(qh), not_self(t)  # (T, Dh), (T, T)
    exact = scaled_dot_product(qh, kh, vh, mask=exact_mask)
    if name == "mqa":
        approx_all = VARIANTS[name](q, k, v, **kwargs)  # weights (H, T, S)
        approx = Attention(output=approx_all.output[head], weights=approx_all.weights[head], scale=approx_all.scale)
    else:
        approx = VARIANTS[name](qh, kh, vh, return_weights=True, **kwargs)
    pattern = pattern_of(name, qh, kwargs)
    comparison = compare(exact, approx, vh, mask=exact_mask, pattern=pattern)
    return Run(name, Settings(kwargs, chosen.notes), exact, approx, comparison, pattern, exact_mask)


# ----------------------------------------------------------------------------------------------------------
# Error against the knob
# ----------------------------------------------------------------------------------------------------------

RANDOM = frozenset({"performer", "bigbird", "reformer"})  # the draw matters; Linformer's only when Gaussian


@dataclass(frozen=True)
class Sweep:
    """Relative error of the attention matrix as one knob grows, over several draws."""

    knob: str
    values: tuple[KnobValue, ...]  # the knob values measured (those the sentence allows)
    mean: tuple[float, ...]  # mean over the draws of ‖A − A_exact‖_F / ‖A_exact‖_F
    low: tuple[float, ...]  # smallest over the draws
    high: tuple[float, ...]  # largest over the draws
    uniform: float  # the same error for uniform attention
    seeds: int  # how many draws


def sweep(
    name: str, q: Tensor, k: Tensor, v: Tensor, knobs: Mapping[str, KnobValue], knob: str, head: int = 0
) -> Sweep:
    """The error of the attention matrix for every value of ``knob`` (the other knobs as given).

    Values beyond what the sentence allows are left out (they would repeat the last one).
    """
    info = INFO[name]
    spec = next((kn for kn in info.knobs if kn.name == knob), None)
    if spec is None:
        raise AttnvizInputError(f"{info.title} has no knob {knob!r}")
    t = q.shape[-2]
    random = name in RANDOM or (name == "linformer" and knobs.get("proj", "pool") == "gaussian")
    seeds = SEEDS if random else (0,)
    values, mean, low, high = [], [], [], []
    seen: set[tuple] = set()
    uniform = None
    for value in spec.values:
        chosen = settings(name, {**knobs, knob: value}, t, q.shape[0])
        signature = tuple(sorted((key, str(val)) for key, val in chosen.kwargs.items()))
        if signature in seen:
            continue
        seen.add(signature)
        errors = []
        for seed in seeds:
            run = run_variant(name, q, k, v, {**knobs, knob: value}, head, seed)
            errors.append(run.comparison.approx.weights_rel_frobenius or 0.0)
            uniform = run.comparison.uniform.weights_rel_frobenius
        values.append(value)
        mean.append(float(np.mean(errors)))
        low.append(float(np.min(errors)))
        high.append(float(np.max(errors)))
    return Sweep(knob, tuple(values), tuple(mean), tuple(low), tuple(high), float(uniform or 0.0), len(seeds))


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

    both: int  # pairs of the pattern reaching both ways (what the page computes with)
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


# ----------------------------------------------------------------------------------------------------------
# FlashAttention: the step-through and its memory
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlashMemory:
    """Bytes of float32 the full matrix would take, against what the tiled pass holds at once."""

    full_matrix: int  # T·S numbers: the scores (the weights would be as many again)
    tile: int  # one tile of scores, block_q·block_k
    running: int  # m and ℓ of a row block, and its accumulator: block_q·(2 + Dv)


def flash_memory(t: int, s: int, dv: int, block_q: int, block_k: int) -> FlashMemory:
    bq, bk = min(block_q, t), min(block_k, s)
    return FlashMemory(full_matrix=t * s * BYTES, tile=bq * bk * BYTES, running=bq * (2 + dv) * BYTES)


def flash_steps(q: Tensor, k: Tensor, v: Tensor, tile: int) -> FlashAttention:
    """The tiled pass on one head, every step recorded. q, k: (T, Dh), v: (T, Dv)."""
    return flash_attention(q, k, v, block_q=tile, block_k=tile, record_steps=True, return_weights=True)


def flash_progress(t: int, s: int, steps: Sequence[tuple[int, int, int, int]], upto: int) -> np.ndarray:
    """(T, S) which score cells have been computed after step ``upto`` (0-based): 0 not yet, 1 earlier, 2 now.

    Args:
        steps: (q_start, q_stop, k_start, k_stop) of every tile in order.
    """
    done = np.zeros((t, s), dtype=np.int8)
    for i, (q0, q1, k0, k1) in enumerate(steps[: upto + 1]):
        done[q0:q1, k0:k1] = 2 if i == upto else 1
    return done


@dataclass(frozen=True)
class Timings:
    """Median seconds of one attention pass on one head, three ways, measured on ``device``."""

    device: str  # where it ran, e.g. "CPU (1 thread)"
    tiled: float  # attnviz's readable tiled loop (flash_attention), with the page's tile size
    fused: float  # torch.nn.functional.scaled_dot_product_attention
    plain: float  # the matrix path: scores, weights and output all kept (attention.scaled_dot_product)
    fused_backend: str  # the kernel PyTorch chose for the fused call ("FLASH_ATTENTION", "MATH", …)


def _fused_backend(q: Tensor) -> str:
    try:  # a private helper of PyTorch: which kernel scaled_dot_product_attention will run for these inputs
        from torch.nn.attention import SDPBackend

        return SDPBackend(int(torch._fused_sdp_choice(q, q, q))).name
    except Exception:  # any change in PyTorch's internals: say it is unknown, never fail the page
        return "not reported"


def median_seconds(call: Callable[[], object], min_run_time: float) -> float:
    """The median time of ``call`` over repeated runs for about ``min_run_time`` seconds, after one warm-up run.

    A warm-up run that takes ten times ``min_run_time`` or more is the answer itself (a first call's own overhead
    is milliseconds; a long tiled loop on a long sentence would otherwise hold the page for seconds more).
    """
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    if first >= 10 * min_run_time:
        return first
    times: list[float] = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < min_run_time and len(times) < 10_000):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def flash_timings(q: Tensor, k: Tensor, v: Tensor, tile: int, min_run_time: float = 0.1) -> Timings:
    """Time the tiled pass, PyTorch's fused kernel and the matrix path on one head (see `median_seconds`).

    Args:
        q, k: (T, Dh); v: (T, Dv), on the device to measure (CUDA calls are synchronised before the clock stops).
        min_run_time: seconds each of the three is run for.
    """
    from attnviz.device import describe

    q4, k4, v4 = q[None, None], k[None, None], v[None, None]  # (1, 1, T, D): the shape the fused call expects
    cuda = q.device.type == "cuda"

    def synced(fn: Callable[[], object]) -> Callable[[], object]:
        def call() -> object:
            out = fn()
            if cuda:
                torch.cuda.synchronize(q.device)
            return out

        return call

    calls = {
        "tiled": lambda: flash_attention(q4, k4, v4, block_q=tile, block_k=tile),
        "fused": lambda: torch.nn.functional.scaled_dot_product_attention(q4, k4, v4),
        "plain": lambda: scaled_dot_product(q4, k4, v4),
    }
    seconds = {key: median_seconds(synced(call), min_run_time) for key, call in calls.items()}
    return Timings(device=describe(q.device), fused_backend=_fused_backend(q4), **seconds)


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


# ----------------------------------------------------------------------------------------------------------
# Multi-query / grouped-query: the KV cache
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """The attention shape of a published model, for the KV-cache meter."""

    name: str
    layers: int
    heads: int  # query heads
    kv_heads: int  # K/V heads as released (equal to heads: multi-head; 1: multi-query)
    head_dim: int
    dtype: torch.dtype  # what the cache is usually kept in
    decoder: bool = True  # False: an encoder, which reads its whole input at once and keeps no KV cache


# the published configurations (the models' config.json): layers, attention heads, K/V heads, head width
SHAPES: tuple[ModelShape, ...] = (
    ModelShape("Llama 2 7B (multi-head)", 32, 32, 32, 128, torch.float16),
    ModelShape("Mistral 7B v0.1 (8 K/V heads)", 32, 32, 8, 128, torch.float16),
    ModelShape("Llama 2 70B (8 K/V heads)", 80, 64, 8, 128, torch.float16),
    ModelShape("Falcon 7B (multi-query: 1 K/V head)", 32, 71, 1, 64, torch.float16),
    ModelShape("all-MiniLM-L6-v2, this course's model (an encoder: hypothetical)", 6, 12, 12, 32, torch.float32,
               decoder=False),
    ModelShape("BERT-base (an encoder: hypothetical)", 12, 12, 12, 64, torch.float32, decoder=False),
)  # fmt: skip


def cache_bytes(shape: ModelShape, groups: int, length: int, batch: int = 1) -> int:
    """The KV cache of ``shape`` with ``groups`` K/V heads, for ``length`` tokens."""
    if shape.heads % groups:
        raise AttnvizInputError(f"{groups} groups do not divide {shape.heads} heads")
    return kv_cache_bytes(
        kv_heads=groups, length=length, head_dim=shape.head_dim, layers=shape.layers, batch=batch, dtype=shape.dtype
    )


def group_options(heads: int) -> list[int]:
    """The numbers of K/V groups that divide ``heads`` evenly."""
    return _divisors(heads)


def head_changes(q: Tensor, k: Tensor, v: Tensor, groups: int) -> np.ndarray:
    """(H,) how far each head's map moves when K and V are pooled into ``groups``: relative Frobenius error."""
    exact = scaled_dot_product(q, k, v).weights  # (H, T, S)
    shared = VARIANTS["mqa"](q, k, v, groups=groups).weights  # (H, T, S)
    return np.array([relative_frobenius_error(shared[h], exact[h]) for h in range(q.shape[0])])


# ----------------------------------------------------------------------------------------------------------
# Swap a variant into the real model
# ----------------------------------------------------------------------------------------------------------


def _fit_call(name: str, knobs: Mapping[str, KnobValue], q: Tensor, k: Tensor, v: Tensor, **extra: object) -> Attention:
    # the knobs are cut to each call's own length: every sentence of a comparison has its own T
    kwargs = dict(settings(name, knobs, q.shape[-2], q.shape[-3] if q.dim() >= 3 else 1).kwargs)
    if name == "reformer":  # the model's own keys here, not shared-QK: its own key stays, as before
        kwargs["exclude_self"] = False
    return VARIANTS[name](q, k, v, **(kwargs | extra))


def make_attend(name: str, knobs: Mapping[str, KnobValue]) -> AttentionFn:
    """An AttentionFn for `attnviz.pretrained`: the variant with these knobs in every head of every layer."""
    settings(name, knobs, 1 << 20, 12)  # refuse bad knobs now, not in the middle of a forward pass
    return functools.partial(_fit_call, name, dict(knobs))  # type: ignore[return-value]


def order_kept(exact: np.ndarray, approx: np.ndarray) -> float:
    """Share of the pairs of (off-diagonal) entries whose order the approximation keeps (1: all of them).

    Args:
        exact, approx: (N, N) symmetric similarity matrices; each unordered pair of sentences counts once.
    """
    iu = np.triu_indices(exact.shape[0], k=1)
    a, b = exact[iu], approx[iu]
    if a.size < 2:
        return 1.0
    i, j = np.triu_indices(a.size, k=1)
    same = np.sign(a[i] - a[j]) == np.sign(b[i] - b[j])
    return float(same.mean())


@dataclass(frozen=True)
class Swap:
    """The pretrained encoder with a variant in every layer, against the same encoder with exact attention."""

    texts: tuple[str, ...]  # N sentences, the learner's first
    cosine_to_exact: tuple[float, ...]  # N: cosine between each sentence's embedding with the variant and without
    exact_similarity: np.ndarray  # (N, N) cosine between sentence embeddings, exact attention
    variant_similarity: np.ndarray  # (N, N) the same with the variant
    order_kept: float  # share of pairs of similarities in the same order (see order_kept)


def swap(model: object, texts: Sequence[str], name: str, knobs: Mapping[str, KnobValue]) -> Swap:
    """Embed every text with exact attention and with the variant (in every layer), and compare."""
    from attnviz.pretrained import sentence_embedding  # the model's tokenizer is imported only here

    if not texts:
        raise AttnvizInputError("nothing to embed")
    attend = make_attend(name, knobs)
    exact = torch.stack([sentence_embedding(model, text) for text in texts]).double()  # (N, D)
    approx = torch.stack([sentence_embedding(model, text, attend) for text in texts]).double()  # (N, D)
    cos = torch.nn.functional.cosine_similarity(exact, approx, dim=-1)  # (N,)
    sim_exact = to_host(exact @ exact.T)  # (N, N) unit vectors: cosines
    approx_unit = torch.nn.functional.normalize(approx, dim=-1)
    sim_approx = to_host(approx_unit @ approx_unit.T)
    return Swap(
        texts=tuple(texts),
        cosine_to_exact=tuple(float(c) for c in cos),
        exact_similarity=sim_exact,
        variant_similarity=sim_approx,
        order_kept=order_kept(sim_exact, sim_approx),
    )


def human_bytes(n: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def large_number(x: float) -> str:
    """12345 → '12,345'; 4.9e8 → '4.9 × 10⁸'; infinity → 'more than 10³⁰⁸'."""
    if math.isinf(x):
        return "more than 10³⁰⁸"
    if abs(x) < 1e6:
        return f"{x:,.0f}"
    exponent = math.floor(math.log10(abs(x)))
    mantissa = x / 10**exponent
    if round(mantissa, 1) >= 10:  # 9.96e8 rounds up to 10.0
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of two from ``low`` to ``high`` (for log axes of sizes)."""
    return [2.0**e for e in range(math.floor(math.log2(low)), math.ceil(math.log2(high)) + 1)]


# ----------------------------------------------------------------------------------------------------------
# The GloVe toy: twelve seeded random heads over the sentence's word vectors
# ----------------------------------------------------------------------------------------------------------

TOY_HEADS, TOY_WIDTH = 12, 32  # the real model's layer shape, so that every knob means the same on both


def toy_qkv(x: Tensor, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Q, K, V of twelve seeded random heads (lesson 5's toy layer, drawn the same way) over word vectors.

    Args:
        x: (T, D) the sentence's GloVe vectors.
    Returns:
        q, k, v: (H, T, Dh) each, H = 12, Dh = 32.
    """
    from attnviz.heads import QK_GAIN

    if x.dim() != 2 or x.shape[0] < 1:
        raise AttnvizInputError("the toy heads need at least one word vector")
    d = x.shape[1]
    qs, ks, vs = [], [], []
    for h in range(TOY_HEADS):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + h)
        m_q = torch.randn(d, TOY_WIDTH, generator=gen) * (QK_GAIN / math.sqrt(d))  # (D, Dh)
        m_k = torch.randn(d, TOY_WIDTH, generator=gen) * (QK_GAIN / math.sqrt(d))  # (D, Dh)
        m_v = torch.randn(d, TOY_WIDTH, generator=gen) / math.sqrt(d)  # (D, Dh)
        xc = x.float().cpu()
        qs.append(xc @ m_q)
        ks.append(xc @ m_k)
        vs.append(xc @ m_v)
    return torch.stack(qs), torch.stack(ks), torch.stack(vs)  # (H, T, Dh) each
