"""Hostile links in a real browser: on every lesson, markup in the sentence and in the settings executes nothing.

Each payload calls alert() or loads an address of its own if it ever becomes live markup, so the test listens for
dialogs and for requests to those addresses, then looks in the DOM for event-handler attributes and javascript:
links, with every "predict first" question skipped so that everything the page draws is on screen.
"""

from __future__ import annotations

import urllib.parse

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PAGES
from tests.e2e.test_browser import errors_on, reveal_all, settle, shoot

pytestmark = pytest.mark.e2e

PATHS = list(PAGES.values())  # every lesson's URL path, from the course's list: new lessons are covered
SENTENCE = "<img src=x onerror=alert(1)>"  # the issue's own example, alone
PAYLOAD = (
    "bank <img src=x onerror=alert(1)> <script>alert(2)</script> river <svg onload=alert(3)> "
    '"><img src=/xss-probe onerror=alert(4)> [money](javascript:alert(5)) '
    "<iframe src=javascript:alert(6)></iframe> ![x](/xss-probe.png) :red[walked] $x$"
)
SETTING = "<img src=/xss-probe onerror=alert(7)>"  # for every other query parameter a page might read
LIVE_MARKUP_JS = """() => [
    ...document.querySelectorAll('[onerror], [onload], [onclick], [onmouseover], iframe[src^="javascript"]'),
    ...document.querySelectorAll('a[href^="javascript"], img[src="x"], img[src*="xss-probe"], svg[onload]'),
].map(e => e.outerHTML.slice(0, 200))"""


def _probe(url: str) -> bool:
    """A request for an address only a payload names: ``x`` or ``/xss-probe…`` (the page's own URL carries both
    in its query string, so only the path counts)."""
    path = urllib.parse.urlsplit(url).path
    return path.endswith("/x") or "xss-probe" in path


def watch(page) -> tuple[list[str], list[str], list[str]]:
    """Dialogs opened, requests to the payloads' addresses, and console errors, as they happen."""
    dialogs: list[str] = []
    probes: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: probes.append(r.url) if _probe(r.url) else None)
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    return dialogs, probes, console


def visit(page, url: str) -> None:
    page.goto(url)
    settle(page)
    reveal_all(page)
    page.wait_for_timeout(500)  # an onerror handler fires once its image has failed to load


@pytest.mark.parametrize("path", PATHS)
def test_hostile_link_executes_nothing(server, page, path):
    dialogs, probes, console = watch(page)
    settings = "&".join(f"{k}={urllib.parse.quote(SETTING)}" for k in ("mh_heads", "mh_seed", "real_layer", "x"))
    visit(page, f"{server}/{path}?sentence={urllib.parse.quote(PAYLOAD)}&{settings}")
    assert dialogs == [], f"a payload ran: {dialogs}"
    assert probes == [], f"a payload's element was created and loaded: {probes}"
    assert page.evaluate(LIVE_MARKUP_JS) == []
    assert not [c for c in console if "xss-probe" in c or "alert" in c], console
    # the text is kept as typed: the box shows it, and it never turned into markup
    box = page.get_by_label("Your sentence (page 5c has its own)", exact=True)
    expect(box).to_have_value(PAYLOAD[:300], timeout=30_000)
    assert errors_on(page) == []
    shoot(page, f"xss-{path or 'embeddings'}")


def test_the_issues_example_link(server, page):
    dialogs, probes, _ = watch(page)
    visit(page, f"{server}/?sentence={urllib.parse.quote(SENTENCE)}")
    assert dialogs == [] and probes == []
    assert page.evaluate(LIVE_MARKUP_JS) == []
    expect(page.get_by_label("Your sentence (page 5c has its own)", exact=True)).to_have_value(SENTENCE)
    assert errors_on(page) == []
