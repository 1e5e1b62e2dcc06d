"""Lesson 6's pattern variants as the page shows them: the shared-QK Reformer, the Sparse Transformer's
direction, Longformer's dilation, BigBird's reach, Nyströmformer's landmarks."""

import itertools
import re

import numpy as np
import pytest
import torch

from app_support import efficient_text
from app_support.efficient_text import INFO
from attnviz.attention import scaled_dot_product
from attnviz.efficient import anatomy, compare, reformer_mask, sparse_mask
from attnviz.embeddings import tokenize, vectors_for

REPEATED = "the cat sat on the mat and the cat slept"


def qkv(t: int = 12, heads: int = 12, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(heads, t, d, generator=g) for _ in range(3))  # (H, T, D) each


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


def test_sparse_pattern_is_the_described_one():
    """The help and the formula describe the bidirectional pattern; the page computes exactly that."""
    info = INFO["sparse"]
    help_ = next(kn for kn in efficient_text.knobs("sparse") if kn.name == "pattern").help
    assert "either side" in help_ and "Both directions" in help_ and "last l" not in help_
    assert r"|t-s| < l" in info.formula and r"(t-s) \bmod l = 0" in info.formula
    for t in (1, 5, 11, 17):
        for stride in (1, 2, 3, 4, 16):
            kwargs = compare.settings("sparse", {"stride": stride, "pattern": "strided"}, t).kwargs
            assert kwargs["causal"] is False
            pattern = compare.pattern_of("sparse", torch.zeros(t, 4), kwargs)
            l_ = int(kwargs["stride"])
            i, j = np.arange(t)[:, None], np.arange(t)[None, :]
            described = (np.abs(i - j) < l_) | ((i - j) % l_ == 0)  # as the formula says, both ways
            assert np.array_equal(pattern.numpy(), described), (t, stride)
            fixed = compare.settings("sparse", {"stride": stride, "pattern": "fixed"}, t).kwargs
            pattern = compare.pattern_of("sparse", torch.zeros(t, 4), fixed)
            described = (i // l_ == j // l_) | (j % l_ == l_ - 1)  # own block, or the last of a block
            assert np.array_equal(pattern.numpy(), described), (t, stride)
    reach = anatomy.sparse_reach(11, "strided", 3)
    assert reach.both == int(sparse_mask(11, stride=3, causal=False).sum()) == 79
    assert reach.causal == 45 and reach.last_row == 6


def test_longformer_windows_are_distinct_and_dilation_runs():
    windows = next(kn for kn in efficient_text.knobs("longformer") if kn.name == "window").values
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


def test_global_tokens_help_says_what_they_are_per_source():
    help_ = next(kn for kn in efficient_text.knobs("longformer") if kn.name == "globals").help
    assert "[CLS]" in help_ and "GloVe" in help_ and "first word" in help_


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


def test_reformer_formula_and_help_say_angular_lsh_and_chunks():
    info, knobs = INFO["reformer"], efficient_text.knobs("reformer")
    assert "hyperplane" not in " ".join(kn.help for kn in knobs)
    assert "argmax [xR; −xR]" in knobs[0].help and "rotation" in knobs[0].help
    assert r"\mathrm{chunk}_r" in info.formula and r"c = \lceil 2T" in info.formula
    assert re.search(r"q_s\}?\{\\lVert q_s\\rVert", info.formula)
