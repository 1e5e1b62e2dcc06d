"""The page's own CSS for the screens a class meets the course on, a phone and a projector, beside the view settings'
CSS (`app_support.kit.view`), and the note on the main page that says where the sentence box is while the sidebar is
folded. Constant CSS of ours: never any learner text (`OWN_HTML`).
"""

from __future__ import annotations

import streamlit as st

from app_support.kit import course
from app_support.kit.view import presenting
from attnviz.plots import CELL_FONT_MIN

PHONE = 640  # px: a screen at most this wide is a phone (as in the presenter CSS's own rule for phones)
PHONE_CELL_FONT_MIN = 8  # px: on a phone, numbers in cells drawn smaller are left out (7 px reads as a smudge there)
TOOLBAR_PX = 30  # px: the row a chart's toolbar gets above the figure on a phone (its buttons are 26 px tall)
HINT_KEY = "sentence_hint"  # the container of the note that says where the sentence box is
OWN_SENTENCES = {"real-examples"}  # page 5c brings its own sentences: the sidebar's box does not change it


# A chart's box: Streamlit gives the element holding it the figure's height (and the chart follows its box's height,
# so the chart itself must keep it); room around a chart is made on that element, as padding outside its height.
_BOX = '[data-testid="stElementContainer"]:has(> [data-testid="stFullScreenFrame"] > [data-testid="stPlotlyChart"])'


def _small_numbers(below: int) -> str:
    """A selector for the numbers plotly.js writes in a heatmap's cells at 1 to ``below`` − 1 px. It fits them to the
    cells as drawn and writes each one's size in its style attribute, as "font-size: 6px" (src/traces/heatmap/plot.js,
    Drawing.font); "font-size: 6px" is not part of "font-size: 16px"."""
    sizes = ", ".join(f'[style*="font-size: {n}px"]' for n in range(1, below))
    return f'[data-testid="stPlotlyChart"] g.heatmap-label text:is({sizes})'


def _hide_small_numbers(below: int, how: str, lines: int) -> str:
    """CSS that hides the numbers drawn under ``below`` px and says so under their chart, in room for ``lines`` lines,
    where ``how`` reads one."""
    note = f"The cells are too small here for their numbers: {how} a cell to read it."
    small = _small_numbers(below)
    return (
        f"{small} {{ display: none; }}\n"
        f"{_BOX}:has({small}) {{ box-sizing: content-box; padding-bottom: {0.3 + 1.35 * lines:.2f}rem; }}\n"
        f"{_BOX}:has({small})::after {{ content: {note!r}; position: absolute; left: 0; bottom: 0; "
        "font-size: 0.875rem; line-height: 1.4; opacity: 0.75; }"
    )


_SCREENS_CSS = f"""<style>
/* numbers in a heatmap's cells: plotly.js shrinks them to fit the cells as drawn, so a narrow window or a phone
   makes them tiny; under {CELL_FONT_MIN} px ({PHONE_CELL_FONT_MIN} px on a phone) they are left out, and a note under
   the chart says that hovering (tapping) a cell gives its value */
{_hide_small_numbers(CELL_FONT_MIN, "hover", 1)}
@media (max-width: {PHONE}px) {{
{_hide_small_numbers(PHONE_CELL_FONT_MIN, "tap", 2)}
  /* a chart's toolbar (camera, zoom, home, full screen) gets a row of its own above the figure: on a phone a
     figure's title runs to the right edge, where the toolbar covered it */
  {_BOX} {{ box-sizing: content-box; padding-top: {TOOLBAR_PX}px; }}
  [data-testid="stPlotlyChart"] .js-plotly-plot {{ overflow: visible !important; }}
  [data-testid="stPlotlyChart"] .modebar-container {{ top: -{TOOLBAR_PX}px !important; }}
}}
/* where the sentence box is: said on the main page only while the sidebar, which holds it, is folded */
.st-key-{HINT_KEY} {{ display: none; }}
body:has([data-testid="stSidebar"][data-collapsed="true"]) .st-key-{HINT_KEY} {{ display: block; }}
</style>"""

_PRESENT_CSS = """<style>
/* presenter mode: the token strips and other text drawn as code in the page's large type (not 14 px) */
.stMainBlockContainer [data-testid="stCode"] code { font-size: 1.25rem; }
</style>"""

OWN_HTML = (_SCREENS_CSS, _PRESENT_CSS)  # constant blocks of ours: never any learner text


def page_style() -> None:
    """The page's CSS for phones and projectors (call it where `app_support.kit.view.page_style` is called)."""
    st.html(_SCREENS_CSS)
    if presenting():
        st.html(_PRESENT_CSS)


def sentence_hint(url_path: str) -> None:
    """On a lesson that reads the sidebar's sentence, a note under the page's top buttons that says where to change
    it; the CSS shows it only while the sidebar is folded (a phone, presenter mode, or folded by hand)."""
    if url_path not in {lesson.address for lesson in course.LESSONS} - OWN_SENTENCES:
        return
    with st.container(key=HINT_KEY):
        st.caption("To change the sentence, open the sidebar: **»** at the top left.")
