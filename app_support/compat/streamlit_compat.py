"""Streamlit's private API, behind small named functions.

The app relies on a few things Streamlit does not promise: a private attribute, a private function, a private
field of the script's run context, and the way `st.plotly_chart` reads a figure. Each is here, with what it does and
why; nothing else in the app reaches into Streamlit but the two modules named below. They were written for Streamlit
`WRITTEN_FOR`: a test (tests/app/test_streamlit_compat.py) fails when the installed Streamlit or the pin in
requirements.txt differs, and lists `RECHECK`, what to look at again before moving the pin. The server's own patches
(the listening socket, the security headers, the sessions per client, the first page's index.html) are in
`app_support.server.server_patches`, held to the same release; so is the handout's headless run of a page (AppTest,
and the element messages it reads), in `app_support.compat.apptest`.
"""

from __future__ import annotations

import base64
import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:
    import numpy as np
    from plotly.basedatatypes import BaseFigure

WRITTEN_FOR = "1.67.0"  # the Streamlit release whose internals this module reads
RELEASE = "1.67."  # the fields read by `rerun_requested` are those of this release line

RECHECK = (
    "allow_page_rerun: StreamlitPage._can_be_called still guards page.run() once per script run",
    "run_query_string: the script run context still has .query_string, the browser's address as of this run",
    "network_address: streamlit.net_util.get_internal_ip still exists",
    "ready_figure: st.plotly_chart still takes any BaseFigure and encodes its to_dict() as it is",
    "whole_number_seed_crashes: seeding a whole-number widget from 'inf' in the URL still raises OverflowError "
    "(if fixed, widgets.link_value no longer needs to take such values out of the URL)",
    "rerun_requested: ctx.script_requests._state and ScriptRequestType still say a rerun waits",
    "page_script: StreamlitPage._page still holds the page's script as a Path",
    "session_params_reader: the run context still has .session_state, and it still has query_params(), a context "
    "manager giving the session's QueryParams",
    "on_server_start: bootstrap._on_server_start(server) is still called once the server listens",
    "current_page_path: the run context still has .pages_manager.get_pages() (by page script hash, each with "
    "url_pathname) and .page_script_hash",
    "page_scripts: each page of ctx.pages_manager.get_pages() still has url_pathname and script_path, and the run "
    "context still has .main_script_path",
    "quiet_cache_warnings: the loggers streamlit.runtime.scriptrunner_utils.script_run_context and "
    "streamlit.runtime.caching.cache_data_api still warn about caches used outside a session",
    "streamlit_command: streamlit.web.cli.main (the `streamlit` command's entry point) is still a click command that "
    "takes args= and prog_name=; bootstrap.run still sets sys.argv to [script, *the script's arguments] itself; "
    "`streamlit run` still tells `streamlit hello` apart by reading sys.argv[1:] (the launcher's own arguments now: "
    "a launcher given the one argument `hello` would count as it)",
)


# --- the live class: which page this run shows, and where each page's script is --------------------------------
def current_page_path() -> str:
    """The address path of the page this script run shows ("" for the first page, outside a run, or when unknown).
    Streamlit 1.67 keeps the pages in the run context: ``ctx.pages_manager.get_pages()[ctx.page_script_hash]``."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return ""
    page = ctx.pages_manager.get_pages().get(ctx.page_script_hash)
    return str(page.get("url_pathname", "")) if page else ""


def page_scripts() -> dict[str, str]:
    """Each page's address path → its script, relative to the main script's folder (what `st.switch_page` takes);
    empty outside a run. Streamlit 1.67 keeps the pages in ``ctx.pages_manager.get_pages()`` (``url_pathname``,
    ``script_path``) and the main script in ``ctx.main_script_path``."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return {}
    main_dir = os.path.dirname(ctx.main_script_path)
    return {
        str(page.get("url_pathname")): os.path.relpath(page["script_path"], main_dir)
        for page in ctx.pages_manager.get_pages().values()
        if page.get("url_pathname") is not None and page.get("script_path")
    }


# --- app.py: a fragment that reruns the page --------------------------------------------------------------------
def allow_page_rerun(page: Any) -> None:
    """Let ``page`` (from ``st.navigation``) run again in this script run.

    Streamlit lets the page from st.navigation run once per run of the script; a rerun of the fragment that runs it
    is the same page again. Streamlit 1.67 keeps that permission in ``StreamlitPage._can_be_called``."""
    page._can_be_called = True


# --- handout: the page's script, and the session's address when a button is clicked ------------------------------
def page_script(page: Any) -> Path | None:
    """The script of ``page`` (from ``st.navigation``), as a path; None for a page made from a function, or on a
    Streamlit that keeps it elsewhere. Streamlit 1.67 keeps it in ``StreamlitPage._page``."""
    source = getattr(page, "_page", None)
    return source if isinstance(source, Path) else None


def session_params_reader() -> Callable[[], dict[str, str] | None]:
    """A function that reads this session's address (its query parameters as of its last run, a part of the page
    rerun alone included) when called later, e.g. when a download button is clicked, outside this run. It gives None
    when the address cannot be read (outside a run, or on another Streamlit).

    The run context's ``session_state`` (private) is the session's state store; its ``query_params()`` is a context
    manager over the session's QueryParams."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    state = ctx.session_state if ctx is not None else None

    def read() -> dict[str, str] | None:
        try:
            with state.query_params() as qp:  # type: ignore[union-attr]
                return {str(k): str(v) for k, v in qp.to_dict().items()}
        except Exception:
            return None

    return read


# --- links: the address as of this run ----------------------------------------------------------------------------
def run_query_string() -> str | None:
    """The browser's query string as this script run received it, or None outside a run (or when empty).

    ``st.query_params`` is refreshed only on page loads and page switches, while a widget bound to the URL updates
    the browser's address first and reruns with it; the run's context (private) has that address."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and ctx.query_string:
        return ctx.query_string
    return None


def network_address() -> str | None:
    """This machine's address on its network (Streamlit's own guess, ``net_util.get_internal_ip``)."""
    from streamlit import net_util

    return net_util.get_internal_ip()


# --- charts: a figure Streamlit sends without rebuilding it -------------------------------------------------------
@functools.cache
def _ready_class() -> type:
    """The figure class of `ready_figure`, made on first use: the launcher imports this module before its server
    listens, and plotly's and numpy's imports (0.1 s) can wait until a first chart."""
    from plotly.basedatatypes import BaseFigure

    class Ready(BaseFigure):
        """A figure as st.plotly_chart takes it without rebuilding it.

        Streamlit asks a plotly figure for ``to_dict()`` and encodes that; given a plain dict instead, it would
        first build and validate a go.Figure from it, on every rerun. This is a figure in name only: it holds the
        JSON-ready dict and gives it back, with numeric arrays packed as plotly.js typed arrays (base64), as plotly
        would send them."""

        def __init__(self, spec: dict) -> None:
            object.__setattr__(self, "_wire", _wire(spec))  # BaseFigure's own __setattr__ would check the name

        def to_dict(self) -> dict:
            return self._wire

    return Ready


def ready_figure(spec: dict) -> BaseFigure:
    """A figure for ``st.plotly_chart`` that Streamlit encodes as it is: ``spec`` (a plotly figure's JSON-ready
    dict) with its numeric arrays packed as plotly.js typed arrays."""
    return _ready_class()(spec)


_NOT_PACKED = {"geojson", "layer", "layers", "range"}  # keys plotly leaves as they are (see convert_to_base64)
_PLAIN = (str, int, float, bool, type(None))


def _wire(value: Any) -> Any:
    """The figure spec as plotly sends it: containers copied, each numeric numpy array packed as a plotly.js typed
    array (base64). Lists of plain values (labels, hover texts) are shared, not copied: nothing here changes them."""
    import numpy as np  # here, not at the top: see `_ready_class` (once imported, this is a dictionary look-up)

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
    import numpy as np

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


# --- widgets: a value in the URL that Streamlit cannot seed a widget from -----------------------------------------
def whole_number_seed_crashes(raw: str) -> bool:
    """Whether Streamlit 1.67 would crash (OverflowError) seeding a whole-number widget bound to the URL from
    ``raw``: "inf", "-inf", "1e309" and other numbers too large for a float."""
    try:
        return math.isinf(float(raw))
    except ValueError:
        return False


# --- interrupt: has the learner asked for something while a long loop runs? ---------------------------------------
def rerun_requested() -> bool:
    """True when a rerun (a click, a changed widget) or a stop waits for this script run to end.

    Reads the run context's private ``script_requests`` state. False outside a script run, and on a Streamlit
    release other than `RELEASE` (then only Streamlit's own Stop interrupts a loop)."""
    if not st.__version__.startswith(RELEASE):
        return False
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    requests = getattr(ctx, "script_requests", None)
    if requests is None:
        return False
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

    return getattr(requests, "_state", None) in (ScriptRequestType.RERUN, ScriptRequestType.STOP)


def on_server_start(callback: Callable[[], None]) -> bool:
    """Call ``callback`` as soon as Streamlit's server accepts connections, through bootstrap's private
    ``_on_server_start(server)`` hook (Streamlit's own work there still runs after it). False, and nothing hooked,
    on a Streamlit without that hook: the caller then knows no better than "now"."""
    from streamlit.web import bootstrap

    started = getattr(bootstrap, "_on_server_start", None)
    if started is None:
        return False

    def on_start(server: object) -> None:
        callback()
        started(server)

    bootstrap._on_server_start = on_start
    return True


def streamlit_command(args: list[str]) -> None:
    """Run the ``streamlit`` command with ``args`` (e.g. ``["run", "app.py", "--server.port", "8502"]``) in this
    process, as if typed, ending as the command does (SystemExit). The arguments go to the command's entry point
    (``streamlit.web.cli.main``, a click command) directly, not through ``sys.argv``; Streamlit's ``bootstrap.run``
    then sets ``sys.argv`` to the script and the script's own arguments, as a script run by ``streamlit run``
    expects."""
    from streamlit.web import cli

    cli.main(args=args, prog_name="streamlit")


def quiet_cache_warnings() -> None:
    """Silence Streamlit's warnings about caches made and filled outside any session (the launcher's warm-up does
    that on purpose). Those warnings come from two private modules' loggers, which exist once they are imported."""
    import logging

    import streamlit.runtime.caching.cache_data_api
    import streamlit.runtime.scriptrunner_utils.script_run_context  # noqa: F401

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
