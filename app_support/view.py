"""The classroom view settings (presenter mode, high contrast, numbers in cells, SVG from the camera): the sidebar
toggles bound to the URL, so a teacher can bookmark "?present=true", and the page's own CSS for them."""

from __future__ import annotations

from typing import Any

import streamlit as st

from attnviz import plots

PRESENT, CONTRAST, CELLS, SVG = "present", "contrast", "cells", "svg"
VIEW_PARAMS = (PRESENT, CONTRAST, CELLS, SVG)


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
/* captions carry explanations: full-size text, dark enough to read from the back of the room */
.stMainBlockContainer [data-testid="stCaptionContainer"],
.stMainBlockContainer [data-testid="stCaptionContainer"] p { font-size: 1.3rem; color: #31333f; opacity: 1; }
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
/* high contrast: black text, no greyed-out captions or labels */
.stMainBlockContainer, .stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label,
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #000000 !important; }
[data-testid="stCaptionContainer"] { opacity: 1 !important; }  /* Streamlit fades captions with opacity 0.6 */
</style>"""


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
        help="Darker colour scales with a wider range from dark to light, black text and thicker lines.",
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
    from app_support import classroom  # the live class; imported here, as it imports this module's package

    classroom.sidebar(where)


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


OWN_HTML = (_PRESENT_CSS, _FIT_FORMULAS_JS, _CONTRAST_CSS)  # constant blocks of ours: never any learner text


def page_style() -> None:
    """The page's own CSS for the view settings (never any learner text)."""
    if presenting():
        st.html(_PRESENT_CSS)
        st.html(_FIT_FORMULAS_JS, unsafe_allow_javascript=True)
    if flag(CONTRAST):
        st.html(_CONTRAST_CSS)
