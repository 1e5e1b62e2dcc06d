"""The handout and the figure downloads in a real Chromium: the file a student downloads opens with no network, its
formulas typeset and its figures drawn; every figure's camera saves PNG, or SVG with the view setting on, named as
the app's exports are."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from tests.e2e.conftest import SHOTS

SENTENCE = "she sat on the bank and watched the river"
STEM = re.compile(r"^attnviz_[a-z0-9-]+_she-sat-on-the-bank-and-watched-the-river")


def _settle(page) -> None:
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000, polling=500
    )
    page.wait_for_timeout(1000)


def _offline(page, path: Path) -> tuple[list[str], list[str]]:
    """Open a file with every request but file:// refused; returns (refused URLs, console errors)."""
    refused: list[str] = []
    errors: list[str] = []

    def route(request_route) -> None:
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector(".figure .main-svg", timeout=30_000)
    page.wait_for_timeout(1500)
    return refused, errors


def test_handout_opens_offline_with_figures_and_formulas(server, browser, page, tmp_path):
    page.goto(f"{server}/similarity?sentence={quote(SENTENCE)}")
    _settle(page)
    # a setting changed inside a part of the page that reruns alone (a fragment), behind its "predict first"
    # question: the handout still follows it
    for _ in range(4):
        skip = page.get_by_role("button", name="Skip — just show me")
        if not skip.count():
            break
        skip.first.click()
        page.wait_for_timeout(500)
        _settle(page)
    page.get_by_text("Leave the sentence's own words out of the neighbours").click()
    page.wait_for_url(re.compile(r"sim_exclude=false"), timeout=60_000)
    _settle(page)
    button = page.get_by_role("button", name="Download a handout of this page").first
    with page.expect_download(timeout=300_000) as info:
        button.click()
    download = info.value
    assert STEM.match(download.suggested_filename), download.suggested_filename
    assert download.suggested_filename.startswith("attnviz_handout-similarity_")
    assert download.suggested_filename.endswith(".html")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    size = saved.stat().st_size
    assert 4_000_000 < size < 12_000_000, size  # plotly.js (4.8 MB) once, KaTeX and its fonts, the figures

    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    offline = context.new_page()
    refused, errors = _offline(offline, saved)
    assert refused == []
    assert errors == []
    # the figures are drawn (one plotly SVG root or more per figure), as many as the page had
    figures = offline.locator(".figure").count()
    assert figures >= 4
    assert offline.locator(".figure .main-svg").count() >= figures
    # the formulas typeset by KaTeX, none left as an error
    assert offline.locator(".katex").count() >= 1
    assert offline.locator(".katex-error").count() == 0
    # the text: the lesson's title, a section, a revealed "predict first" answer, the sentence's words
    text = offline.locator("body").inner_text()
    assert "2 · The similarity matrix" in text
    assert "every word against every word" in text
    assert "Predict first." in text
    assert f"“{SENTENCE}”" in text
    assert "Leave the sentence's own words out of the neighbours: off" in text
    assert "sim_exclude = false" in text  # the header lists the settings of the view
    # its own camera saves both formats too
    offline.locator("#figure-1").hover()
    with offline.expect_download() as svg:
        offline.locator('#figure-1 .modebar-btn[data-title="Download plot as SVG"]').click()
    assert svg.value.suggested_filename.endswith(".svg")
    assert STEM.match(svg.value.suggested_filename)
    offline.screenshot(path=str(SHOTS / "handout-offline.png"), full_page=False)
    context.close()


def _camera_download(page, url: str, tmp_path: Path) -> Path:
    """Open ``url``, press the first figure's camera and return the file it saved."""
    page.goto(url)
    _settle(page)
    chart = page.locator(".js-plotly-plot").first
    chart.hover()
    camera = chart.locator('.modebar-btn[data-title^="Download plot"]')
    camera.wait_for(timeout=10_000)
    with page.expect_download() as saved:
        camera.click()
    path = tmp_path / saved.value.suggested_filename
    saved.value.save_as(path)
    return path


def test_every_figure_saves_png_and_svg(server, page, tmp_path):
    link = f"{server}/similarity?sentence={quote(SENTENCE)}"
    png = _camera_download(page, link, tmp_path)
    assert STEM.match(png.name) and png.suffix == ".png", png.name
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the view setting "Camera saves SVG", from a link: the same figure, the same name, a vector drawing
    svg = _camera_download(page, link + "&svg=true", tmp_path)
    assert svg.name == png.stem + ".svg", (svg.name, png.name)
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<svg")
    assert page.locator(".st-key-svg input").is_checked()  # the sidebar's switch shows the setting the link set
