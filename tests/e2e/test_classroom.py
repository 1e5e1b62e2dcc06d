"""The classroom features in a real browser: PNG and CSV downloads, the link to this view, presenter mode, and
screenshots on a 1280×800 projector and a 390×844 phone."""

from __future__ import annotations

import csv
import io
import re
import struct
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SHOTS
from tests.e2e.test_browser import errors_on, reveal_all, settle

pytestmark = pytest.mark.e2e

RIVER = ["I", "walked", "by", "the", "river", "bank"]
STEM = "attnviz_s-dot_i-walked-by-the-river-bank"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking its signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_camera_saves_a_png_named_after_the_view(server, page):
    page.goto(f"{server}/similarity")
    settle(page)
    reveal_all(page)
    chart = page.locator("[data-testid=stPlotlyChart]").nth(1)  # S = I·Iᵀ
    expect(chart.locator(".heatmaplayer")).to_be_attached()
    chart.scroll_into_view_if_needed()
    chart.hover()
    camera = chart.locator('.modebar-btn[data-title^="Download plot"]')
    expect(camera).to_be_visible()
    with page.expect_download(timeout=30_000) as caught:
        camera.click()
    download = caught.value
    assert download.suggested_filename == f"{STEM}.png"
    data = Path(download.path()).read_bytes()
    width, height = png_size(data)
    assert width >= 800 and height >= 400, (width, height)  # scale 2: sharp on a projector
    assert len(data) > 20_000, "a drawn heatmap, not an empty image"


def test_csv_download_of_a_matrix(server, page):
    page.goto(f"{server}/similarity")
    settle(page)
    reveal_all(page)
    button = page.get_by_role("button", name=re.compile(r"Download S dot as CSV"))
    with page.expect_download(timeout=30_000) as caught:
        button.click()
    download = caught.value
    assert download.suggested_filename == f"{STEM}.csv"
    table = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert table[0] == ["", *[w.lower() for w in RIVER]]
    assert [r[0] for r in table[1:]] == [w.lower() for w in RIVER]
    values = [[float(x) for x in r[1:]] for r in table[1:]]
    assert all(abs(values[i][j] - values[j][i]) < 1e-4 for i in range(6) for j in range(6)), "S is symmetric"
    assert all(values[i][i] > 0 for i in range(6))


def link_in_popover(page) -> str:
    page.get_by_role("button", name=re.compile("Copy link to this view")).click()
    code = page.locator("[data-testid=stPopoverBody] code").first
    expect(code).to_contain_text("http")
    text = code.inner_text().strip()
    page.keyboard.press("Escape")
    return text


def test_link_to_this_view_follows_the_widgets(server, page, browser):
    page.goto(f"{server}/similarity")
    settle(page)
    reveal_all(page)
    page.get_by_text("cosine", exact=True).first.click()
    settle(page)
    expect(page).to_have_url(re.compile(r"sim_kind=cosine"))
    link = link_in_popover(page)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    assert urllib.parse.urlsplit(link).path == "/similarity"
    assert query == {"sim_kind": "cosine", "sentence": " ".join(RIVER)}
    # the sentence changes, the setting stays in the address and the link
    box = page.get_by_role("textbox", name="Your sentence (page 5c has its own)")
    box.fill("I deposited money at the bank")
    box.press("Control+Enter")  # a text area: Enter is a new line
    settle(page)
    expect(page).to_have_url(re.compile(r"sim_kind=cosine"))
    expect(page).to_have_url(re.compile(r"deposited"))
    link = link_in_popover(page)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    assert query == {"sim_kind": "cosine", "sentence": "I deposited money at the bank"}
    # a student opens it: the same page, sentence and setting
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        parts = urllib.parse.urlsplit(link)
        other.goto(f"{server}{parts.path}?{parts.query}")  # the server here listens on 127.0.0.1 only
        settle(other)
        reveal_all(other)
        assert other.get_by_role("radio", name="cosine").is_checked()
        assert (
            other.get_by_role("textbox", name="Your sentence (page 5c has its own)").input_value() == query["sentence"]
        )
        assert errors_on(other) == []
    finally:
        other.context.close()


VIEWS = {"projector": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("lesson", ["similarity", "softmax"])
def test_presenter_mode_by_keyboard_and_screenshots(server, page, view, lesson):
    width, height = VIEWS[view]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{server}/{lesson}")
    settle(page)
    page.screenshot(path=str(SHOTS / f"class-{lesson}-{view}.png"))
    page.goto(f"{server}/{lesson}?present=true")
    settle(page)
    assert errors_on(page) == []
    sections = page.locator("h2")
    expect(sections).to_have_count(1)
    page.screenshot(path=str(SHOTS / f"class-{lesson}-{view}-present.png"))
    answer_by_key(page, f"class-{lesson}-{view}-present")
    press(page, "n")  # Next step
    expect(sections).to_have_count(2)
    answer_by_key(page, f"class-{lesson}-{view}-present-2")
    assert errors_on(page) == []


def press(page, key: str) -> None:
    page.locator("h1").first.click()  # the focus on the page, not in a control
    page.keyboard.press(key)
    page.wait_for_timeout(300)
    settle(page)


def answer_by_key(page, shot: str) -> None:
    """If a class question waits for its answer: screenshot it, reveal the answer with the A key, screenshot."""
    reveal = page.get_by_role("button", name=re.compile("Reveal the answer"))
    if reveal.count() == 0:
        return
    reveal.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{shot}-question.png"))
    press(page, "a")
    expect(page.get_by_role("button", name=re.compile("Reveal the answer"))).to_have_count(0)
    page.get_by_text(re.compile("^Class question")).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{shot}-answer.png"))


def test_high_contrast_and_numbers_in_cells_screenshot(server, page):
    page.goto(f"{server}/similarity?contrast=true&cells=true&sentence=the+cat+sat+on+the+mat")
    settle(page)
    reveal_all(page)
    assert errors_on(page) == []
    caption = page.locator("[data-testid=stMain] [data-testid=stCaptionContainer]").first
    style = caption.evaluate("c => [getComputedStyle(c).opacity, getComputedStyle(c.querySelector('p') || c).color]")
    assert style == ["1", "rgb(0, 0, 0)"], "captions in plain black, not faded"
    cells = page.locator("[data-testid=stPlotlyChart]").nth(1).locator("text.textpoint, .heatmaplayer text")
    expect(cells.first).to_be_attached()  # S (6 × 6) has its values written in its cells
    page.screenshot(path=str(SHOTS / "class-similarity-contrast.png"), full_page=True)
