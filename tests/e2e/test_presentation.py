"""What the class sees, measured in the browser: the colours plotly.js really draws in high contrast, no request
to any other machine, and presenter mode that fits a 1280×800 projector."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from attnviz import plots
from tests.e2e.conftest import SHOTS
from tests.e2e.test_browser import PAGES, errors_on, reveal_all, settle

pytestmark = pytest.mark.e2e

DRAWN_SCALES = """() => [...document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')].flatMap(gd =>
    [...(gd._fullData || []).filter(t => t.type === 'heatmap').map(t => t.colorscale),
     ...Object.entries(gd._fullLayout || {}).filter(([k]) => k.startsWith('coloraxis'))
        .map(([, a]) => a.colorscale)])"""
GRADIENT_STOPS = """() => [...document.querySelectorAll('[data-testid=stMain] .js-plotly-plot linearGradient stop')]
    .map(s => (s.getAttribute('stop-color') || '').replace(/\\s/g, ''))"""


def _rgb(hex_colour: str) -> str:
    if hex_colour.startswith("rgb"):
        return hex_colour.replace(" ", "")
    h = hex_colour.lstrip("#")
    return "rgb({},{},{})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def _scale(scale: list) -> list[tuple[float, str]]:
    return [(round(float(at), 6), str(colour).lower()) for at, colour in scale]


@pytest.mark.parametrize(("lesson", "expected"), [("softmax", "weights"), ("similarity", "signed")])
def test_high_contrast_colours_are_the_ones_drawn(server, page, lesson, expected):
    """plotly.js draws every attention map with the high-contrast scale the app passes (an unknown scale name is
    replaced by a grey-to-red default without a word), and the colour bars show its colours."""
    page.goto(f"{server}/{lesson}?contrast=true")
    settle(page)
    reveal_all(page)
    assert errors_on(page) == []
    drawn = [_scale(s) for s in page.evaluate(DRAWN_SCALES)]
    assert drawn, "no heatmap drawn"
    allowed = {
        "weights": _scale(plots.HIGH_CONTRAST_SEQUENTIAL),
        "signed": _scale(plots.HIGH_CONTRAST_DIVERGING),
    }
    value_scales = [s for s in drawn if len({c for _, c in s}) > 1]  # a one-colour cover is not a value scale
    others = [s for s in value_scales if s not in allowed.values()]
    assert value_scales and not others, others
    assert allowed[expected] in value_scales
    stops = set(page.evaluate(GRADIENT_STOPS))
    ends = {"weights": plots.INFERNO, "signed": plots.HIGH_CONTRAST_DIVERGING}[expected]
    assert {_rgb(ends[0][1]), _rgb(ends[-1][1])} <= stops, f"the colour bar's ends as drawn: {sorted(stops)}"
    assert "rgb(220,220,220)" not in stops, "plotly.js's fallback scale"
    page.screenshot(path=str(SHOTS / f"contrast-{lesson}.png"), full_page=True)


def test_no_request_leaves_the_machine(server, page):
    """Every request of a walk through all the lessons goes to the app's own server: an offline classroom gets
    every icon and font, and no errors in the console for missing ones."""
    local = urlsplit(server).hostname
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("data:", "blob:", "about:")) or urlsplit(r.url).hostname == local
            else elsewhere.append(r.url)
        ),
    )
    for path in PAGES.values():
        page.goto(f"{server}/{path}")
        settle(page)
    assert len(PAGES) == 11  # lessons 1 to 7 with 5b, 5c, 6b, 6c
    assert elsewhere == [], elsewhere[:5]


FITS = """() => {
    const main = document.querySelector('[data-testid=stMain]');
    const formulas = [...document.querySelectorAll('[data-testid=stMain] .katex-display')].map(k => ({
        fits: k.scrollWidth <= k.clientWidth + 1,
        scrolls: ['auto', 'scroll'].includes(getComputedStyle(k).overflowX),
        right: k.getBoundingClientRect().right}));
    const px = sel => [...document.querySelectorAll(sel)].map(e => parseFloat(getComputedStyle(e).fontSize));
    return {page: document.documentElement.scrollWidth, main: [main.scrollWidth, main.clientWidth],
            width: window.innerWidth, formulas,
            inputs: [...document.querySelectorAll('[data-testid=stMain] [data-baseweb=select] *')]
                .filter(e => !e.children.length && e.textContent.trim())
                .concat([...document.querySelectorAll('[data-testid=stMain] input[type=text]')])
                .map(e => parseFloat(getComputedStyle(e).fontSize)),
            labels: px('[data-testid=stMain] [data-testid=stWidgetLabel] p')};
}"""


@pytest.mark.parametrize("path", ["efficient?l6_variant=flash", "softmax", "efficient-scaling"])
def test_presenter_mode_fits_a_projector(server, page, path):
    """At 1280×800 in presenter mode nothing in the lesson is wider than the screen: every display formula fits its
    box (FlashAttention's update formula, the widest, is scaled to fit) or scrolls inside it, and the text in
    boxes and choices is as large as their labels."""
    sep = "&" if "?" in path else "?"
    page.goto(f"{server}/{path}{sep}present=true")
    settle(page)
    more = page.get_by_role("button", name="Show all steps")
    if more.count():
        more.first.click()
        page.wait_for_timeout(500)
        settle(page)
    page.wait_for_timeout(500)  # the formula fitting runs on the next animation frame
    assert errors_on(page) == []
    got = page.evaluate(FITS)
    assert got["page"] <= got["width"], got
    assert got["main"][0] <= got["main"][1] + 1, f"the lesson is wider than its column: {got['main']}"
    for formula in got["formulas"]:
        assert formula["fits"] or formula["scrolls"], formula
        assert formula["right"] <= got["width"] + 1, formula
    if "flash" in path:
        assert got["formulas"] and all(f["fits"] for f in got["formulas"]), got["formulas"]
    assert got["labels"] and min(got["labels"]) >= 20, got["labels"]
    if "flash" in path:  # its variant, layer and head are choice boxes
        assert got["inputs"], "no box or choice found"
    assert min(got["inputs"], default=99) >= 0.95 * min(got["labels"]), (got["inputs"], got["labels"])
    page.screenshot(path=str(SHOTS / f"present-{path.split('?')[0]}.png"), full_page=True)
