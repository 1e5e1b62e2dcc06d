"""Lesson 6's FlashAttention walk on a 256-piece paragraph: tiles that keep the walk to 16 × 16, said why, and the
walk's figures from the shown tile's block of rows only."""

import numpy as np

from app_support.kit.sentence import LINK_KEY, PRESETS
from attnviz.paragraph import pack
from tests.app.elements import chart, ok, run, warnings, z
from tests.app.test_pages import _reveal_all

PAGE = "lessons/efficient.py"
LONG = PRESETS[-1]  # our own paragraph of 256 pieces


def test_paragraph_walk_offers_tiles_from_16_and_says_why(app):
    at = ok(_reveal_all(app(PAGE, l6_variant="flash", **{LINK_KEY: pack(LONG)})))
    tile = at.select_slider(key="l6_tile")
    assert list(tile.options) == ["16", "32", "64"] and tile.value == 16
    assert "l6_tile" not in at.query_params  # this length's default stays out of the link
    note = next(c.value for c in at.caption if "step through, one at a time" in c.value)
    assert "Your 256 tokens in tiles of 8 would make 32 × 32 = 1,024 tiles" in note
    assert "⌈256 / 16⌉ = 16" in note and "with 16 there are 16 × 16 = 256" in note
    slider = at.slider(key="l6_step")
    assert slider.max == 256
    run(slider.set_value(18))  # row block 2 (queries 17–32), key block 2
    assert any("Tile 18 of 256**: queries 17–32 × keys 17–32" in m.value for m in at.markdown)
    scores = z(chart(at, "l6_flash_tiles")["data"][0])
    assert scores.shape == (256, 256)
    assert np.isfinite(scores[:16]).all() and np.isfinite(scores[16:32, :32]).all()
    assert np.isnan(scores[16:32, 32:]).all() and np.isnan(scores[32:]).all()
    diff = next(m.value for m in at.metric if m.label == "Largest difference from exact attention")
    assert float(diff) < 1e-5
    run(at.select_slider(key="l6_tile").set_value(64))
    assert at.slider(key="l6_step").max == 16  # 4 × 4 tiles of 64


def test_paragraph_link_with_a_small_tile_is_named(app):
    at = ok(app(PAGE, l6_variant="flash", l6_tile="4", **{LINK_KEY: pack(LONG)}))  # the knob is drawn at once
    assert at.select_slider(key="l6_tile").value == 16
    assert any("“4”" in w and "16, 32, 64" in w for w in warnings(at))
