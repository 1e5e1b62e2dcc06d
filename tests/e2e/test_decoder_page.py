"""Lesson 7 (the decoder) in real Chromium: every view of test_accessibility on this page alone (axe: no serious
violation, no error on the page), with a screenshot of each, and a paragraph with the sink experiment on."""

import pytest

from app_support.kit.sentence import PRESETS
from attnviz.paragraph import pack
from tests.e2e.conftest import PAGES, SHOTS
from tests.e2e.test_accessibility import VIEWS, reveal_presenter, serious
from tests.e2e.test_browser import errors_on, reveal_all, settle

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", [n for n in VIEWS if n != "paragraph"])
def test_decoder_page_in_every_view(server, browser, name):
    view = VIEWS[name]
    context = browser.new_context(viewport={"width": view.size[0], "height": view.size[1]})
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{server}/{PAGES['decoder']}" + (f"?{view.query}" if view.query else ""))
        settle(page)
        reveal_presenter(page) if "present=true" in view.query else reveal_all(page)
        settle(page)
        assert errors_on(page) == []
        assert page.get_by_text("What the model writes next").count() == 1
        page.screenshot(path=str(SHOTS / f"decoder-{name}.png"), full_page=True)
        assert serious(page, aaa_contrast=view.aaa_contrast) == []
    finally:
        context.close()


def test_decoder_paragraph_and_sink_experiment(server, page):
    page.goto(f"{server}/{PAGES['decoder']}?textz={pack(PRESETS[-1])}&dec_sinks_run=true&dec_window=16")
    settle(page)
    reveal_all(page)
    settle(page)
    assert errors_on(page) == []
    assert page.get_by_text("window alone", exact=False).count() >= 1
    page.screenshot(path=str(SHOTS / "decoder-paragraph.png"), full_page=True)
