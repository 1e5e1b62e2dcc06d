"""Accessibility in a real browser: axe-core (the engine of Lighthouse's accessibility audit, carried by the pip
package axe-playwright-python, so nothing downloads) over every page in every view a class uses, the colours the
browser really draws, the keyboard, and the screen reader's text for each chart.

axe checks WCAG 2.0 and 2.1, levels A and AA (and, under High contrast, AAA's 7:1 contrast rule); a serious or
critical violation fails. `EXCEPTIONS` lists the rules a test may let pass, each with its reason: none today.
One server for the whole module (the session's `server` fixture); each view walks every page in one browser tab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app_support.kit import course
from app_support.kit.sentence import PRESETS
from attnviz.paragraph import pack
from tests.app.test_theme import CAPTION_OPACITY, THEME
from tests.e2e.conftest import PAGES, SHOTS
from tests.e2e.test_browser import errors_on, reveal_all, settle

pytestmark = pytest.mark.e2e

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = {"serious", "critical"}
# rule id → why a violation of it is let pass (Streamlit's own markup that the app cannot change): none today. The
# navigation's <li> without <ul> (100 `listitem` and 10 `list` violations before) came from the section header
# Streamlit draws around a one-section navigation: app.py's navigation is a plain list, which Streamlit draws as a
# valid <ul>.
EXCEPTIONS: dict[str, str] = {}
PARAGRAPH_PAGES = ("embeddings", "similarity", "projections", "softmax", "multihead", "real-heads")


@dataclass(frozen=True)
class View:
    size: tuple[int, int]
    query: str = ""
    aaa_contrast: bool = False  # High contrast promises 7:1: axe's color-contrast-enhanced rule too
    pages: tuple[str, ...] = tuple(PAGES)


VIEWS = {
    "desktop": View((1280, 800)),
    "phone": View((390, 844)),
    "presenter": View((1920, 1080), "present=true"),
    "high-contrast": View((1280, 800), "contrast=true", aaa_contrast=True),
    "dark": View((1280, 800), "dark=true"),
    "dark-high-contrast": View((1280, 800), "dark=true&contrast=true", aaa_contrast=True),
    "paragraph": View((1280, 800), f"textz={pack(PRESETS[-1])}", pages=PARAGRAPH_PAGES),
}


def reveal_presenter(page) -> None:
    """Presenter mode shows one section at a time: show them all, and reveal each class question's answer."""
    for _ in range(12):
        button = page.get_by_role("button", name=re.compile(r"^(Show all steps|Reveal the answer)"))
        if button.count() == 0:
            return
        button.first.click()
        page.wait_for_timeout(300)
        settle(page)


def serious(page, *, aaa_contrast: bool = False) -> list[str]:
    """axe's serious and critical violations on the page as it is, one line per rule: rule, count, first targets."""
    rules = WCAG + (["wcag2aaa"] if aaa_contrast else [])
    # the one AAA rule we promise; axe's other AAA rules (e.g. identical link names) are not claimed
    options = {"runOnly": {"type": "tag", "values": rules}, "resultTypes": ["violations"]}
    found = Axe().run(page, options=options).response["violations"]
    lines = []
    for v in found:
        if v["impact"] not in SERIOUS or v["id"] in EXCEPTIONS:
            continue
        if "wcag2aaa" in v["tags"] and v["id"] != "color-contrast-enhanced":
            continue
        targets = [" ".join(map(str, n["target"])) + " " + n.get("failureSummary", "")[:160] for n in v["nodes"][:3]]
        lines.append(f"{v['id']} ×{len(v['nodes'])}: {targets}")
    return lines


@pytest.mark.parametrize("name", list(VIEWS))
def test_no_serious_violation_on_any_page(server, browser, name):
    view = VIEWS[name]
    context = browser.new_context(viewport={"width": view.size[0], "height": view.size[1]})
    page = context.new_page()
    page.set_default_timeout(60_000)
    found: dict[str, list[str]] = {}
    try:
        for lesson in view.pages:
            page.goto(f"{server}/{PAGES[lesson]}" + (f"?{view.query}" if view.query else ""))
            settle(page)
            if "present=true" in view.query:
                reveal_presenter(page)
            else:
                reveal_all(page)
            settle(page)
            assert errors_on(page) == [], lesson
            if problems := serious(page, aaa_contrast=view.aaa_contrast):
                found[lesson] = problems
        page.goto(f"{server}/{PAGES['softmax']}" + (f"?{view.query}" if view.query else ""))
        settle(page)
        page.screenshot(path=str(SHOTS / f"a11y-{name}.png"))
    finally:
        context.close()
    assert not found, "\n".join(f"{lesson}: {line}" for lesson, lines in found.items() for line in lines)


def test_live_class_teacher_and_student_views(server, browser):
    """A live class: the teacher's page (presenter mode, a class question asked) and a student's, who joined by
    the link."""
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    teacher, student = (c.new_page() for c in contexts)
    try:
        teacher.set_default_timeout(60_000)
        student.set_default_timeout(60_000)
        teacher.goto(f"{server}/similarity")
        settle(teacher)
        teacher.get_by_role("button", name="Start a class").click()
        expect(teacher.get_by_text(re.compile(r"^Class [A-Z0-9]{4} · you are teaching$"))).to_be_visible()
        code = re.search(r"[?&]class=([A-Z0-9]+)", teacher.url).group(1)
        assert serious(teacher) == []
        teacher.get_by_text("Presenter mode", exact=True).click()
        settle(teacher)
        for _ in range(6):
            if teacher.get_by_role("button", name="Reveal the answer").count():
                break
            teacher.get_by_role("button", name=re.compile("Next step")).first.click()
            settle(teacher)
        assert serious(teacher) == [], "the teacher's presenter view, a question asked"
        student.goto(f"{server}/similarity?class={code}")
        settle(student)
        expect(student.get_by_text(f"Class {code} · joined")).to_be_visible()
        assert serious(student) == []
        student.screenshot(path=str(SHOTS / "a11y-live-class-student.png"))
    finally:
        for c in contexts:
            c.close()


# ---------------------------------------------------------------------------------------------- colours drawn
CAPTION_LOOK = """() => { const box = document.querySelector('[data-testid=stCaptionContainer]');
    return [getComputedStyle(box).color, getComputedStyle(box).opacity]; }"""
PAGE_COLOURS = """() => [getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor,
    getComputedStyle(document.querySelector('[data-testid=stMain] h1')).color]"""


def _rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)))


@pytest.mark.parametrize("dark", [False, True])
def test_the_browser_draws_the_theme_the_contrast_test_computes(server, page, dark):
    """tests/app/test_theme.py computes the ratios from config.toml, with captions in the text colour at 60 %
    opacity: this is what the browser draws, in each theme (the dark one chosen by the link)."""
    theme = THEME["dark" if dark else "light"]
    page.goto(f"{server}/similarity" + ("?dark=true" if dark else ""))
    settle(page)
    assert page.evaluate(PAGE_COLOURS) == [_rgb(theme["backgroundColor"]), _rgb(theme["textColor"])]
    colour, opacity = page.evaluate(CAPTION_LOOK)
    assert (colour, float(opacity)) == (_rgb(theme["textColor"]), CAPTION_OPACITY)


# Every element with text of its own, the colour it is drawn in (its opacity and its ancestors' applied) and the
# first opaque background drawn behind it: axe leaves out some text (a slider's value), and this is the plain check.
# The page is made as tall as its content first, so that every element is on screen.
LOW_CONTRAST = """(least) => {
  const rgba = s => { const m = s.match(/[\\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
  const lum = ([r, g, b]) => [r, g, b].map(c => { c /= 255; return c <= 0.04045 ? c / 12.92
      : ((c + 0.055) / 1.055) ** 2.4; }).reduce((t, c, i) => t + c * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const low = [];
  for (const el of document.querySelectorAll('[data-testid=stApp] *:not(svg *)')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility !== 'visible') continue;
    // the text alternatives (off screen), disabled controls (exempt in WCAG) and icons (glyphs, not text)
    const skip = '[class*=st-key-figtext_], [disabled], [aria-disabled=true], [data-testid=stIconMaterial]';
    if (el.closest(skip)) continue;
    let bg = null, alpha = 1;
    for (let n = el; n; n = n.parentElement) alpha *= Number(getComputedStyle(n).opacity);
    // what is drawn behind the text's middle (a slider's value sits above its thumb, not on it); text that is not
    // there (in a folded expander, scrolled out of its box) is not drawn
    const stack = document.elementsFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (!stack.some(n => n === el || el.contains(n))) continue;
    for (const n of stack) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (n !== el && !el.contains(n) && c[3] === 1) { bg = c; break; }
    }
    const fg = rgba(getComputedStyle(el).color), a = alpha * fg[3];
    if (alpha === 0) continue;  // not drawn
    bg = bg || [255, 255, 255, 1];
    const drawn = fg.slice(0, 3).map((c, i) => a * c + (1 - a) * bg[i]);
    const r = ratio(drawn, bg);
    if (r < least) low.push(`${el.textContent.trim().slice(0, 30)} ${r.toFixed(2)}:1`);
  }
  return low;
}"""


@pytest.mark.parametrize("query", ["", "dark=true", "contrast=true", "dark=true&contrast=true"])
def test_no_text_below_the_contrast_promised(server, page, query):
    """4.5:1 in both themes (AA), 7:1 under High contrast, on the lessons with sliders, tables and buttons."""
    least = 7.0 if "contrast" in query else 4.5
    for lesson in ("softmax", "efficient-scaling"):
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{server}/{PAGES[lesson]}?{query}")
        settle(page)
        reveal_all(page)
        height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
        page.set_viewport_size({"width": 1280, "height": min(int(height) + 100, 12_000)})  # all of it on screen
        settle(page)
        assert page.evaluate(LOW_CONTRAST, least) == [], lesson


def test_the_dark_theme_switch_changes_the_page_without_a_reload(server, page):
    page.goto(f"{server}/softmax")
    settle(page)
    page.evaluate("() => { window.__sameDocument = true; }")
    page.get_by_text("Dark theme", exact=True).click()
    expect(page.locator("[data-testid=stApp]")).to_have_css(
        "background-color", _rgb(THEME["dark"]["backgroundColor"]), timeout=20_000
    )
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    assert "dark=true" in page.url
    settle(page)
    page.screenshot(path=str(SHOTS / "a11y-dark-softmax.png"), full_page=False)
    page.get_by_text("Dark theme", exact=True).click()
    expect(page.locator("[data-testid=stApp]")).to_have_css(
        "background-color", _rgb(THEME["light"]["backgroundColor"]), timeout=20_000
    )


# ---------------------------------------------------------------------------------------------- keyboard
FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  // the element, and where Streamlit draws the focus of a hidden input: a parent, a label, a select's box
  const nodes = [el, el.parentElement, el.parentElement?.parentElement, el.nextElementSibling, el.closest('label'),
                 el.closest('[data-baseweb=select] > div')].filter(Boolean);
  window.__focusNodes = nodes;
  const r = el.getBoundingClientRect();
  return {label: (el.getAttribute('aria-label') || el.innerText || el.value || el.tagName).trim().slice(0, 50),
          main: !!el.closest('[data-testid=stMain]'), nav: !!el.closest('[data-testid=stSidebarNav]'),
          shown: r.width > 0 && r.height > 0,
          look: nodes.map(n => { const c = getComputedStyle(n);
            return [c.outlineStyle, c.outlineWidth, c.outlineColor, c.boxShadow, c.borderColor, c.backgroundColor]
              .join('|'); })};
}"""
LOOK_NOW = """() => (window.__focusNodes || []).map(n => { const c = getComputedStyle(n);
    return [c.outlineStyle, c.outlineWidth, c.outlineColor, c.boxShadow, c.borderColor, c.backgroundColor].join('|');
})"""
NO_TRANSITIONS = "*, *::before, *::after { transition: none !important; animation: none !important; }"


def tab_walk(page, stops: int) -> list[dict]:
    """Press Tab up to ``stops`` times; for each stop, what got the focus and whether its look changed when it did
    (compared with the same element once the focus has moved on)."""
    page.add_style_tag(content=NO_TRANSITIONS)
    walk: list[dict] = []
    for _ in range(stops):
        page.keyboard.press("Tab")
        if walk:  # the last stop, now that the focus has left it
            walk[-1]["visible"] = walk[-1]["look"] != page.evaluate(LOOK_NOW)
        state = page.evaluate(FOCUS_STATE)
        if state is None:
            break
        walk.append(state)
        if len(walk) > 3 and state["label"] == walk[0]["label"]:
            break  # back at the start: the whole page was walked
    return walk


@pytest.mark.parametrize("lesson", list(PAGES))
def test_every_lesson_works_by_keyboard(server, page, lesson):
    """From the top of the page, Tab reaches every lesson in the navigation and the lesson's own controls; every
    stop shows that it has the focus; a "predict first" question can be answered and skipped by keyboard."""
    page.goto(f"{server}/{PAGES[lesson]}")
    settle(page)
    walk = tab_walk(page, 60)
    in_nav = len(course.LESSONS) + len(course.AROUND)  # the lessons, Start here and the Glossary
    assert sum(stop["nav"] for stop in walk) == in_nav, [s["label"] for s in walk]
    assert any(stop["main"] for stop in walk), "Tab never reached the lesson"
    unseen = [s["label"] for s in walk if s["shown"] and not s.get("visible", True)]
    assert not unseen, f"focus not visible on {unseen}"
    skip = page.get_by_role("button", name="Skip — just show me")
    if skip.count():
        before = page.locator("[data-testid=stMain]").inner_text()
        skip.first.focus()
        page.keyboard.press("Enter")
        page.wait_for_function(  # the answer is drawn in the question's place
            "(before) => document.querySelector('[data-testid=stMain]').innerText !== before", arg=before
        )


def _sections(page) -> int:
    return page.locator("[data-testid=stMain] h2").count()


def test_presenter_keys_work_right_after_presenter_mode_is_turned_on(server, page):
    """Turned on from the keyboard: the sidebar folds with the focus on its switch; N and A work at once."""
    page.goto(f"{server}/similarity")
    settle(page)
    switch = page.get_by_label("Presenter mode", exact=True)
    switch.focus()
    page.keyboard.press("Space")
    expect(page.locator("[data-testid=stSidebar]")).to_have_attribute("data-collapsed", "true")
    settle(page)
    shown = _sections(page)
    for _ in range(6):
        page.keyboard.press("n")
        expect(page.locator("[data-testid=stMain] h2")).not_to_have_count(shown, timeout=20_000)
        settle(page)
        shown = _sections(page)
        if page.get_by_role("button", name="Reveal the answer").count():
            break
    reveal = page.get_by_role("button", name="Reveal the answer")
    assert reveal.count(), "no class question reached"
    asked = reveal.count()
    page.keyboard.press("a")
    expect(page.get_by_role("button", name="Reveal the answer")).to_have_count(asked - 1, timeout=20_000)
    page.screenshot(path=str(SHOTS / "a11y-presenter-keys.png"))


# ---------------------------------------------------------------------------------------------- screen readers
def test_each_chart_has_its_text_alternative_and_its_drawing_is_hidden(server, page):
    page.goto(f"{server}/softmax")
    settle(page)
    reveal_all(page)
    charts = page.locator("[data-testid=stPlotlyChart]")
    texts = page.locator("[class*=st-key-figtext_] [data-testid=stText]")
    assert charts.count() >= 4 and texts.count() == charts.count()
    first = texts.first.inner_text()
    assert first.startswith("Figure: Q·Kᵀ. A map of 6 rows (query) by 6 columns (key)"), first
    assert "the largest: river → river:" in first and "CSV download" in first
    box = page.locator("[class*=st-key-figtext_]").first.bounding_box()  # its text is clipped to this box
    assert box is None or (box["width"] <= 1 and box["height"] <= 1), f"drawn on the screen: {box}"
    hidden = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=stPlotlyChart] svg.main-svg')]"
        ".every(s => s.getAttribute('aria-hidden') === 'true')"
    )
    assert hidden
    expect(page.get_by_text("Every value of this map: hover a cell, or download the CSV.").first).to_be_visible()


def test_a_text_alternative_shows_learner_words_as_typed(server, page):
    """The text alternative is plain text (st.text): markdown and tags in the sentence stay characters."""
    page.goto(f"{server}/real-heads?sentence=**bank**+<b>river</b>")
    settle(page)
    texts = page.locator("[class*=st-key-figtext_] [data-testid=stText]")
    expect(texts.first).to_be_attached()
    words = " ".join(texts.nth(i).inner_text() for i in range(texts.count()))
    assert "bank, *" in words and "<, b, >" in words, words[:300]  # WordPiece splits them: each stays a character
    assert page.locator("[class*=st-key-figtext_] strong, [class*=st-key-figtext_] b").count() == 0
