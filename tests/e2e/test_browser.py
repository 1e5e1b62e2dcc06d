"""The app in a real browser: pages load cleanly, the sentence drives the pictures, the URL keeps it."""

from __future__ import annotations

import contextlib
import json
import urllib.parse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.conftest import SHOTS

pytestmark = pytest.mark.e2e

PAGES = {
    "embeddings": "",
    "similarity": "similarity",
    "multihead": "multihead",
    "real-heads": "real-heads",
    "real-examples": "real-examples",
}
RIVER = ["i", "walked", "by", "the", "river", "bank"]
MONEY = ["i", "deposited", "money", "at", "the", "bank"]


IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
    .every(c => c.querySelector('.js-plotly-plot .main-svg'))"""


def settle(page) -> None:
    """Wait until the app has run its script and plotly has drawn every chart."""
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_timeout(300)  # a rerun triggered by the last action may start a moment later
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_function(CHARTS_DRAWN, timeout=30_000)


def reveal_all(page) -> None:
    """Answer every "predict first" question by skipping it."""
    for _ in range(10):
        skip = page.get_by_role("button", name="Skip — just show me")
        if skip.count() == 0:
            return
        skip.first.click()
        page.wait_for_timeout(300)
        settle(page)


def shoot(page, name: str) -> None:
    """A screenshot as a 1280×800 screen shows it, and one of the whole page."""
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, body')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 100, 12_000)})
    settle(page)
    page.screenshot(path=str(SHOTS / f"{name}-full.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def errors_on(page) -> list[str]:
    boxes = page.locator("[data-testid=stException], [data-testid=stAlertContentError]")
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


ROWS_JS = (
    "() => [...(document.querySelector('.js-plotly-plot')?.querySelectorAll('g.ytick') ?? [])].map(t => t.textContent)"
)


def heatmap_rows(page, expected: list[str]) -> list[str]:
    """The row labels of the page's first heatmap, once they equal ``expected`` (or after 20 s)."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"() => JSON.stringify(({ROWS_JS})()) === {json.dumps(json.dumps(expected))}", timeout=20_000
        )
    return page.evaluate(ROWS_JS)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_without_error(server, page, name):
    page.goto(f"{server}/{PAGES[name]}")
    settle(page)
    assert page.locator("h1").first.inner_text()[0].isdigit()
    assert page.get_by_text("Page not found").count() == 0
    reveal_all(page)
    assert page.locator(".js-plotly-plot").count() >= 3
    assert errors_on(page) == []
    shoot(page, f"lesson-{name}")


def test_typing_a_sentence_updates_heatmap_and_url(server, page):
    page.goto(f"{server}/similarity")
    settle(page)
    assert heatmap_rows(page, RIVER) == RIVER
    box = page.get_by_label("Your sentence (every lesson uses it)", exact=True)
    box.fill("I deposited money at the bank")
    box.press("Enter")
    page.wait_for_function("() => decodeURIComponent(location.search.replace(/\\+/g, ' ')).includes('deposited')")
    settle(page)
    assert heatmap_rows(page, MONEY) == MONEY
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["sentence"] == ["I deposited money at the bank"]
    # a reload loses nothing, and the other lesson sees the same sentence
    page.reload()
    settle(page)
    assert (
        page.get_by_label("Your sentence (every lesson uses it)", exact=True).input_value()
        == "I deposited money at the bank"
    )
    page.get_by_role("link", name="1 · Words as vectors").click()
    settle(page)
    assert "deposited" in urllib.parse.unquote_plus(page.url)
    assert heatmap_rows(page, MONEY) == MONEY
    shoot(page, "sentence-typed")


def test_link_with_hostile_sentence_executes_nothing(server, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hostile = "<img src=x onerror=alert(1)> <script>alert(2)</script> bank"
    page.goto(f"{server}/similarity?sentence={urllib.parse.quote(hostile)}")
    settle(page)
    reveal_all(page)
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0
    expect(page.get_by_label("Your sentence (every lesson uses it)", exact=True)).to_have_value(hostile)
    assert errors_on(page) == []
    shoot(page, "hostile-link")
