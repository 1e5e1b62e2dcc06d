import math

import pytest
import torch

from attnviz.attention import scaled_dot_product
from attnviz.efficient import flash_attention, longformer_attention, longformer_mask, performer_attention
from attnviz.metrics import (
    attention_mass_kept,
    compare,
    error_figures,
    max_abs_error,
    mean_row_kl,
    output_cosine,
    relative_frobenius_error,
    uniform_attention,
)


def _qkv(t=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 2, t, 8, generator=g) for _ in range(3))


def test_identical_attention_has_no_error():
    q, k, v = _qkv()
    exact = scaled_dot_product(q, k, v)
    figures = error_figures(exact, exact)
    assert figures.weights_rel_frobenius == 0 and figures.weights_max_abs == 0
    assert figures.output_rel_frobenius == 0 and figures.output_max_abs == 0
    assert figures.row_kl == pytest.approx(0, abs=1e-6)
    assert figures.output_cosine == pytest.approx(1)
    assert figures.mass_kept is None


def test_elementary_measures():
    exact = torch.tensor([[3.0, 4.0]])
    approx = torch.tensor([[3.0, 1.0]])
    assert relative_frobenius_error(approx, exact) == pytest.approx(3 / 5)
    assert max_abs_error(approx, exact) == pytest.approx(3)
    assert output_cosine(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])) == pytest.approx(0)
    p = torch.tensor([[0.5, 0.5]])
    q = torch.tensor([[0.25, 0.75]])
    assert mean_row_kl(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert mean_row_kl(p, torch.tensor([[1.0, 0.0]])) > 5  # a dropped weight costs ½·log(½/eps)


def test_mass_kept_by_a_pattern():
    w = torch.tensor([[0.5, 0.3, 0.2], [0.0, 0.0, 0.0]])  # the second row is fully masked and ignored
    assert attention_mass_kept(w, torch.tensor([True, False, True])) == pytest.approx(0.7)
    assert attention_mass_kept(w, torch.ones(3, dtype=torch.bool)) == pytest.approx(1.0)


def test_uniform_attention_is_the_mean_of_allowed_values():
    _, _, v = _qkv(t=6)
    mask = torch.tensor([True, True, False, True, False, True])
    uniform = uniform_attention(v, 3, mask)
    assert uniform.weights.shape == (2, 2, 3, 6)
    assert torch.allclose(uniform.weights.sum(-1), torch.ones(2, 2, 3))
    assert torch.allclose(uniform.output[..., 0, :], v[..., mask, :].mean(-2))


def test_compare_reports_the_uniform_baseline():
    q, k, v = _qkv(t=32)
    exact = scaled_dot_product(q, k, v)
    tiled = compare(exact, flash_attention(q, k, v, block_q=8, block_k=8, return_weights=True), v)
    assert tiled.approx.output_rel_frobenius < 1e-5 and tiled.beats_uniform
    assert tiled.uniform.output_rel_frobenius > 0.1
    assert tiled.uniform.row_kl > 0
    pattern = longformer_mask(32, 4)
    band = compare(exact, longformer_attention(q, k, v, window=4, return_weights=True), v, pattern=pattern)
    assert 0 < band.approx.mass_kept < 1
    assert band.uniform.mass_kept is None
    features = compare(exact, performer_attention(q, k, v, n_features=16), v)
    assert features.approx.weights_rel_frobenius is None  # no weights asked for
    assert features.approx.output_cosine <= 1


def test_error_figures_need_exact_weights():
    q, k, v = _qkv()
    with pytest.raises(ValueError):
        error_figures(flash_attention(q, k, v), scaled_dot_product(q, k, v))
