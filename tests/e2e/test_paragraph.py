"""Paragraph mode in a real browser: a 256-piece paragraph typed and linked, on a desktop and a phone."""

from __future__ import annotations

import urllib.parse

import pytest
from playwright.sync_api import expect

from app_support.kit.sentence import PRESETS
from attnviz.paragraph import pack
from tests.e2e.conftest import SHOTS
from tests.e2e.test_browser import errors_on, settle, shoot

LONG = PRESETS[-1]  # our own paragraph, 256 pieces
BOX = "Your sentence (page 5c has its own)"


def test_typed_paragraph_goes_in_the_link_compressed_and_comes_back(server, page):
    page.goto(f"{server}/real-heads")
    settle(page)
    box = page.get_by_label(BOX, exact=True)
    box.fill(LONG)
    box.press("Control+Enter")
    page.wait_for_function("() => location.search.includes('textz=')")
    settle(page)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["textz"] == [pack(LONG)] and "sentence" not in query
    page.reload()
    settle(page)
    expect(page.get_by_label(BOX, exact=True)).to_have_value(LONG, timeout=30_000)
    expect(page.get_by_text("Reading a long map.")).to_be_visible(timeout=30_000)
    assert errors_on(page) == []


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)])
def test_paragraph_panel_on_desktop_and_phone(server, page, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{server}/multihead?textz={pack(LONG)}")
    settle(page)
    panel = page.get_by_text("Reading a long map.")
    expect(panel).to_be_visible(timeout=30_000)
    find = page.get_by_label("Find a word", exact=True)
    find.fill("river")
    find.press("Enter")
    settle(page)
    expect(page.get_by_text("is at 3 places: this is number 1")).to_be_visible(timeout=30_000)
    panel.scroll_into_view_if_needed()
    shoot(page, f"paragraph-multihead-{size[0]}")
    assert errors_on(page) == []


def test_broken_compressed_link_says_why(server, page):
    page.goto(f"{server}/similarity?textz=not-a-real-link")
    settle(page)
    expect(page.get_by_text("Showing the default sentence instead")).to_be_visible(timeout=30_000)
    expect(page.get_by_label(BOX, exact=True)).to_have_value("I walked by the river bank")
    assert errors_on(page) == []


@pytest.mark.parametrize("size", [200_000, 1_000_000])
def test_a_link_too_long_to_read_says_so(server, page, size):
    """A link over the server's ~128 KB request buffer never reaches a page: the server answers with a page that says
    why and links to the course (not a bare "Bad Request", nor a reset connection), and goes on serving."""
    response = page.goto(f"{server}/similarity?sentence=" + "bank+" * (size // 5))
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", name="This link cannot be opened")).to_be_visible()
    expect(page.get_by_text("Copy link to this view", exact=False)).to_be_visible()
    page.screenshot(path=str(SHOTS / f"link-too-long-{size}.png"))  # not `shoot`: this page is not the app
    page.get_by_role("link", name="Open the course").click()
    settle(page)
    expect(page.get_by_label(BOX, exact=True)).to_have_value("I walked by the river bank")
    assert errors_on(page) == []
