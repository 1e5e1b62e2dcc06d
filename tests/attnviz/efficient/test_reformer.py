import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import lsh_buckets, reformer_attention, reformer_mask
from attnviz.errors import AttnvizInputError


def test_one_bucket_is_exact_attention_with_shared_qk(make_qkv, relative_error):
    q, _, v = make_qkv((2, 3, 29, 16), dv=8)
    exact = scaled_dot_product(q, q, v)
    out = reformer_attention(q, q, v, n_buckets=1, exclude_self=False, return_weights=True)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)
    # the paper's rule: a token does not attend to itself while it has other keys
    no_self = scaled_dot_product(q, q, v, mask=~torch.eye(29, dtype=torch.bool))
    assert torch.allclose(reformer_attention(q, q, v, n_buckets=1).output, no_self.output, atol=1e-6)


@pytest.mark.parametrize(
    "n_buckets,n_rounds,chunk,exclude_self",
    [(4, 1, None, False), (8, 1, None, True), (8, 1, 5, True), (4, 3, None, False), (8, 2, 6, True)],
)
def test_reformer_equals_exact_on_what_it_looked_at(make_qkv, relative_error, n_buckets, n_rounds, chunk, exclude_self):
    q, _, v = make_qkv((2, 3, 37, 16), dv=8)
    knobs = dict(n_buckets=n_buckets, n_rounds=n_rounds, chunk_size=chunk, exclude_self=exclude_self, seed=5)
    exact = scaled_dot_product(q, q, v, mask=reformer_mask(q, **knobs))
    out = reformer_attention(q, q, v, return_weights=True, **knobs)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)
    assert out.buckets.shape == (n_rounds, 2, 3, 37)


def test_reformer_with_a_causal_mask(make_qkv):
    q, _, v = make_qkv((1, 2, 30, 8))
    knobs = dict(n_buckets=4, n_rounds=2, seed=1)
    mask = causal_mask(30)
    exact = scaled_dot_product(q, q, v, mask=reformer_mask(q, mask=mask, **knobs))
    out = reformer_attention(q, q, v, mask=mask, **knobs)
    assert torch.allclose(out.output, exact.output, atol=1e-6)


def test_lsh_buckets_follow_directions():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 16, generator=g)
    buckets, rotations = lsh_buckets(torch.cat([x, 3 * x, -x]), n_buckets=8, n_rounds=2, seed=1)
    assert buckets.shape == (2, 150) and rotations.shape == (2, 16, 4)
    assert buckets.min() >= 0 and buckets.max() < 8
    assert torch.equal(buckets[:, :50], buckets[:, 50:100])  # the length does not matter, only the direction
    assert not torch.equal(buckets[:, :50], buckets[:, 100:])  # the opposite direction lands elsewhere
    assert torch.equal(buckets, lsh_buckets(torch.cat([x, 3 * x, -x]), n_buckets=8, n_rounds=2, seed=1)[0])


def test_more_rounds_see_more_pairs(make_qkv):
    q, _, _ = make_qkv((1, 1, 64, 16))
    seen = [reformer_mask(q, n_buckets=8, n_rounds=r, seed=0).sum() for r in (1, 2, 4)]
    assert seen[0] < seen[1] < seen[2]


def test_reformer_refuses_bad_input(make_qkv):
    q, _, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError):
        reformer_attention(q, q, v, n_buckets=3)
    with pytest.raises(AttnvizInputError):
        reformer_attention(q, q, v, n_rounds=0)
