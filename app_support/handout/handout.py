"""The handout: a page of the course as one HTML file a student keeps (text, formulas, every figure; no network needed
to open it), whose figures have an SVG button beside their PNG camera.

The handout shows the view that the link to this view opens (the sentence and the settings in the address), with
every "predict first" answer revealed. It is made on click, in a separate process that runs the page headless
(Streamlit's AppTest) from that link, so the learner's own session is left exactly as it is; the element tree of
that run becomes the file (`app_support.handout.handout_html`). The same view asked for again (a class on one sentence)
comes from a small cache.

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

from app_support.compat import streamlit_compat
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
    first" answer, and convert what it drew into HTML. Runs in the worker process (AppTest replaces Streamlit's
    runtime while it runs)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # AppTest knows the pages' own addresses (url_path) only after a first run
    at.switch_page(script)
    at.run()
    for _ in range(40):  # each answer may draw the next question
        skips = [b.key for b in at.button if b.key and b.key.endswith("_skip")]
        if not skips or at.exception:
            break
        at.button(key=skips[0]).click().run()
    if at.exception:
        raise HandoutError("The page stopped with an error: " + str(at.exception[0].value)[:300])
    converter = _Converter()
    body = converter.block(at.main)
    heading = at.title[0].value if at.title else ""
    return heading, body


_SKIPPED = {"button", "download_button", "html", "toast", "balloons", "snow", "empty", "progress", "spinner"}


class _Converter:
    """An AppTest element tree as HTML: every text escaped (markdown through `handout_html.markdown`)."""

    def __init__(self) -> None:
        self.figures = 0

    def block(self, node: Any) -> str:
        from streamlit.testing.v1 import element_tree as et

        children = [self.node(child) for child in node.children.values()]
        inner = "\n".join(c for c in children if c)
        if not isinstance(node, et.Block) or not inner:
            return ""
        kind = node.type
        if kind == "popover":
            return ""  # the link to this view: the handout's header has it
        if isinstance(node, et.Expander | et.Tab):
            label = handout_html.markdown_inline(str(node.label))
            return f'<section class="box"><h4>{label}</h4>\n{inner}</section>'
        if isinstance(node, et.Column):
            weight = max(float(node.weight or 1.0), 0.05)
            return f'<div class="col" style="flex: {weight:.3f} 1 0">{inner}</div>'
        if any(isinstance(c, et.Column) for c in node.children.values()):
            return f'<div class="row">{inner}</div>'
        flex = getattr(node.proto, "flex_container", None) if kind == "flex_container" else None
        if flex is not None:
            direction = flex.DESCRIPTOR.fields_by_name["direction"].enum_type.values_by_number[flex.direction].name
            if direction == "HORIZONTAL":
                return f'<div class="row">{inner}</div>'
            if flex.border:
                return f'<div class="box">{inner}</div>'
        return inner

    def node(self, node: Any) -> str:
        from streamlit.testing.v1 import element_tree as et

        md = handout_html.markdown
        if isinstance(node, et.Block):
            return self.block(node)
        if isinstance(node, et.Divider):
            return "<hr>"
        if isinstance(node, et.Latex):
            body = node.value.strip()
            body = body[2:-2] if body.startswith("$$") and body.endswith("$$") else body
            return handout_html.tex(body, True)
        if isinstance(node, et.Caption):
            return f'<div class="caption">{md(node.value)}</div>'
        if isinstance(node, et.Markdown):
            return md(node.value)
        if isinstance(node, et.Title):
            return f"<h1>{handout_html.markdown_inline(node.value)}</h1>"
        if isinstance(node, et.Header):
            return f"<h2>{handout_html.markdown_inline(node.value)}</h2>"
        if isinstance(node, et.Subheader):
            return f"<h3>{handout_html.markdown_inline(node.value)}</h3>"
        if isinstance(node, et.AlertBase):
            return f'<div class="alert {html.escape(node.type)}">{md(node.value)}</div>'
        if isinstance(node, et.Code):
            return f"<pre><code>{html.escape(node.value)}</code></pre>"
        if isinstance(node, et.Metric):
            delta = f'<div class="delta">{html.escape(node.proto.delta)}</div>' if node.proto.delta else ""
            return (
                f'<div class="metric"><div>{handout_html.markdown_inline(node.proto.label)}</div>'
                f'<div class="value">{html.escape(node.value)}</div>{delta}</div>'
            )
        if isinstance(node, et.Dataframe | et.Table):
            return self.table(node)
        if isinstance(node, et.Exception):
            return f'<div class="alert error">{html.escape(str(node.value))}</div>'
        if isinstance(node, et.UnknownElement) and node.type == "plotly_chart":
            self.figures += 1
            chart = node.proto.plotly_chart if hasattr(node.proto, "plotly_chart") else node.proto
            spec = json.loads(chart.spec)
            config = json.loads(chart.config) if chart.config else {}
            return handout_html.figure(spec, config, self.figures)
        if isinstance(node, et.Widget):
            return self.widget(node)
        return ""

    def table(self, node: Any) -> str:
        try:
            frame = node.value
        except Exception:
            return ""
        shown = frame.head(200)
        note = f'<div class="caption">The first 200 of {len(frame)} rows.</div>' if len(frame) > 200 else ""
        table = shown.to_html(escape=True, border=0, na_rep="", index_names=False, float_format=lambda x: f"{x:.4g}")
        return table + note

    def widget(self, node: Any) -> str:
        """A control as the setting it had: "label: value" (a question's choices when it is not answered)."""
        kind = getattr(node, "type", "")
        if kind in _SKIPPED or kind in {"text_area", "chat_input", "file_uploader", "camera_input"}:
            return ""
        proto = node.proto
        visibility = getattr(getattr(proto, "label_visibility", None), "value", 0)
        label = "" if visibility else handout_html.markdown_inline(str(getattr(node, "label", "") or ""))
        try:
            value = node.value
        except Exception:
            value = None
        if value is None or value == [] or value == "":
            options = getattr(node, "options", None)
            if not options:
                return ""
            shown = " · ".join(html.escape(str(o)) for o in options)
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
