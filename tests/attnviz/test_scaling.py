"""attnviz.scaling: the timed cases, the driver, and the pure helpers of the scaling lab."""

import math

import pytest

from attnviz import AttnvizInputError, curves, scaling


def test_crossovers_on_log_log_axes():
    sizes = [256, 512, 1024, 2048]
    quadratic = [n**2 * 1e-9 for n in sizes]
    linear = [n * 2.6e-7 for n in sizes]  # equal at n = 260: crosses between the first two sizes
    found = curves.crossovers(sizes, quadratic, linear, "exact", "linear")
    assert len(found) == 1
    assert found[0].faster == "linear" and 256 < found[0].n < 512
    assert found[0].n == pytest.approx(260, rel=1e-6)
    assert curves.crossovers(sizes, linear, linear, "a", "b") == []
    assert curves.crossovers(sizes, quadratic, [math.nan] * 4, "a", "b") == []
    with pytest.raises(ValueError):
        curves.crossovers(sizes, quadratic, linear[:2], "a", "b")


def test_check_sizes_and_flops():
    assert scaling.check_sizes([1024, 256, 256], 4096) == [256, 1024]


def test_faster_from():
    sizes = [256, 512, 1024, 2048]
    assert curves.faster_from(sizes, [1, 2, 4, 8], [2, 2.5, 3, 4]) == 1024
    assert curves.faster_from(sizes, [1, 2, 4, 8], [0.5, 3, 3, 4]) == 1024  # faster at 256, then not: from 1024
    assert curves.faster_from(sizes, [1, 2, 4, 8], [0.5, 1, 2, 4]) == 256
    assert curves.faster_from(sizes, [1, 2, 4, 8], [0.5, 1, 2, 9]) is None  # not faster at the longest
    assert curves.faster_from(sizes, [1, 2, 4, 8], [2, 1, math.nan, 4]) == 512  # a missing point is skipped
    with pytest.raises(ValueError):
        curves.faster_from(sizes, [1, 2], [1, 2])


def test_loglog_slope():
    sizes = [256, 512, 1024, 2048]
    assert curves.loglog_slope(sizes, [n**2 for n in sizes]) == pytest.approx(2.0)
    assert curves.loglog_slope(sizes, [3 * n**1.5 for n in sizes]) == pytest.approx(1.5)
    assert curves.loglog_slope(sizes, [5.0, 5.0, 5.0, 5.0]) == pytest.approx(0.0)
    assert curves.loglog_slope(sizes, [0.0, 4.0, 16.0, math.nan]) == pytest.approx(2.0)  # 0 and NaN left out
    assert curves.loglog_slope(sizes, [0.0, 0.0, 1.0, math.nan]) is None
    assert curves.loglog_slope([512, 512], [1.0, 2.0]) is None
    with pytest.raises(AttnvizInputError):
        scaling.check_sizes([8192], 4096)
    with pytest.raises(AttnvizInputError):
        scaling.check_sizes([], 4096)
    assert scaling.nominal_flops("flash", 1024) == 4.0 * 1024 * 1024 * 64 * 8


def test_run_case_reports_a_failing_worker():
    result = scaling.run_case({"task": "time", "name": "no-such-variant", "n": 16, "device": "cpu", "quick": True})
    assert "error" in result and "no-such-variant" in result["error"]


def test_run_case_kills_the_child_when_interrupted():
    seen = []

    def tick(elapsed: float) -> None:
        seen.append(elapsed)
        raise KeyboardInterrupt  # what a rerun does to the script thread

    with pytest.raises(KeyboardInterrupt):
        scaling.run_case({"task": "million", "device": "cpu", "quick": True}, tick=tick)
    assert seen == [pytest.approx(0, abs=5)]


def test_worker_million_quick_is_the_sliding_window():
    result = scaling.worker_million("cpu", quick=True)
    assert result["n"] == 1 << 16 and result["median_s"] > 0
    assert result["gflop"] == pytest.approx(4 * (1 << 16) * 256 * 64 / 1e9)
