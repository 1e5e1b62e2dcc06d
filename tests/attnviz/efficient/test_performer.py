import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import orthogonal_features, performer_attention
from attnviz.errors import AttnvizInputError


def test_performer_shapes_and_positive_features(make_qkv):
    q, k, v = make_qkv((2, 3, 20, 16), s=25, dv=8)
    out = performer_attention(q, k, v, n_features=40)
    assert out.output.shape == (2, 3, 20, 8)
    assert out.features.shape == (40, 16)
    assert out.k_features.shape == (2, 3, 25, 40) and torch.all(out.k_features >= 0)
    assert out.weights is None and out.q_features is None
    full = performer_attention(q, k, v, n_features=40, return_weights=True)
    assert full.q_features.shape == (2, 3, 20, 40) and torch.all(full.q_features >= 0)
    assert torch.equal(full.output, out.output)


def test_orthogonal_features_are_orthogonal_in_blocks():
    w = orthogonal_features(40, 16, seed=1)
    block = w[:16] / w[:16].norm(dim=1, keepdim=True)
    assert torch.allclose(block @ block.T, torch.eye(16), atol=1e-5)
    assert torch.equal(w, orthogonal_features(40, 16, seed=1))
    assert not torch.equal(w, orthogonal_features(40, 16, seed=2))


def test_performer_weights_are_rows_of_a_distribution(make_qkv):
    q, k, v = make_qkv((2, 2, 15, 8))
    out = performer_attention(q, k, v, n_features=32, return_weights=True)
    assert torch.all(out.weights >= 0)
    assert torch.allclose(out.weights.sum(-1), torch.ones(2, 2, 15), atol=1e-5)
    assert torch.allclose(out.weights @ v, out.output, atol=1e-5)


def test_performer_error_falls_as_features_grow(make_qkv, relative_error):
    # small logits: the regime where positive random features are accurate
    q, k, v = make_qkv((2, 4, 48, 16), logit_scale=0.25)
    exact = scaled_dot_product(q, k, v)

    def mean_error(m):
        errors = [
            relative_error(
                performer_attention(q, k, v, n_features=m, seed=s, return_weights=True).weights, exact.weights
            )
            for s in range(6)
        ]
        return sum(errors) / len(errors)

    errors = [mean_error(m) for m in (8, 32, 128, 512)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 0.5 * errors[0]


def test_performer_seed_decides_the_features(make_qkv):
    q, k, v = make_qkv()
    a = performer_attention(q, k, v, n_features=16, seed=7)
    b = performer_attention(q, k, v, n_features=16, seed=7)
    c = performer_attention(q, k, v, n_features=16, seed=8)
    assert torch.equal(a.output, b.output)
    assert not torch.allclose(a.output, c.output)


def test_performer_padding_mask_drops_keys(make_qkv):
    q, k, v = make_qkv((2, 2, 12, 8))
    keep = torch.ones(2, 1, 1, 12, dtype=torch.bool)
    keep[1, ..., :4] = False
    out = performer_attention(q, k, v, mask=keep, n_features=16)
    k2, v2 = k.clone(), v.clone()
    k2[1, :, :4] = 3.0
    v2[1, :, :4] = -100.0
    again = performer_attention(q, k2, v2, mask=keep, n_features=16)
    assert torch.allclose(out.output, again.output, atol=1e-5)


def test_performer_refuses_per_query_masks_and_bad_m(make_qkv):
    q, k, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError):
        performer_attention(q, k, v, mask=causal_mask(8))
    with pytest.raises(AttnvizInputError):
        performer_attention(q, k, v, n_features=0)


def test_performer_blocks_of_queries_change_nothing(make_qkv):
    q, k, v = make_qkv((1, 2, 600, 8))  # more than one block of queries
    out = performer_attention(q, k, v, n_features=16, return_weights=True)
    assert out.q_features.shape == (1, 2, 600, 16)
    assert torch.allclose(out.weights @ v, out.output, atol=1e-5)


def test_orthogonal_features_estimate_the_kernel_without_bias():
    # QR's sign convention made the "orthogonal" directions non-uniform: this estimate was 18% low
    from attnviz.efficient.performer import softmax_kernel_estimate

    d = 4
    q = torch.tensor([[0.5, 0.0, 0.0, 0.0]]) * d**0.25  # x = q/d^{1/4} = (0.5, 0, 0, 0)
    k = torch.tensor([[0.0, 0.5, 0.0, 0.0]]) * d**0.25
    exact = torch.exp(q @ k.T / d**0.5)
    for orthogonal in (True, False):
        ratios = [
            float(softmax_kernel_estimate(q, k, orthogonal_features(1024, d, seed=s, orthogonal=orthogonal)) / exact)
            for s in range(8)
        ]
        assert sum(ratios) / len(ratios) == pytest.approx(1.0, abs=0.02), orthogonal
    w = orthogonal_features(4096, d, seed=0)
    unit = w / w.norm(dim=1, keepdim=True)
    assert unit.mean(dim=0).abs().max() < 0.05  # the directions point every way, not towards one side
