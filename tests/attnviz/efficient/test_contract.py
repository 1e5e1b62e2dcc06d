"""The contract every record of attnviz.efficient.REGISTRY keeps, checked for each variant the same way."""

import pytest
import torch

from attnviz.attention import scaled_dot_product
from attnviz.efficient import REGISTRY, VARIANTS
from attnviz.efficient.compare import shared_keys
from attnviz.efficient.registry import VariantSpec

T, H, D = 16, 12, 8


def qkv(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(H, T, D, generator=g) for _ in range(3))  # (H, T, D) each


def call(spec: VariantSpec, q, k, v, kwargs):
    """The variant as the comparison runs it: shared-QK keys where the record says so."""
    if spec.shared_qk:
        k = shared_keys(q)
    return spec.fn(q, k, v, **kwargs)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_record_is_complete_and_consistent(name):
    spec = REGISTRY[name]
    assert spec.name == name and VARIANTS[name] is spec.fn
    assert spec.kind in ("exact", "pattern", "approx")
    assert spec.knobs and all(knob.default in knob.values for knob in spec.knobs)
    assert len({knob.name for knob in spec.knobs}) == len(spec.knobs)
    assert spec.swept is None or spec.knob(spec.swept).name == spec.swept
    assert (spec.pattern is not None) == (spec.kind == "pattern")  # a pattern variant draws its pattern
    assert spec.cases, "every variant has at least one timed case"
    for case in spec.cases.values():
        assert case.flops(1024, 8, 64) > 0 and case.setting and case.label and len(case.growth) == 2


@pytest.mark.parametrize("name", list(REGISTRY))
def test_output_shape_and_pattern_mask(name):
    spec = REGISTRY[name]
    q, k, v = qkv()
    kwargs, _ = spec.fit({}, T, H)
    out = call(spec, q, k, v, kwargs)
    assert out.output.shape == (H, T, D) and torch.isfinite(out.output).all()
    if spec.pattern is not None:
        pattern = spec.pattern(q[0], kwargs)
        assert pattern.shape == (T, T) and pattern.dtype == torch.bool
        assert pattern.any(-1).all(), "every query keeps at least one key"


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if s.kind == "pattern"])
def test_pattern_variants_are_exact_softmax_on_their_pattern(name):
    spec = REGISTRY[name]
    q, k, v = (x[0] for x in qkv(1))  # one head: (T, D)
    kwargs, _ = spec.fit({}, T)
    pattern = spec.pattern(q, kwargs)  # (T, T)
    keys = shared_keys(q) if spec.shared_qk else k
    expected = scaled_dot_product(q, keys, v, mask=pattern)
    out = spec.fn(q, keys, v, return_weights=True, **kwargs)
    assert torch.allclose(out.output, expected.output, atol=1e-5), name
    assert not (out.weights * ~pattern).any(), "no weight outside the pattern"


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if s.kind == "exact"])
def test_exact_variants_are_exact_at_their_largest_setting(name):
    """Exact attention at the knobs' largest values (FlashAttention at every tile; multi-query with a K/V group per
    head); the same up to rounding."""
    spec = REGISTRY[name]
    q, k, v = qkv(2)
    knobs = {knob.name: max(knob.values) for knob in spec.knobs}  # type: ignore[type-var]
    kwargs, _ = spec.fit(knobs, T, H)
    assert torch.allclose(call(spec, q, k, v, kwargs).output, scaled_dot_product(q, k, v).output, atol=1e-5)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_bad_knobs_are_refused_with_a_value_error(name):
    spec = REGISTRY[name]
    for knob in spec.knobs:
        bad = "nonsense" if isinstance(knob.default, int) else 7
        with pytest.raises(ValueError, match="cannot be"):
            spec.fit({knob.name: bad}, T, H)
        with pytest.raises(ValueError, match="cannot be"):
            spec.fit({knob.name: -1}, T, H)
    with pytest.raises(ValueError):
        spec.fit({}, 0, H)  # no tokens


@pytest.mark.parametrize("name", list(REGISTRY))
def test_random_flag_is_honest(name):
    """Same seed, same output; a variant that says it is random changes with the seed, one that says it is not
    does not."""
    spec = REGISTRY[name]
    q, k, v = qkv(3)
    for knobs in [{}] + [{knob.name: value} for knob in spec.knobs for value in knob.values if isinstance(value, str)]:
        kwargs, _ = spec.fit(knobs, T, H)
        first = call(spec, q, k, v, kwargs).output
        assert torch.equal(first, call(spec, q, k, v, kwargs).output), "same seed, same output"
        others = [call(spec, q, k, v, kwargs | {"seed": s}).output for s in (1, 2, 3, 4)] if "seed" in kwargs else []
        changed = any(not torch.allclose(first, other, atol=1e-6) for other in others)
        assert changed == spec.random(knobs), (name, knobs)
