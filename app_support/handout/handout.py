"""The handout: a page of the course as one HTML file a student keeps (text, formulas, every figure; no network needed
to open it), whose figures have an SVG button beside their PNG camera.

The handout shows the view that the link to this view opens (the sentence and the settings in the address), with
every "predict first" answer revealed. It is made on click, in a separate process that runs the page headless
from that link (`app_support.compat.apptest`, around Streamlit's AppTest), so the learner's own session is left
exactly as it is; what that run drew becomes the file (`app_support.handout.handout_html`). The same view asked for
again (a class on one sentence) comes from a small cache.

    python -m app_support.handout.handout REQUEST.json     the worker: {"page": script, "params": {...}, "out": path}
"""

from __future__ import annotations

import collections
import html
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from app_support.compat import apptest, streamlit_compat
from app_support.handout import handout_html
from app_support.kit import links, sentence, view

ROOT = Path(__file__).resolve().parents[2]
# the browser gives up on a file made on click after 180 s (Streamlit 1.67's frontend): waiting for another
# learner's handout and running this one fit in that, or the learner gets a file that says why not
BUDGET_S = 170
TIMEOUT_S = 150  # a page run headless from scratch: loading the vectors (and the model on pages 3 and 5b–6c) first
CACHE_ENTRIES = 8  # views kept (the page's own part of the file, a few hundred kB each; the libraries are shared)
_DROPPED = {view.PRESENT}  # presenter mode hides all but the revealed steps: a handout has them all
_DROPPED_PREFIXES = ("class", "teacher")  # a live class's code and the teacher's token never reach the worker
_LOG = logging.getLogger(__name__)
_lock = threading.Lock()  # one handout made at a time per server process (two cores serve the class too)
_cache: collections.OrderedDict[tuple, tuple[str, str]] = collections.OrderedDict()


# --- the button (in the app) ----------------------------------------------------------------------------------------
def handout_params(params: dict[str, str]) -> dict[str, str]:
    """The address's parameters that the handout's run gets: the view, without presenter mode or a class."""
    return {
        k: v
        for k, v in params.items()
        if k not in _DROPPED and not k.lower().startswith(_DROPPED_PREFIXES) and len(v) <= 10_000
    }


def offer(page: Any, where: Any = st) -> None:
    """A "Download a handout of this page" button. The file is made on click.

    Args:
        page: the current ``st.Page`` (from ``st.navigation``).
    """
    script = _script_of(page)
    if script is None:
        return
    fresh_params = streamlit_compat.session_params_reader()
    drawn = links.current_params()  # the address now; a part of the page rerun alone since may have changed it
    base = links.link(page.url_path).split("?", 1)[0]
    title = str(getattr(page, "title", "") or "attnviz")

    def make() -> bytes:
        params = handout_params(fresh_params() or drawn)
        return handout(script, params, title=title, base=base).encode("utf-8")

    where.download_button(
        "Download a handout of this page",
        data=make,
        file_name=links.file_stem(f"handout {page.url_path or 'embeddings'}") + ".html",
        mime="text/html",
        key="handout_download",
        icon=":material/download:",
        on_click="ignore",
        help="One HTML file with this page's text, formulas and figures, for this sentence and these settings, "
        "every “predict first” answer revealed. It opens in any browser without a network. Made when you click: "
        "the page is run afresh for it, which takes as long as opening it on a freshly started server; the same view "
        "asked for again comes at once.",
    )


def _script_of(page: Any) -> str | None:
    """The page's script, relative to the app's folder."""
    source = streamlit_compat.page_script(page)
    if source is None:
        return None
    try:
        return source.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None


# --- making the file --------------------------------------------------------------------------------------------------
class HandoutError(RuntimeError):
    """The page could not be run for a handout."""


def handout(script: str, params: dict[str, str], *, title: str, base: str = "") -> str:
    """The handout of ``script`` (e.g. ``lessons/similarity.py``) for the view ``params``: the whole HTML file.

    On failure, a short HTML file that says what went wrong (the download still gives the learner a reason).
    """
    started = time.perf_counter()
    try:
        heading, body = page_body(script, params)
    except HandoutError as error:
        return _failure(title, str(error))
    words = sentence.clean(params.get(sentence.KEY, sentence.DEFAULT))[0]  # as the page used it
    settings = ", ".join(f"{k} = {v}" for k, v in sorted(params.items()) if k != sentence.KEY)
    link = base + ("?" + urlencode(params) if params else "") if base.startswith(("http://", "https://")) else ""
    about = (
        f"<div><b>attnviz handout</b> · {html.escape(heading or title)}</div>"
        f"<div>Sentence: “{html.escape(words)}”"
        + (f" · settings: {html.escape(settings)}" if settings else "")
        + f" · made {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC</div>"
        "<div>Every “predict first” answer is revealed below."
        + (f' The live page: <a href="{html.escape(link)}">{html.escape(link)}</a>' if link else "")
        + "</div>"
    )
    text = handout_html.document(f"attnviz handout — {heading or title}", about, body)
    _LOG.info("handout of %s made in %.1f s (%d bytes)", script, time.perf_counter() - started, len(text))
    return text


def _failure(title: str, reason: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>attnviz handout — {html.escape(title)}</title></head><body>"
        f"<h1>The handout of “{html.escape(title)}” could not be made</h1><p>{html.escape(reason)}</p>"
        "<p>Try again in a minute, or save the figures one by one with their camera buttons.</p></body></html>\n"
    )


def page_body(script: str, params: dict[str, str]) -> tuple[str, str]:
    """(the page's title, the HTML of its content), from a headless run in a worker process; cached per view."""
    key = (script, tuple(sorted(params.items())))
    deadline = time.monotonic() + BUDGET_S
    if not _lock.acquire(timeout=BUDGET_S - 30):
        raise HandoutError("The server is busy making other handouts. Try again in a minute.")
    try:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        result = _run_worker(script, params, min(TIMEOUT_S, deadline - time.monotonic()))
        _cache[key] = result
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
        return result
    finally:
        _lock.release()


def _run_worker(script: str, params: dict[str, str], timeout: float = TIMEOUT_S) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="attnviz-handout-") as folder:
        request, out = Path(folder) / "request.json", Path(folder) / "out.json"
        request.write_text(json.dumps({"page": script, "params": params, "out": str(out)}), encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "app_support.handout.handout", str(request)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
            )
        except subprocess.TimeoutExpired as error:
            raise HandoutError(f"The page took longer than {timeout:.0f} s to run.") from error
        if not out.exists():
            _LOG.warning("handout worker failed: %s", done.stderr.decode("utf-8", "replace")[-2000:])
            raise HandoutError("The page could not be run (the server's log says why).")
        answer = json.loads(out.read_text(encoding="utf-8"))
    if "error" in answer:
        raise HandoutError(answer["error"])
    return answer["title"], answer["body"]


# --- the worker: the page run headless, its elements as HTML ---------------------------------------------------------
def render_page(script: str, params: dict[str, str]) -> tuple[str, str]:
    """Run ``script`` from app.py as a fresh session would open the link with ``params``, reveal every "predict
    first" answer, and convert what it drew into HTML. Runs in the worker process (`apptest.run_page` replaces
    Streamlit's runtime while it runs)."""
    page = apptest.run_page(ROOT / "app.py", script, params, timeout=TIMEOUT_S, press_suffix="_skip")
    if page.error is not None:
        raise HandoutError("The page stopped with an error: " + page.error[:300])
    return page.title, _Converter().block(page.main)


_SKIPPED = {"button", "download_button", "html", "toast", "balloons", "snow", "empty", "progress", "spinner"}
_CONTAINERS = {"block", "column", "expander", "tab", "popover", "flex"}


class _Converter:
    """A page's parts (`apptest.Part`) as HTML: every text escaped (markdown through `handout_html.markdown`)."""

    def __init__(self) -> None:
        self.figures = 0

    def block(self, part: apptest.Part) -> str:
        children = [self.node(child) for child in part.children]
        inner = "\n".join(c for c in children if c)
        if part.kind not in _CONTAINERS or not inner or part.kind == "popover":
            return ""  # a popover: the link to this view, which the handout's header has
        if part.kind in ("expander", "tab"):
            return f'<section class="box"><h4>{handout_html.markdown_inline(part.label)}</h4>\n{inner}</section>'
        if part.kind == "column":
            weight = max(part.weight or 1.0, 0.05)
            return f'<div class="col" style="flex: {weight:.3f} 1 0">{inner}</div>'
        if any(c.kind == "column" for c in part.children) or (part.kind == "flex" and part.horizontal):
            return f'<div class="row">{inner}</div>'
        if part.kind == "flex" and part.border:
            return f'<div class="box">{inner}</div>'
        return inner

    def node(self, part: apptest.Part) -> str:
        md, kind = handout_html.markdown, part.kind
        if kind in _CONTAINERS:
            return self.block(part)
        if kind == "divider":
            return "<hr>"
        if kind == "latex":
            body = part.text.strip()
            body = body[2:-2] if body.startswith("$$") and body.endswith("$$") else body
            return handout_html.tex(body, True)
        if kind == "caption":
            return f'<div class="caption">{md(part.text)}</div>'
        if kind == "markdown":
            return md(part.text)
        headings = {"title": "h1", "header": "h2", "subheader": "h3"}
        if kind in headings:
            return f"<{headings[kind]}>{handout_html.markdown_inline(part.text)}</{headings[kind]}>"
        if kind == "alert":
            return f'<div class="alert {html.escape(part.type)}">{md(part.text)}</div>'
        if kind == "code":
            return f"<pre><code>{html.escape(part.text)}</code></pre>"
        if kind == "metric":
            delta = f'<div class="delta">{html.escape(part.delta)}</div>' if part.delta else ""
            return (
                f'<div class="metric"><div>{handout_html.markdown_inline(part.label)}</div>'
                f'<div class="value">{html.escape(part.text)}</div>{delta}</div>'
            )
        if kind == "table":
            return self.table(part.table)
        if kind == "exception":
            return f'<div class="alert error">{html.escape(part.text)}</div>'
        if kind == "plotly_chart":
            self.figures += 1
            config = json.loads(part.config) if part.config else {}
            return handout_html.figure(json.loads(part.spec), config, self.figures)
        if kind == "widget":
            return self.widget(part)
        return ""

    def table(self, frame: Any) -> str:
        if frame is None:
            return ""
        shown = frame.head(200)
        note = f'<div class="caption">The first 200 of {len(frame)} rows.</div>' if len(frame) > 200 else ""
        table = shown.to_html(escape=True, border=0, na_rep="", index_names=False, float_format=lambda x: f"{x:.4g}")
        return table + note

    def widget(self, part: apptest.Part) -> str:
        """A control as the setting it had: "label: value" (a question's choices when it is not answered)."""
        if part.type in _SKIPPED or part.type in {"text_area", "chat_input", "file_uploader", "camera_input"}:
            return ""
        label = "" if part.label_hidden else handout_html.markdown_inline(part.label)
        value = part.value
        if value is None or value == () or value == "":
            if not part.options:
                return ""
            shown = " · ".join(html.escape(o) for o in part.options)
            return f'<div class="setting">{label + ": " if label else ""}choices: {shown}</div>'
        if isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        return f'<div class="setting">{label + ": " if label else ""}<b>{html.escape(text)}</b></div>'


def _worker(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    out = Path(request["out"])
    try:
        title, body = render_page(request["page"], dict(request["params"]))
        answer: dict[str, str] = {"title": title, "body": body}
    except HandoutError as error:
        answer = {"error": str(error)}
    out.write_text(json.dumps(answer), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1]))
