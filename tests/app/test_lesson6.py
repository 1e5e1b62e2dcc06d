"""Lesson 6 (efficient attention), 6b (a variant swapped into the model) and 6c (the scaling lab), by widget key."""

import numpy as np
import pytest

from app_support import efficient_text
from app_support.efficient_text import INFO
from attnviz import scaling
from attnviz.efficient import REGISTRY, compare, costs
from attnviz.efficient.costs import human_bytes
from tests.app.test_lesson5 import arr, chart, keys, ok, run, warnings, z
from tests.app.test_pages import _reveal_all, plain

PAGE, SWAP, SCALING = "lessons/efficient.py", "lessons/efficient_swap.py", "lessons/efficient_scaling.py"
CAT = "the cat sat on the mat because it was tired"


def figures(at) -> dict[str, tuple[str, str]]:
    """The error table: figure → (variant, uniform)."""
    frame = next(d.value for d in at.dataframe if "this variant" in d.value.columns)
    return {idx: (row["this variant"], row["uniform (every key the same)"]) for idx, row in frame.iterrows()}


# --------------------------------------------------------------------------------------------------------------
# 6 · one section per variant
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(INFO))
def test_every_variant_section(app, name):
    at = ok(app(PAGE, l6_variant=name))
    assert at.selectbox(key="l6_variant").value == name
    assert any(INFO[name].title in h.value for h in at.header)
    assert at.radio(key=f"l6_predict_{name}") is not None
    assert "l6_exact" not in keys(at)  # the maps wait for the prediction
    at = ok(_reveal_all(at))
    exact, approx = chart(at, "l6_exact"), chart(at, "l6_approx")
    e = z(exact["data"][0])
    assert e.shape == (8, 8)  # [CLS] I walked by the river bank [SEP]
    assert exact["data"][0]["y"][0] == "[CLS]"
    assert np.allclose(np.nansum(e, axis=1), 1, atol=1e-3)
    assert z(approx["data"][0]).shape == (8, 8)
    table = figures(at)
    assert float(table["output: relative error ‖O − O_exact‖ / ‖O_exact‖"][1]) > 0  # uniform is never exact here
    if name != "flash":
        assert "l6_sweep" in keys(at)
    if REGISTRY[name].kind == "pattern":
        assert len(exact["data"]) == 2  # the pattern's grey cover over the real heatmap
        assert "l6_dropped" in keys(at)


def test_flash_step_through_and_memory(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="flash", l6_tile="3")))
    slider = at.slider(key="l6_step")
    assert slider.max == 9  # 8 tokens in tiles of 3: 3 row blocks × 3 key blocks
    diff = next(m.value for m in at.metric if m.label == "Largest difference from exact attention")
    assert float(diff) < 1e-5
    assert float(figures(at)["output: relative error ‖O − O_exact‖ / ‖O_exact‖"][0]) < 1e-5
    run(slider.set_value(1))
    tiles = chart(at, "l6_flash_tiles")
    scores = z(tiles["data"][0])
    assert np.isfinite(scores[:3, :3]).all() and np.isnan(scores[3:, :]).all() and np.isnan(scores[:, 3:]).all()
    assert tiles["layout"]["shapes"][0]["x1"] == 2.5  # the framed tile is keys 1–3
    rows = next(d.value for d in at.dataframe if "running max m" in d.value.columns)
    assert len(rows) == 3
    partial = z(chart(at, "l6_flash_partial")["data"][0])
    assert np.abs(partial).max() > 1e-4  # after the first tile the rows have not seen every key
    run(slider.set_value(3))
    partial = z(chart(at, "l6_flash_partial")["data"][0])
    assert np.abs(partial).max() < 1e-5  # the first row block has now seen all keys: final
    assert any("output is final" in c.value for c in at.caption)
    labels = [m.label for m in at.metric]
    assert "The T×T score matrix would need" in labels and "One tile and its rows' running figures" in labels


def test_fewer_tiles_after_the_last_tile_was_shown(app):
    # a learner walks to the last tile, then picks a bigger tile size: fewer tiles than the step shown
    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    for tile in (2, 3, 4, 8, 1, 6):
        at.select_slider(key="l6_tile").set_value(tile).run()
        assert not at.exception, (tile, at.exception)
        if tile in (2, 3, 1):  # these leave more than one tile on 8 tokens
            slider = at.slider(key="l6_step")
            slider.set_value(int(slider.max)).run()
            assert not at.exception, (tile, at.exception)


def test_flash_prediction_is_checked(app):
    at = ok(app(PAGE, l6_variant="flash"))
    run(at.radio(key="l6_predict_flash").set_value("the same, up to rounding"))
    assert any(s.value.startswith("Right.") for s in at.success)


def test_flash_walk_starts_at_tile_one_and_a_link_picks_a_tile(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    assert at.slider(key="l6_step").value == 1  # the walk starts at its start, not at its end
    assert any("Tile 1 of 4" in m.value for m in at.markdown)
    assert "l6_step" not in at.query_params  # the default stays out of the link
    assert any("This is the rows' first tile" in c.value for c in at.caption)
    at = ok(_reveal_all(app(PAGE, l6_variant="flash", l6_step="3")))
    assert at.slider(key="l6_step").value == 3
    assert any("Tile 3 of 4" in m.value for m in at.markdown)


def test_flash_memory_traffic_follows_the_paper(app):
    from attnviz.efficient.io import flash_io, sram_numbers, standard_io

    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    frame = next(d.value for d in at.dataframe if "numbers read" in d.value.columns)
    totals = [int(x.replace(",", "")) for x in frame["in all"]]
    assert totals == [standard_io(8, 32).total, flash_io(8, 32, sram_numbers(100)).total]
    assert totals == [4 * 8 * 32 + 4 * 64, 1584]  # 8 tokens, d = 32: one block of keys, T_c = 1
    assert any("From T = 18 on FlashAttention moves fewer numbers" in c.value for c in at.caption)
    lines = chart(at, "l6_flash_io_chart")["data"]
    assert [t["name"] for t in lines] == ["standard attention (Algorithm 0)", "FlashAttention (Algorithm 1)"]
    run(at.select_slider(key="l6_sram").set_value(16))
    frame = next(d.value for d in at.dataframe if "numbers read" in d.value.columns)
    assert int(frame["in all"].iloc[1].replace(",", "")) == flash_io(8, 32, 4096).total
    times = next(d.value for d in at.dataframe if "median time" in d.value.columns)
    assert list(times.index) == ["PyTorch, fused", "the matrix path", "our tiled loop"]
    assert all(t.endswith(" µs") for t in times["median time"])
    assert any("CPU" in m.value and "Measured here" in m.value for m in at.markdown)


def test_performer_q_plus_k_and_slope(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="performer")))
    spread = z(chart(at, "l6_qk_spread")["data"][0])
    assert spread.shape == (8, 8) and (spread >= 0).all()
    metrics = {m.label: m.value for m in at.metric}
    slope = float(metrics["Measured: error ∝ m^b from m = 1 to 1024"].split("=")[1].replace("−", "-"))
    # the real head's typical ‖q + k‖²/√d is large: the error does not fall like 1/√m, and the page says so
    assert float(metrics["Typical pair: ‖q + k‖²/√d (median)"]) > 10
    assert slope > -0.4
    assert any("far slower than 1/√m" in m.value for m in at.markdown)
    assert any("without bias" in m.value and "nearly unbiased" in m.value for m in at.markdown)


def test_linformer_singular_values_and_rank(app):
    at = ok(app(PAGE, l6_variant="linformer", l6_rank="100000"))
    assert any("100000" in w for w in warnings(at))  # the link's value is not on the list: said once
    at = ok(_reveal_all(at))
    assert at.select_slider(key="l6_rank").value == 4
    sv = arr(chart(at, "l6_sv")["data"][0]["y"])
    assert len(sv) == 8 and (np.diff(sv) <= 1e-9).all()  # largest first
    energy = chart(at, "l6_energy")
    assert len(energy["data"]) == 12  # every head of the layer
    traces = {t["name"]: t for t in chart(at, "l6_sweep")["data"]}
    variant, best = arr(traces["variant"]["y"]), arr(traces["best rank-k matrix (SVD)"]["y"])
    assert (best <= variant + 1e-6).all() and best[-1] < 1e-6  # nothing beats the truncated SVD; k = T is exact
    run(at.select_slider(key="l6_rank").set_value(64))
    assert any("more than your 8 tokens" in plain(i) for i in at.info)
    assert float(figures(at)["output: relative error ‖O − O_exact‖ / ‖O_exact‖"][0]) < 1e-4  # pooling at k = T


def test_performer_band_over_seeds(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="performer")))
    sweep = chart(at, "l6_sweep")
    assert sweep["data"][0]["fill"] == "toself"  # the band over the draws
    assert any("5 random draws" in c.value for c in at.caption)
    assert sweep["layout"]["xaxis"]["type"] == "log"


def test_reformer_buckets_and_rounds(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="reformer", l6_buckets="8", l6_rounds="3")))
    buckets = chart(at, "l6_bucket_map")
    assert z(buckets["data"][0]).shape == (3, 8)
    assert "bucket" in buckets["data"][0]["text"][0][0]


def test_mqa_kv_meter(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="mqa", l6_groups="12")))
    # twelve groups is ordinary multi-head: nothing moves, and the question says so
    assert "ordinary multi-head attention" in at.radio(key="l6_predict_mqa").label
    assert float(figures(at)["attention matrix: relative error ‖A − A_exact‖ / ‖A_exact‖"][0]) < 1e-5
    meter = chart(at, "l6_kv")
    assert meter["data"][0]["orientation"] == "h"
    assert at.selectbox(key="l6_shape").value.startswith("Llama 2 7B")  # a decoder: it has a KV cache
    run(at.select_slider(key="l6_ctx").set_value(32768))
    gib = arr(chart(at, "l6_kv")["data"][0]["x"])
    assert gib.max() == pytest.approx(2 * 32 * 32 * 32768 * 128 * 2 / 2**30)  # 16 GiB at 32k tokens, fp16
    run(at.selectbox(key="l6_shape").set_value("Llama 2 70B (8 K/V heads)"))
    labels = list(chart(at, "l6_kv")["data"][0]["customdata"])
    assert "G = 8 · as released" in labels and "G = 64 (multi-head)" in labels
    encoder = next(s.name for s in costs.SHAPES if not s.decoder)
    run(at.selectbox(key="l6_shape").set_value(encoder))
    assert any("keeps no KV cache" in c.value for c in at.caption)
    run(at.select_slider(key="l6_groups").set_value(1))
    assert "loses its own keys" in at.radio(key="l6_predict_mqa").label
    assert float(figures(at)["attention matrix: relative error ‖A − A_exact‖ / ‖A_exact‖"][0]) > 0.01


def test_mqa_decoding_loop_is_timed(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="mqa", l6_decode_ctx="256")))
    assert not at.table or not any("time per token" in t.value.columns for t in at.table)  # behind the button
    at.button(key="l6_decode_run").click().run(timeout=300)
    ok(at)
    table = next(t.value for t in at.table if "time per token" in t.value.columns)
    assert list(table["K/V heads"]) == [32, 8, 1]
    # one layer, batch 2, 256 + 8 tokens, 128 wide, float32: 2 · 2 · G · 264 · 128 · 4 bytes
    assert list(table["cache of the layer"]) == [human_bytes(2 * 2 * g * 264 * 128 * 4) for g in (32, 8, 1)]
    caption = next(c.value for c in at.caption if "multi-query's cache is" in c.value)
    assert "32× smaller" in caption and "memory bandwidth" in caption
    ok(at.run())
    assert at.button(key="l6_decode_run").disabled  # kept for this length: nothing new to time


def test_glove_toy_source(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="longformer", l6_source="toy", sentence=CAT)))
    exact = chart(at, "l6_exact")
    assert exact["data"][0]["y"][:3] == ["the", "cat", "sat"]
    assert z(exact["data"][0]).shape == (10, 10)
    assert at.selectbox(key="l6_head").value == 1


@pytest.mark.parametrize(
    "query,message",
    [
        ({"l6_variant": "nonsense"}, "nonsense"),
        ({"l6_variant": "linformer", "l6_rank": "-3"}, "-3"),
        ({"l6_variant": "performer", "l6_features": "lots"}, "lots"),
        ({"l6_variant": "reformer", "l6_buckets": "3"}, "3"),
        ({"l6_layer": "9"}, "layers 1 to 6"),
        ({"l6_head": "0"}, "heads 1 to 12"),
        ({"l6_variant": "flash", "l6_step": "999"}, "999"),
        ({"l6_variant": "flash", "l6_sram": "7"}, "“7”"),
    ],
)
def test_bad_settings_in_the_link(app, query, message):
    at = ok(app(PAGE, **query))
    seen = warnings(at)  # a setting drawn at once warns on the first run, one behind the question after it
    at = ok(_reveal_all(at))
    seen += warnings(at)
    assert any(message in w for w in seen), seen
    assert "l6_exact" in keys(at)


@pytest.mark.parametrize("name", list(INFO))
def test_extreme_knobs(app, name):
    """The largest and the smallest value of every knob, from the link."""
    for pick in (0, -1):
        query = {f"l6_{k.name}": str(k.values[pick]) for k in efficient_text.knobs(name)}
        at = ok(_reveal_all(app(PAGE, l6_variant=name, **query)))
        assert "l6_approx" in keys(at)
        assert not warnings(at)


KNOBS = [(name, knob.name) for name in INFO for knob in efficient_text.knobs(name)]


@pytest.mark.parametrize("name,knob", KNOBS)
def test_every_knob_moves_by_widget(app, name, knob):
    """(The URL side of a bound widget is the browser's: tests/e2e checks it.)"""
    at = ok(_reveal_all(app(PAGE, l6_variant=name, sentence=CAT)))
    spec = next(k for k in efficient_text.knobs(name) if k.name == knob)
    other = spec.values[-1] if spec.default != spec.values[-1] else spec.values[0]
    kind = "radio" if isinstance(spec.default, str) else "select_slider"
    before = z(chart(at, "l6_approx")["data"][0])
    run(getattr(at, kind)(key=f"l6_{knob}").set_value(other))
    assert getattr(at, kind)(key=f"l6_{knob}").value == other
    after = z(chart(at, "l6_approx")["data"][0])
    if name != "flash":  # flash is exact at every tile size: only the steps change
        assert not np.allclose(before, after, equal_nan=True), f"{name}: {knob} = {other} changed nothing"
    else:  # 64 tokens a side: the 12 tokens fit one tile, so there is nothing to step through
        assert any("One tile holds the whole matrix" in c.value for c in at.caption)


@pytest.mark.parametrize("text", ["bank", "", "zzqx qqvv"])
def test_odd_sentences(app, text):
    at = ok(app(PAGE, sentence=text, l6_variant="sparse"))
    if not text:
        assert any("empty" in plain(w) for w in at.warning)
        return
    at = ok(_reveal_all(at))
    assert "l6_exact" in keys(at)  # the real model reads any text: [CLS] … [SEP]
    at = ok(app(PAGE, sentence=text, l6_variant="sparse", l6_source="toy"))
    if text == "bank":
        ok(_reveal_all(at))
        assert z(chart(at, "l6_exact")["data"][0]).shape == (1, 1)
    else:
        assert any("vocabulary" in w for w in warnings(at))


# --------------------------------------------------------------------------------------------------------------
# 6b · swap into the model
# --------------------------------------------------------------------------------------------------------------


def test_swap_flash_is_exact(app):
    at = ok(app(SWAP, l6b_variant="flash"))
    run(at.radio(key="l6b_predict").set_value("above 0.99: practically the same"))
    assert any(s.value.startswith("Right.") for s in at.success)
    cosine = next(m.value for m in at.metric if m.label == "Cosine with the exact embedding")
    assert float(cosine) == pytest.approx(1.0, abs=1e-6)
    assert next(m.value for m in at.metric if m.label == "Pairs of similarities kept in order") == "100%"
    assert {"l6b_cosines", "l6b_sim_exact", "l6b_sim_variant"} <= keys(at)


def test_swap_a_lossy_variant_moves_the_embedding(app):
    at = ok(_reveal_all(app(SWAP, l6b_variant="longformer", l6b_window="1", l6b_globals="0")))
    cosine = float(next(m.value for m in at.metric if m.label == "Cosine with the exact embedding"))
    assert cosine < 0.999
    run(at.select_slider(key="l6b_window").set_value(33))
    assert float(next(m.value for m in at.metric if m.label == "Cosine with the exact embedding")) > 0.9999


def test_swap_bad_link(app):
    at = ok(app(SWAP, l6b_variant="<script>"))
    assert any("<script>" in w for w in warnings(at))
    assert at.selectbox(key="l6b_variant").value == "flash"
    at = ok(app(SWAP, l6b_variant="performer", l6b_features="0"))
    assert any("0" in w and "features" in w for w in warnings(at))
    ok(_reveal_all(at))


def test_variant_names_shown_and_carried_between_6_and_6b(app):
    at = ok(app(PAGE, l6_variant="mqa"))
    chooser = at.selectbox(key="l6_variant")
    assert chooser.options == [info.title for info in INFO.values()]  # the names the page uses, not the ids
    assert chooser.value == "mqa"
    run(chooser.set_value("performer"))
    assert at.query_params["l6_variant"] == "performer"  # links still name the variant by its short name
    ok(at.switch_page(SWAP).run())
    assert at.selectbox(key="l6b_variant").value == "performer"  # carried from page 6
    run(at.selectbox(key="l6b_variant").set_value("sparse"))
    ok(at.switch_page(PAGE).run())
    assert at.selectbox(key="l6_variant").value == "sparse"  # and back
    run(at.selectbox(key="l6_variant").set_value("flash"))
    assert "l6_variant" not in at.query_params  # the default stays out of the link


def test_swap_old_link_still_works(app):
    at = ok(app(SWAP, l6b_variant="longformer"))
    assert at.selectbox(key="l6b_variant").value == "longformer"
    assert at.query_params.get("l6_variant") == "longformer" and "l6b_variant" not in at.query_params


# --------------------------------------------------------------------------------------------------------------
# 6c · the scaling lab
# --------------------------------------------------------------------------------------------------------------


def test_scaling_page_without_measuring(app):
    at = ok(_reveal_all(app(SCALING)))
    assert at.button(key="l6c_run") is not None
    assert at.button(key="l6c_million") is not None
    table = next(t.value for t in at.table if "choose it for" in t.value.columns)  # a table: every word shown
    assert len(table) == len(INFO) and list(table.index) == [i.title for i in INFO.values()]
    closing = next(m.value for m in at.markdown if "**Fidelity:**" in m.value)
    moved = compare.head_changes(*_layer3_qkv(), 1)  # page 6's default view: MiniLM's layer 3, one K/V group
    assert f"move by {moved.min():.0%} to {moved.max():.0%}" in closing and f"head 1: {moved[0]:.0%}" in closing
    assert "measure SDPA and a cheaper variant above" in closing  # nothing measured yet: no crossing is claimed
    reference = [plain(i) for i in at.info] + [e.label for e in at.expander]
    assert any("RESULTS.md" in r for r in reference)


def _layer3_qkv():
    from app_support import efficient

    inp = efficient.head_input("I walked by the river bank", "real", 2)
    return inp.q, inp.k, inp.v


def test_scaling_measures_and_plots(app):
    at = ok(app(SCALING, l6c_max="512"))
    at.multiselect(key="l6c_cases").set_value(["sdpa", "longformer"]).run()
    ok(at)
    at.button(key="l6c_run").click().run(timeout=600)
    ok(_reveal_all(at))
    time_chart = chart(at, "l6c_median_s")
    assert {t["name"] for t in time_chart["data"]} >= {"Longformer (ours)"}
    assert time_chart["layout"]["xaxis"]["type"] == "log" and time_chart["layout"]["yaxis"]["type"] == "log"
    shown = next(d.value for d in at.dataframe if "GFLOP/s (nominal)" in d.value.columns)
    assert set(shown["n"]) == {256, 512}
    assert "Measure 0 new case(s)" in at.button(key="l6c_run").label  # kept: nothing new to measure
    slopes = next(t.value for t in at.table if "time: measured slope" in t.value.columns)
    ours = shown[shown["variant"] == "Longformer (ours)"]
    times = {n: float(ours[ours["n"] == n]["time"].iloc[0][:-3]) for n in (256, 512)}
    expected = np.log(times[512] / times[256]) / np.log(2)  # two points: the slope is the line through them
    assert float(slopes.loc["Longformer (ours)", "time: measured slope"]) == pytest.approx(expected, abs=0.02)
    assert slopes.loc["PyTorch SDPA (fused C++ kernel)", "memory: designed"] == "T"
    ms = {(v, n): float(t[:-3]) for v, n, t in zip(shown["variant"], shown["n"], shown["time"], strict=True)}
    sdpa = [ms["PyTorch SDPA (fused C++ kernel)", n] for n in (256, 512)]
    start = scaling.faster_from([256, 512], sdpa, [times[256], times[512]])
    closing = next(m.value for m in at.markdown if "**Low latency:**" in m.value)
    if start is None:
        assert "no cheaper variant measured was faster than PyTorch SDPA (fused C++ kernel) up to 512" in closing
    else:
        assert f"Longformer was faster than PyTorch SDPA (fused C++ kernel) from {start:,} tokens on" in closing
    assert at.multiselect(key="l6c_cases").value == ["sdpa", "longformer"]
    assert at.query_params["l6c_cases"] == ["sdpa", "longformer"]  # the link names the cases by their short names


def test_scaling_pytorch_kernels_beside_ours(app):
    """SDPA per backend (only those this CPU runs) and compiled FlexAttention, measured and labelled by what they are;
    the paragraph comparing PyTorch's flash kernel with its math path reads its numbers off the table."""
    from attnviz.efficient import flex

    at = ok(app(SCALING, l6c_max="256"))
    options = at.multiselect(key="l6c_cases").options
    assert "PyTorch SDPA · fused flash kernel (C++)" in options and "PyTorch SDPA · math path (builds T×T)" in options
    assert "FlexAttention · Longformer window (compiled)" in options and "Longformer (ours)" in options
    if "efficient" not in flex.sdpa_backends("cpu"):
        assert not any("memory-efficient" in o for o in options)
        assert any("Left out on this CPU: SDPBackend.EFFICIENT_ATTENTION" in c.value for c in at.caption)
    at.multiselect(key="l6c_cases").set_value(["sdpa-flash", "sdpa-math", "flex-longformer"]).run()
    ok(at)
    assert any("**first call**" in c.value for c in at.caption)  # the page says FlexAttention compiles first
    at.button(key="l6c_run").click().run(timeout=600)
    ok(_reveal_all(at))
    shown = next(d.value for d in at.dataframe if "GFLOP/s (nominal)" in d.value.columns)
    assert set(shown["variant"]) == {"PyTorch SDPA · fused flash kernel (C++)", "PyTorch SDPA · math path (builds T×T)",
                                     "FlexAttention · Longformer window (compiled)"}  # fmt: skip
    ms = {v: float(t[:-3]) for v, t in zip(shown["variant"], shown["time"], strict=True)}
    compile_cell = shown.set_index("variant")["first call (compile)"]
    assert compile_cell["FlexAttention · Longformer window (compiled)"].endswith(" s")
    assert compile_cell["PyTorch SDPA · math path (builds T×T)"] == ""
    para = next(m.value for m in at.markdown if "against its math path" in m.value)
    speed = ms["PyTorch SDPA · math path (builds T×T)"] / ms["PyTorch SDPA · fused flash kernel (C++)"]
    assert "At 256 tokens" in para
    if speed >= 1:  # the table rounds to 0.01 ms: the ratio shown is the page's own, from unrounded times
        assert "faster than the math path" in para
    else:
        assert "slower:" in para


def test_scaling_ours_beside_pytorch_paragraph(app):
    """On the CPU our FlashAttention is the Python loop over tiles; the ratio is read off the table."""
    at = ok(app(SCALING, l6c_max="256"))
    at.multiselect(key="l6c_cases").set_value(["sdpa", "flash"]).run()
    at.button(key="l6c_run").click().run(timeout=600)
    ok(_reveal_all(at))
    shown = next(d.value for d in at.dataframe if "GFLOP/s (nominal)" in d.value.columns)
    ms = {v: float(t[:-3]) for v, t in zip(shown["variant"], shown["time"], strict=True)}
    para = next(m.value for m in at.markdown if "our FlashAttention took" in m.value)
    shown_ratio = float(para.split("our FlashAttention took ")[1].split("×")[0])
    expected = ms["FlashAttention (ours, Python)"] / ms["PyTorch SDPA (fused C++ kernel)"]
    assert shown_ratio == pytest.approx(expected, rel=0.05, abs=0.01)  # the table rounds to 0.01 ms
    assert "a fused C++ kernel" in para and "a Python loop over tiles" in para and "Triton" not in para
    assert "A CPU run does not show that effect." in para


def test_scaling_bad_link(app):
    at = ok(app(SCALING, l6c_max="1000000"))
    assert any("1000000" in w for w in warnings(at))
    assert at.select_slider(key="l6c_max").value == 2048


def test_scaling_million_tokens_button(app):
    at = ok(_reveal_all(app(SCALING)))
    at.button(key="l6c_million").click().run(timeout=600)
    ok(at)
    labels = {m.label: m.value for m in at.metric}
    assert float(labels["Time"].rstrip(" s")) > 0
    assert "GFLOP/s" in labels["Throughput"]
    assert any("69 GFLOP" in c.value for c in at.caption)  # 4 · 2^20 · 256 · 64 = 68.7 billion


# --------------------------------------------------------------------------------------------------------------
# 6 · the pattern variants' own sections
# --------------------------------------------------------------------------------------------------------------

RIVER = "she sat on the bank and watched the river"
REPEATED = "the cat sat on the mat and the cat slept"


def captions(at) -> str:
    return " ".join(plain(c) for c in at.caption)


@pytest.mark.parametrize("name", ["longformer", "bigbird", "sparse", "reformer"])
def test_pattern_kl_is_shown_infinite(app, name):
    from app_support.efficient_sections import KL_PATTERN

    query = {"l6_block": "1"} if name == "bigbird" else {}  # blocks of 2 cover all 11 tokens: nothing dropped
    at = ok(_reveal_all(app(PAGE, l6_variant=name, sentence=RIVER, **query)))
    table = figures(at)
    assert table[KL_PATTERN][0] == "∞"
    assert float(table[KL_PATTERN][1]) > 0
    assert "KL(exact‖variant) is ∞" in captions(at)


def test_reformer_shared_qk_on_repeated_words(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="reformer", l6_source="toy", sentence=REPEATED)))
    assert chart(at, "l6_exact")["layout"]["title"]["text"].startswith("Exact shared-QK")
    pairs = next(d.value for d in at.dataframe if "cosine of their queries" in d.value.columns)
    assert pairs.iloc[0]["cosine of their queries"] == "1.00"  # a repeated word: the same query
    assert pairs.iloc[0]["same bucket in"] == "1 of 1 round(s)"
    text = captions(at)
    assert "have the same query, so they share a bucket in every round" in text
    assert "chunks of c = 5 (⌈2·10/4⌉" in text
    assert "beats chance by" in text
    kept = float(figures(at)["exact attention weight the pattern keeps"][0])
    assert f"The buckets keep {kept:.1%}"[:-3] in text  # the figure of the table, in the sentence


def test_longformer_dilation_and_globals(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="longformer", l6_source="toy", sentence=RIVER, l6_dilation="2")))
    cover = z(chart(at, "l6_exact")["data"][1])  # the grey cells: outside the pattern
    outside = ~np.isnan(cover) if np.isnan(cover).any() else cover > 0
    i, j = np.arange(9)[:, None], np.arange(9)[None, :]
    pattern = ((np.abs(i - j) <= 2) & ((i - j) % 2 == 0)) | (i == 0) | (j == 0)  # w = 3, d = 2, one global
    assert np.array_equal(~outside, pattern)
    bars = chart(at, "l6_dilation_kept")["data"][0]
    kept = arr(bars["y"])
    assert len(kept) == 4
    assert kept[1] == pytest.approx(float(figures(at)["exact attention weight the pattern keeps"][0]), abs=1e-3)
    text = captions(at)
    assert "Global tokens here: “she” (your first token)" in text
    assert "4,096 tokens" in text and "only 2 heads of the upper layers" in text


def test_bigbird_theory_and_reach(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="bigbird", sentence=RIVER, l6_block="1")))
    body = " ".join(m.value for m in at.markdown)
    assert "universal approximator" in body and "Turing complete" in body and "O(log n)" in body
    text = captions(at)
    assert "4,096 tokens" in text and "with the window alone, in 10 layers" in text  # 11 tokens, band of 1


def test_nystrom_landmarks_table(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="nystrom", sentence=RIVER, l6_landmarks="3")))
    table = next(d.value for d in at.dataframe if "tokens averaged" in d.value.columns)
    # 11 tokens, 3 landmarks: token i goes to landmark ⌊3i/11⌋
    expected = ["[CLS] · she · sat · on", "the · bank · and · watched", "the·2 · river · [SEP]"]
    assert list(table["tokens averaged"]) == expected
    assert list(table["positions"]) == ["1–4", "5–8", "9–11"]


def test_sparse_says_both_directions(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="sparse", sentence=RIVER)))
    assert "sees 6 of 11 keys" in captions(at) and "79 of 121 pairs" in captions(at)
    assert "keeps the 45 of them" in captions(at)
