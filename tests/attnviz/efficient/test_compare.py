"""attnviz.efficient.compare: a variant against exact attention, its sweeps, the swap into the model, the toy heads."""

import numpy as np
import pytest
import torch

from attnviz import AttnvizInputError
from attnviz.attention import scaled_dot_product
from attnviz.efficient import REGISTRY, anatomy, compare, reformer_mask
from attnviz.embeddings import tokenize, vectors_for


def qkv(t: int = 9, heads: int = 12, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(heads, t, d, generator=g) for _ in range(3))  # (H, T, D) each


@pytest.mark.parametrize("name", list(REGISTRY))
@pytest.mark.parametrize("pick", [0, -1])
def test_every_knob_extreme_runs_and_is_compared(name, pick):
    q, k, v = qkv()
    knobs = {knob.name: knob.values[pick] for knob in REGISTRY[name].knobs}
    run = compare.run_variant(name, q, k, v, knobs, head=2)
    assert run.approx.weights.shape == run.exact.weights.shape == (9, 9)
    if name == "reformer":  # the paper's shared-QK attention: keys are the queries at unit length, none on itself
        expected = scaled_dot_product(q[2], compare.shared_keys(q[2]), v[2], mask=compare.not_self(9))
    else:
        expected = scaled_dot_product(q[2], k[2], v[2])
    assert torch.allclose(run.exact.weights, expected.weights)
    c = run.comparison
    assert c.uniform.output_rel_frobenius > 0
    if REGISTRY[name].kind == "pattern":
        assert run.pattern is not None and 0 <= c.approx.mass_kept <= 1
    else:
        assert run.pattern is None


def test_exact_variants_are_exact():
    q, k, v = qkv()
    for name, knobs in (("flash", {"tile": 2}), ("mqa", {"groups": 12}), ("nystrom", {"landmarks": 9})):
        run = compare.run_variant(name, q, k, v, knobs)
        assert run.comparison.approx.output_rel_frobenius < 1e-4, name
    linformer = compare.run_variant("linformer", q, k, v, {"rank": 64, "proj": "pool"})
    assert linformer.settings.kwargs["rank"] == 9 and "9 tokens" in linformer.settings.notes[0]
    assert linformer.comparison.approx.output_rel_frobenius < 1e-5  # pooling at k = T is the identity


def test_pattern_masks_match_the_variants():
    """Outside its pattern a variant's weights are 0, and mass dropped = 1 − mass kept."""
    q, k, v = qkv(t=12)
    for name, knobs in (("longformer", {"window": 3, "globals": 1}), ("bigbird", {"random": 1, "block": 2}),
                        ("sparse", {"stride": 3}), ("reformer", {"buckets": 4, "rounds": 2})):  # fmt: skip
        run = compare.run_variant(name, q, k, v, knobs)
        assert run.approx.weights[~run.pattern].abs().max() == 0, name
        dropped = anatomy.mass_dropped(run.exact.weights, run.pattern)
        assert dropped == pytest.approx(1 - run.comparison.approx.mass_kept)
        per_row = anatomy.mass_dropped_per_row(run.exact.weights, run.pattern)
        assert float(per_row.mean()) == pytest.approx(dropped, abs=1e-6)


def test_knobs_are_checked_and_cut():
    with pytest.raises(AttnvizInputError, match="unknown variant"):
        compare.settings("nonsense", {}, 5)
    with pytest.raises(AttnvizInputError, match="cannot be"):
        compare.settings("reformer", {"buckets": 3}, 5)
    with pytest.raises(AttnvizInputError, match="cannot be"):
        compare.settings("performer", {"features": -1}, 5)
    cut = compare.settings("sparse", {"stride": 16}, 5)
    assert cut.kwargs["stride"] == 5 and cut.notes
    groups = compare.settings("mqa", {"groups": 4}, 5, heads=6)
    assert groups.kwargs["groups"] == 3 and "do not divide" in groups.notes[0]


def test_sweep_bands_for_random_variants_only():
    q, k, v = qkv()
    performer = compare.sweep("performer", q, k, v, {}, "features")
    assert performer.seeds == len(compare.SEEDS)
    assert all(lo <= m <= hi for lo, m, hi in zip(performer.low, performer.mean, performer.high, strict=True))
    assert performer.mean[-1] < performer.mean[0]  # 1024 features beat one
    nystrom = compare.sweep("nystrom", q, k, v, {}, "landmarks")
    assert nystrom.seeds == 1 and nystrom.values[-1] == 9  # values past T are not repeated
    assert nystrom.mean[-1] < 1e-4 and nystrom.uniform > 0.1
    with pytest.raises(AttnvizInputError):
        compare.sweep("flash", q, k, v, {}, "rank")


def test_order_kept():
    a = np.array([[1, 0.9, 0.2], [0.9, 1, 0.5], [0.2, 0.5, 1]])
    assert compare.order_kept(a, a) == 1.0
    flipped = np.array([[1, 0.2, 0.9], [0.2, 1, 0.5], [0.9, 0.5, 1]])  # the largest and smallest swap
    assert compare.order_kept(a, flipped) < 1.0
    assert compare.order_kept(np.eye(2), np.eye(2)) == 1.0  # a single pair: nothing to order


def test_toy_qkv_is_seeded():
    x = torch.randn(5, 50)
    a, b = compare.toy_qkv(x), compare.toy_qkv(x)
    assert all(torch.equal(p, r) for p, r in zip(a, b, strict=True))
    assert a[0].shape == (12, 5, 32)
    with pytest.raises(AttnvizInputError):
        compare.toy_qkv(torch.zeros(0, 50))


TEXTS = ("I walked by the river bank", "I deposited money at the bank", "the cat sat on the mat because it was tired")


@pytest.fixture(scope="module")
def model():
    from attnviz.pretrained import load_model

    return load_model("cpu")


def test_swap_flash_is_the_exact_model(model):
    swap = compare.swap(model, TEXTS, "flash", {"tile": 2})
    assert swap.cosine_to_exact == pytest.approx((1.0,) * 3, abs=1e-6)  # float32 rounding only
    assert swap.order_kept == 1.0
    assert np.allclose(swap.exact_similarity, swap.variant_similarity, atol=1e-5)


def test_swap_a_lossy_variant_moves_the_embedding(model):
    swap = compare.swap(model, TEXTS, "longformer", {"window": 1, "globals": 0})
    assert all(c < 0.9999 for c in swap.cosine_to_exact)
    assert np.allclose(np.diag(swap.variant_similarity), 1.0)
    wide = compare.swap(model, TEXTS, "longformer", {"window": 33, "globals": 0})  # the window covers everything
    assert wide.cosine_to_exact == pytest.approx((1.0,) * 3, abs=1e-6)


def test_swap_with_kept_exact_embeddings_is_the_same(model):
    exact = compare.exact_embeddings(model, TEXTS)
    assert exact.shape == (3, 384) and exact.dtype == torch.float64
    kept = compare.swap(model, TEXTS, "longformer", {"window": 1, "globals": 0}, exact=exact)
    fresh = compare.swap(model, TEXTS, "longformer", {"window": 1, "globals": 0})
    assert kept.cosine_to_exact == fresh.cosine_to_exact
    assert np.array_equal(kept.exact_similarity, fresh.exact_similarity)
    assert np.array_equal(kept.variant_similarity, fresh.variant_similarity)


def test_make_attend_refuses_bad_knobs_at_once():
    with pytest.raises(AttnvizInputError):
        compare.make_attend("reformer", {"buckets": 5})
    with pytest.raises(AttnvizInputError):
        compare.swap(None, (), "flash", {})


REPEATED = "the cat sat on the mat and the cat slept"


@pytest.fixture(scope="module")
def repeated(kv):
    tokens = tokenize(REPEATED, kv)
    return tokens.words, compare.toy_qkv(vectors_for(kv, tokens.words, "cpu"))


def test_reformer_is_shared_qk_as_in_the_paper():
    q, k, v = qkv(t=9)
    run = compare.run_variant("reformer", q, k, v, {"buckets": 2, "rounds": 2}, head=3)
    keys = q[3] / q[3].norm(dim=-1, keepdim=True)  # k = q/‖q‖: the head's own keys play no part
    expected = scaled_dot_product(q[3], keys, v[3], mask=~torch.eye(9, dtype=torch.bool))
    assert torch.allclose(run.exact.weights, expected.weights, atol=1e-6)
    assert run.exact.weights.diagonal().abs().max() == 0  # no token on itself in the exact map
    assert run.settings.kwargs["exclude_self"] is True
    # a token attends to itself only when nothing else is in its bucket: the paper's rule
    pattern = run.pattern
    alone = ~(pattern & ~torch.eye(9, dtype=torch.bool)).any(-1)
    assert torch.equal(pattern.diagonal(), alone)
    assert torch.equal(pattern, reformer_mask(q[3], n_buckets=2, n_rounds=2, seed=0, exclude_self=True))
    assert torch.allclose(run.approx.weights.sum(-1), torch.ones(9), atol=1e-5)
