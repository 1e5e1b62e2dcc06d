"""compare.computes_exact: whether a variant with its knobs is exact attention on T tokens (issue 25, item 7)."""

import pytest
import torch

from attnviz.efficient import REGISTRY, compare


def qkv(t: int, heads: int = 12, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(heads, t, d, generator=g) for _ in range(3))  # (H, T, D) each


def test_by_hand():
    assert compare.computes_exact("flash", {"tile": 2}, 300, 12) is True
    assert compare.computes_exact("mqa", {"groups": 12}, 9, 12) is True
    assert compare.computes_exact("mqa", {"groups": 1}, 9, 12) is False
    assert compare.computes_exact("longformer", {"window": 33}, 10) is True  # the window covers all 10
    assert compare.computes_exact("longformer", {"window": 3, "globals": 0}, 10) is False
    # BigBird, blocks of 2, window of 3 blocks, 1 global, 1 random: 8 tokens are covered, 21 are not
    assert compare.computes_exact("bigbird", {"block": 2, "random": 1}, 8) is True
    assert compare.computes_exact("bigbird", {"block": 2, "random": 1}, 21) is False
    assert compare.computes_exact("linformer", {"rank": 8, "proj": "pool"}, 8) is True  # pooling 8 into 8: identity
    assert compare.computes_exact("linformer", {"rank": 4, "proj": "pool"}, 8) is False
    assert compare.computes_exact("linformer", {"rank": 8, "proj": "gaussian"}, 8) is False
    assert compare.computes_exact("reformer", {}, 8) is None  # its buckets depend on the queries
    assert compare.computes_exact("nystrom", {"landmarks": 8}, 8) is False  # the iterative inverse is not exact
    assert compare.computes_exact("performer", {}, 8) is False


@pytest.mark.parametrize("name", list(REGISTRY))
@pytest.mark.parametrize("t", [3, 8, 21])
def test_exact_means_the_same_output_as_exact_attention(name, t):
    q, k, v = qkv(t)
    for knob in REGISTRY[name].knobs:
        for value in knob.values:
            knobs = {knob.name: value}
            said = compare.computes_exact(name, knobs, t, 12)
            if said is None:
                continue
            run = compare.run_variant(name, q, k, v, knobs, head=1)
            if REGISTRY[name].shared_qk:
                continue  # compared with shared-QK attention on the page; in the model it uses its own keys
            gap = float((run.approx.output - run.exact.output).abs().max())
            if said:
                assert gap < 1e-5, (name, knobs, t, gap)
            elif REGISTRY[name].kind == "pattern" or REGISTRY[name].all_heads:
                # a pair left out, or keys shared: more than float rounding apart (an approximation's iteration,
                # Nyströmformer's at m = T, may converge to rounding: not exact by construction, but that close)
                assert gap > 1e-6, (name, knobs, t, gap)
