"""One variant against exact attention, on one head or in a whole model: the comparison every variant shares.

Everything here reads the variants' records (`attnviz.efficient.REGISTRY`): their knobs, how the knobs become
keyword arguments for an input of T tokens, their sparse pattern, whether their draw is random, and how they are
compared (the Reformer as the paper defines it, shared-QK; multi-query on every head of the layer at once).
Every comparison is made beside uniform attention (see `attnviz.metrics`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnviz.attention import Attention, AttentionFn, scaled_dot_product
from attnviz.efficient import REGISTRY
from attnviz.efficient.mqa import grouped_query_attention
from attnviz.efficient.registry import KnobValue, VariantSpec
from attnviz.errors import AttnvizInputError
from attnviz.host import to_host
from attnviz.metrics import Comparison, compare, relative_frobenius_error

SEEDS = (0, 1, 2, 3, 4)  # the draws a random variant's error is averaged over


def spec_of(name: str) -> VariantSpec:
    """The variant's record; AttnvizInputError for an unknown name."""
    if name not in REGISTRY:
        raise AttnvizInputError(f"unknown variant {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def default_knobs(name: str) -> dict[str, KnobValue]:
    """Every knob of a variant at its default."""
    return spec_of(name).default_knobs()


@dataclass(frozen=True)
class Settings:
    """The knobs as the variant received them for this sentence."""

    kwargs: Mapping[str, object]  # keyword arguments of the variant's function
    notes: tuple[str, ...]  # what was cut to fit the sentence, for the learner


def settings(name: str, knobs: Mapping[str, KnobValue], t: int, heads: int = 1) -> Settings:
    """The variant's keyword arguments for a sentence of T tokens (and H heads), knobs cut to fit.

    Raises AttnvizInputError for an unknown variant or a knob value outside its list.
    """
    kwargs, notes = spec_of(name).fit(knobs, t, heads)
    return Settings(kwargs, notes)


def pattern_of(name: str, q: Tensor, kwargs: Mapping[str, object]) -> Tensor | None:
    """The (T, T) bool pattern a sparse variant attends through (None for the others).

    Args:
        q: (T, D) the queries (Reformer's buckets depend on them).
    """
    pattern = spec_of(name).pattern
    return None if pattern is None else pattern(q, kwargs)


def computes_exact(name: str, knobs: Mapping[str, KnobValue], t: int, heads: int = 1) -> bool | None:
    """Whether the variant, its knobs fitted to T tokens and H heads, computes exact attention in every head: every
    pair, each softmax over all keys (then only float rounding differs from exact attention).

    FlashAttention always; a pattern when it covers every pair; an approximation not, unless its record says when
    (Linformer pooling k = T: the identity); multi-query only with one K/V group per head. None when T alone does not
    decide (the Reformer's buckets depend on the queries).
    """
    spec = spec_of(name)
    kwargs = settings(name, knobs, t, heads).kwargs
    if spec.exact_when is not None:
        return spec.exact_when(kwargs, t, heads)
    if spec.kind == "exact":
        return True
    if spec.kind == "pattern" and spec.pattern is not None:
        return bool(spec.pattern(torch.zeros(t, 1), kwargs).all())  # (T, T): every pair allowed
    return False


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
        seed: the draw, for the random variants (those whose record says so).

    A variant whose record says ``shared_qk`` (the Reformer) runs as its paper defines it: its keys are the head's
    queries at unit length (`shared_keys`), and the exact attention it is compared with is full shared-QK attention
    with every token off its own key (`not_self`), the model it approximates. One that says ``all_heads``
    (multi-query) runs on every head of the layer, and its head ``head`` is compared.
    """
    if q.dim() != 3:
        raise ValueError("q, k and v are (H, T, Dh)")
    if not 0 <= head < q.shape[0]:
        raise AttnvizInputError(f"head {head + 1} does not exist: there are {q.shape[0]}")
    t, spec = q.shape[-2], spec_of(name)
    chosen = settings(name, knobs, t, q.shape[0])
    kwargs = dict(chosen.kwargs)
    if "seed" in kwargs:
        kwargs["seed"] = seed
    qh, kh, vh = q[head], k[head], v[head]  # (T, Dh) each
    exact_mask = None
    if spec.shared_qk:
        kh, exact_mask = shared_keys(qh), not_self(t)  # (T, Dh), (T, T)
    exact = scaled_dot_product(qh, kh, vh, mask=exact_mask)
    if spec.all_heads:
        approx_all = spec.fn(q, k, v, **kwargs)  # weights (H, T, S)
        approx = Attention(output=approx_all.output[head], weights=approx_all.weights[head], scale=approx_all.scale)
    else:
        approx = spec.fn(qh, kh, vh, return_weights=True, **kwargs)
    pattern = pattern_of(name, qh, kwargs)
    comparison = compare(exact, approx, vh, mask=exact_mask, pattern=pattern)
    return Run(name, Settings(kwargs, chosen.notes), exact, approx, comparison, pattern, exact_mask)


# ----------------------------------------------------------------------------------------------------------
# Error against the knob
# ----------------------------------------------------------------------------------------------------------


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
    variant = spec_of(name)
    swept = variant.knob(knob)
    t = q.shape[-2]
    seeds = SEEDS if variant.random(knobs) else (0,)
    values, mean, low, high = [], [], [], []
    seen: set[tuple] = set()
    uniform = None
    for value in swept.values:
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


def head_changes(q: Tensor, k: Tensor, v: Tensor, groups: int) -> np.ndarray:
    """(H,) how far each head's map moves when K and V are pooled into ``groups``: relative Frobenius error."""
    exact = scaled_dot_product(q, k, v).weights  # (H, T, S)
    shared = grouped_query_attention(q, k, v, groups=groups).weights  # (H, T, S)
    return np.array([relative_frobenius_error(shared[h], exact[h]) for h in range(q.shape[0])])


# ----------------------------------------------------------------------------------------------------------
# Swap a variant into the real model
# ----------------------------------------------------------------------------------------------------------


def _fit_call(name: str, knobs: Mapping[str, KnobValue], q: Tensor, k: Tensor, v: Tensor, **extra: object) -> Attention:
    # the knobs are cut to each call's own length: every sentence of a comparison has its own T
    # the model's own keys here, not shared-QK: a record's ``in_model`` says what changes (the Reformer's own key)
    spec = spec_of(name)
    kwargs = dict(settings(name, knobs, q.shape[-2], q.shape[-3] if q.dim() >= 3 else 1).kwargs)
    return spec.fn(q, k, v, **(kwargs | dict(spec.in_model) | extra))


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
    lengths: tuple[int, ...] = ()  # N: each text's tokens as the model reads them ([CLS] and [SEP] included)
    exact: tuple[bool | None, ...] = ()  # N: whether the variant computes exact attention on that text (computes_exact)


def exact_embeddings(model: object, texts: Sequence[str]) -> Tensor:
    """(N, D) float64 the sentence embedding of every text with the model's own, exact attention."""
    from attnviz.pretrained import sentence_embedding  # the model's tokenizer is imported only here

    if not texts:
        raise AttnvizInputError("nothing to embed")
    return torch.stack([sentence_embedding(model, text) for text in texts]).double()  # (N, D)


def swap(
    model: object, texts: Sequence[str], name: str, knobs: Mapping[str, KnobValue], exact: Tensor | None = None
) -> Swap:
    """Embed every text with exact attention and with the variant (in every layer), and compare.

    ``exact``: (N, D) the texts' `exact_embeddings`, when the caller keeps them (they do not depend on the variant).
    """
    from attnviz.pretrained import encode, sentence_embedding  # the model's tokenizer is imported only here

    if not texts:
        raise AttnvizInputError("nothing to embed")
    attend = make_attend(name, knobs)
    lengths = tuple(len(encode(model, text)) for text in texts)  # type: ignore[arg-type]
    heads = int(model.config.n_heads)  # type: ignore[attr-defined]
    exact = exact_embeddings(model, texts) if exact is None else exact.double()  # (N, D)
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
        lengths=lengths,
        exact=tuple(computes_exact(name, knobs, t, heads) for t in lengths),
    )


# ----------------------------------------------------------------------------------------------------------
# The GloVe toy: twelve seeded random heads over the sentence's word vectors
# ----------------------------------------------------------------------------------------------------------

TOY_HEADS, TOY_WIDTH = 12, 32  # the real model's layer shape, so that every knob means the same on both


def toy_qkv(x: Tensor, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Q, K, V of twelve seeded random heads (`attnviz.heads.draw_heads`, the toy layer's draw) over word vectors.

    Args:
        x: (T, D) the sentence's GloVe vectors.
    Returns:
        q, k, v: (H, T, Dh) each, H = 12, Dh = 32.
    """
    from attnviz.heads import draw_heads

    if x.dim() != 2 or x.shape[0] < 1:
        raise AttnvizInputError("the toy heads need at least one word vector")
    w = draw_heads(x.shape[1], TOY_HEADS, TOY_WIDTH, seed)
    xc = x.float().cpu()
    per_head = [slice(h * TOY_WIDTH, (h + 1) * TOY_WIDTH) for h in range(TOY_HEADS)]
    q = torch.stack([xc @ w.w_q[:, cols] for cols in per_head])  # (H, T, Dh)
    k = torch.stack([xc @ w.w_k[:, cols] for cols in per_head])  # (H, T, Dh)
    v = torch.stack([xc @ w.w_v[:, cols] for cols in per_head])  # (H, T, Dh)
    return q, k, v
