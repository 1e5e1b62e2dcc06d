"""The link to this view: the address bar's parameters, the "Copy link to this view" popover, settings a link gave
that could not be used (left out of the link), and file names that say what a download holds."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import streamlit as st

from app_support.compat import streamlit_compat
from app_support.kit import sentence
from app_support.kit.view import PRESENT, VIEW_PARAMS

_UNUSED = "_show_unused"  # session state: URL parameters this run could not use (left out of the link)
_SLOT = "_show_link_slot"  # session state: this run's (popover slot, page path) that shows the link
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
SKIP_PARAMS = {sentence.KEY, sentence.LINK_KEY, *VIEW_PARAMS}  # the sentence is named first; view settings: no data

# the live class's URL parameters (read by `app_support.classroom`); no link this module makes carries TEACHER
CLASS, TEACHER = "class", "teacher"


def _slug(text: str, limit: int) -> str:
    return _UNSAFE.sub("-", text).strip("-").lower()[:limit].strip("-")


# --- the address -----------------------------------------------------------------------------------------------------
def query_string() -> str:
    """The address bar's query string as it stands now: the browser's, plus what this run has written back.

    ``st.query_params`` is refreshed only on page loads and page switches, while a widget bound to the URL updates
    the browser's address first and reruns with it; the run's context has that address.
    """
    return streamlit_compat.run_query_string() or urlencode(st.query_params.to_dict())


def current_params() -> dict[str, str]:
    """The address bar's query parameters (the last value of a repeated one), never a live class's teacher token:
    every link and file name the page makes starts here, and the token must reach none of them (the run's own copy
    of the address still has it when the teacher link opened this run)."""
    params = dict(parse_qsl(query_string(), keep_blank_values=True))
    params.pop(TEACHER, None)
    return params


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
        ip = streamlit_compat.network_address()
        if ip and ip not in LOOPBACK:
            netloc = ip + (f":{parts.port}" if parts.port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, "", "")), True
    return base, False


def link(url_path: str) -> str:
    """A link that reproduces this view: this page, the sentence and every setting that is bound to the URL."""
    base, _ = _base(url_path)
    params = current_params()
    for key in [PRESENT, TEACHER, *st.session_state.get(_UNUSED, ())]:
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
