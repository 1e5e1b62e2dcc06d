import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import causal_mask, multi_head, scaled_dot_product
from attnviz.efficient import flash_attention
from attnviz.errors import AttnvizInputError


@pytest.mark.parametrize(
    "shape,s,dv",
    [((24, 16), None, None), ((2, 3, 37, 16), 41, 8), ((1, 2, 5, 4), 9, 6), ((2, 1, 64, 32), None, None)],
)
@pytest.mark.parametrize("blocks", [(1, 1), (8, 7), (16, 32), (256, 512)])
def test_flash_equals_exact(make_qkv, relative_error, shape, s, dv, blocks):
    q, k, v = make_qkv(shape, s, dv)
    exact = scaled_dot_product(q, k, v)
    flash = flash_attention(q, k, v, block_q=blocks[0], block_k=blocks[1])
    assert flash.output.shape == exact.output.shape
    assert relative_error(flash.output, exact.output) <= 1e-5
    assert torch.allclose(flash.output, F.scaled_dot_product_attention(q, k, v), atol=1e-5)


def test_flash_keeps_no_matrix_unless_asked(make_qkv):
    q, k, v = make_qkv()
    flash = flash_attention(q, k, v)
    assert flash.scores is None and flash.scaled is None and flash.weights is None
    assert flash.steps == ()


def test_flash_rebuilds_weights_and_logsumexp(make_qkv):
    q, k, v = make_qkv((2, 3, 19, 8), s=23)
    exact = scaled_dot_product(q, k, v)
    flash = flash_attention(q, k, v, block_q=4, block_k=5, return_weights=True)
    assert torch.allclose(flash.weights, exact.weights, atol=1e-6)
    assert torch.allclose(flash.logsumexp, torch.logsumexp(exact.scaled, dim=-1), atol=1e-5)


def test_flash_with_padding_and_full_masks(make_qkv):
    q, k, v = make_qkv((2, 3, 21, 8), s=26)
    g = torch.Generator().manual_seed(5)
    padding = torch.rand(2, 1, 1, 26, generator=g) > 0.4
    full = torch.rand(21, 26, generator=g) > 0.6
    full[3] = False  # a row with no key at all: zero weights and output, as in the exact path
    for mask in (padding, full):
        exact = scaled_dot_product(q, k, v, mask=mask)
        flash = flash_attention(q, k, v, mask=mask, block_q=4, block_k=6, return_weights=True)
        assert torch.allclose(flash.output, exact.output, atol=1e-6)
        assert torch.allclose(flash.weights, exact.weights, atol=1e-6)
    assert torch.all(flash.output[..., 3, :] == 0)
    assert torch.all(flash.logsumexp[..., 3] == -math.inf)


@pytest.mark.parametrize("t,s", [(17, 17), (9, 20), (20, 9)])
def test_flash_causal_skips_tiles_and_matches_causal_mask(make_qkv, t, s):
    q, k, v = make_qkv((2, 2, t, 8), s=s)
    exact = scaled_dot_product(q, k, v, mask=causal_mask(t, s))
    flash = flash_attention(q, k, v, causal=True, block_q=4, block_k=3, record_steps=True, return_weights=True)
    assert torch.allclose(flash.output, exact.output, atol=1e-6)
    assert torch.allclose(flash.weights, exact.weights, atol=1e-6)
    offset = s - t
    for step in flash.steps:  # no tile lies wholly above the diagonal
        assert step.k_start <= step.q_stop - 1 + offset


def test_flash_step_through_records_online_softmax(make_qkv):
    q, k, v = make_qkv((1, 1, 10, 8), s=12)
    exact = scaled_dot_product(q, k, v)
    flash = flash_attention(q, k, v, block_q=4, block_k=5, record_steps=True)
    assert len(flash.steps) == 3 * 3  # ceil(10/4) query blocks × ceil(12/5) key blocks
    by_rows: dict[int, list] = {}
    for step in flash.steps:
        by_rows.setdefault(step.q_start, []).append(step)
        assert step.scaled.shape == (1, 1, step.q_stop - step.q_start, step.k_stop - step.k_start)
    for q0, steps in by_rows.items():
        rows = slice(q0, steps[0].q_stop)
        # the running max only grows, and ends at the row maximum; the last partial output is the output
        for before, after in itertools.pairwise(steps):
            assert torch.all(after.row_max >= before.row_max)
        assert torch.allclose(steps[-1].row_max, exact.scaled[..., rows, :].amax(-1))
        assert torch.allclose(steps[-1].output, exact.output[..., rows, :], atol=1e-6)
        # the first tile's output is attention over its keys alone
        first = scaled_dot_product(q[..., rows, :], k[..., :5, :], v[..., :5, :])
        assert torch.allclose(steps[0].output, first.output, atol=1e-6)
        assert torch.all(steps[0].correction == 0)  # nothing summed before the first tile


def test_flash_is_an_attention_fn_inside_multi_head():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, 12, generator=g)
    w = [torch.randn(12, 12, generator=g) * 0.3 for _ in range(4)]
    exact = multi_head(x, *w, n_heads=3)
    tiled = multi_head(x, *w, n_heads=3, attend=flash_attention)
    assert torch.allclose(tiled.output, exact.output, atol=1e-5)


def test_flash_custom_scale_and_determinism(make_qkv):
    q, k, v = make_qkv((2, 2, 13, 8))
    exact = scaled_dot_product(q, k, v, scale=0.3)
    a = flash_attention(q, k, v, scale=0.3, block_q=5, block_k=4)
    b = flash_attention(q, k, v, scale=0.3, block_q=5, block_k=4)
    assert a.scale == 0.3
    assert torch.allclose(a.output, exact.output, atol=1e-6)
    assert torch.equal(a.output, b.output)


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_flash_rejects_bad_blocks(make_qkv, bad):
    q, k, v = make_qkv()
    with pytest.raises(AttnvizInputError):
        flash_attention(q, k, v, block_q=bad)


def test_flash_rejects_mismatched_shapes(make_qkv):
    q, k, v = make_qkv()
    with pytest.raises(ValueError):
        flash_attention(q, k[..., :8], v)
