"""Issue 23's teacher walk, items 6 to 9, in a real browser at the screen where each was found: a 1280×800 laptop, a
1920×1080 projector in presenter mode, a 390×844 phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app_support.kit import screens
from app_support.kit.sentence import PRESETS
from attnviz import plots
from attnviz.paragraph import pack
from tests.e2e.conftest import SHOTS
from tests.e2e.test_browser import errors_on, reveal_all, settle

pytestmark = pytest.mark.e2e

LONG = PRESETS[-1]  # our own paragraph: 218 words
HEADER = 60  # px: Streamlit's header stays over the top of the page
PHONE = {"width": 390, "height": 844}
HINT = "To change the sentence, open the sidebar"

# every chart on the page: its height, its title, whether its title says how to zoom
CHARTS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(c => ({
    height: c.getBoundingClientRect().height,
    title: c.querySelector('.gtitle')?.textContent ?? '',
    zoom: c.querySelector('.gtitle-subtitle')?.textContent ?? ''}))"""


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _open(page, url: str) -> None:
    page.goto(url)
    settle(page)
    reveal_all(page)


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_a_paragraphs_long_maps_fit_a_screen_and_say_how_to_zoom(server, page, size):
    """Item 6: the word-vector map of a 218-word paragraph was 8,440 px tall, then 900 (more than a 1280×800 screen
    shows under the header): on pages 1, 2 and 5 every chart now fits the screen, and a map too dense to label
    every row says under its title how to zoom in."""
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    for path in ("", "similarity", "multihead"):  # pages 1, 2 and 5
        _open(page, f"{server}/{path}?textz={pack(LONG)}")
        charts = page.evaluate(CHARTS)
        tall = [(c["title"], round(c["height"])) for c in charts if c["height"] > height - HEADER]
        assert not tall, f"page /{path}: taller than the screen: {tall}"
        zoomable = [c["title"] for c in charts if c["zoom"] == plots.heatmaps.ZOOM_NOTE]
        assert zoomable, f"page /{path}: no long map says how to zoom: {[c['title'] for c in charts]}"
        assert errors_on(page) == []
        if not path:  # the word-vector strip, page 1's first map
            strip = page.locator("[data-testid=stPlotlyChart]").filter(has_text="one word's 50 numbers").first
            strip.scroll_into_view_if_needed()
            _shot(page, f"walk-paragraph-strip-{width}")
    hint = page.get_by_text(HINT)  # where the sentence box is: said on a phone, where the sidebar is folded
    if width < 640:
        expect(hint).to_be_visible()
    else:
        expect(hint).to_be_hidden()  # the sidebar is open beside the page


def test_a_drag_zooms_a_long_map_until_every_label_shows(server, page):
    """Item 6: on page 2's 218 × 218 map only every k-th word is labelled; a drag over its top-left corner zooms in,
    and then every word in view has its label (a fixed list of labels kept only every k-th one)."""
    _open(page, f"{server}/similarity?textz={pack(LONG)}")
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text="S = I").first
    chart.scroll_into_view_if_needed()
    labels = "c => [...c.querySelectorAll('.xtick text')].map(t => t.textContent)"
    before = chart.evaluate(labels)
    assert 10 <= len(before) <= plots.heatmaps.MAX_COLUMN_LABELS, before
    box = chart.locator(".nsewdrag").first.bounding_box()
    x, y = box["x"] + 4, box["y"] + 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + box["width"] * 0.1, y + box["height"] * 0.1, steps=8)  # about 21 of the 218 columns
    page.mouse.up()
    page.wait_for_timeout(1_000)
    after = chart.evaluate(labels)
    _shot(page, "walk-paragraph-zoomed")
    assert len(after) >= 15, after
    words = chart.evaluate("c => c.querySelector('.js-plotly-plot').data[0].x")  # every column, in order
    start = words.index(after[0])
    assert words[start : start + len(after)] == after, after  # every column in view has its label


def _every_step(page) -> None:
    """Presenter mode: show every step, and reveal every question's answer."""
    for _ in range(20):
        buttons = page.get_by_role("button", name="Show all steps").or_(
            page.get_by_role("button", name="Reveal the answer")
        )
        if buttons.count() == 0:
            return
        buttons.first.click()
        page.wait_for_timeout(500)
        settle(page)


SIZES = """() => {
    const main = document.querySelector('[data-testid=stMain]');
    const px = sel => [...main.querySelectorAll(sel)].map(e => parseFloat(getComputedStyle(e).fontSize));
    return {text: px('[data-testid=stMarkdownContainer] p'), cells: px('[data-testid=stTable] td'),
            code: px('[data-testid=stCode] code'), grids: main.querySelectorAll('[data-testid=stDataFrame]').length};
}"""


@pytest.mark.parametrize("path", ["projections", "real-heads"])
def test_presenter_tables_and_token_strip_are_as_large_as_the_text(server, page, path):
    """Item 7: on a projector the data grids (page 3's "best other key", 5b's tables) drew about 13 px on a canvas
    that CSS cannot reach, beside 21-px text, and 5b's token strip 14 px. In presenter mode they are HTML tables
    and code in the presenter type."""
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server}/{path}?present=true")
    settle(page)
    _every_step(page)
    got = page.evaluate(SIZES)
    body = max(got["text"])
    assert got["grids"] == 0, "a canvas data grid in presenter mode"
    # the presenter CSS sets an HTML table's cells in 1.25rem (20 px), its captions in 1.3rem, its text in 1.45rem
    assert got["cells"] and min(got["cells"]) >= max(20, 0.85 * body), (got["cells"], body)
    if path == "real-heads":
        assert got["code"] and min(got["code"]) >= max(20, 0.85 * body), (got["code"], body)
        page.locator("[data-testid=stCode]").first.evaluate("e => e.scrollIntoView({block: 'center'})")
        _shot(page, "walk-present-token-strip")
    page.locator("[data-testid=stTable]").first.evaluate("e => e.scrollIntoView({block: 'center'})")
    _shot(page, f"walk-present-tables-{path}")
    expect(page.get_by_text(HINT)).to_be_visible()  # the sidebar is folded on a projector
    assert errors_on(page) == []


TOOLBARS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(c => {
    const bar = c.querySelector('.modebar'), title = c.querySelector('.gtitle');
    if (!bar || !title || !title.textContent.trim()) return null;
    const b = bar.getBoundingClientRect(), t = title.getBoundingClientRect();
    const overlaps = b.left < t.right && t.left < b.right && b.top < t.bottom && t.top < b.bottom;
    return {title: title.textContent, overlaps};
}).filter(x => x)"""

NUMBERS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(c => {
    const texts = [...c.querySelectorAll('g.heatmap-label text')];
    const shown = texts.filter(t => getComputedStyle(t).display !== 'none').map(t => parseFloat(t.style.fontSize));
    const box = c.closest('[data-testid=stElementContainer]');
    return {title: c.querySelector('.gtitle')?.textContent ?? '', written: texts.length, shown,
            note: getComputedStyle(box, '::after').content};
}).filter(c => c.written)"""


@pytest.mark.parametrize("path", ["", "real-heads", "real-examples"])
def test_on_a_phone_the_toolbar_clears_titles_and_cell_numbers_stay_readable(server, browser, path):
    """Item 8: on a phone the chart toolbar covered titles (lesson 1, 5b, 5c), and numbers in cells shrank to 3 to
    7 px (5b, 5c). The toolbar now has a row of its own above each chart; a number plotly.js would draw under
    8 px is left out, and a note under the chart says to tap a cell."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        _open(page, f"{server}/{path}")
        chart = page.locator("[data-testid=stPlotlyChart]").filter(has=page.locator(".gtitle")).first
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a touch shows the toolbar
        page.wait_for_timeout(500)
        _shot(page, f"walk-phone-{path or 'embeddings'}")
        bars = page.evaluate(TOOLBARS)
        assert bars and not [b["title"] for b in bars if b["overlaps"]], bars
        for c in page.evaluate(NUMBERS):
            assert min(c["shown"], default=99) >= screens.PHONE_CELL_FONT_MIN, c
            hidden = len(c["shown"]) < c["written"]
            assert hidden == ("tap a cell to read it" in c["note"]), c
        hint = page.get_by_text(HINT)
        if path == "real-examples":  # page 5c brings its own sentences
            expect(hint).to_have_count(0)
        else:
            expect(hint).to_be_visible()
            if not path:
                page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
                page.wait_for_timeout(300)
                _shot(page, "walk-phone-sentence-hint")
        assert errors_on(page) == []
    finally:
        context.close()


LABELS = """() => {
    const chart = [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
        .find(c => c.querySelector('.gtitle')?.textContent.startsWith('Directions in 2-D'));
    return [...chart.querySelectorAll('.scatterlayer text')].map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, box: [r.left, r.right, r.top, r.bottom]};
    });
}"""


def test_page_3s_query_and_key_labels_do_not_cover_each_other(server, page):
    """Item 9: page 3's 2-D view drew "q by" and "k by" on top of each other (a query and a key that coincide)."""
    _open(page, f"{server}/projections")
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text="Directions in 2-D").first
    chart.scroll_into_view_if_needed()
    _shot(page, "walk-projections-2d")
    labels = page.evaluate(LABELS)
    by_word: dict[str, list[list[float]]] = {}
    for label in labels:
        by_word.setdefault(label["text"][2:], []).append(label["box"])
    assert len(by_word) == 6, labels  # i walked by the river bank: a query and a key each
    for word, (a, b) in by_word.items():  # boxes of whole lines of text: a few px of line spacing may touch
        shared = max(0, min(a[1], b[1]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[2], b[2]))
        smaller = min((a[1] - a[0]) * (a[3] - a[2]), (b[1] - b[0]) * (b[3] - b[2]))
        assert shared <= 0.2 * smaller, f"“q {word}” and “k {word}” overlap: {a} {b}"
    assert errors_on(page) == []
