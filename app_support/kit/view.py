"""The classroom view settings (presenter mode, high contrast, dark theme, numbers in cells, SVG from the camera): the
sidebar toggles bound to the URL, so a teacher can bookmark "?present=true", and the page's own CSS and scripts for
them and for screen readers and keyboards."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_support.compat import theme_switch
from attnviz import plots

PRESENT, CONTRAST, CELLS, SVG, DARK = "present", "contrast", "cells", "svg", theme_switch.PARAM
VIEW_PARAMS = (PRESENT, CONTRAST, DARK, CELLS, SVG)


_PRESENT_CSS = """<style>
/* presenter mode: large type for a projector, content across the whole width */
.stMainBlockContainer { max-width: 100%; padding-left: 3rem; padding-right: 3rem; padding-top: 4.5rem; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label,
.stMainBlockContainer [data-testid="stMarkdownContainer"] { font-size: 1.45rem; line-height: 1.5; }
.stMainBlockContainer h1 { font-size: 3.2rem; }
.stMainBlockContainer h2 { font-size: 2.5rem; }
.stMainBlockContainer h3 { font-size: 2.0rem; }
.stMainBlockContainer [data-testid="stCaptionContainer"] p { font-size: 1.2rem; }
.stMainBlockContainer [data-testid="stMetricValue"] { font-size: 2.8rem; }
.stMainBlockContainer button p { font-size: 1.3rem; }
.stMainBlockContainer .katex { font-size: 1.6em; }
/* controls: the text in boxes and choices as large as the page's, the slider's value above its handle */
.stMainBlockContainer input, .stMainBlockContainer textarea,
.stMainBlockContainer [data-baseweb="select"] div, .stMainBlockContainer [data-baseweb="select"] span,
.stMainBlockContainer [data-baseweb="input"] input { font-size: 1.35rem !important; line-height: 1.4; }
.stMainBlockContainer [data-baseweb="select"] > div { min-height: 2.9rem; }
.stMainBlockContainer [data-testid="stSliderThumbValue"] { font-size: 1.3rem; top: -2.4rem; white-space: nowrap; }
.stMainBlockContainer [data-testid="stSlider"] > label + div { margin-top: 1.7rem; }  /* room for the value */
.stMainBlockContainer [data-testid="stSliderTickBarMin"],
.stMainBlockContainer [data-testid="stSliderTickBarMax"] { font-size: 1.15rem; }
/* captions carry explanations: full-size text in the theme's own text colour, to read from the back of the room */
.stMainBlockContainer [data-testid="stCaptionContainer"],
.stMainBlockContainer [data-testid="stCaptionContainer"] p { font-size: 1.3rem; color: inherit; opacity: 1; }
.stMainBlockContainer [data-testid="stWidgetLabel"] p { font-size: 1.35rem; }
/* display formulas never run off the page: scaled down to their box by the script below, else scrolled */
.stMainBlockContainer .katex-display { max-width: 100%; overflow-x: auto; overflow-y: hidden; padding: 0 4px; }
/* tables drawn as HTML (st.table, markdown): large type, cells wrap instead of widening the page */
.stMainBlockContainer [data-testid="stTable"] th, .stMainBlockContainer [data-testid="stTable"] td,
.stMainBlockContainer [data-testid="stMarkdownContainer"] table { font-size: 1.25rem; }
.stMainBlockContainer [data-testid="stMarkdownContainer"] table { display: block; max-width: 100%; overflow-x: auto; }
/* the sidebar keeps the sentence and the view switches; the rest waits for normal mode */
.st-key-sidebar_preset, [data-testid="stSidebar"] [data-testid="stCaptionContainer"] { display: none; }
@media (max-width: 640px) {
  .stMainBlockContainer { padding-left: 1rem; padding-right: 1rem; }
  .stMainBlockContainer p, .stMainBlockContainer li { font-size: 1.15rem; }
  .stMainBlockContainer h1 { font-size: 2.1rem; }
  .stMainBlockContainer h2 { font-size: 1.7rem; }
  .stMainBlockContainer h3 { font-size: 1.4rem; }
  .stMainBlockContainer .katex { font-size: 1em; }
}
</style>"""

_CONTRAST_CSS = """<style>
/* high contrast: black text, no greyed-out captions or labels; every text at least 7:1 (WCAG 1.4.6) */
.stMainBlockContainer, .stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label,
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #000000 !important; }
[data-testid="stCaptionContainer"], .attnviz-note { opacity: 1 !important; }  /* captions: 60 % opacity */
/* white on the theme's red is 5.18:1; on this darker red, 7.49:1 (primary buttons, a multiselect's choices) */
[data-testid="stBaseButton-primary"] { background-color: #a3202f !important; border-color: #a3202f !important; }
[data-testid="stMultiSelectTagsContainer"] > span > span { background-color: #a3202f !important; }
.stMain [data-testid="stBaseButton-primary"] *, .stSidebar [data-testid="stBaseButton-primary"] * {
  color: #ffffff !important; }
/* the slider's value and ends, drawn in the theme's red */
[data-testid="stSliderThumbValue"], [data-testid="stSliderTickBarMin"], [data-testid="stSliderTickBarMax"] {
  color: #000000 !important; }
</style>"""

_CONTRAST_DARK_CSS = _CONTRAST_CSS.replace("black text", "white text").replace("#000000", "#ffffff")

_DARK_CSS = """<style>
/* the dark theme: a slider's value is drawn in the theme's red, 3.65:1 on the dark page; in its text colour */
[data-testid="stSliderThumbValue"] { color: #fafafa; }
</style>"""

_A11Y_CSS = """<style>
/* a figure's text alternative (app_support.kit.charts): read by screen readers, not drawn */
[class*="st-key-figtext_"], [data-testid="stLayoutWrapper"]:has(> [class*="st-key-figtext_"]) {
  position: absolute !important; width: 1px !important; min-width: 0 !important; height: 1px !important;
  margin: -1px; padding: 0 !important; overflow: hidden; clip-path: inset(50%); white-space: nowrap; border: 0; }
/* the note beside a CSV download (VALUES_NOTE_HTML): a caption's size and colour (the text colour at 60 %) */
.attnviz-note { font-size: 0.875rem; margin: 0; opacity: 0.6; }
/* a formula or table wider than its box is reached with the keyboard to scroll it (_A11Y_JS): its focus shows */
.katex-display:focus-visible, [data-testid="stTable"] > div:focus-visible,
[data-testid="stMarkdownContainer"] table:focus-visible { outline: 2px solid currentColor; outline-offset: 2px; }
/* keyboard focus drawn as a ring where Streamlit draws a faint one or none: the lesson links (a light grey
   background, much like the current page's), a heading's link (invisible until hovered), a chart's toolbar
   buttons, a radio choice (the input itself is hidden), a multiselect's box */
[data-testid="stSidebarNavLink"]:focus-visible, [data-testid="stHeaderActionElements"] a:focus-visible,
.modebar-btn:focus-visible, [data-testid="stRadio"] label:has(input:focus-visible),
[data-testid="stMultiSelect"] div:has(> [data-testid="stMultiSelectTagsContainer"] input:focus-visible) {
  outline: 2px solid currentColor !important; outline-offset: 2px; border-radius: 4px; }
[data-testid="stHeaderActionElements"] a:focus-visible { opacity: 1 !important; }
/* the page's scroll area (Chromium puts it in the tab order, to scroll by keys); not when it takes the focus back
   from a folded sidebar in presenter mode (_PRESENTER_KEYS_JS): a ring round the whole projected page */
[data-testid="stMain"]:focus-visible { outline: 2px solid currentColor; outline-offset: -2px; }
[data-testid="stMain"][data-presenter-focus]:focus { outline: none; }
</style>"""

# Beside each matrix's CSV download (app_support.kit.charts): as HTML, so that a handout (which has no downloads and
# leaves HTML out) does not repeat it; the look of a caption, kept readable under High contrast.
VALUES_NOTE_HTML = '<p class="attnviz-note">Every value of this map: hover a cell, or download the CSV.</p>'

# For keyboards and screen readers, on every page and whenever the page changes. Our own constant script: no
# learner text goes into it.
# - A display formula or a table wider than its box scrolls sideways: it gets into the tab order, so that a keyboard
#   can scroll it (WCAG 2.1.1; axe's rule scrollable-region-focusable), with a name that says so.
# - A chart's drawing is hidden from screen readers: its text alternative, just before it (app_support.kit.charts),
#   says what it shows, where the drawing itself would be read out as a jumble of tick labels.
_A11Y_JS = """<script>
(() => {
  if (window.attnvizA11y) { window.attnvizA11y(); return; }
  const SCROLLERS = [['[data-testid=stMain] .katex-display', 'Formula'], ['[data-testid=stTable] > div', 'Table'],
                     ['[data-testid=stMain] [data-testid=stMarkdownContainer] table', 'Table']];
  const mark = () => {
    for (const [selector, what] of SCROLLERS) {
      for (const box of document.querySelectorAll(selector)) {
        const scrolls = box.scrollWidth > box.clientWidth + 1;
        if (scrolls && !box.hasAttribute('tabindex')) {
          box.setAttribute('tabindex', '0');
          box.setAttribute('role', 'region');
          box.setAttribute('aria-label', what + ', wider than the screen: scroll it with the arrow keys');
        } else if (!scrolls && box.getAttribute('tabindex') === '0') {
          for (const name of ['tabindex', 'role', 'aria-label']) box.removeAttribute(name);
        }
      }
    }
    for (const picture of document.querySelectorAll('[data-testid=stPlotlyChart] svg.main-svg:not([aria-hidden])')) {
      picture.setAttribute('aria-hidden', 'true');  // the drawing only: its toolbar's buttons stay reachable
    }
  };
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; mark(); }); } };
  window.attnvizA11y = later;
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  window.addEventListener('resize', later);
  later();
})();
</script>"""

# Presenter mode folds the sidebar, and the switch that turned it on kept the keyboard's focus, hidden there: a
# focused form control takes the keys, so N (Next step) and A (Reveal the answer) did nothing until a click on the
# page. When the sidebar folds with the focus inside it, the page takes the focus. Our own constant script.
_PRESENTER_KEYS_JS = """<script>
(() => {
  if (window.attnvizPresenterKeys) { window.attnvizPresenterKeys(); return; }
  const free = () => {
    const bar = document.querySelector('[data-testid=stSidebar]');
    const main = document.querySelector('[data-testid=stMain]');
    const active = document.activeElement;
    if (!bar || !main || !active || !bar.contains(active) || bar.getAttribute('data-collapsed') !== 'true') return;
    main.setAttribute('tabindex', '-1');
    main.setAttribute('data-presenter-focus', '');
    main.addEventListener('blur', () => main.removeAttribute('data-presenter-focus'), {once: true});
    main.focus({preventScroll: true});
  };
  window.attnvizPresenterKeys = free;
  new MutationObserver(free).observe(document.body,
    {subtree: true, attributes: true, attributeFilter: ['data-collapsed']});
  free();
})();
</script>"""


def flag(key: str) -> bool:
    """Whether the view setting ``key`` (`PRESENT`, `CONTRAST`, `CELLS`, `SVG`) is on."""
    return bool(st.session_state.get(key, False))


def presenting() -> bool:
    """Whether presenter mode is on (large type, one section at a time)."""
    return flag(PRESENT)


def view_settings(where: Any = st.sidebar) -> None:
    """Draw the view toggles (in the sidebar). Each is bound to the URL; "1", "yes" or "on" in a link work too."""
    limit = plots.CELLS_VIEW_MAX  # the figure theming's limit (attnviz.plots.theme)

    for key in VIEW_PARAMS:
        raw = st.query_params.get(key)
        if key not in st.session_state and isinstance(raw, str) and raw.strip().lower() in {"1", "yes", "on"}:
            st.session_state[key] = True
    where.toggle(
        "Presenter mode",
        key=PRESENT,
        bind="query-params",
        help="For a projector: large type and figures, one section at a time (Next step, or the N key), and the "
        "“predict first” questions asked to the whole class. Links with ?present=true open in this mode.",
    )
    where.toggle(
        "High contrast",
        key=CONTRAST,
        bind="query-params",
        help="Darker colour scales with a wider range from dark to light, black text (white on the dark theme) "
        "and thicker lines: every text at least 7:1 against its background.",
    )
    where.toggle(
        "Dark theme",
        key=DARK,
        bind="query-params",
        help="Light text on a dark page, for a dim room; the figures' notes and lines are drawn light to match. "
        "Links with ?dark=true open in it.",
    )
    where.toggle(
        "Numbers in cells",
        key=CELLS,
        bind="query-params",
        help=f"Write each value in the cells of matrices up to {limit} × {limit}, sized to the cells; "
        "where the cells are too small to read them, a note under the map says so. "
        "Hovering a cell always shows its exact value.",
    )
    where.toggle(
        "Camera saves SVG",
        key=SVG,
        bind="query-params",
        help="The camera in each figure's toolbar saves a vector drawing (SVG, for slides and papers) instead of a "
        "PNG picture. Both are drawn by the browser, so they work offline.",
    )
    theme_switch.install()  # done by the launcher already; here too for a plain `streamlit run app.py`
    if theme_switch.use_dark(flag(DARK)):
        st.rerun()  # this run opened with the other theme: the next one brings the browser this one


# Presenter mode's type makes some display formulas wider than the page; this shrinks each one that does until it
# fits its box (down to 60 % of its size, then it scrolls), on every page and whenever the page changes. Our own
# constant script: no learner text goes into it.
_FIT_FORMULAS_JS = """<script>
(() => {
  if (window.attnvizFitFormulas) { window.attnvizFitFormulas(); return; }
  const fit = () => {
    for (const box of document.querySelectorAll('.stMainBlockContainer .katex-display')) {
      const formula = box.querySelector(':scope > .katex');
      if (!formula || !box.clientWidth) continue;
      formula.style.fontSize = '';
      // shrink in proportion, then in steps of 3 % while a pixel or two still sticks out (KaTeX's struts and
      // spacing do not scale with the font)
      let size = parseFloat(getComputedStyle(formula).fontSize);
      const floor = 0.6 * size;
      for (let i = 0; i < 12 && box.scrollWidth > box.clientWidth + 1 && size > floor; i++) {
        size = Math.max(floor, size * Math.min(0.97, (box.clientWidth - 2) / box.scrollWidth));
        formula.style.fontSize = size.toFixed(1) + 'px';
      }
    }
  };
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; fit(); }); } };
  window.attnvizFitFormulas = later;
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  window.addEventListener('resize', later);
  later();
})();
</script>"""


# constant blocks of ours: never any learner text
OWN_HTML = (
    _PRESENT_CSS, _FIT_FORMULAS_JS, _PRESENTER_KEYS_JS, _CONTRAST_CSS, _CONTRAST_DARK_CSS, _DARK_CSS, _A11Y_CSS,
    _A11Y_JS, VALUES_NOTE_HTML,
)  # fmt: skip


def page_style() -> None:
    """The page's own CSS and scripts for the view settings, keyboards and screen readers (never any learner
    text)."""
    st.html(_A11Y_CSS)
    st.html(_A11Y_JS, unsafe_allow_javascript=True)
    if presenting():
        st.html(_PRESENT_CSS)
        st.html(_FIT_FORMULAS_JS, unsafe_allow_javascript=True)
        st.html(_PRESENTER_KEYS_JS, unsafe_allow_javascript=True)
    if flag(DARK):
        st.html(_DARK_CSS)
    if flag(CONTRAST):
        st.html(_CONTRAST_DARK_CSS if flag(DARK) else _CONTRAST_CSS)
