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


# --- decoding with a KV cache ----------------------------------------------------------------------------------

from attnviz.attention import causal_mask as _causal  # noqa: E402
from attnviz.efficient.mqa import decode, decode_step  # noqa: E402


def _decoder_inputs(layers, batch, heads, kv_heads, t, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(layers, batch, heads, t, d, generator=g)
    k = torch.randn(layers, batch, kv_heads, t, d, generator=g)
    v = torch.randn(layers, batch, kv_heads, t, d, generator=g)
    return q, k, v


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("prefill", [0, 5])
def test_decoding_loop_equals_causal_grouped_attention(kv_heads, prefill):
    q, k, v = _decoder_inputs(2, 3, 4, kv_heads, 9, 8)
    run = decode(q, k, v, prefill=prefill)
    assert run.outputs.shape == (2, 3, 4, 9 - prefill, 8)
    for layer in range(2):
        full = grouped_query_attention(q[layer], k[layer], v[layer], mask=_causal(9, 9)).output  # (B, H, T, Dh)
        assert torch.allclose(run.outputs[layer], full[:, :, prefill:], atol=1e-5)
        reference = F.scaled_dot_product_attention(q[layer], k[layer], v[layer], is_causal=True, enable_gqa=True)
        assert torch.allclose(run.outputs[layer], reference[:, :, prefill:], atol=1e-5)


def test_decoding_with_one_kv_head_per_query_head_is_multi_head():
    q, k, v = _decoder_inputs(1, 2, 4, 4, 7, 8, seed=3)
    run = decode(q, k, v)
    mha = scaled_dot_product(q[0], k[0], v[0], mask=_causal(7, 7)).output  # (B, H, T, Dh)
    assert torch.allclose(run.outputs[0], mha, atol=1e-5)
    # a head's output depends only on its own K/V head: change another head's keys, this one does not move
    k2 = k.clone()
    k2[:, :, 1] = torch.randn(k2[:, :, 1].shape, generator=torch.Generator().manual_seed(9))
    again = decode(q, k2, v)
    assert torch.equal(again.outputs[:, :, 0], run.outputs[:, :, 0])
    assert not torch.allclose(again.outputs[:, :, 1], run.outputs[:, :, 1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("kv_heads", [1, 2, 8])
def test_decoding_cache_grows_by_the_formula(dtype, kv_heads):
    layers, batch, d, t, prefill = 3, 2, 16, 6, 2
    q, k, v = (x.to(dtype) for x in _decoder_inputs(layers, batch, 8, kv_heads, t, d))
    run = decode(q, k, v, prefill=prefill)
    expected = [
        kv_cache_bytes(kv_heads=kv_heads, length=n, head_dim=d, layers=layers, batch=batch, dtype=dtype)
        for n in range(prefill + 1, t + 1)
    ]
    assert list(run.cache_bytes) == expected
    assert run.cache_bytes[-1] == 2 * layers * batch * kv_heads * d * t * (2 if dtype == torch.float16 else 4)


def test_decode_step_shares_each_kv_head_within_its_group():
    g = torch.Generator().manual_seed(5)
    q = torch.randn(2, 6, 8, generator=g)
    kc, vc = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 8, generator=g)
    out = decode_step(q, kc, vc)
    # query heads 0, 1 use K/V head 0; 2, 3 head 1; 4, 5 head 2 (⌊h·G/H⌋)
    for h in range(6):
        ref = F.scaled_dot_product_attention(q[:, h, None], kc[:, h // 2], vc[:, h // 2])  # (B, 1, Dh)
        assert torch.allclose(out[:, h], ref[:, 0], atol=1e-6)


def test_decode_refuses_bad_shapes():
    q, k, v = _decoder_inputs(1, 1, 6, 4, 5, 8)
    with pytest.raises(AttnvizInputError):
        decode(q, k, v)
    q, k, v = _decoder_inputs(1, 1, 4, 2, 5, 8)
    with pytest.raises(AttnvizInputError):
        decode(q, k, v, prefill=5)
    with pytest.raises(ValueError):
        decode(q, k[..., :4, :], v)
