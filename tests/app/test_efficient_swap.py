"""lessons/efficient_swap.py: a variant in every layer of the model, and the choice shared with lessons/efficient.py."""

import pytest

from attnviz.efficient import REGISTRY
from tests.app.elements import keys, ok, run, warnings
from tests.app.test_pages import _reveal_all

INFO = {name: spec.text for name, spec in REGISTRY.items()}  # each variant's text, from its record

PAGE, SWAP, SCALING = "lessons/efficient.py", "lessons/efficient_swap.py", "lessons/efficient_scaling.py"


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


def test_swap_flash_on_a_paragraph_offers_tiles_from_16(app):
    from app_support.kit.sentence import LINK_KEY, PRESETS
    from attnviz.paragraph import pack

    at = ok(app(SWAP, l6b_variant="flash", **{LINK_KEY: pack(PRESETS[-1])}))  # our own 256-piece paragraph
    tile = at.select_slider(key="l6b_tile")
    assert list(tile.options) == ["16", "32", "64"] and tile.value == 16
    note = next(c.value for c in at.caption if "one step per tile" in c.value)
    assert "⌈256 / 16⌉ = 16 on, for the longest text here (256 pieces)" in note and "16 × 16 = 256 steps" in note
    run(at.radio(key="l6b_predict").set_value("above 0.99: practically the same"))
    cosine = next(m.value for m in at.metric if m.label == "Cosine with the exact embedding")
    assert float(cosine) == pytest.approx(1.0, abs=1e-5)
