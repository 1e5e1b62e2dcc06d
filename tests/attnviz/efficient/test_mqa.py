import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import causal_mask, multi_head, scaled_dot_product
from attnviz.efficient import flash_attention, grouped_query_attention, kv_cache_bytes, pool_kv_heads
from attnviz.errors import AttnvizInputError


def test_groups_equal_heads_is_multi_head(make_qkv):
    q, k, v = make_qkv((2, 8, 9, 16), s=11)
    exact = scaled_dot_product(q, k, v)
    out = grouped_query_attention(q, k, v, groups=8)
    assert torch.equal(out.output, exact.output)
    assert torch.equal(out.weights, exact.weights)
    assert out.kv_cache_bytes == out.kv_cache_bytes_multi_head


def test_grouped_query_inside_multi_head():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 7, 24, generator=g)
    w = [torch.randn(24, 24, generator=g) * 0.3 for _ in range(4)]
    exact = multi_head(x, *w, n_heads=4)
    grouped = multi_head(x, *w, n_heads=4, attend=grouped_query_attention)
    assert torch.allclose(grouped.output, exact.output, atol=1e-6)


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("mask_kind", [None, "causal", "per-head padding"])
def test_grouped_query_matches_torch(make_qkv, groups, mask_kind):
    q, k, v = make_qkv((2, 8, 9, 16), s=11)
    k, v = pool_kv_heads(k, groups), pool_kv_heads(v, groups)
    mask = None
    if mask_kind == "causal":
        mask = causal_mask(9, 11)
    elif mask_kind == "per-head padding":
        mask = torch.rand(2, 8, 1, 11, generator=torch.Generator().manual_seed(3)) > 0.3
        mask[..., 0] = True
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    out = grouped_query_attention(q, k, v, mask=mask)
    assert out.groups == groups
    assert out.output.shape == (2, 8, 9, 16) and out.weights.shape == (2, 8, 9, 11)
    assert torch.allclose(out.output, reference, atol=1e-6)
    tiled = grouped_query_attention(q, k, v, mask=mask, attend=flash_attention)
    assert torch.allclose(tiled.output, reference, atol=1e-6)


def test_multi_head_keys_are_pooled_into_groups(make_qkv):
    q, k, v = make_qkv((1, 4, 5, 8))
    out = grouped_query_attention(q, k, v, groups=2)
    assert torch.allclose(out.k_shared[:, 0], (k[:, 0] + k[:, 1]) / 2)
    assert torch.allclose(out.v_shared[:, 1], (v[:, 2] + v[:, 3]) / 2)
    assert out.kv_cache_bytes * 2 == out.kv_cache_bytes_multi_head


def test_kv_cache_bytes():
    # 32 layers, 8 K/V heads, 4096 tokens, 128 wide, fp16: 2·32·8·4096·128·2 bytes = 512 MiB
    assert kv_cache_bytes(kv_heads=8, length=4096, head_dim=128, layers=32, dtype=torch.float16) == 512 * 2**20
    assert kv_cache_bytes(kv_heads=1, length=10, head_dim=4) == 2 * 10 * 4 * 4


def test_grouped_query_refuses_bad_groups(make_qkv):
    q, k, v = make_qkv((1, 6, 5, 8))
    with pytest.raises(AttnvizInputError):
        grouped_query_attention(q, k, v, groups=4)
    with pytest.raises(AttnvizInputError):
        pool_kv_heads(k, 0)
    with pytest.raises(ValueError):
        grouped_query_attention(q, k[:, :3], v[:, :3], groups=2)
