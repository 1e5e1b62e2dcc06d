import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import banded_attention, longformer_attention, longformer_mask
from attnviz.errors import AttnvizInputError

CASES = [(37, 6, (), None), (37, 6, (0, 5, 36), 4), (50, 10, (3,), 7), (5, 100, (1,), None), (40, 0, (), 3)]


@pytest.mark.parametrize("t,window,glob,chunk", CASES)
def test_longformer_equals_exact_on_its_pattern(make_qkv, relative_error, t, window, glob, chunk):
    q, k, v = make_qkv((2, 3, t, 16), dv=8)
    pattern = longformer_mask(t, window, glob)
    exact = scaled_dot_product(q, k, v, mask=pattern)
    out = longformer_attention(q, k, v, window=window, global_tokens=glob, chunk=chunk, return_weights=True)
    assert out.output.shape == (2, 3, t, 8)
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)
    assert torch.allclose(out.logsumexp, torch.logsumexp(exact.scaled, -1), atol=1e-5)


@pytest.mark.parametrize("kind", ["padding", "causal"])
def test_longformer_with_masks(make_qkv, kind):
    t = 30
    q, k, v = make_qkv((2, 2, t, 8))
    if kind == "padding":
        mask = torch.rand(2, 1, 1, t, generator=torch.Generator().manual_seed(1)) > 0.3
    else:
        mask = causal_mask(t)
    exact = scaled_dot_product(q, k, v, mask=longformer_mask(t, 8, (2,)) & mask)
    out = longformer_attention(q, k, v, mask=mask, window=8, global_tokens=(2,), chunk=5)
    assert torch.allclose(out.output, exact.output, atol=1e-6)


def test_longformer_mask_shape_of_the_pattern():
    m = longformer_mask(12, 4, (0,))
    assert torch.equal(m, m.T)
    assert m[0].all() and m[:, 0].all()
    assert m[6, 4] and m[6, 8] and not m[6, 9] and not m[6, 3]
    i, j = torch.arange(12)[:, None], torch.arange(12)[None, :]
    # a band of 5, one global row and one global column
    assert torch.equal(m, ((i - j).abs() <= 2) | (i == 0) | (j == 0))


def test_chunking_does_not_change_the_result(make_qkv):
    q, k, v = make_qkv((1, 2, 40, 8))
    outs = [longformer_attention(q, k, v, window=6, global_tokens=(0,), chunk=c).output for c in (1, 3, 8, 40)]
    for o in outs[1:]:
        assert torch.allclose(o, outs[0], atol=1e-6)


def test_banded_attention_one_sided(make_qkv):
    q, k, v = make_qkv((2, 1, 20, 8))
    i, j = torch.arange(20)[:, None], torch.arange(20)[None, :]
    band = (j <= i) & (j >= i - 3)  # three back, none forward
    exact = scaled_dot_product(q, k, v, mask=band, scale=0.25)
    output, _ = banded_attention(q, k, v, left=3, right=0, scale=0.25, chunk=6)
    assert torch.allclose(output, exact.output, atol=1e-6)


def test_longformer_refuses_bad_input(make_qkv):
    q, k, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError):
        longformer_attention(q, k, v, window=-2)
    with pytest.raises(AttnvizInputError):
        longformer_attention(q, k, v, global_tokens=(8,))
    with pytest.raises(ValueError):
        longformer_attention(q, k[..., :6, :], v[..., :6, :])


def test_many_groups_of_chunks_give_the_same_result(make_qkv, monkeypatch):
    import attnviz.efficient.banded as banded

    q, k, v = make_qkv((2, 2, 45, 8))
    pattern = longformer_mask(45, 6, (0, 20))
    exact = scaled_dot_product(q, k, v, mask=pattern)
    monkeypatch.setattr(banded, "GROUP_SCORES", 64)  # one chunk per group
    out = longformer_attention(q, k, v, window=6, global_tokens=(0, 20), chunk=4)
    assert torch.allclose(out.output, exact.output, atol=1e-6)


@pytest.mark.parametrize("scale", [0.25, 4.0, 40.0])
def test_with_and_without_the_shift_by_the_row_maximum(make_qkv, relative_error, monkeypatch, scale):
    """Small scores skip the shift by each row's maximum; large ones (the bound exceeded) take it; same result."""
    import attnviz.efficient.banded as banded

    t, glob = 60, (0, 31)
    q, k, v = make_qkv((2, 2, t, 16))
    pattern = longformer_mask(t, 10, glob)
    exact = scaled_dot_product(q, k, v, mask=pattern, scale=scale)
    lse = torch.logsumexp(exact.scaled.masked_fill(~pattern, float("-inf")), -1)
    results = []
    for bound in (float("inf"), -1.0):  # never shift, always shift
        monkeypatch.setattr(banded, "SHIFT_FREE_BOUND", bound)
        out = longformer_attention(q, k, v, window=10, global_tokens=glob, chunk=7, scale=scale)
        results.append(out)
    monkeypatch.undo()
    default = longformer_attention(q, k, v, window=10, global_tokens=glob, chunk=7, scale=scale)
    if scale < 1:
        assert torch.equal(default.output, results[0].output)  # the bound holds: no shift
    else:
        assert torch.equal(default.output, results[1].output)  # scores up to ±hundreds: shifted
    for out in [default, *results[:1]] if scale < 40 else [default]:
        assert relative_error(out.output, exact.output) <= 1e-5
        assert torch.allclose(out.logsumexp, lse, atol=1e-4, rtol=1e-5)


def test_rows_without_any_key_give_zero_unshifted(make_qkv):
    """A row the mask leaves without keys has output 0 and log-sum-exp -inf, shifted or not."""
    t = 12
    q, k, v = make_qkv((1, 1, t, 8))
    mask = torch.ones(t, t, dtype=torch.bool)
    mask[3] = False
    out = longformer_attention(q, k, v, mask=mask, window=4, chunk=5)
    exact = scaled_dot_product(q, k, v, mask=longformer_mask(t, 4) & mask)
    assert torch.all(out.output[..., 3, :] == 0) and torch.isneginf(out.logsumexp[..., 3]).all()
    assert torch.allclose(out.output, exact.output, atol=1e-6)


@pytest.mark.parametrize("t,window,glob,dilation,chunk", [(37, 6, (), 2, None), (37, 5, (0, 5, 36), 3, 4),
                                                         (20, 3, (0,), 4, 7), (9, 1, (0,), 2, None)])  # fmt: skip
def test_dilated_window_equals_exact_on_its_pattern(make_qkv, relative_error, t, window, glob, dilation, chunk):
    q, k, v = make_qkv((2, 3, t, 16), dv=8)
    pattern = longformer_mask(t, window, glob, dilation=dilation)
    exact = scaled_dot_product(q, k, v, mask=pattern)
    out = longformer_attention(
        q, k, v, window=window, global_tokens=glob, dilation=dilation, chunk=chunk, return_weights=True
    )
    assert out.dilation == dilation
    assert relative_error(out.output, exact.output) <= 1e-5
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)
    assert torch.allclose(out.weights.sum(-1), torch.ones(2, 3, t), atol=1e-5)


def test_dilated_mask_is_the_papers_window():
    m = longformer_mask(15, 5, (), dilation=3)
    i, j = torch.arange(15)[:, None], torch.arange(15)[None, :]
    # t sees t, t ± 3, t ± 6: the same 5 positions, 3 apart
    assert torch.equal(m, ((i - j).abs() <= 6) & ((i - j) % 3 == 0))
    assert m[7].nonzero().flatten().tolist() == [1, 4, 7, 10, 13]
    assert torch.equal(longformer_mask(15, 5, (2,), dilation=1), longformer_mask(15, 5, (2,)))
    with pytest.raises(AttnvizInputError):
        longformer_mask(15, 5, (), dilation=0)


def test_dilated_window_with_a_causal_mask(make_qkv):
    t = 24
    q, k, v = make_qkv((1, 2, t, 8))
    mask = causal_mask(t)
    exact = scaled_dot_product(q, k, v, mask=longformer_mask(t, 6, (1,), dilation=2) & mask)
    out = longformer_attention(q, k, v, mask=mask, window=6, global_tokens=(1,), dilation=2, chunk=5)
    assert torch.allclose(out.output, exact.output, atol=1e-6)
