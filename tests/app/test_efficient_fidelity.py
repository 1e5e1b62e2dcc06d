"""Issue 25, pages 6, 6b and 6c: every sentence true for the text on the screen (one test per finding)."""

import re

import pytest

from app_support.efficient import efficient
from attnviz.efficient import anatomy, compare
from tests.app.elements import ok
from tests.app.test_pages import _reveal_all, plain

PAGE, SWAP, SCALING = "lessons/efficient.py", "lessons/efficient_swap.py", "lessons/efficient_scaling.py"
RIVER = "she sat on the bank and watched the river"
DEFAULT = "I walked by the river bank"  # the course's default sentence: [CLS] i walked by the river bank [SEP]
FISHERMAN = "the old fisherman rested on the muddy bank of the quiet river"


def captions(at) -> str:
    return " ".join(plain(c) for c in at.caption)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.:;])\s+", text) if s]


# ---------------------------------------------------------------------------------------------- item 2: grey


@pytest.mark.parametrize("source", ["real", "toy"])
def test_grey_means_outside_the_pattern_in_every_caption(app, source):
    at = ok(_reveal_all(app(PAGE, l6_variant="longformer", l6_source=source, sentence=RIVER, l6_dilation="2")))
    said = [s for s in sentences(captions(at)) if "grey" in s.lower()]
    assert len(said) >= 2  # under the map, and in the dilation's caption
    for s in said:
        assert "outside" in s, s  # grey is what the pattern leaves out, never the pattern itself
    assert not re.search(r"grey cells[^.]* are this pattern", captions(at))


# ---------------------------------------------------------------------------------------------- item 17: [CLS]


def test_global_tokens_say_whose_they_are():
    from app_support.efficient.efficient_longformer import global_tokens_note

    labels = ["[CLS]", "she", "sat", "[SEP]"]
    assert global_tokens_note((0,), labels, "real") == " ([CLS], the token the tokenizer puts before your text)"
    two = global_tokens_note((0, 1), labels, "real")
    assert "[CLS], the token the tokenizer puts before your text" in two and "your first 1 piece)" in two
    assert "your first token" not in two
    everything = global_tokens_note((0, 1, 2, 3), labels, "real")
    assert "your first 2 pieces" in everything and "[SEP], the one it puts after your text" in everything
    assert global_tokens_note((0,), ["she", "sat"], "toy") == " (your first word)"
    assert global_tokens_note((0, 1), ["she", "sat"], "toy") == " (your first 2 words)"
    assert global_tokens_note((), labels, "real") == ""


def test_longformer_globals_on_the_page(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="longformer", sentence=RIVER)))
    text = captions(at)
    assert "Global tokens here: “[CLS]” ([CLS], the token the tokenizer puts before your text)" in text
    assert "[CLS]” (your first token)" not in text
    at = ok(_reveal_all(app(PAGE, l6_variant="longformer", l6_source="toy", sentence=RIVER)))
    assert "Global tokens here: “she” (your first word)" in captions(at)


# ---------------------------------------------------------------------------------------------- items 4 and 16: Nyström


def test_figure_never_prints_minus_zero():
    from app_support.efficient.efficient_patterns import figure

    assert figure(-0.54) == "−0.54" and figure(0.5) == "0.50"
    assert figure(-0.00012) == "−0.00012" and figure(-0.004) == "−0.004"
    assert figure(-3e-9) == "−3e-09" and figure(0.0) == "0.00"
    for x in (-0.0049, -1e-5, -1e-12):
        assert figure(x) not in ("−0.00", "-0.00"), x


def test_a_weight_just_below_zero_is_not_printed_as_minus_zero(app):
    # layer 3, head 3, m = 2 on the default sentence: the smallest weight is −0.0039 (once printed "-0.00")
    at = ok(_reveal_all(app(PAGE, l6_variant="nystrom", l6_head="3", l6_landmarks="2")))
    text = captions(at)
    assert "Some weights are negative (down to −0.0039)" in text
    assert "-0.00)" not in text and "−0.00)" not in text and "is −0.00:" not in text


def test_nystrom_rows_sum_to_one_with_an_exact_inverse():
    for text, m in ((DEFAULT, 3), (FISHERMAN, 3), (FISHERMAN, 8)):
        inp = efficient.LayerReading(text, "real", 2).inp
        kwargs = compare.settings("nystrom", {"landmarks": m}, inp.length).kwargs
        rows = anatomy.nystrom_rows(inp.q[0], inp.k[0], inp.v[0], kwargs)
        assert rows.exact_sum_low == pytest.approx(1, abs=1e-6) and rows.exact_sum_high == pytest.approx(1, abs=1e-6)
        assert rows.lowest < 0  # what sets it apart from a softmax: negative weights
    # the fisherman sentence at m = 8: the iteration drifts (about 0.992 to 1.007), the exact inverse does not
    assert rows.sum_low < 0.995 and rows.sum_high > 1.005
    assert rows.exact_lowest < -1  # the exact inverse of a nearly singular A weighs keys far below 0


def test_nystrom_page_says_negative_weights_and_row_sums(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="nystrom", l6_landmarks="3")))
    text = captions(at)
    inp = efficient.LayerReading(DEFAULT, "real", 2).inp
    kwargs = compare.settings("nystrom", {"landmarks": 3}, inp.length).kwargs
    assert "need not sum to 1" not in text
    assert "m = T = 8, which the knob reaches here" in text  # 8 tokens: the knob's 8 is m = T
    assert "-0.00" not in text and "−0.00" not in text
    from app_support.efficient.efficient_patterns import figure

    rows = anatomy.nystrom_rows(inp.q[0], inp.k[0], inp.v[0], kwargs)
    assert f"The most negative weight of F·A⁺·B here is {figure(rows.lowest)}" in text
    assert figure(rows.lowest) == "−0.54"  # the lecturer's figure on the default sentence
    assert "with an exact inverse every row sums to 1: torch.linalg.pinv in float64 gives 1.000000 in every row" in text


def test_nystrom_page_on_a_paragraph_says_the_knob_stops_below_t(app):
    from app_support.kit.sentence import LINK_KEY, PRESETS
    from attnviz.paragraph import pack

    at = ok(_reveal_all(app(PAGE, l6_variant="nystrom", l6_landmarks="64", **{LINK_KEY: pack(PRESETS[-1])})))
    text = captions(at)
    assert "The knob stops at m = 64, below your 256 tokens" in text
    assert "which the knob reaches here" not in text


# ---------------------------------------------------------------------------------------------- item 18: Linformer


def test_linformer_gaussian_help_says_what_reference_code_does():
    from app_support.efficient import efficient_text
    from attnviz.efficient.linformer import linformer_projection

    help_ = next(kn for kn in efficient_text.knobs("linformer") if kn.name == "proj").help
    assert "what training starts from" not in help_
    # fairseq: xavier_uniform_(gain=1/√2) on E and F; lucidrains: uniform within ±1/√k
    assert "fairseq" in help_ and "Xavier-uniform" in help_ and "gain 1/√2" in help_
    assert "lucidrains" in help_ and "±1/√k" in help_
    assert "N(0, 1/T) entries, never trained" in help_
    (e,) = linformer_projection(64, 400, seed=0)  # (K, S): the page's gaussian draw has variance 1/S
    assert float(e.var()) == pytest.approx(1 / 400, rel=0.05)


# ---------------------------------------------------------------------------------------------- item 20: multi-query


def test_multi_query_says_what_it_trades_not_that_its_cost_buys_nothing(app):
    # head 12 of layer 3 on the default sentence, one K/V group: no closer to exact than uniform attention
    at = ok(_reveal_all(app(PAGE, l6_variant="mqa", l6_groups="1", l6_head="12")))
    text = captions(at)
    assert "its cost buys nothing" not in text
    assert "Its output is no closer to exact than uniform attention here" in text
    assert "a decoder's KV cache 12× smaller" in text and "it computes all T² scores" in text
    assert "Shazeer (2019)" in text and "Ainslie et al. (2023)" in text
    at = ok(_reveal_all(app(PAGE, l6_variant="nystrom", l6_landmarks="3")))  # an approximation: its cost is work
    assert "Its output is no closer to exact than uniform attention: on this input its cost buys nothing." in captions(
        at
    )


# ---------------------------------------------------------------------------------------------- item 15: 6c's T×T


def test_scaling_lab_names_every_path_that_stores_the_matrix(app):
    from attnviz import scaling

    assert scaling.keeps_matrix(scaling.cases()) == ["sdpa-math", "plain"]
    at = ok(app(SCALING))
    intro = next(m.value for m in at.markdown if "Time and memory need not grow alike" in m.value)
    assert "only the plain path stores them" not in intro
    assert "only 2 of the cases store them as T×T matrices, PyTorch SDPA · math path and plain exact;" in intro


# ---------------------------------------------------------------------------------------- item 7: 6b, exact or not


def test_swap_says_exact_only_where_the_pattern_covers_every_pair(app):
    # BigBird, blocks of 2, one random block: the pattern covers sentences of up to 8 tokens, not the longer ready ones
    at = ok(_reveal_all(app(SWAP, l6_variant="bigbird")))
    boxes = " ".join(x.value for x in [*at.success, *at.info])
    assert "BigBird computes exact attention on your 8 tokens, in every layer and head, so only float rounding" in (
        boxes
    )
    assert "The variant computes the same attention" not in boxes
    text = captions(at)
    swap = efficient.swap(
        tuple(at.dataframe[-1].value["sentence"]), "bigbird", efficient.knob_key({"random": 1, "block": 2})
    )
    assert swap.exact[0] is True and False in swap.exact  # the learner's text is covered, some ready ones are not
    rest = [str(i + 1) for i, e in enumerate(swap.exact) if not e]
    assert f"but not on sentences {', '.join(rest[:-1])} and {rest[-1]}" in text
    # the same variant on a long sentence of the learner's: not exact, and the page says so
    at = ok(_reveal_all(app(SWAP, l6_variant="bigbird", sentence=FISHERMAN)))
    boxes = " ".join(x.value for x in [*at.success, *at.info])
    assert "BigBird is not exact attention on your 14 tokens" in boxes and "only float rounding" not in boxes


# ----------------------------------------------------------------------------------------- item 3: both loop orders


def test_flash_traffic_counts_both_loop_orders_and_names_the_pages(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="flash")))
    frame = next(d.value for d in at.dataframe if "numbers read" in d.value.columns)
    rows = list(frame.index)
    assert len(rows) == 3 and "Algorithm 1 (2022)" in rows[1] and "FlashAttention-2 (2023)" in rows[2]
    totals = [int(x.replace(",", "")) for x in frame["in all"]]
    assert totals[2] == 4 * 8 * 32 + 8 < totals[0] < totals[1]  # 4Td + T: below standard attention at 8 tokens
    intro = next(m.value for m in at.markdown if "walk the tiles in opposite orders" in m.value)
    assert "The walk above, the formula beside it and the Triton kernel all use FlashAttention-2's order" in intro
    text = captions(at)
    assert "FlashAttention-2's order moves 0.81× as much as standard attention (1,032 numbers: Q read once" in text
    assert "Algorithm 1 moves 1.24× as much as standard attention" in text
    assert "FlashAttention-2's order moves fewer numbers than standard attention at every length" in text
