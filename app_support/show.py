"""How every page shows things: section headings, figures and matrices, each with its export, and the classroom
view settings (presenter mode, high contrast, numbers in cells) that apply to all of them.

Pages call these instead of ``st.header`` / ``st.plotly_chart`` so that classroom features (exports named after the
sentence and settings, presenter mode, the palette) live in one place.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import streamlit as st
from plotly.basedatatypes import BaseFigure
from streamlit import net_util
from streamlit.errors import StreamlitInvalidLayoutContextError
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_support import sentence
from attnviz import plots
from attnviz.host import to_host

# the view settings: sidebar toggles bound to the URL, so a teacher can bookmark "?present=true"
PRESENT, CONTRAST, CELLS = "present", "contrast", "cells"
VIEW_PARAMS = (PRESENT, CONTRAST, CELLS)
_STEPS = "_show_steps"  # session state: {"page": url path, "shown": sections revealed} in presenter mode
_RUN = "_show_run"  # session state: sections met so far in this script run
_UNUSED = "_show_unused"  # session state: URL parameters this run could not use (left out of the link)
_SLOT = "_show_link_slot"  # session state: this run's (popover slot, page path) that shows the link
_PREFETCHED = "_show_prefetched"  # session state: the chart library was asked for (`prefetch_charts`)

_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
SKIP_PARAMS = {sentence.KEY, *VIEW_PARAMS}  # the sentence is named first; view settings do not change the data
CELL_TEXT_MAX = 20  # "numbers in cells" writes values in heatmaps up to this many rows and columns
PRESENT_FONT = 20  # figure font size in presenter mode (the page's own text is scaled by `_PRESENT_CSS`)
HIGH_CONTRAST_DIVERGING, HIGH_CONTRAST_SEQUENTIAL = plots.HIGH_CONTRAST_DIVERGING, plots.HIGH_CONTRAST_SEQUENTIAL


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


def _slug(text: str, limit: int) -> str:
    return _UNSAFE.sub("-", text).strip("-").lower()[:limit].strip("-")


# --- the view settings ---------------------------------------------------------------------------------------------
def _flag(key: str) -> bool:
    return bool(st.session_state.get(key, False))


def presenting() -> bool:
    """Whether presenter mode is on (large type, one section at a time)."""
    return _flag(PRESENT)


def view_settings(where: Any = st.sidebar) -> None:
    """Draw the view toggles (in the sidebar). Each is bound to the URL; "1", "yes" or "on" in a link work too."""
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
        help=f"Write each value in the cells of matrices up to {CELL_TEXT_MAX} × {CELL_TEXT_MAX}, sized to the cells; "
        "where the cells are too small to read them, a note under the map says so. "
        "Hovering a cell always shows its exact value.",
    )
    from app_support import classroom  # the live class (issue 18); imported here as it imports this module

    classroom.sidebar(where)


def prefetch_charts(slot: Any) -> None:
    """On a session's first run, put an empty chart out of sight (one pixel high) in ``slot`` (an ``st.empty``),
    which the caller empties once the server has loaded what the page needs.

    The browser fetches and parses its chart library (plotly.js, about 4.6 MB) only when a chart first arrives; a
    fresh server's first page sends its first chart after loading torch and the word vectors, seconds later. With
    this, the browser loads the library in those seconds, on its own core, instead of after them."""
    if st.session_state.get(_PREFETCHED):
        return
    st.session_state[_PREFETCHED] = True
    with slot.container(key="show_prefetch", height=1, border=False):
        st.plotly_chart(
            _Ready(plots.Figure({"data": [], "layout": {"height": 10, "template": {}}})),
            key="show_prefetch_chart",
            config={"staticPlot": True, "displayModeBar": False},
        )


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
    if _flag(CONTRAST):
        st.html(_CONTRAST_CSS)


# --- links -------------------------------------------------------------------------------------------------------
def query_string() -> str:
    """The address bar's query string as it stands now: the browser's, plus what this run has written back.

    ``st.query_params`` is refreshed only on page loads and page switches, while a widget bound to the URL updates
    the browser's address first and reruns with it; the run's context has that address.
    """
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.query_string:
        return ctx.query_string
    return urlencode(st.query_params.to_dict())


def current_params() -> dict[str, str]:
    """The address bar's query parameters (the last value of a repeated one)."""
    return dict(parse_qsl(query_string(), keep_blank_values=True))


LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _base(url_path: str = "") -> tuple[str, bool]:
    """The app's root address for others: when the teacher's browser says "localhost" and the server listens on
    the network, the machine's network address instead (what students type). Returns (address, whether swapped).

    ``st.context.url`` ends with the current page's path (``url_path``), which is taken off.
    """
    base = (st.context.url or "http://localhost:8501").rstrip("/")
    if url_path and base.endswith("/" + url_path):
        base = base[: -len(url_path) - 1]
    parts = urlsplit(base)
    if parts.hostname in LOOPBACK and st.get_option("server.address") in (None, "", "0.0.0.0", "::"):
        ip = net_util.get_internal_ip()
        if ip and ip not in LOOPBACK:
            netloc = ip + (f":{parts.port}" if parts.port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, "", "")), True
    return base, False


def link(url_path: str) -> str:
    """A link that reproduces this view: this page, the sentence and every setting that is bound to the URL."""
    base, _ = _base(url_path)
    params = current_params()
    for key in [PRESENT, *st.session_state.get(_UNUSED, ())]:
        params.pop(key, None)  # a link for the students' laptops; the teacher bookmarks presenter mode on purpose
    query = urlencode(params)
    return f"{base}/{url_path}" + ("?" + query if query else "")


def share_link(url_path: str) -> None:
    """A "Copy link to this view" popover with the link; a setting the page cannot use rewrites it (`unused`)."""
    with st.popover("Copy link to this view", icon=":material/link:", help="A link that reopens this exact view"):
        st.caption(
            "Anyone who opens this link sees this lesson with the same sentence and settings. "
            "Use the copy button at the right of the box."
        )
        if _base(url_path)[1]:
            st.caption(
                "Your browser calls this computer “localhost”, a name only this computer understands: the link uses "
                "its network address instead, for the students' laptops on the same network."
            )
        slot = st.empty()
    st.session_state[_SLOT] = (slot, url_path)
    st.session_state[_UNUSED] = set()
    _fill_link()


def refresh_link() -> None:
    """Rewrite the link to this view (drawn by `share_link`) with the settings as they are now.

    A fragment that writes to the link's place must do so on every run, full runs included: Streamlit keeps that
    place for a fragment only if the fragment wrote to it during the last full run.
    """
    if _SLOT in st.session_state:
        _fill_link()


def _fill_link() -> None:
    slot, url_path = st.session_state[_SLOT]
    slot.code(link(url_path), language=None, wrap_lines=True)


def unused(key: str) -> None:
    """Note that the URL's value for ``key`` could not be used: the link to this view leaves it out.

    The link is rewritten at once: the page may stop (`st.stop`) before its end.
    """
    st.session_state[_UNUSED] = {*st.session_state.get(_UNUSED, ()), key}
    if _SLOT in st.session_state:
        _fill_link()


def file_stem(name: str) -> str:
    """A file name (no extension) that says what is in the file: figure or matrix, sentence, page settings.

    Only ASCII letters, digits and dashes survive, so no learner text can make a path or a header unsafe.
    """
    parts = ["attnviz", _slug(name, 40) or "figure", _slug(sentence.current(), 60) or "no-sentence"]
    skip = SKIP_PARAMS | set(st.session_state.get(_UNUSED, ()))
    params = sorted((k, v) for k, v in current_params().items() if k not in skip)
    settings = [f"{_slug(k, 20)}-{_slug(str(v), 20)}" for k, v in params]
    parts += [s for s in settings if s.strip("-")]
    return "_".join(parts)[:180]


# --- sections, one at a time in presenter mode ------------------------------------------------------------------
def begin_page(url_path: str) -> None:
    """Called by the entry script before a page runs: count its sections afresh; a new page starts at section 1."""
    st.session_state[_RUN] = 0
    steps = st.session_state.get(_STEPS)
    if not isinstance(steps, dict) or steps.get("page") != url_path:
        st.session_state[_STEPS] = {"page": url_path, "shown": 1}


def _reveal(count: int | None) -> None:
    steps = st.session_state.get(_STEPS) or {"page": "", "shown": 1}
    st.session_state[_STEPS] = steps | {"shown": count if count is not None else steps["shown"] + 1}


def step(title: str) -> None:
    """A section of a lesson: its heading. In presenter mode only the revealed sections are drawn: at the first
    hidden one this draws the "Next step" button and stops the page."""
    st.session_state[_RUN] = number = int(st.session_state.get(_RUN, 0)) + 1
    if presenting():
        shown = int((st.session_state.get(_STEPS) or {}).get("shown", 1))
        if number > shown:
            st.divider()
            row = st.container(horizontal=True, gap="medium")
            row.button(
                "Next step",
                key="show_next",
                type="primary",
                icon=":material/arrow_downward:",
                shortcut="n",
                on_click=_reveal,
                args=(None,),
                help="Reveal the next section (key N)",
            )
            row.button(
                "Show all steps",
                key="show_all",
                on_click=_reveal,
                args=(10_000,),
                help="Reveal every section of this lesson",
            )
            st.stop()
        if number > 1:
            st.divider()
    st.header(title)


def section(body: Callable[[], None]) -> None:
    """Run one part of a lesson as a fragment: a control inside it reruns this part alone.

    With a class on one server, what a rerun costs is what the server can serve; most controls change one part of
    the page. The part reads what the page computed before it (its closure, from the run that drew it) and leaves
    nothing that the rest of the page needs. In presenter mode it runs as plain page code: a hidden step there must
    stop the whole page, and a fragment would stop only itself.
    """
    if presenting():
        body()
        return
    count = st.session_state.get(_RUN, 0)  # sections met before this part, in the run that drew it

    @st.fragment
    def part() -> None:
        st.session_state[_RUN] = count  # a rerun of this part numbers its sections as the whole page did
        try:
            body()
        finally:
            # the link to this view, with this part's settings as they are now. Streamlit lets a fragment write
            # outside itself only where it wrote during the last full run of the app; a part first drawn by a rerun
            # of the lesson alone leaves the link as the lesson wrote it.
            with contextlib.suppress(StreamlitInvalidLayoutContextError):
                refresh_link()

    part()


# --- figures ------------------------------------------------------------------------------------------------------
_DECIMALS = re.compile(r"%\{z:\.(\d+)f\}")


def _shape(z: object) -> tuple[int, ...]:
    """The shape of a heatmap's z: a list of rows, an array, or plotly's packed {"bdata", "shape"} form."""
    if isinstance(z, dict):
        return tuple(int(n) for n in str(z.get("shape", "")).split(",") if n.strip())
    return np.shape(z) if z is not None else ()


def styled(fig: plots.Figure, *, cells: bool = False, contrast: bool = False, present: bool = False) -> plots.Figure:
    """The figure as the view settings want it: values written in the cells of small heatmaps, high-contrast
    scales and lines, presenter-size type.

    Returns the figure itself when no setting changes it (no copy is made), else a new figure.
    """
    if not (cells or contrast or present):
        return fig
    spec = fig.to_dict()  # a copy: the original is left alone
    spec.setdefault("layout", {})
    for trace in spec.get("data", []):
        kind = trace.get("type")
        if kind == "heatmap":
            shape = _shape(trace.get("z"))
            if cells and "texttemplate" not in trace and len(shape) == 2 and max(shape) <= CELL_TEXT_MAX:
                found = _DECIMALS.search(str(trace.get("hovertemplate", "")))
                decimals = int(found.group(1)) if found else 2
                notes = spec["layout"].get("annotations") or []
                if plots.cells_fit(spec, trace, decimals):
                    # no font size: plotly.js fits the numbers to the cells as drawn, and picks a dark or light font
                    trace["texttemplate"] = f"%{{z:.{decimals}f}}"
                elif plots.CELLS_NOTE not in notes:
                    spec["layout"]["annotations"] = [*notes, plots.CELLS_NOTE]
                    spec["layout"]["margin"] = (spec["layout"].get("margin") or {}) | {"b": 34}
            stronger = plots.high_contrast_scale(trace.get("colorscale")) if contrast else None
            if stronger is not None:  # the value scales only: a grey cover or a palette of categories stays
                trace["colorscale"] = stronger
        elif contrast and kind in {"scatter", "scattergl"}:
            # only plotly's default widths and sizes grow: a width or size the figure set may carry a value (the
            # head view draws stronger attention as thicker lines)
            trace.setdefault("line", {}).setdefault("width", 3.5)
            trace.setdefault("marker", {}).setdefault("size", 9)
        elif contrast and kind == "bar":
            trace.setdefault("marker", {})["line"] = {"color": "#000000", "width": 1.5}
    if contrast:
        for name, axis in spec["layout"].items():  # a colour scale shared by several traces (a grid of maps)
            if name.startswith("coloraxis") and isinstance(axis, dict):
                stronger = plots.high_contrast_scale(axis.get("colorscale"))
                if stronger is not None:
                    axis["colorscale"] = stronger
        _black_type(spec)
    if present:
        _presenter_type(spec)
    return plots.Figure(spec)


def _black_type(spec: dict) -> None:
    """Black text everywhere in a figure on white: Streamlit's chart theme greys its axis titles and ticks, so
    each part gets an explicit colour."""
    black = {"color": "#000000"}
    layout = spec["layout"]
    layout |= {"paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff"}
    layout["font"] = (layout.get("font") or {}) | black
    if isinstance(layout.get("title"), dict):
        layout["title"]["font"] = (layout["title"].get("font") or {}) | black
    for name, axis in layout.items():
        if isinstance(axis, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            axis["tickfont"] = (axis.get("tickfont") or {}) | black
            axis["color"] = "#000000"
            if isinstance(axis.get("title"), dict):
                axis["title"]["font"] = (axis["title"].get("font") or {}) | black
    legend = layout.get("legend") or {}
    layout["legend"] = legend | {"font": (legend.get("font") or {}) | black}
    for trace in spec.get("data", []):
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"]["tickfont"] = (trace["colorbar"].get("tickfont") or {}) | black
            if isinstance(trace["colorbar"].get("title"), dict):
                trace["colorbar"]["title"]["font"] = (trace["colorbar"]["title"].get("font") or {}) | black


def _sized(font: object, size: int) -> dict:
    return (font if isinstance(font, dict) else {}) | {"size": size}


def _presenter_type(spec: dict) -> None:
    """Large type in every part of a figure: Streamlit's chart theme sets its own sizes for titles, ticks and
    legends, so each gets an explicit size (the layout's font alone would not reach them)."""
    layout = spec["layout"]
    size = max(int(_sized(layout.get("font"), 15)["size"]), PRESENT_FONT)
    small = size - 2  # ticks and notes
    layout["font"] = _sized(layout.get("font"), size)
    layout["hoverlabel"] = {"font": {"size": size}}
    title = layout.get("title")
    if isinstance(title, dict):
        title["font"] = _sized(title.get("font"), size + 2)
    for name, axis in layout.items():
        if isinstance(axis, dict) and (name.startswith("xaxis") or name.startswith("yaxis")):
            axis["tickfont"] = _sized(axis.get("tickfont"), small)
            if isinstance(axis.get("title"), dict):
                axis["title"]["font"] = _sized(axis["title"].get("font"), size)
    legend = layout.get("legend") or {}
    layout["legend"] = legend | {"font": _sized(legend.get("font"), small)}
    for note in layout.get("annotations") or []:
        if isinstance(note, dict):
            note["font"] = _sized(note.get("font"), max(int(_sized(note.get("font"), small)["size"]), small))
    for trace in spec.get("data", []):
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"]["tickfont"] = _sized(trace["colorbar"].get("tickfont"), small)
    if isinstance(layout.get("height"), int | float):
        layout["height"] = int(min(1100, layout["height"] * 1.25))


class _Ready(BaseFigure):
    """A figure as st.plotly_chart takes it without rebuilding it.

    Streamlit asks a plotly figure for ``to_dict()`` and encodes that; given a plain dict instead, it would first
    build and validate a go.Figure from it, on every rerun. This is a figure in name only: it holds the JSON-ready
    dict and gives it back, with numeric arrays packed as plotly.js typed arrays (base64), as plotly would send them.
    """

    def __init__(self, fig: plots.Figure) -> None:
        object.__setattr__(self, "_wire", _wire(fig.spec))

    def to_dict(self) -> dict:
        return self._wire


_NOT_PACKED = {"geojson", "layer", "layers", "range"}  # keys plotly leaves as they are (see convert_to_base64)
_PLAIN = (str, int, float, bool, type(None))


def _wire(value: Any) -> Any:
    """The figure spec as plotly sends it: containers copied, each numeric numpy array packed as a plotly.js typed
    array (base64). Lists of plain values (labels, hover texts) are shared, not copied: nothing here changes them."""
    if isinstance(value, dict):
        return {k: v if k in _NOT_PACKED else _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if all(isinstance(v, _PLAIN) for v in value):
            return value
        return [_wire(v) for v in value]
    if isinstance(value, np.ndarray) and value.size:
        return _packed(value)
    return value


def _packed(a: np.ndarray) -> Any:
    """A numpy array as plotly.js reads a typed array: {"dtype", "bdata" (base64), "shape"}, float32 kept as float32;
    other arrays (bool, strings, integers beyond 32 bits) as lists."""
    if a.dtype.kind == "f":
        code, dtype = ("f4", np.float32) if a.dtype.itemsize <= 4 else ("f8", np.float64)
    elif a.dtype.kind in "iu" and a.min() >= -(2**31) and a.max() < 2**31:
        code, dtype = "i4", np.int32
    else:
        return a.tolist()
    packed = {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(a, dtype=dtype)).decode("ascii")}
    if a.ndim > 1:
        packed["shape"] = ", ".join(str(n) for n in a.shape)
    return packed


def chart(
    fig: plots.Figure,
    *,
    key: str,
    name: str,
    where: object = st,
    csv: tuple[object, Sequence[str], Sequence[str]] | None = None,
) -> None:
    """Draw a plotly figure. Its camera button saves a PNG (drawn in the browser, so it works offline), named by
    ``file_stem(name)``.

    Args:
        csv: (values (R, C), R row labels, C column labels): the matrix the figure shows, offered as a CSV
            download under the figure (see `matrix_download`).
    """
    config = {
        "displaylogo": False,
        # the camera (PNG), zoom and reset only: a short toolbar that leaves the figure's title readable on a phone
        "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "pan2d", "select2d", "lasso2d"],
        "toImageButtonOptions": {"format": "png", "filename": file_stem(name), "scale": 2},
    }
    box = where.container() if csv is not None else where  # type: ignore[attr-defined]
    fig = styled(fig, cells=_flag(CELLS), contrast=_flag(CONTRAST), present=presenting())
    box.plotly_chart(_Ready(fig), key=key, config=config)
    if csv is not None:
        values, rows, cols = csv
        matrix_download(values, rows, cols, key=f"{key}_csv", name=name, where=box)


def matrix_csv(values: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> str:
    """A matrix as CSV: a header row of column labels, then one labelled row per matrix row.

    Args:
        values: (R, C) numbers.
        rows, cols: R and C labels; learner words are quoted so commas, quotes and leading "=" stay text.
    """
    values = np.asarray(values)  # (R, C)
    if values.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix of shape {values.shape} with {len(rows)} row and {len(cols)} column labels")

    def cell(label: str) -> str:
        label = str(label)
        if label and label[0] in "=+-@\t\r":  # a spreadsheet would run these as formulas
            label = "'" + label
        return '"' + label.replace('"', '""') + '"'

    lines = [",".join([cell("")] + [cell(c) for c in cols])]
    lines += [",".join([cell(r)] + [f"{float(x):.6g}" for x in row]) for r, row in zip(rows, values, strict=True)]
    return "\n".join(lines) + "\n"


def matrix_download(
    values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, key: str, name: str, where: object = st
) -> None:
    """A button that downloads the matrix as CSV, named by ``file_stem(name)``; the CSV is made only when clicked."""
    if hasattr(values, "detach"):
        values = to_host(values)  # type: ignore[arg-type]
    values, rows, cols = np.array(values, dtype=np.float64, copy=True), list(rows), list(cols)
    where.download_button(  # type: ignore[attr-defined]
        f"Download {name} as CSV",
        data=lambda: matrix_csv(values, rows, cols),
        file_name=file_stem(name) + ".csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
        type="tertiary",
        help=f"{values.shape[0]} rows × {values.shape[1]} columns, with the row and column labels",
    )
