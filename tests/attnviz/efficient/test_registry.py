"""Every variant plugs in where the exact attention does: same signature, a padding mask, multi_head."""

import dataclasses

import pytest
import torch

from attnviz.attention import Attention, multi_head, scaled_dot_product
from attnviz.efficient import REGISTRY, VARIANTS

NAMES = list(REGISTRY)  # the one list of variants
# small knobs so that the variants work on a 12-token sentence
KNOBS = {
    "linformer": dict(rank=6),
    "performer": dict(n_features=32),
    "nystrom": dict(n_landmarks=4),
    "longformer": dict(window=4, global_tokens=(0,)),
    "bigbird": dict(block_size=3, global_blocks=1, random_blocks=1),
    "reformer": dict(n_buckets=4),
    "sparse": dict(stride=3, causal=False),
}


def test_registry_lists_the_variants_read_only():
    assert list(VARIANTS) == NAMES and len(NAMES) >= 9
    assert all(VARIANTS[name] is REGISTRY[name].fn for name in NAMES)
    with pytest.raises(TypeError):
        VARIANTS["exact"] = scaled_dot_product  # type: ignore[index]


@pytest.mark.parametrize("name", NAMES)
def test_variant_is_an_attention_fn(make_qkv, name):
    fn = VARIANTS[name]
    q, k, v = make_qkv((2, 4, 12, 8))
    if name == "reformer":
        k = q  # shared-QK
    result = fn(q, k, v, None, None, **KNOBS.get(name, {}))
    assert isinstance(result, Attention) and type(result) is not Attention
    assert dataclasses.is_dataclass(result) and result.__dataclass_params__.frozen
    assert result.output.shape == (2, 4, 12, 8)
    assert torch.isfinite(result.output).all()
    again = fn(q, k, v, None, None, **KNOBS.get(name, {}))
    assert torch.equal(result.output, again.output)  # deterministic, seeds included


@pytest.mark.parametrize("name", NAMES)
def test_variant_ignores_padded_keys(make_qkv, name):
    # the mask a BERT forward pass gives: (B, 1, 1, S), True for real tokens
    q, k, v = make_qkv((2, 4, 12, 8))
    keep = torch.ones(2, 1, 1, 12, dtype=torch.bool)
    keep[1, ..., 9:] = False
    knobs = KNOBS.get(name, {})
    out = VARIANTS[name](q, q if name == "reformer" else k, v, mask=keep, **knobs)
    v2 = v.clone()
    v2[1, :, 9:] = 1e3  # padded values must not reach any output
    again = VARIANTS[name](q, q if name == "reformer" else k, v2, mask=keep, **knobs)
    assert torch.allclose(out.output, again.output, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_variant_runs_inside_multi_head(name):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, 16, generator=g)
    w = [torch.randn(16, 16, generator=g) * 0.3 for _ in range(4)]
    knobs = KNOBS.get(name, {})

    def attend(q, k, v, mask=None, scale=None):
        return VARIANTS[name](q, k, v, mask, scale, **knobs)

    out = multi_head(x, *w, n_heads=2, attend=attend)
    assert out.output.shape == (2, 12, 16)
    assert torch.isfinite(out.output).all()
