"""attnviz.lesson6 (the measurements of lesson 6), attnviz.scaling's pure parts, and the plots they use."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from app_support import efficient_text
from app_support.efficient_text import INFO
from attnviz import AttnvizInputError, plots, scaling
from attnviz.attention import scaled_dot_product
from attnviz.efficient import REGISTRY, anatomy, compare, costs


def qkv(t: int = 9, heads: int = 12, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(heads, t, d, generator=g) for _ in range(3))  # (H, T, D) each


def valid(fig: plots.Figure) -> go.Figure:
    return fig.plotly()  # raises on any invalid property


@pytest.mark.parametrize("name", list(INFO))
@pytest.mark.parametrize("pick", [0, -1])
def test_every_knob_extreme_runs_and_is_compared(name, pick):
    q, k, v = qkv()
    knobs = {knob.name: knob.values[pick] for knob in efficient_text.knobs(name)}
    run = compare.run_variant(name, q, k, v, knobs, head=2)
    assert run.approx.weights.shape == run.exact.weights.shape == (9, 9)
    if name == "reformer":  # the paper's shared-QK attention: keys are the queries at unit length, none on itself
        expected = scaled_dot_product(q[2], compare.shared_keys(q[2]), v[2], mask=compare.not_self(9))
    else:
        expected = scaled_dot_product(q[2], k[2], v[2])
    assert torch.allclose(run.exact.weights, expected.weights)
    c = run.comparison
    assert c.uniform.output_rel_frobenius > 0
    if REGISTRY[name].kind == "pattern":
        assert run.pattern is not None and 0 <= c.approx.mass_kept <= 1
    else:
        assert run.pattern is None


def test_exact_variants_are_exact():
    q, k, v = qkv()
    for name, knobs in (("flash", {"tile": 2}), ("mqa", {"groups": 12}), ("nystrom", {"landmarks": 9})):
        run = compare.run_variant(name, q, k, v, knobs)
        assert run.comparison.approx.output_rel_frobenius < 1e-4, name
    linformer = compare.run_variant("linformer", q, k, v, {"rank": 64, "proj": "pool"})
    assert linformer.settings.kwargs["rank"] == 9 and "9 tokens" in linformer.settings.notes[0]
    assert linformer.comparison.approx.output_rel_frobenius < 1e-5  # pooling at k = T is the identity


def test_pattern_masks_match_the_variants():
    """Outside its pattern a variant's weights are 0, and mass dropped = 1 − mass kept."""
    q, k, v = qkv(t=12)
    for name, knobs in (("longformer", {"window": 3, "globals": 1}), ("bigbird", {"random": 1, "block": 2}),
                        ("sparse", {"stride": 3}), ("reformer", {"buckets": 4, "rounds": 2})):  # fmt: skip
        run = compare.run_variant(name, q, k, v, knobs)
        assert run.approx.weights[~run.pattern].abs().max() == 0, name
        dropped = anatomy.mass_dropped(run.exact.weights, run.pattern)
        assert dropped == pytest.approx(1 - run.comparison.approx.mass_kept)
        per_row = anatomy.mass_dropped_per_row(run.exact.weights, run.pattern)
        assert float(per_row.mean()) == pytest.approx(dropped, abs=1e-6)


def test_knobs_are_checked_and_cut():
    with pytest.raises(AttnvizInputError, match="unknown variant"):
        compare.settings("nonsense", {}, 5)
    with pytest.raises(AttnvizInputError, match="cannot be"):
        compare.settings("reformer", {"buckets": 3}, 5)
    with pytest.raises(AttnvizInputError, match="cannot be"):
        compare.settings("performer", {"features": -1}, 5)
    cut = compare.settings("sparse", {"stride": 16}, 5)
    assert cut.kwargs["stride"] == 5 and cut.notes
    groups = compare.settings("mqa", {"groups": 4}, 5, heads=6)
    assert groups.kwargs["groups"] == 3 and "do not divide" in groups.notes[0]


def test_sweep_bands_for_random_variants_only():
    q, k, v = qkv()
    performer = compare.sweep("performer", q, k, v, {}, "features")
    assert performer.seeds == len(compare.SEEDS)
    assert all(lo <= m <= hi for lo, m, hi in zip(performer.low, performer.mean, performer.high, strict=True))
    assert performer.mean[-1] < performer.mean[0]  # 1024 features beat one
    nystrom = compare.sweep("nystrom", q, k, v, {}, "landmarks")
    assert nystrom.seeds == 1 and nystrom.values[-1] == 9  # values past T are not repeated
    assert nystrom.mean[-1] < 1e-4 and nystrom.uniform > 0.1
    with pytest.raises(AttnvizInputError):
        compare.sweep("flash", q, k, v, {}, "rank")


def test_spectrum_energy_is_the_frobenius_norm():
    weights = scaled_dot_product(*qkv(t=7)).weights  # (H, T, T)
    spec = anatomy.spectrum(weights)
    assert spec.values.shape == (12, 7)
    frob2 = (weights.double() ** 2).sum(dim=(-2, -1)).numpy()
    assert np.allclose((spec.values**2).sum(axis=-1), frob2)  # Σσ² = ‖A‖_F²
    assert np.allclose(spec.energy[:, -1], 1.0)
    assert ((spec.rank_90 >= 1) & (spec.rank_90 <= 7)).all()
    # a rank-1 map (every row the same) keeps everything in its first singular value
    same_rows = torch.full((1, 5, 5), 0.2)
    assert anatomy.spectrum(same_rows).rank_90[0] == 1


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


def test_order_kept():
    a = np.array([[1, 0.9, 0.2], [0.9, 1, 0.5], [0.2, 0.5, 1]])
    assert compare.order_kept(a, a) == 1.0
    flipped = np.array([[1, 0.2, 0.9], [0.2, 1, 0.5], [0.9, 0.5, 1]])  # the largest and smallest swap
    assert compare.order_kept(a, flipped) < 1.0
    assert compare.order_kept(np.eye(2), np.eye(2)) == 1.0  # a single pair: nothing to order


def test_toy_qkv_is_seeded():
    x = torch.randn(5, 50)
    a, b = compare.toy_qkv(x), compare.toy_qkv(x)
    assert all(torch.equal(p, r) for p, r in zip(a, b, strict=True))
    assert a[0].shape == (12, 5, 32)
    with pytest.raises(AttnvizInputError):
        compare.toy_qkv(torch.zeros(0, 50))


def test_human_bytes():
    assert costs.human_bytes(512) == "512 bytes"
    assert costs.human_bytes(1536) == "1.5 KiB"
    assert costs.human_bytes(4 * 2**40) == "4.0 TiB"


# --- scaling -----------------------------------------------------------------------------------------------------


def test_crossovers_on_log_log_axes():
    sizes = [256, 512, 1024, 2048]
    quadratic = [n**2 * 1e-9 for n in sizes]
    linear = [n * 2.6e-7 for n in sizes]  # equal at n = 260: crosses between the first two sizes
    found = scaling.crossovers(sizes, quadratic, linear, "exact", "linear")
    assert len(found) == 1
    assert found[0].faster == "linear" and 256 < found[0].n < 512
    assert found[0].n == pytest.approx(260, rel=1e-6)
    assert scaling.crossovers(sizes, linear, linear, "a", "b") == []
    assert scaling.crossovers(sizes, quadratic, [math.nan] * 4, "a", "b") == []
    with pytest.raises(ValueError):
        scaling.crossovers(sizes, quadratic, linear[:2], "a", "b")


def test_check_sizes_and_flops():
    assert scaling.check_sizes([1024, 256, 256], 4096) == [256, 1024]
    assert set(scaling.GROWTH) == set(scaling.CASES) == set(scaling.SETTINGS)


def test_faster_from():
    sizes = [256, 512, 1024, 2048]
    assert scaling.faster_from(sizes, [1, 2, 4, 8], [2, 2.5, 3, 4]) == 1024
    assert scaling.faster_from(sizes, [1, 2, 4, 8], [0.5, 3, 3, 4]) == 1024  # faster at 256, then not: from 1024
    assert scaling.faster_from(sizes, [1, 2, 4, 8], [0.5, 1, 2, 4]) == 256
    assert scaling.faster_from(sizes, [1, 2, 4, 8], [0.5, 1, 2, 9]) is None  # not faster at the longest
    assert scaling.faster_from(sizes, [1, 2, 4, 8], [2, 1, math.nan, 4]) == 512  # a missing point is skipped
    with pytest.raises(ValueError):
        scaling.faster_from(sizes, [1, 2], [1, 2])


def test_loglog_slope():
    sizes = [256, 512, 1024, 2048]
    assert scaling.loglog_slope(sizes, [n**2 for n in sizes]) == pytest.approx(2.0)
    assert scaling.loglog_slope(sizes, [3 * n**1.5 for n in sizes]) == pytest.approx(1.5)
    assert scaling.loglog_slope(sizes, [5.0, 5.0, 5.0, 5.0]) == pytest.approx(0.0)
    assert scaling.loglog_slope(sizes, [0.0, 4.0, 16.0, math.nan]) == pytest.approx(2.0)  # 0 and NaN left out
    assert scaling.loglog_slope(sizes, [0.0, 0.0, 1.0, math.nan]) is None
    assert scaling.loglog_slope([512, 512], [1.0, 2.0]) is None
    with pytest.raises(AttnvizInputError):
        scaling.check_sizes([8192], 4096)
    with pytest.raises(AttnvizInputError):
        scaling.check_sizes([], 4096)
    assert scaling.nominal_flops("flash", 1024) == 4.0 * 1024 * 1024 * 64 * 8
    assert set(scaling.SETTINGS) == set(scaling.CASES)


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


# --- plots ---------------------------------------------------------------------------------------------------------


def test_heatmap_overlay_and_boxes():
    z = np.arange(9.0).reshape(3, 3)
    cover = np.eye(3, dtype=bool)
    fig = valid(plots.heatmap(z, list("abc"), list("xyz"), overlay=cover, overlay_name="dropped", boxes=[(0, 2, 1, 3)]))
    assert len(fig.data) == 2
    top = np.asarray(fig.data[1].z, dtype=float)
    assert np.isnan(top[0, 1]) and top[1, 1] == 1
    assert "dropped" in fig.data[1].hovertemplate
    rect = fig.layout.shapes[-1]
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (0.5, 2.5, -0.5, 1.5)


def test_lines_with_band_and_marks():
    s = plots.Series("err", [1, 2, 4], [0.5, 0.3, 0.2], band=([0.4, 0.2, 0.1], [0.6, 0.4, 0.3]))
    fig = valid(plots.lines([s], log_x=True, log_y=True, marks=[(2.0, 0.3, "here")]))
    assert fig.data[0].fill == "toself" and len(fig.data[0].x) == 6
    assert fig.layout.annotations[0].x == pytest.approx(math.log10(2.0))
    assert fig.layout.annotations[0].text == "here"


def test_token_buckets():
    fig = valid(plots.token_buckets(["<b>", "cat"], [[0, 3], [1, 1]], n_buckets=4, title="t"))
    assert np.asarray(fig.data[0].z).shape == (2, 2)
    assert fig.data[0].text[0][0].startswith("&lt;b&gt;")  # escaped
    assert "bucket 3" in fig.data[0].text[0][1]


# --- swap into the model ---------------------------------------------------------------------------------------

TEXTS = ("I walked by the river bank", "I deposited money at the bank", "the cat sat on the mat because it was tired")


@pytest.fixture(scope="module")
def model():
    from attnviz.pretrained import load_model

    return load_model("cpu")


def test_swap_flash_is_the_exact_model(model):
    swap = compare.swap(model, TEXTS, "flash", {"tile": 2})
    assert swap.cosine_to_exact == pytest.approx((1.0,) * 3, abs=1e-6)  # float32 rounding only
    assert swap.order_kept == 1.0
    assert np.allclose(swap.exact_similarity, swap.variant_similarity, atol=1e-5)


def test_swap_a_lossy_variant_moves_the_embedding(model):
    swap = compare.swap(model, TEXTS, "longformer", {"window": 1, "globals": 0})
    assert all(c < 0.9999 for c in swap.cosine_to_exact)
    assert np.allclose(np.diag(swap.variant_similarity), 1.0)
    wide = compare.swap(model, TEXTS, "longformer", {"window": 33, "globals": 0})  # the window covers everything
    assert wide.cosine_to_exact == pytest.approx((1.0,) * 3, abs=1e-6)


def test_make_attend_refuses_bad_knobs_at_once():
    with pytest.raises(AttnvizInputError):
        compare.make_attend("reformer", {"buckets": 5})
    with pytest.raises(AttnvizInputError):
        compare.swap(None, (), "flash", {})


def test_worker_million_quick_is_the_sliding_window():
    result = scaling.worker_million("cpu", quick=True)
    assert result["n"] == 1 << 16 and result["median_s"] > 0
    assert result["gflop"] == pytest.approx(4 * (1 << 16) * 256 * 64 / 1e9)
