import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import (
    causal_mask,
    merge_heads,
    mix,
    multi_head,
    padding_mask,
    scaled_dot_product,
    similarity_matrix,
    split_heads,
)


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
