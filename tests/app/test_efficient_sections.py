"""app_support.efficient.efficient_sections' pure parts: the error-figures table."""

import torch

from app_support.efficient import efficient_sections as sections
from attnviz.efficient import compare


def qkv(t: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(12, t, 16, generator=g) for _ in range(3))  # (H, T, D) each


def test_kl_of_a_pattern_that_drops_weight_is_infinite():
    q, k, v = qkv(10)
    for name, knobs in (("longformer", {"window": 3}), ("sparse", {"stride": 2}), ("bigbird", {"block": 1}),
                        ("reformer", {"buckets": 4})):  # fmt: skip
        run = compare.run_variant(name, q, k, v, knobs)
        table = sections.figures_table(run)
        assert sections.KL_PATTERN in table.index and sections.KL_CLAMPED not in table.index, name
        variant, uniform = table.loc[sections.KL_PATTERN]
        assert variant == "∞" and uniform != "∞", name
        assert float(uniform) > 0  # uniform attention weighs every key: a finite KL
        assert 0 < float(table.loc["exact attention weight outside the pattern", "this variant"]) < 1
        # the clamped figure the metrics would give is finite: the table must not show it
        assert run.comparison.approx.row_kl < float("inf")


def test_kl_of_a_pattern_that_covers_everything_and_of_approximations():
    q, k, v = qkv(8)
    full = compare.run_variant("longformer", q, k, v, {"window": 33})
    table = sections.figures_table(full)
    assert sections.KL_CLAMPED in table.index
    assert float(table.loc[sections.KL_CLAMPED, "this variant"]) < 1e-5
    assert float(table.loc["exact attention weight outside the pattern", "this variant"]) < 1e-6
    for name in ("nystrom", "linformer"):
        table = sections.figures_table(compare.run_variant(name, q, k, v, {}))
        assert sections.KL_CLAMPED in table.index and "1e-9" in sections.KL_CLAMPED
        assert "exact attention weight the pattern keeps" not in table.index
