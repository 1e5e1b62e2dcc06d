"""Lesson 6, efficient attention: the knobs of the nine variants and what each section measures.

Everything here runs one variant on one head's Q, K, V (T tokens, width Dh) and compares it with exact
attention, always beside uniform attention (see `attnviz.metrics`). A knob is chosen from a fixed list of
values, so a link keeps meaning the same thing on any sentence; a value larger than the sentence allows (a rank
above T, a stride above T) is cut to what the sentence has, and the result says so.

    flash       tile size (exact at every size: the knob trades memory for speed)
    linformer   rank k and the kind of projection          performer   random features m
    nystrom     landmarks m                                longformer  window w and global tokens
    bigbird     random blocks and the block size           reformer    buckets and rounds of hashing
    sparse      stride l and the pattern                   mqa         K/V groups G
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
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
from attnviz.errors import AttnvizInputError
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
        r"m' = \max(m, \max_j s_j),\quad \ell' = \ell\,e^{m-m'} + \sum_j e^{s_j-m'},\quad "
        r"\mathrm{acc}' = \mathrm{acc}\,e^{m-m'} + \sum_j e^{s_j-m'} v_j,\quad O = \mathrm{acc}/\ell",
        "O(T²·D), the same as exact", "O(T) per row: one tile, never the T×S matrix",
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
              "More features: a better estimate of exp(q·k), linearly more work."),),
        r"e^{q\cdot k/\sqrt d} \approx \varphi(q)\cdot\varphi(k),\quad "
        r"O = D^{-1}\,\varphi(Q)\,\big(\varphi(K)^\top V\big)",
        "O(T·m·D)", "O(T·m)",
        "nothing exactly; an unbiased estimate of every softmax weight",
        "random error that falls only like 1/√m; no causal mask without a prefix sum",
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
        (Knob("window", "Window w", (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33), 3,
              "Each token sees w//2 neighbours on each side."),
         Knob("globals", "Global tokens (from the start)", (0, 1, 2, 3, 4), 1,
              "Tokens that see everything and that everyone sees ([CLS] first).")),
        r"\text{token } t \text{ sees } s \iff |t-s| \le w/2 \;\lor\; t \in G \;\lor\; s \in G",
        "O(T·(w + g)·D)", "O(T·(w + g))",
        "exact softmax on its pattern: window plus global tokens",
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
        (Knob("buckets", "Buckets", (1, 2, 4, 6, 8, 12, 16), 4, "Random hyperplanes cut the space into buckets."),
         Knob("rounds", "Rounds of hashing", (1, 2, 3, 4, 6, 8), 1,
              "Each round hashes again; a pair counts if it met in any round.")),
        r"h(x) = \arg\max\,[xR;\,-xR],\quad "
        r"\text{token } t \text{ sees } s \iff h_r(q_t) = h_r(q_s) \text{ in some round } r",
        "O(R·T·c·D) plus a sort", "O(R·T·c)",
        "exact softmax inside each bucket",
        "pairs hashed apart in every round, even when their weight is large",
        "very long inputs where each query needs only its nearest keys", "pattern",
    ),
    "sparse": VariantInfo(
        "sparse", "Sparse Transformer", "Child et al., 2019",
        (Knob("stride", "Stride l", (1, 2, 3, 4, 5, 6, 8, 10, 12, 16), 3, "About √T in the paper."),
         Knob("pattern", "Pattern", ("strided", "fixed"), "strided",
              "strided: the last l tokens and every l-th before. fixed: own block and the end of every block.")),
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
        return Settings({"window": int(full["window"]), "global_tokens": tuple(range(g))}, tuple(notes))
    if name == "bigbird":
        settings_ = {"block_size": int(full["block"]), "window_blocks": 3, "global_blocks": 1}
        return Settings(settings_ | {"random_blocks": int(full["random"]), "seed": 0}, ())
    if name == "reformer":
        # The paper keeps a token off its own key because it ties keys to queries (q·q would always win); these
        # heads have keys of their own, so the token's own key stays, as in exact attention.
        knobs_ = {"n_buckets": int(full["buckets"]), "n_rounds": int(full["rounds"]), "exclude_self": False}
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
        return longformer_mask(t, int(kwargs["window"]), kwargs["global_tokens"])  # type: ignore[arg-type]
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


def run_variant(
    name: str, q: Tensor, k: Tensor, v: Tensor, knobs: Mapping[str, KnobValue], head: int = 0, seed: int = 0
) -> Run:
    """Run a variant and exact attention on one head, with the error figures.

    Args:
        q, k, v: (H, T, Dh) every head of a layer (only mqa uses the others).
        head: which head is compared.
        seed: the draw, for the random variants (Linformer's Gaussian projections, Performer, Reformer, BigBird).
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
    exact = scaled_dot_product(qh, kh, vh)
    if name == "mqa":
        approx_all = VARIANTS[name](q, k, v, **kwargs)  # weights (H, T, S)
        approx = Attention(output=approx_all.output[head], weights=approx_all.weights[head], scale=approx_all.scale)
    else:
        approx = VARIANTS[name](qh, kh, vh, return_weights=True, **kwargs)
    pattern = pattern_of(name, qh, kwargs)
    comparison = compare(exact, approx, vh, pattern=pattern)
    return Run(name, Settings(kwargs, chosen.notes), exact, approx, comparison, pattern)


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
    return Spectrum(values=sv.numpy(), energy=energy.numpy(), rank_90=rank_90.numpy())


# ----------------------------------------------------------------------------------------------------------
# Sparse patterns: what they drop
# ----------------------------------------------------------------------------------------------------------


def mass_dropped(weights: Tensor, pattern: Tensor) -> float:
    """Mean over rows of the exact attention weight outside the pattern: 1 − attention_mass_kept."""
    return 1.0 - attention_mass_kept(weights, pattern)


def mass_dropped_per_row(weights: Tensor, pattern: Tensor) -> Tensor:
    """(T,) the exact weight each row loses to the pattern."""
    return (weights * ~pattern).sum(dim=-1)


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
    kwargs = settings(name, knobs, q.shape[-2], q.shape[-3] if q.dim() >= 3 else 1).kwargs
    return VARIANTS[name](q, k, v, **(dict(kwargs) | extra))


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
    sim_exact = (exact @ exact.T).numpy()  # (N, N) unit vectors: cosines
    approx_unit = torch.nn.functional.normalize(approx, dim=-1)
    sim_approx = (approx_unit @ approx_unit.T).numpy()
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
