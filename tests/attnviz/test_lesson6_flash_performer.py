"""Lesson 6's FlashAttention timings and the Performer figures: ‖q + k‖, the kernel estimate, the error's slope."""

import math

import pytest
import torch

from attnviz.efficient import anatomy, compare, costs, orthogonal_features
from attnviz.efficient.performer import softmax_kernel_estimate
from attnviz.errors import AttnvizInputError


def _heads(spread: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, 12, 32, generator=g) * spread for _ in range(3))  # (H, T, Dh) each


def test_kernel_spread_by_hand():
    q = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])  # (T, D) = (2, 4): √d = 2
    k = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, -2.0, 0.0, 0.0]])  # (S, D) = (3, 4)
    spread = anatomy.kernel_spread(q, k)
    # ‖q_t + k_s‖² / 2: row 1: 4, 1, 5; row 2: 5, 4, 0 → halved
    assert spread.sq.tolist() == [[2.0, 0.5, 2.5], [2.5, 2.0, 0.0]]
    assert spread.largest == 2.5 and spread.typical == 2.0
    # doubling q and k multiplies every ‖q + k‖² by 4
    double = anatomy.kernel_spread(2 * q, 2 * k)
    assert double.largest == pytest.approx(4 * spread.largest)


def test_relative_sd_and_features_needed():
    assert anatomy.kernel_relative_sd(math.log(2.0), 1) == pytest.approx(1.0)  # e^sq − 1 = 1
    assert anatomy.kernel_relative_sd(math.log(5.0), 16) == pytest.approx(0.5)  # √(4/16)
    assert anatomy.features_needed(math.log(2.0), 0.1) == pytest.approx(100.0)
    assert anatomy.features_needed(20.0) > 1e10  # a typical real head: far beyond any m on the page


def test_kernel_estimate_is_unbiased_with_the_variance_shown():
    # x = q/d^{1/4}, y = k/d^{1/4} with ‖x + y‖² = 0.5: one feature's relative variance is e^0.5 − 1
    d = 4
    q = torch.tensor([[0.5, 0.0, 0.0, 0.0]]) * d**0.25
    k = torch.tensor([[0.0, 0.5, 0.0, 0.0]]) * d**0.25
    sq = float(anatomy.kernel_spread(q, k).sq[0, 0])
    assert sq == pytest.approx(0.5)
    exact = math.exp(float(q @ k.T) / math.sqrt(d))
    omega = orthogonal_features(1, d, seed=0, orthogonal=False)  # a single draw, shape check only
    assert softmax_kernel_estimate(q, k, omega).shape == (1, 1)
    draws = torch.randn(200_000, d, generator=torch.Generator().manual_seed(3))  # 200,000 one-feature estimates
    root = 1 / d**0.25
    x, y = q[0] * root, k[0] * root
    single = torch.exp(draws @ x - x @ x / 2) * torch.exp(draws @ y - y @ y / 2)  # (200000,)
    assert float(single.mean()) / exact == pytest.approx(1.0, abs=0.01)  # unbiased
    assert float(single.var() / exact**2) == pytest.approx(math.expm1(sq), rel=0.05)  # Lemma 2
    # the function's own estimate with many features agrees with the kernel
    many = orthogonal_features(4096, d, seed=1)
    assert float(softmax_kernel_estimate(q, k, many)) / exact == pytest.approx(1.0, abs=0.05)


def test_error_falls_like_one_over_root_m_only_when_q_plus_k_is_short():
    small = _heads(0.15)
    large = _heads(2.0)
    spread_small = anatomy.kernel_spread(small[0][0], small[1][0])
    spread_large = anatomy.kernel_spread(large[0][0], large[1][0])
    assert spread_small.typical < 1 < 20 < spread_large.typical
    slope_small = anatomy.error_slope(compare.sweep("performer", *small, {}, "features"))
    slope_large = anatomy.error_slope(compare.sweep("performer", *large, {}, "features"))
    assert -0.6 < slope_small < -0.4  # the textbook 1/√m
    assert slope_large > -0.25  # long q + k: the error hardly moves with m on the page's range


def test_error_slope_of_a_made_up_sweep():
    values = (1, 4, 16, 64)
    made = compare.Sweep("features", values, tuple(2.0 / math.sqrt(m) for m in values), (), (), 0.5, 5)
    assert anatomy.error_slope(made) == pytest.approx(-0.5)
    with pytest.raises(AttnvizInputError):
        anatomy.error_slope(compare.Sweep("features", (4,), (0.3,), (), (), 0.5, 5))


def test_flash_timings_three_ways():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(8, 16, generator=g) for _ in range(3))  # (T, Dh)
    timings = costs.flash_timings(q, k, v, tile=4, min_run_time=0.01)
    assert timings.device.startswith("CPU")
    assert all(0 < t < 1 for t in (timings.tiled, timings.fused, timings.plain))
    assert timings.fused_backend  # a name, or "not reported"


def test_large_number():
    assert costs.large_number(12345.4) == "12,345"
    assert costs.large_number(4.9e8) == "4.9 × 10⁸"
    assert costs.large_number(9.96e8) == "1.0 × 10⁹"
    assert costs.large_number(math.inf) == "more than 10³⁰⁸"
    assert anatomy.features_needed(800.0) == math.inf  # e^800 overflows a float: said, not raised


def test_median_seconds_repeats_fast_calls_and_not_slow_ones():
    import time

    calls = []
    fast = costs.median_seconds(lambda: calls.append(1), min_run_time=0.02)
    assert len(calls) > 10 and 0 < fast < 0.01  # warm-up, then as many runs as fit in 0.02 s
    slow_calls = []

    def slow():
        slow_calls.append(1)
        time.sleep(0.12)

    assert costs.median_seconds(slow, min_run_time=0.01) >= 0.12
    assert len(slow_calls) == 1  # ten times min_run_time already: the warm-up run is the answer
