import pytest
import torch

from attnviz.attention import causal_mask, scaled_dot_product
from attnviz.efficient import linformer_attention, linformer_projection
from attnviz.errors import AttnvizInputError


def test_linformer_shapes_and_rows(make_qkv):
    q, k, v = make_qkv((2, 3, 24, 16), s=30, dv=8)
    out = linformer_attention(q, k, v, rank=5)
    assert out.output.shape == (2, 3, 24, 8)
    assert out.proj_k.shape == out.proj_v.shape == (5, 30)
    assert out.k_proj.shape == (2, 3, 5, 16) and out.v_proj.shape == (2, 3, 5, 8)
    assert out.weights is None and out.weights_proj is None
    full = linformer_attention(q, k, v, rank=5, return_weights=True)
    assert full.weights_proj.shape == (2, 3, 24, 5)
    assert torch.allclose(full.weights_proj.sum(-1), torch.ones(2, 3, 24))
    assert torch.equal(full.output, out.output)


def test_linformer_with_identity_projections_is_exact(make_qkv):
    q, k, v = make_qkv((2, 3, 20, 16))
    eye = torch.eye(20)
    exact = scaled_dot_product(q, k, v)
    out = linformer_attention(q, k, v, proj_k=eye, proj_v=eye, return_weights=True)
    assert torch.allclose(out.output, exact.output, atol=1e-6)
    assert torch.allclose(out.weights, exact.weights, atol=1e-6)


def test_linformer_weights_reproduce_the_output(make_qkv):
    q, k, v = make_qkv((2, 2, 18, 8))
    out = linformer_attention(q, k, v, rank=6, return_weights=True)
    assert out.weights.shape == (2, 2, 18, 18)
    assert torch.allclose(out.weights @ v, out.output, atol=1e-5)


def test_linformer_seed_decides_the_projection(make_qkv):
    q, k, v = make_qkv()
    a = linformer_attention(q, k, v, rank=4, seed=3)
    b = linformer_attention(q, k, v, rank=4, seed=3)
    c = linformer_attention(q, k, v, rank=4, seed=4)
    assert torch.equal(a.output, b.output)
    assert not torch.allclose(a.output, c.output)
    assert torch.equal(linformer_projection(4, 24, seed=3, n=2)[0], a.proj_k)
    shared = linformer_attention(q, k, v, rank=4, share_kv=True)
    assert torch.equal(shared.proj_k, shared.proj_v)


def test_linformer_error_falls_with_rank(make_qkv, relative_error):
    q, k, v = make_qkv((2, 4, 64, 16))
    exact = scaled_dot_product(q, k, v)

    def err(rank):
        return sum(
            relative_error(linformer_attention(q, k, v, rank=rank, seed=s, return_weights=True).weights, exact.weights)
            for s in range(4)
        )

    assert err(256) < err(64) < err(8)


def test_linformer_padding_mask_drops_keys(make_qkv):
    q, k, v = make_qkv((2, 2, 12, 8))
    keep = torch.ones(2, 1, 1, 12, dtype=torch.bool)
    keep[0, ..., 9:] = False
    out = linformer_attention(q, k, v, mask=keep, rank=5)
    k2, v2 = k.clone(), v.clone()
    k2[0, :, 9:] = 100.0
    v2[0, :, 9:] = -100.0
    again = linformer_attention(q, k2, v2, mask=keep, rank=5)
    assert torch.allclose(out.output, again.output, atol=1e-6)


def test_linformer_refuses_per_query_masks_and_bad_rank(make_qkv):
    q, k, v = make_qkv((1, 1, 8, 4))
    with pytest.raises(AttnvizInputError, match="padding"):
        linformer_attention(q, k, v, mask=causal_mask(8))
    with pytest.raises(AttnvizInputError):
        linformer_attention(q, k, v, rank=0)
    with pytest.raises(ValueError):
        linformer_attention(q, k, v, proj_k=torch.eye(5))


def test_linformer_fast_and_step_by_step_paths_agree(make_qkv):
    q, k, v = make_qkv((2, 3, 300, 8))
    fast = linformer_attention(q, k, v, rank=32, seed=2)
    step_by_step = linformer_attention(q, k, v, rank=32, seed=2, return_weights=True)
    assert torch.allclose(fast.output, step_by_step.output, atol=1e-5)
    q2, k2, v2 = q[0, 0], k[0, 0], v[0, 0]  # no batch axes at all
    eye = torch.eye(300)
    exact = scaled_dot_product(q2, k2, v2)
    assert torch.allclose(linformer_attention(q2, k2, v2, proj_k=eye).output, exact.output, atol=1e-5)


def test_linformer_pooling(make_qkv, relative_error):
    q, k, v = make_qkv((2, 2, 40, 8))
    exact = scaled_dot_product(q, k, v)
    assert torch.allclose(linformer_attention(q, k, v, rank=40, projection="pool").output, exact.output, atol=1e-6)
    (pool,) = linformer_projection(4, 10, kind="pool")
    assert torch.allclose(
        pool,
        torch.tensor(
            [
                [1 / 3] * 3 + [0] * 7,
                [0] * 3 + [0.5] * 2 + [0] * 5,
                [0] * 5 + [1 / 3] * 3 + [0] * 2,
                [0] * 8 + [0.5] * 2,
            ]
        ),
    )
    errors = [
        relative_error(linformer_attention(q, k, v, rank=r, projection="pool").output, exact.output)
        for r in (4, 10, 20)
    ]
    assert errors == sorted(errors, reverse=True)
    with pytest.raises(AttnvizInputError):
        linformer_attention(q, k, v, rank=41, projection="pool")
