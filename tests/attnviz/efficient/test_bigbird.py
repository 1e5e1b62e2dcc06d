import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import bigbird_attention, bigbird_layout, bigbird_mask
from attnviz.errors import AttnvizInputError

CASES = [(37, 4, 3, 1, 2), (64, 8, 3, 2, 3), (50, 7, 5, 0, 1), (8, 16, 3, 1, 3), (40, 4, 1, 0, 0)]


@pytest.mark.parametrize("t,block,window,glob,rand", CASES)
def test_bigbird_equals_exact_on_its_pattern(make_qkv, relative_error, t, block, window, glob, rand):
    q, k, v = make_qkv((2, 3, t, 16), dv=8)
    knobs = dict(block_size=block, window_blocks=window, global_blocks=glob, random_blocks=rand, seed=3)
    exact = scaled_dot_product(q, k, v, mask=bigbird_mask(t, **knobs))
    out = bigbird_attention(q, k, v, return_weights=True, **knobs)
    assert out.output.shape == (2, 3, t, 8)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)


@pytest.mark.parametrize("kind", ["padding", "causal"])
def test_bigbird_with_masks(make_qkv, kind):
    t = 45
    q, k, v = make_qkv((2, 2, t, 8))
    mask = (
        causal_mask(t) if kind == "causal" else torch.rand(2, 1, 1, t, generator=torch.Generator().manual_seed(2)) > 0.3
    )
    knobs = dict(block_size=5, window_blocks=3, global_blocks=1, random_blocks=2)
    exact = scaled_dot_product(q, k, v, mask=bigbird_mask(t, **knobs) & mask)
    out = bigbird_attention(q, k, v, mask=mask, **knobs)
    assert torch.allclose(out.output, exact.output, atol=1e-6)


def test_bigbird_layout():
    layout = bigbird_layout(12, window_blocks=3, global_blocks=2, random_blocks=2, seed=0)
    assert layout[:2].all() and layout[:, :2].all()  # global
    assert all(layout[i, j] for i in range(12) for j in range(max(0, i - 1), min(12, i + 2)))  # window
    window_and_global = bigbird_layout(12, window_blocks=3, global_blocks=2, random_blocks=0)
    extra = (layout & ~window_and_global)[2:].sum(dim=1)
    assert torch.all(extra == 2)  # exactly two random blocks per non-global row
    assert torch.equal(layout, bigbird_layout(12, window_blocks=3, global_blocks=2, random_blocks=2, seed=0))
    assert not torch.equal(layout, bigbird_layout(12, window_blocks=3, global_blocks=2, random_blocks=2, seed=1))


def test_bigbird_mask_is_the_layout_token_by_token():
    m = bigbird_mask(10, block_size=4, window_blocks=1, global_blocks=0, random_blocks=0)
    expected = torch.block_diag(torch.ones(4, 4), torch.ones(4, 4), torch.ones(2, 2)).bool()
    assert torch.equal(m, expected)


def test_bigbird_seed_and_bad_input(make_qkv):
    q, k, v = make_qkv((1, 2, 40, 8))
    a = bigbird_attention(q, k, v, block_size=4, seed=1)
    assert torch.equal(a.output, bigbird_attention(q, k, v, block_size=4, seed=1).output)
    assert not torch.allclose(a.output, bigbird_attention(q, k, v, block_size=4, seed=2).output)
    with pytest.raises(AttnvizInputError):
        bigbird_attention(q, k, v, block_size=0)
    with pytest.raises(AttnvizInputError):
        bigbird_attention(q, k, v, random_blocks=-1)


def test_many_groups_of_blocks_give_the_same_result(make_qkv, monkeypatch):
    import attnviz.efficient.bigbird as bigbird

    q, k, v = make_qkv((2, 2, 45, 8))
    knobs = dict(block_size=4, window_blocks=3, global_blocks=1, random_blocks=2)
    exact = scaled_dot_product(q, k, v, mask=bigbird_mask(45, **knobs))
    monkeypatch.setattr(bigbird, "GROUP_SCORES", 16)  # one query block per group
    out = bigbird_attention(q, k, v, **knobs)
    assert torch.allclose(out.output, exact.output, atol=1e-6)
