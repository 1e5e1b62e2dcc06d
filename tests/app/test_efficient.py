"""lessons/efficient.py: one variant at a time against exact attention on the sentence, by widget key."""

import numpy as np
import pytest

from app_support.efficient import efficient_text
from app_support.efficient.efficient_sections import part_of
from attnviz.efficient import REGISTRY, costs
from attnviz.efficient.costs import human_bytes
from tests.app.elements import arr, chart, keys, ok, run, warnings, z
from tests.app.test_pages import _reveal_all, plain

INFO = {name: spec.text for name, spec in REGISTRY.items()}  # each variant's text, from its record

PAGE, SWAP, SCALING = "lessons/efficient.py", "lessons/efficient_swap.py", "lessons/efficient_scaling.py"


CAT = "the cat sat on the mat because it was tired"


def figures(at) -> dict[str, tuple[str, str]]:
    """The error table: figure → (variant, uniform)."""
    frame = next(d.value for d in at.dataframe if "this variant" in d.value.columns)
    return {idx: (row["this variant"], row["uniform (every key the same)"]) for idx, row in frame.iterrows()}


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
    assert set(part_of(name).charts) <= keys(at)  # its own parts' charts (the e2e tests wait for them)
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
    from app_support.efficient.efficient_flash import ALGORITHMS
    from attnviz.efficient.io import flash2_io, flash_io, sram_numbers, standard_io

    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    frame = next(d.value for d in at.dataframe if "numbers read" in d.value.columns)
    totals = [int(x.replace(",", "")) for x in frame["in all"]]
    m = sram_numbers(100)
    assert totals == [standard_io(8, 32).total, flash_io(8, 32, m).total, flash2_io(8, 32, m).total]
    # 8 tokens, d = 32: one block of keys (T_c = 1) for Algorithm 1; one block of rows (T_r = 1) for FlashAttention-2
    assert totals == [4 * 8 * 32 + 4 * 64, 1584, 4 * 8 * 32 + 8]
    assert any("Algorithm 1 moves fewer numbers than standard attention from T = 18 on" in c.value for c in at.caption)
    lines = chart(at, "l6_flash_io_chart")["data"]
    assert [t["name"] for t in lines] == list(ALGORITHMS)
    run(at.select_slider(key="l6_sram").set_value(16))
    frame = next(d.value for d in at.dataframe if "numbers read" in d.value.columns)
    assert int(frame["in all"].iloc[1].replace(",", "")) == flash_io(8, 32, 4096).total
    assert not any("median time" in d.value.columns for d in at.dataframe)  # timed on the button only
    run(at.button(key="l6_flash_time").click())
    times = next(d.value for d in at.dataframe if "median time" in d.value.columns)
    assert list(times.index) == ["PyTorch, fused", "the matrix path", "our tiled loop"]
    assert all(t.endswith(" µs") for t in times["median time"])
    assert any("CPU" in m.value and "Measured here" in m.value for m in at.markdown)


def test_flash_timings_stay_for_the_view_they_were_taken_for(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    run(at.button(key="l6_flash_time").click())
    assert any("median time" in d.value.columns for d in at.dataframe)
    run(at.slider(key="l6_step").set_value(2))  # another tile of the walk: the same text, head and tile size
    assert any("median time" in d.value.columns for d in at.dataframe)
    assert "l6_flash_time" not in [b.key for b in at.button]  # the button is gone once timed
    run(at.select_slider(key="l6_tile").set_value(2))  # a new tile size: not timed yet, the button again
    assert not any("median time" in d.value.columns for d in at.dataframe)
    assert "l6_flash_time" in [b.key for b in at.button]


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


RIVER = "she sat on the bank and watched the river"


REPEATED = "the cat sat on the mat and the cat slept"


def captions(at) -> str:
    return " ".join(plain(c) for c in at.caption)


@pytest.mark.parametrize("name", [name for name, spec in REGISTRY.items() if spec.kind == "pattern"])
def test_pattern_kl_is_shown_infinite(app, name):
    from app_support.efficient.efficient_sections import KL_PATTERN

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
    assert "Global tokens here: “she” (your first word)" in text
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
