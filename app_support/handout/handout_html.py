"""A handout as one self-contained HTML file: the lesson's text, formulas and figures, readable offline.

Nothing here imports attnviz or draws in Streamlit: these are the pieces of the file. Markdown becomes HTML through
markdown-it-py (raw HTML off, images off, links only to http(s)), formulas are typeset in the reader's browser by
the KaTeX that Streamlit ships (its script, its CSS and its fonts embedded as data), and figures are drawn by the
plotly.js that the plotly package ships, embedded once. Every piece of text from a page is escaped: learner text can
never become markup in the file.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from pathlib import Path

import plotly
from markdown_it import MarkdownIt

from app_support.compat import apptest

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
_STATIC = apptest.static_dir()  # Streamlit's frontend files: KaTeX's script, CSS and fonts


# --- markdown ------------------------------------------------------------------------------------------------------
def _math(state, silent: bool) -> bool:  # type: ignore[no-untyped-def]
    """``$…$`` inline and ``$$…$$`` display formulas, as Streamlit's markdown reads them; ``\\$`` stays a dollar
    (markdown's escape rule takes it before this rule sees the dollar)."""
    src, pos = state.src, state.pos
    if src[pos] != "$":
        return False
    delim = "$$" if src.startswith("$$", pos) else "$"
    start = end = pos + len(delim)
    while True:
        end = src.find(delim, end)
        if end < 0:
            return False
        if src[end - 1] != "\\":
            break
        end += 1
    body = src[start:end]
    if not body.strip():
        return False
    if not silent:
        token = state.push("math_display" if delim == "$$" else "math_inline", "", 0)
        token.content = body
    state.pos = end + len(delim)
    return True


def tex(body: str, display: bool) -> str:
    """A formula, typeset by KaTeX when the file is opened (its source, escaped, is the fallback text)."""
    kind = "tex-display" if display else "tex"
    tag = "div" if display else "span"
    return f'<{tag} class="{kind}">{html.escape(body.strip())}</{tag}>'


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "#"))


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")  # an image would be fetched from the network (and none of the lessons' text has one)
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.inline.ruler.before("escape", "math", _math)
    md.add_render_rule("math_inline", lambda self, tokens, idx, options, env: tex(tokens[idx].content, False))
    md.add_render_rule("math_display", lambda self, tokens, idx, options, env: tex(tokens[idx].content, True))
    return md


_DIRECTIVE = re.compile(
    r"(?<!\\):(?:red|orange|green|blue|violet|gray|grey|rainbow|primary)(?:-background)?\[([^\]\n]*)\]"
)
_ICON = re.compile(r"(?<!\\):material/[a-z0-9_]+:")


def _streamlit_markdown(text: str) -> str:
    """Streamlit's own markdown extensions the file cannot draw: coloured text keeps its text, icons are left out."""
    return _ICON.sub("", _DIRECTIVE.sub(r"\1", text))


def markdown(text: str) -> str:
    """Markdown (as the lessons write it, with formulas) as HTML."""
    return _markdown().render(_streamlit_markdown(text))


def markdown_inline(text: str) -> str:
    """One line of markdown (a heading, a label) as HTML without a paragraph around it."""
    return _markdown().renderInline(_streamlit_markdown(text))


# --- figures ---------------------------------------------------------------------------------------------------------
def script_json(value: object) -> str:
    """JSON safe inside a <script> element: no "</script>", no "<!--"."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure(spec: dict, config: dict, index: int) -> str:
    """A plotly figure: its spec as data, drawn by the file's script when opened."""
    return (
        f'<div class="figure" id="figure-{index}"></div>'
        f'<script type="application/json" class="figure-spec" data-for="figure-{index}">'
        f"{script_json({'spec': spec, 'config': config})}</script>"
    )


# --- the SVG button beside the camera (in the handout) ------------------------------------------
# Plotly's camera saves in the one format of `toImageButtonOptions`, and a config sent as JSON cannot add a button
# (a button's action is a JavaScript function). This constant script adds, to every figure's toolbar, a second
# camera that saves SVG: it switches the figure's format to SVG, presses the camera (so the file gets the name and
# options of `kit.charts.chart`), and switches back. No learner text goes into it. (The app itself has no such script:
# scripts sent through an html element unsettled its later reruns; there the view setting `SVG` switches the camera.)
SVG_BUTTON_JS = """<script>
(() => {
  if (window.attnvizSvgButtons) { window.attnvizSvgButtons(); return; }
  const TITLE = 'Download plot as SVG';
  const add = () => {
    for (const camera of document.querySelectorAll('.js-plotly-plot .modebar-btn[data-title^="Download plot"]')) {
      if (camera.dataset.attnvizSvg || camera.classList.contains('attnviz-svg')) continue;
      const group = camera.parentElement;
      if (!group || group.querySelector('.attnviz-svg')) continue;
      camera.dataset.attnvizSvg = '1';
      const svg = camera.cloneNode(true);
      svg.classList.add('attnviz-svg');
      svg.setAttribute('data-title', TITLE);
      svg.setAttribute('aria-label', TITLE);
      delete svg.dataset.attnvizSvg;
      // the camera, smaller, above the letters SVG
      const icon = svg.querySelector('svg');
      const path = icon && icon.querySelector('path');
      if (path) {
        path.setAttribute('transform', 'matrix(0.62 0 0 -0.62 190 540)');
        const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
        label.setAttribute('x', '500'); label.setAttribute('y', '990'); label.setAttribute('text-anchor', 'middle');
        label.setAttribute('font-size', '400'); label.setAttribute('font-weight', 'bold');
        label.setAttribute('font-family', 'sans-serif');
        label.style.fill = getComputedStyle(path).fill;
        label.textContent = 'SVG';
        icon.appendChild(label);
      }
      svg.addEventListener('click', (event) => {
        event.preventDefault(); event.stopPropagation();
        const gd = camera.closest('.js-plotly-plot');
        const context = gd && gd._context;
        if (!context) return;
        const before = context.toImageButtonOptions || {};
        context.toImageButtonOptions = Object.assign({}, before, {format: 'svg', scale: 1});
        try { camera.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); }
        finally { context.toImageButtonOptions = before; }
      });
      group.insertBefore(svg, camera.nextSibling);
    }
  };
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; add(); }); } };
  window.attnvizSvgButtons = later;
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  later();
})();
</script>"""


# --- the embedded libraries ----------------------------------------------------------------------------------------
def _one(pattern: str) -> Path:
    found = sorted(_STATIC.glob(pattern))
    if not found:
        raise FileNotFoundError(f"{pattern} is not among Streamlit's static files ({_STATIC})")
    return found[0]


def _split_rules(css: str) -> list[str]:
    """Top-level CSS rules (an @media block is one rule)."""
    rules, depth, start = [], 0, 0
    for i, ch in enumerate(css):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                rules.append(css[start : i + 1].strip())
                start = i + 1
    return rules


@functools.cache
def katex_css() -> str:
    """KaTeX's rules from Streamlit's stylesheet, with its fonts embedded as data: URLs (woff2, about 340 kB)."""
    sheet = next(p for p in sorted(_STATIC.glob("css/*.css")) if "KaTeX_Main" in p.read_text(encoding="utf-8"))
    rules = [r for r in _split_rules(sheet.read_text(encoding="utf-8")) if "katex" in r.lower()]

    def embed(match: re.Match[str]) -> str:
        font = _one(f"media/{Path(match.group(1)).name}")
        return "url(data:font/woff2;base64," + base64.b64encode(font.read_bytes()).decode("ascii") + ")"

    css = re.sub(r"url\(\.\./media/([^)]+\.woff2)\)", embed, "\n".join(rules))
    if "url(../" in css:  # a font of another format: not embedded, so not referenced
        css = re.sub(r",?\s*url\(\.\./media/[^)]+\)\s*format\([^)]*\)", "", css)
    return css


@functools.cache
def katex_js() -> str:
    """Streamlit's KaTeX (an ES module with no imports) as a classic script that sets ``window.katex``."""
    source = _one("js/katex.*.js").read_text(encoding="utf-8")
    found = re.search(r"export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$", source)
    if not found or "import" in source[:200]:
        raise ValueError("Streamlit's KaTeX bundle is not the self-contained module this expects")
    return "(function(){" + source[: found.start()] + f";window.katex={found.group(1)};}})();"


@functools.cache
def plotly_js() -> str:
    return PLOTLY_JS.read_text(encoding="utf-8")


def _inline_script(code: str) -> str:
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


_CSS = """
body { font-family: "Source Sans Pro", "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #262730;
       max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.55; font-size: 16px; }
h1 { font-size: 2.2rem; margin: 0.4rem 0 0.8rem; } h2 { font-size: 1.6rem; margin-top: 2.2rem; }
h3 { font-size: 1.3rem; } h4 { font-size: 1.1rem; margin: 1rem 0 0.4rem; }
.about { color: #555; font-size: 0.95rem; border-bottom: 1px solid #ddd; padding-bottom: 0.8rem; }
.about a { color: #1c62b9; word-break: break-all; }
.caption { color: #555; font-size: 0.92rem; }
.caption p { margin: 0.3rem 0; }
.alert { border-radius: 0.5rem; padding: 0.6rem 1rem; margin: 0.6rem 0; }
.alert p { margin: 0.2rem 0; }
.alert.info { background: #e8f0fb; } .alert.success { background: #e6f4ea; }
.alert.warning { background: #fff6db; } .alert.error { background: #fde8e8; }
.box { border: 1px solid #d6d6d9; border-radius: 0.5rem; padding: 0.4rem 1rem; margin: 0.6rem 0; }
.setting { color: #555; font-size: 0.92rem; margin: 0.3rem 0; }
.setting b { color: #262730; font-weight: 600; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.row > .col { min-width: 280px; }
.figure { width: 100%; min-height: 120px; margin: 0.5rem 0; }
.metric { margin: 0.4rem 0; } .metric .value { font-size: 1.8rem; } .metric .delta { color: #555; }
pre { background: #f4f5f7; padding: 0.7rem 1rem; border-radius: 0.4rem; overflow-x: auto; white-space: pre-wrap; }
code { background: #f4f5f7; padding: 0 0.2rem; border-radius: 0.2rem; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.92rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #d6d6d9; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f5f7; }
.tex-display { margin: 0.8rem 0; overflow-x: auto; overflow-y: hidden; text-align: center; }
hr { border: none; border-top: 1px solid #ddd; margin: 1.5rem 0; }
footer { margin-top: 3rem; border-top: 1px solid #ddd; padding-top: 0.8rem; color: #555; font-size: 0.9rem; }
@media print { .figure { break-inside: avoid; } body { max-width: none; } }
"""

# Draws the formulas and the figures when the file opens. Constant: the page's text reaches it only as the text
# content of elements (formulas) and as JSON data (figures), never as code.
_DRAW_JS = """
(function () {
  document.querySelectorAll('.tex, .tex-display').forEach(function (el) {
    try {
      katex.render(el.textContent, el, {displayMode: el.classList.contains('tex-display'), throwOnError: false});
    } catch (e) { /* the formula's source stays as text */ }
  });
  document.querySelectorAll('script.figure-spec').forEach(function (data) {
    var gd = document.getElementById(data.getAttribute('data-for'));
    var figure = JSON.parse(data.textContent);
    var config = Object.assign({responsive: true, displaylogo: false}, figure.config);
    // plotly.js offers to upload the chart ("Share chart"): not from a file meant to work offline
    config.showSendToCloud = false;
    config.modeBarButtonsToRemove = (config.modeBarButtonsToRemove || []).concat(['sendChartToCloud']);
    // the app's chart theme makes room for the axes' labels (automargin); the file does the same
    var layout = Object.assign({xaxis: {}, yaxis: {}}, figure.spec.layout || {});
    Object.keys(layout).forEach(function (name) {
      var axis = layout[name];
      if (/^[xy]axis[0-9]*$/.test(name) && axis && typeof axis === 'object' && axis.automargin === undefined) {
        layout[name] = Object.assign({automargin: true}, axis);
      }
    });
    Plotly.newPlot(gd, figure.spec.data || [], layout, config);
  });
})();
"""


def document(title: str, about: str, body: str) -> str:
    """The whole file. ``title`` is plain text (escaped here); ``about`` and ``body`` are HTML made by this module's
    functions (their text already escaped)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # the file never fetches anything: no scripts, styles, fonts or images from elsewhere
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' "
        "'unsafe-eval'; style-src 'unsafe-inline'; font-src data:; img-src data: blob:\">\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_CSS}</style>\n<style>{katex_css()}</style>\n"
        f"{_inline_script(plotly_js())}\n{_inline_script(katex_js())}\n</head>\n<body>\n"
        f'<header class="about">{about}</header>\n<main>\n{body}\n</main>\n'
        "<footer>Made by attnviz. Hover a figure for its values; its camera buttons save it as PNG or SVG. "
        "This file needs no network: keep it, print it, share it.</footer>\n"
        f"{_inline_script(_DRAW_JS)}\n{SVG_BUTTON_JS}\n</body>\n</html>\n"
    )
