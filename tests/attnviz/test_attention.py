import pytest
import torch
import torch.nn.functional as F

from attnviz import AttnvizInputError
from attnviz.attention import (
    causal_mask,
    merge_heads,
    mix,
    multi_head,
    padding_mask,
    scaled_dot_product,
    score_variance,
    softmax_stats,
    split_heads,
    top_weight_curve,
)
from attnviz.embeddings import vectors_for
from attnviz.projections import identity_projections, project
from attnviz.similarity import similarity_matrix


def _qkv(shape_q, s, dv, seed=0):
    g = torch.Generator().manual_seed(seed)
    *lead, t, d = shape_q
    q = torch.randn(*lead, t, d, generator=g)
    k = torch.randn(*lead, s, d, generator=g)
    v = torch.randn(*lead, s, dv, generator=g)
    return q, k, v


def test_similarity_is_symmetric_with_expected_diagonal():
    x = torch.randn(7, 50, generator=torch.Generator().manual_seed(1))
    s = similarity_matrix(x, "dot")
    assert torch.allclose(s, s.T)
    assert torch.allclose(s.diagonal(), (x * x).sum(-1))
    c = similarity_matrix(x, "cosine")
    assert torch.allclose(c, c.T)
    assert torch.allclose(c.diagonal(), torch.ones(7), atol=1e-6)
    assert c.abs().max() <= 1 + 1e-6


def test_similarity_rejects_unknown_kind():
    with pytest.raises(ValueError):
        similarity_matrix(torch.ones(2, 3), "euclid")  # type: ignore[arg-type]


def test_mix_equals_explicit_weighted_sum():
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(2))
    s = similarity_matrix(x)
    o = mix(s, x)
    for t in range(5):
        explicit = sum(s[t, j] * x[j] for j in range(5))
        assert torch.allclose(o[t], explicit, atol=1e-5)


@pytest.mark.parametrize("shape_q,s,dv", [((4, 8), 4, 8), ((2, 3, 5, 16), 7, 4), ((1, 1, 1, 2), 1, 3)])
@pytest.mark.parametrize("use_mask", [False, True])
def test_scaled_dot_product_matches_sdpa(shape_q, s, dv, use_mask):
    q, k, v = _qkv(shape_q, s, dv)
    t = shape_q[-2]
    mask = None
    if use_mask:
        mask = torch.rand(t, s, generator=torch.Generator().manual_seed(3)) > 0.3
        mask[:, 0] = True  # keep every row alive, as SDPA returns NaN for empty rows
    ours = scaled_dot_product(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours.output, ref, atol=1e-5)
    assert torch.allclose(ours.weights.sum(-1), torch.ones(ours.weights.shape[:-1]), atol=1e-6)


def test_causal_upper_triangle_is_exactly_zero_and_matches_sdpa():
    q, k, v = _qkv((2, 6, 8), 6, 8, seed=4)
    att = scaled_dot_product(q, k, v, mask=causal_mask(6))
    upper = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    assert (att.weights[..., upper] == 0).all()
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(att.output, ref, atol=1e-5)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = _qkv((3, 4), 3, 4)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    att = scaled_dot_product(q, k, v, mask=mask)
    assert not torch.isnan(att.output).any()
    assert (att.weights[1] == 0).all() and (att.output[1] == 0).all()


def test_padding_mask_hides_padded_keys():
    q, k, v = _qkv((2, 2, 5, 4), 5, 4)
    keep = torch.tensor([[True] * 5, [True, True, True, False, False]])
    att = scaled_dot_product(q, k, v, mask=padding_mask(keep))
    assert (att.weights[1, :, :, 3:] == 0).all()
    assert torch.allclose(att.weights.sum(-1), torch.ones(2, 2, 5), atol=1e-6)


def test_temperature_and_scale():
    q, k, v = _qkv((4, 8), 4, 8)
    hot = scaled_dot_product(q, k, v, temperature=100.0)
    assert (hot.weights - 0.25).abs().max() < 0.05  # nearly uniform
    cold = scaled_dot_product(q, k, v, temperature=1e-3)
    assert torch.allclose(cold.weights.max(-1).values, torch.ones(4), atol=1e-4)  # one-hot
    assert scaled_dot_product(q, k, v).scale == pytest.approx(8**-0.5)
    with pytest.raises(ValueError):
        scaled_dot_product(q, k, v, temperature=0)


def test_split_merge_roundtrip():
    x = torch.randn(2, 5, 12)
    assert split_heads(x, 3).shape == (2, 3, 5, 4)
    assert torch.equal(merge_heads(split_heads(x, 3)), x)
    with pytest.raises(ValueError):
        split_heads(x, 5)


def test_multi_head_with_one_head_equals_single_head():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 10, generator=g)
    wq, wk, wv, wo = (torch.randn(10, 10, generator=g) for _ in range(4))
    mh = multi_head(x, wq, wk, wv, wo, n_heads=1)
    single = scaled_dot_product(x @ wq, x @ wk, x @ wv)
    assert torch.allclose(mh.output, single.output @ wo, atol=1e-5)


def test_multi_head_matches_torch_multihead_attention():
    torch.manual_seed(6)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    x = torch.randn(2, 5, 16)
    ref, _ = mha(x, x, x, need_weights=False)
    w = mha.in_proj_weight.detach()
    b = mha.in_proj_bias.detach()
    ours = multi_head(
        x,
        w[:16].T,
        w[16:32].T,
        w[32:].T,
        mha.out_proj.weight.detach().T,
        4,
        b_q=b[:16],
        b_k=b[16:32],
        b_v=b[32:],
        b_o=mha.out_proj.bias.detach(),
    )
    assert torch.allclose(ours.output, ref, atol=1e-5)
    assert ours.heads.weights.shape == (2, 4, 5, 5)


# ------------------------------------------------------------------------------ lessons 3 and 4 additions


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("use_mask", [False, True])
def test_random_shapes_match_sdpa_float32(seed, use_mask):
    g = torch.Generator().manual_seed(100 + seed)
    b, h, t, s, d, dv = (int(x) for x in torch.randint(1, 9, (6,), generator=g))
    q, k, v = _qkv((b, h, t, d), s, dv, seed=seed)
    assert q.dtype == torch.float32
    mask = None
    if use_mask:
        mask = torch.rand(b, 1, t, s, generator=g) > 0.5
        mask[..., 0] = True  # SDPA gives NaN for rows with no key at all
    ours = scaled_dot_product(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours.output, ref, atol=1e-5)
    assert torch.allclose(ours.weights.sum(-1), torch.ones(b, h, t), atol=1e-6)
    if use_mask:
        assert (ours.weights[~mask.expand_as(ours.weights)] == 0).all()


def test_scale_and_temperature_match_sdpa_scale():
    q, k, v = _qkv((2, 5, 8), 6, 3, seed=9)
    ours = scaled_dot_product(q, k, v, scale=0.5, temperature=2.0)
    ref = F.scaled_dot_product_attention(q, k, v, scale=0.25)
    assert torch.allclose(ours.output, ref, atol=1e-5)
    assert ours.scale == 0.5


def test_causal_mask_on_a_sentence_leaves_exact_zeros_and_a_first_row_of_one():
    q, k, v = _qkv((9, 50), 9, 50, seed=11)
    att = scaled_dot_product(q, k, v, mask=causal_mask(9), scale=1.0, temperature=0.1)
    assert torch.equal(att.weights.triu(diagonal=1), torch.zeros(9, 9))
    assert att.weights[0, 0] == 1.0
    assert torch.isinf(att.scaled.triu(diagonal=1)[torch.triu(torch.ones(9, 9, dtype=torch.bool), 1)]).all()


def test_identity_projections_reproduce_lesson_two_exactly(kv):
    I = vectors_for(kv, ["i", "walked", "by", "the", "river", "bank"])  # (T, 50)
    S = similarity_matrix(I)  # lesson 2
    qkv = project(I, identity_projections(50))
    assert torch.equal(qkv.q, I) and torch.equal(qkv.k, I) and torch.equal(qkv.v, I)
    assert torch.equal(qkv.scores, S)  # Q·Kᵀ with M_Q = M_K = I is S = I·Iᵀ, bit for bit
    assert torch.equal(mix(qkv.scores, qkv.v), mix(S, I))  # (Q·Kᵀ)·V with M_V = I is O = S·I


def test_score_variance_grows_like_d_and_is_one_after_scaling():
    var = score_variance(dims=(1, 4, 16, 64, 256), samples=4000, seed=0)
    for d, raw, scaled in zip(var.dims, var.raw, var.scaled, strict=True):
        assert raw == pytest.approx(d, rel=0.12)
        assert scaled == pytest.approx(1.0, rel=0.12)
    # a straight line of slope 1 on log-log axes: linear in d
    slope = torch.linalg.lstsq(
        torch.stack([torch.log(torch.tensor(var.dims, dtype=torch.float64)), torch.ones(5, dtype=torch.float64)], 1),
        torch.log(torch.tensor(var.raw, dtype=torch.float64))[:, None],
    ).solution[0, 0]
    assert float(slope) == pytest.approx(1.0, abs=0.05)
    assert score_variance(dims=(8,), samples=100, seed=3) == score_variance(dims=(8,), samples=100, seed=3)


@pytest.mark.parametrize("kwargs", [{"dims": ()}, {"dims": (0,)}, {"dims": (2.5,)}, {"samples": 1}, {"samples": True}])
def test_score_variance_rejects_bad_input(kwargs):
    with pytest.raises(AttnvizInputError):
        score_variance(**kwargs)


def test_softmax_stats_and_saturation_curve():
    w = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.25, 0.25]])
    stats = softmax_stats(w)
    assert stats.row_sums == (1.0, 1.0) and stats.one_hot_rows == 1 and stats.mean_top == 0.75
    scores = torch.tensor([3.0, 1.0, 0.0, -2.0])
    curve = top_weight_curve(scores, [0.01, 0.1, 1.0, 10.0, 1000.0])
    assert curve == sorted(curve, reverse=True)  # hotter, flatter
    assert curve[0] == pytest.approx(1.0) and curve[-1] == pytest.approx(0.25, abs=1e-2)
    allowed = torch.tensor([False, True, True, True])
    assert top_weight_curve(scores, [0.01], allowed=allowed)[0] == pytest.approx(1.0)  # the 1.0 key takes all
    with pytest.raises(AttnvizInputError):
        top_weight_curve(scores, [0.0])
    with pytest.raises(AttnvizInputError):
        softmax_stats(torch.ones(2, 2, 2))


# ------------------------------------------------------------------------------ even split, attention received


@pytest.mark.parametrize("t", [1, 2, 5, 9])
def test_even_split_under_the_causal_mask_is_per_row(t):
    from attnviz.attention import even_split

    mask = causal_mask(t)  # (T, T)
    expected = torch.tensor([1.0 / (i + 1) for i in range(t)])
    torch.testing.assert_close(even_split(mask), expected)
    # equal scores: softmax gives exactly that even split, row by row (row i over its i+1 keys, not 1/T)
    q = torch.zeros(t, 4)
    att = scaled_dot_product(q, torch.randn(t, 4), torch.randn(t, 4), mask=mask)
    torch.testing.assert_close(att.weights.max(dim=-1).values, expected)
    torch.testing.assert_close(att.weights.sum(dim=-1), torch.ones(t))
    assert torch.equal(even_split(torch.ones(t, t, dtype=torch.bool)), torch.full((t,), 1.0 / t))
    assert float(even_split(torch.zeros(2, 3, dtype=torch.bool)).abs().max()) == 0.0


def test_attention_received_is_the_column_sums():
    from attnviz.attention import attention_received

    q, k, v = _qkv((6, 8), 6, 8, seed=3)
    att = scaled_dot_product(q, k, v)
    got = attention_received(att.weights)
    torch.testing.assert_close(got.total, att.weights.sum(dim=0))
    assert got.total.sum().item() == pytest.approx(6.0, abs=1e-5)  # 6 rows, each summing to 1
    torch.testing.assert_close(got.mean, got.total / 6)
    torch.testing.assert_close(got.even, torch.full((6,), 1 / 6))
    # under the causal mask key j is seen by the T−j rows from j on; the first key gets the most for free
    mask = causal_mask(6)
    masked = attention_received(scaled_dot_product(q, k, v, mask=mask).weights, mask)
    lookers = torch.arange(6, 0, -1, dtype=torch.float32)
    torch.testing.assert_close(masked.mean, masked.total / lookers)
    even_total = torch.tensor([sum(1 / (i + 1) for i in range(j, 6)) for j in range(6)])
    torch.testing.assert_close(masked.even, even_total / lookers)
    with pytest.raises(AttnvizInputError):
        attention_received(torch.ones(3))
