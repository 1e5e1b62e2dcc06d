"""attnviz.efficient.anatomy: what each variant keeps and drops, measured."""

import itertools
import math

import numpy as np
import pytest
import torch

from attnviz import AttnvizInputError
from attnviz.attention import scaled_dot_product
from attnviz.efficient import REGISTRY, anatomy, compare, orthogonal_features
from attnviz.efficient.performer import softmax_kernel_estimate
from attnviz.embeddings import tokenize, vectors_for


def qkv(t: int = 12, heads: int = 12, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(heads, t, d, generator=g) for _ in range(3))  # (H, T, D) each


REPEATED = "the cat sat on the mat and the cat slept"


@pytest.fixture(scope="module")
def repeated(kv):
    tokens = tokenize(REPEATED, kv)
    return tokens.words, compare.toy_qkv(vectors_for(kv, tokens.words, "cpu"))


def _heads(spread: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, 12, 32, generator=g) * spread for _ in range(3))  # (H, T, Dh) each


def test_spectrum_energy_is_the_frobenius_norm():
    weights = scaled_dot_product(*qkv(t=7)).weights  # (H, T, T)
    spec = anatomy.spectrum(weights)
    assert spec.values.shape == (12, 7)
    frob2 = (weights.double() ** 2).sum(dim=(-2, -1)).numpy()
    assert np.allclose((spec.values**2).sum(axis=-1), frob2)  # Σσ² = ‖A‖_F²
    assert np.allclose(spec.energy[:, -1], 1.0)
    assert ((spec.rank_90 >= 1) & (spec.rank_90 <= 7)).all()
    # a rank-1 map (every row the same) keeps everything in its first singular value
    same_rows = torch.full((1, 5, 5), 0.2)
    assert anatomy.spectrum(same_rows).rank_90[0] == 1


def test_shared_qk_reformer_keeps_more_weight_than_uniform_on_repeated_words(repeated):
    words, (q, k, v) = repeated
    assert len(words) == 10
    kept, chance = [], []
    for head in range(compare.TOY_HEADS):
        run = compare.run_variant("reformer", q, k, v, {}, head)
        kept.append(run.comparison.approx.mass_kept)
        chance.append(anatomy.uniform_share(run.pattern, run.exact_mask))
        buckets = run.approx.buckets  # (R, T)
        # the same word has the same query: the same bucket in every round
        for a, b in ((0, 4), (4, 7), (1, 8)):  # the·the, the·the, cat·cat
            assert words[a] == words[b]
            assert torch.equal(buckets[:, a], buckets[:, b])
    kept_, chance_ = np.array(kept), np.array(chance)
    assert kept_[0] > chance_[0]  # the head the page opens on
    assert (kept_ > chance_).sum() >= 9 and kept_.mean() > chance_.mean() + 0.03


def test_bucket_pairs_cosines(repeated):
    _, (q, _, _) = repeated
    buckets = torch.tensor([[0, 1, 1, 0, 0, 2, 2, 0, 1, 3]])
    pairs = anatomy.bucket_pairs(q[0], buckets)
    assert pairs.cosine[0, 4] == pytest.approx(1.0) and pairs.rounds_shared[0, 4] == 1
    assert pairs.rounds_shared[0, 1] == 0 and pairs.rounds_shared[1, 2] == 1
    off = ~np.eye(10, dtype=bool)
    same = pairs.cosine[off & (pairs.rounds_shared > 0)]
    assert pairs.same_mean == pytest.approx(same.mean())


def test_longformer_windows_are_distinct_and_dilation_runs():
    windows = REGISTRY["longformer"].knob("window").values
    assert all(w % 2 == 1 for w in windows)  # w and w + 1 see the same w//2 neighbours: only odd ones
    q, k, v = qkv(t=15)
    patterns = [compare.run_variant("longformer", q, k, v, {"window": w}).pattern for w in windows[:7]]
    assert all(not torch.equal(a, b) for a, b in itertools.pairwise(patterns))
    run = compare.run_variant("longformer", q, k, v, {"window": 5, "globals": 1, "dilation": 3})
    i, j = torch.arange(15)[:, None], torch.arange(15)[None, :]
    band = ((i - j).abs() <= 6) & ((i - j) % 3 == 0)
    assert torch.equal(run.pattern, band | (i == 0) | (j == 0))
    assert run.approx.weights[~run.pattern].abs().max() == 0
    assert run.comparison.approx.output_rel_frobenius < 10  # a softmax on its pattern, not a broken sum
    assert torch.allclose(run.approx.weights.sum(-1), torch.ones(15), atol=1e-5)
    kept = anatomy.dilation_kept(run.exact.weights, 5, (0,), (1, 2, 3, 4))
    assert kept[2] == pytest.approx(run.comparison.approx.mass_kept, abs=1e-6)
    assert kept[0] == pytest.approx(
        compare.run_variant("longformer", q, k, v, {"window": 5}).comparison.approx.mass_kept
    )


def test_a_renormalised_row_moves_by_twice_what_it_drops():
    q, k, v = qkv(t=12)
    for name, knobs in (("longformer", {"window": 3}), ("sparse", {"stride": 3}), ("bigbird", {"block": 1}),
                        ("reformer", {"buckets": 4})):  # fmt: skip
        run = compare.run_variant(name, q, k, v, knobs)
        dropped = anatomy.mass_dropped(run.exact.weights, run.pattern)
        assert dropped > 0.05, name
        assert anatomy.mean_row_l1(run.exact.weights, run.approx.weights) == pytest.approx(2 * dropped, abs=1e-5)


def test_weight_outside_and_uniform_share():
    q, k, v = qkv(t=8)
    full = compare.run_variant("longformer", q, k, v, {"window": 33})
    assert not anatomy.weight_outside(full.exact.weights, full.pattern)
    part = compare.run_variant("longformer", q, k, v, {"window": 1, "globals": 0})
    assert anatomy.weight_outside(part.exact.weights, part.pattern)
    assert anatomy.uniform_share(part.pattern) == pytest.approx(1 / 8)  # the diagonal alone
    eye = torch.eye(8, dtype=torch.bool)
    assert anatomy.uniform_share(~eye | eye, ~eye) == pytest.approx(1.0)


def test_hops_and_bigbird_reach():
    t = 12
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    assert anatomy.hops((i - j).abs() <= 1) == t - 1  # a band of radius 1: one step per layer
    assert anatomy.hops(((i - j).abs() <= 1) | (i == 0) | (j == 0)) == 2  # through the global token
    assert anatomy.hops(torch.ones(t, t, dtype=torch.bool)) == 1
    assert anatomy.hops(torch.eye(t, dtype=torch.bool)) is None
    assert anatomy.hops(torch.ones(1, 1, dtype=torch.bool)) == 0
    kwargs = compare.settings("bigbird", {"block": 1, "random": 1}, 16).kwargs
    reach = anatomy.bigbird_hops(16, kwargs)
    assert reach.pattern == 2 and reach.window == 15  # the window of 3 blocks of 1 token: one step per layer
    assert reach.no_global is not None and reach.no_global <= reach.window


def test_landmarks_are_contiguous_segment_means():
    from attnviz.efficient.nystrom import segment_means

    assert anatomy.landmark_segments(10, 3) == [range(0, 4), range(4, 7), range(7, 10)]
    assert anatomy.landmark_segments(5, 5) == [range(k, k + 1) for k in range(5)]
    q, k, v = qkv(t=10)
    run = compare.run_variant("nystrom", q, k, v, {"landmarks": 3})
    means, _ = segment_means(q[0], 3)
    for j, seg in enumerate(anatomy.landmark_segments(10, 3)):
        assert torch.allclose(run.approx.q_landmarks[j], q[0][list(seg)].mean(0), atol=1e-6)
        assert torch.allclose(means[j], q[0][list(seg)].mean(0), atol=1e-6)


def test_kernel_spread_by_hand():
    q = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])  # (T, D) = (2, 4): √d = 2
    k = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, -2.0, 0.0, 0.0]])  # (S, D) = (3, 4)
    spread = anatomy.kernel_spread(q, k)
    # ‖q_t + k_s‖² / 2: row 1: 4, 1, 5; row 2: 5, 4, 0 → halved
    assert spread.sq.tolist() == [[2.0, 0.5, 2.5], [2.5, 2.0, 0.0]]
    assert spread.largest == 2.5 and spread.typical == 2.0
    # doubling q and k multiplies every ‖q + k‖² by 4
    double = anatomy.kernel_spread(2 * q, 2 * k)
    assert double.largest == pytest.approx(4 * spread.largest)


def test_relative_sd_and_features_needed():
    assert anatomy.kernel_relative_sd(math.log(2.0), 1) == pytest.approx(1.0)  # e^sq − 1 = 1
    assert anatomy.kernel_relative_sd(math.log(5.0), 16) == pytest.approx(0.5)  # √(4/16)
    assert anatomy.features_needed(math.log(2.0), 0.1) == pytest.approx(100.0)
    assert anatomy.features_needed(20.0) > 1e10  # a typical real head: far beyond any m on the page


def test_kernel_estimate_is_unbiased_with_the_variance_shown():
    # x = q/d^{1/4}, y = k/d^{1/4} with ‖x + y‖² = 0.5: one feature's relative variance is e^0.5 − 1
    d = 4
    q = torch.tensor([[0.5, 0.0, 0.0, 0.0]]) * d**0.25
    k = torch.tensor([[0.0, 0.5, 0.0, 0.0]]) * d**0.25
    sq = float(anatomy.kernel_spread(q, k).sq[0, 0])
    assert sq == pytest.approx(0.5)
    exact = math.exp(float(q @ k.T) / math.sqrt(d))
    omega = orthogonal_features(1, d, seed=0, orthogonal=False)  # a single draw, shape check only
    assert softmax_kernel_estimate(q, k, omega).shape == (1, 1)
    draws = torch.randn(200_000, d, generator=torch.Generator().manual_seed(3))  # 200,000 one-feature estimates
    root = 1 / d**0.25
    x, y = q[0] * root, k[0] * root
    single = torch.exp(draws @ x - x @ x / 2) * torch.exp(draws @ y - y @ y / 2)  # (200000,)
    assert float(single.mean()) / exact == pytest.approx(1.0, abs=0.01)  # unbiased
    assert float(single.var() / exact**2) == pytest.approx(math.expm1(sq), rel=0.05)  # Lemma 2
    # the function's own estimate with many features agrees with the kernel
    many = orthogonal_features(4096, d, seed=1)
    assert float(softmax_kernel_estimate(q, k, many)) / exact == pytest.approx(1.0, abs=0.05)


def test_error_falls_like_one_over_root_m_only_when_q_plus_k_is_short():
    small = _heads(0.15)
    large = _heads(2.0)
    spread_small = anatomy.kernel_spread(small[0][0], small[1][0])
    spread_large = anatomy.kernel_spread(large[0][0], large[1][0])
    assert spread_small.typical < 1 < 20 < spread_large.typical
    slope_small = anatomy.error_slope(compare.sweep("performer", *small, {}, "features"))
    slope_large = anatomy.error_slope(compare.sweep("performer", *large, {}, "features"))
    assert -0.6 < slope_small < -0.4  # the textbook 1/√m
    assert slope_large > -0.25  # long q + k: the error hardly moves with m on the page's range


def test_error_slope_of_a_made_up_sweep():
    values = (1, 4, 16, 64)
    made = compare.Sweep("features", values, tuple(2.0 / math.sqrt(m) for m in values), (), (), 0.5, 5)
    assert anatomy.error_slope(made) == pytest.approx(-0.5)
    with pytest.raises(AttnvizInputError):
        anatomy.error_slope(compare.Sweep("features", (4,), (0.3,), (), (), 0.5, 5))
