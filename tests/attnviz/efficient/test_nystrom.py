import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import iterative_pinv, nystrom_attention
from attnviz.efficient.nystrom import segment_means
from attnviz.errors import AttnvizInputError


def test_nystrom_shapes(make_qkv):
    q, k, v = make_qkv((2, 3, 24, 16), s=30, dv=8)
    out = nystrom_attention(q, k, v, n_landmarks=6)
    assert out.output.shape == (2, 3, 24, 8)
    assert out.q_landmarks.shape == out.k_landmarks.shape == (2, 3, 6, 16)
    assert out.kernel_f.shape == (2, 3, 24, 6)
    assert out.kernel_a.shape == out.kernel_a_pinv.shape == (2, 3, 6, 6)
    assert out.kernel_b.shape == (2, 3, 6, 30)
    assert out.weights is None


@pytest.mark.parametrize("pinv,iterations", [("iterative", 20), ("svd", 0)])
def test_nystrom_with_one_landmark_per_token_is_exact(make_qkv, relative_error, pinv, iterations):
    q, k, v = make_qkv((2, 3, 16, 16))
    exact = scaled_dot_product(q, k, v)
    out = nystrom_attention(q, k, v, n_landmarks=16, pinv=pinv, pinv_iterations=iterations)
    assert relative_error(out.output, exact.output) <= 1e-4


def test_iterative_pinv_matches_svd_pinv():
    g = torch.Generator().manual_seed(2)
    a = torch.softmax(torch.randn(3, 8, 8, generator=g), dim=-1)
    assert torch.allclose(iterative_pinv(a, 25), torch.linalg.pinv(a), atol=1e-3)


def test_segment_means_with_uneven_segments():
    x = torch.arange(10.0).view(10, 1)
    means, alive = segment_means(x, 3)
    # segments of 4, 3, 3 positions: 0..3, 4..6, 7..9
    assert torch.allclose(means.flatten(), torch.tensor([1.5, 5.0, 8.0]))
    assert alive.all()


def test_nystrom_weights_reproduce_the_output_and_error_falls(make_qkv, relative_error):
    q, k, v = make_qkv((2, 2, 32, 8))
    exact = scaled_dot_product(q, k, v)
    out = nystrom_attention(q, k, v, n_landmarks=8, return_weights=True)
    assert torch.allclose(out.weights @ v, out.output, atol=1e-4)
    errors = [
        relative_error(nystrom_attention(q, k, v, n_landmarks=m, pinv_iterations=20).output, exact.output)
        for m in (4, 16, 32)
    ]
    assert errors[2] < errors[1] < errors[0]


def test_nystrom_is_deterministic_and_drops_padded_keys(make_qkv):
    q, k, v = make_qkv((2, 2, 12, 8))
    assert torch.equal(
        nystrom_attention(q, k, v, n_landmarks=4).output, nystrom_attention(q, k, v, n_landmarks=4).output
    )
    keep = torch.ones(2, 1, 1, 12, dtype=torch.bool)
    keep[0, ..., 8:] = False
    out = nystrom_attention(q, k, v, mask=keep, n_landmarks=4)
    k2, v2 = k.clone(), v.clone()
    k2[0, :, 8:] = 50.0
    v2[0, :, 8:] = -100.0
    again = nystrom_attention(q, k2, v2, mask=keep, n_landmarks=4)
    assert torch.allclose(out.output, again.output, atol=1e-5)


def test_nystrom_refuses_bad_input(make_qkv):
    q, k, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError):
        nystrom_attention(q, k, v, mask=causal_mask(8))
    with pytest.raises(AttnvizInputError):
        nystrom_attention(q, k, v, n_landmarks=9)
    with pytest.raises(ValueError):
        nystrom_attention(q, k, v, n_landmarks=4, pinv="lu")
