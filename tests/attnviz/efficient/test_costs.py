"""attnviz.efficient.costs: FlashAttention's memory, steps and timings, the KV cache, numbers for reading."""

import math

import numpy as np
import pytest
import torch

from attnviz import AttnvizInputError
from attnviz.attention import scaled_dot_product
from attnviz.efficient import anatomy, compare, costs, flash


def qkv(t: int = 9, heads: int = 12, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(heads, t, d, generator=g) for _ in range(3))  # (H, T, D) each


def test_flash_steps_and_memory():
    q, k, v = (x[0] for x in qkv(t=7))
    flash = costs.flash_steps(q, k, v, tile=3)
    assert len(flash.steps) == 9  # 3 row blocks × 3 key blocks
    assert torch.allclose(flash.output, scaled_dot_product(q, k, v).output, atol=1e-6)
    spans = [(s.q_start, s.q_stop, s.k_start, s.k_stop) for s in flash.steps]
    done = costs.flash_progress(7, 7, spans, 4)
    assert (done == 2).sum() == 9 and (done > 0).sum() == 3 * 7 + 2 * 9  # the first row block, 2 tiles of the next
    final = costs.flash_progress(7, 7, spans, len(spans) - 1)
    assert (final > 0).all()
    mem = costs.flash_memory(1 << 20, 1 << 20, 64, 256, 256)
    assert mem.full_matrix == 4 * 2**40 and mem.tile == 4 * 256 * 256


def test_kv_cache_of_real_shapes():
    llama = next(s for s in costs.SHAPES if s.name.startswith("Llama 2 7B"))
    assert costs.SHAPES[0] is llama and llama.decoder  # the meter opens on a decoder, which has a KV cache
    encoders = [s for s in costs.SHAPES if not s.decoder]
    assert encoders and all("hypothetical" in s.name for s in encoders)
    assert costs.cache_bytes(llama, 32, 4096) == 2 * 32 * 32 * 4096 * 128 * 2  # 2 GiB in fp16
    assert costs.cache_bytes(llama, 1, 4096) * 32 == costs.cache_bytes(llama, 32, 4096)
    assert costs.group_options(12) == [1, 2, 3, 4, 6, 12]
    with pytest.raises(AttnvizInputError):
        costs.cache_bytes(llama, 5, 10)
    q, k, v = qkv()
    changes = compare.head_changes(q, k, v, 12)
    assert changes.shape == (12,) and np.allclose(changes, 0, atol=1e-6)
    assert (compare.head_changes(q, k, v, 1) > 0).all()


def test_human_bytes():
    assert costs.human_bytes(512) == "512 bytes"
    assert costs.human_bytes(1536) == "1.5 KiB"
    assert costs.human_bytes(4 * 2**40) == "4.0 TiB"


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


def test_flash_walk_is_the_recorded_pass_one_step_at_a_time():
    # the walk computes only the shown tile's block of rows; every figure it shows equals the full recorded pass
    torch.manual_seed(1)
    q, k, v = torch.randn(11, 8), torch.randn(11, 8), torch.randn(11, 5)
    for tile in (1, 3, 4, 11, 16):
        full = costs.flash_steps(q, k, v, tile)
        spans = costs.flash_spans(11, 11, tile)
        assert list(spans) == [(s.q_start, s.q_stop, s.k_start, s.k_stop) for s in full.steps]
        for step, recorded in enumerate(full.steps):
            walk = costs.flash_walk(q, k, v, tile, step)
            now = walk.now
            assert (now.q_start, now.q_stop, now.k_start, now.k_stop) == spans[step]
            for field in ("scaled", "row_max", "row_sum", "correction", "output"):
                assert torch.equal(getattr(now, field), getattr(recorded, field)), (tile, step, field)
            assert torch.equal(walk.rows_output, full.output[now.q_start : now.q_stop])
            assert [x.k_start for x in walk.row_steps] == list(range(0, 11, tile))
            done = costs.flash_progress(11, 11, spans, step) > 0
            assert torch.equal(torch.isnan(walk.scores), torch.from_numpy(~done))
            expected = torch.full((11, 11), float("nan"))
            for s in full.steps[: step + 1]:
                expected[s.q_start : s.q_stop, s.k_start : s.k_stop] = s.scaled
            assert torch.allclose(walk.scores.nan_to_num(), expected.nan_to_num(), atol=1e-6)
    with pytest.raises(AttnvizInputError):
        costs.flash_walk(q, k, v, 4, 9)  # 3 × 3 tiles


def test_flash_tile_options_keep_the_walk_to_16_by_16_tiles():
    options = (1, 2, 3, 4, 6, 8, 16, 32, 64)
    assert flash.flash_tile_floor(8) == 1 and flash.flash_tile_floor(16) == 1 and flash.flash_tile_floor(17) == 2
    assert flash.flash_tile_floor(256) == 16
    assert flash.flash_tile_options(8, options) == options
    assert flash.flash_tile_options(40, options) == (3, 4, 6, 8, 16, 32, 64)  # ⌈40/16⌉ = 3: 14 × 14 tiles
    assert flash.flash_tile_options(256, options) == (16, 32, 64)
    assert flash.flash_tile_options(5000, options) == (64,)  # none is large enough: the largest
    for t in (1, 7, 40, 100, 256):
        assert all(len(costs.flash_spans(t, t, tile)) <= 256 for tile in flash.flash_tile_options(t, options))
