import pytest
import torch

from attnviz.attention import scaled_dot_product
from attnviz.efficient import sparse_attention, sparse_mask
from attnviz.errors import AttnvizInputError


@pytest.mark.parametrize("pattern", ["strided", "fixed"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("t,stride,summary", [(37, 5, 1), (64, 8, 2), (8, 16, 1), (30, None, 1)])
def test_sparse_equals_exact_on_its_pattern(make_qkv, relative_error, pattern, causal, t, stride, summary):
    q, k, v = make_qkv((2, 3, t, 16), dv=8)
    knobs = dict(pattern=pattern, stride=stride, summary=summary, causal=causal)
    exact = scaled_dot_product(q, k, v, mask=sparse_mask(t, **knobs))
    out = sparse_attention(q, k, v, return_weights=True, **knobs)
    assert out.output.shape == (2, 3, t, 8)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)


@pytest.mark.parametrize("pattern", ["strided", "fixed"])
def test_sparse_with_a_mask(make_qkv, pattern):
    t = 33
    q, k, v = make_qkv((2, 2, t, 8))
    mask = torch.rand(2, 1, t, t, generator=torch.Generator().manual_seed(4)) > 0.3
    knobs = dict(pattern=pattern, stride=6, summary=2, causal=True)
    exact = scaled_dot_product(q, k, v, mask=sparse_mask(t, **knobs) & mask)
    out = sparse_attention(q, k, v, mask=mask, **knobs)
    assert torch.allclose(out.output, exact.output, atol=1e-6)


def test_sparse_masks_follow_the_paper():
    strided = sparse_mask(16, pattern="strided", stride=4)
    assert torch.equal(strided, strided.tril())  # causal
    assert strided[9].nonzero().flatten().tolist() == [1, 5, 6, 7, 8, 9]  # every 4th back, and the last 4
    fixed = sparse_mask(16, pattern="fixed", stride=4, summary=1)
    assert fixed[9].nonzero().flatten().tolist() == [3, 7, 8, 9]  # block summaries, and its own block so far
    both_ways = sparse_mask(16, pattern="fixed", stride=4, summary=1, causal=False)
    assert both_ways[9].nonzero().flatten().tolist() == [3, 7, 8, 9, 10, 11, 15]


def test_sparse_refuses_bad_input(make_qkv):
    q, k, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError):
        sparse_attention(q, k, v, pattern="diagonal")  # type: ignore[arg-type]
    with pytest.raises(AttnvizInputError):
        sparse_attention(q, k, v, stride=0)
