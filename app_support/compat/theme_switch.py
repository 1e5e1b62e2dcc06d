"""The light or the dark theme for each session, chosen by the page (the "Dark theme" view setting, ``?dark=true``).

Streamlit reads its theme from `.streamlit/config.toml` once for every browser, and sends it with the message that
opens each script run (``NewSession.custom_theme``); when both ``[theme.light]`` and ``[theme.dark]`` are set, its
browser code picks one by the device's colour scheme. A classroom wants the choice in the link instead, like the
other view settings. This module changes that one message on its way out: it keeps one of the two sections (the
one this session asks for) as the whole theme, so the browser gets a single theme and switches to it at once.

This reaches into Streamlit's internals, like `app_support.compat.streamlit_compat` (whose `WRITTEN_FOR` it shares: the
test of that module fails when the installed Streamlit moves); it lives apart because that module is at its size
limit. What it reads, to re-check before moving the pin, is `RECHECK`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import streamlit as st

from app_support.compat.streamlit_compat import RELEASE

RECHECK = (
    "install: AppSession._create_new_session_message(self, page_script_hash, run_descriptor, pages=None) still "
    "makes the NewSession message, with the theme in new_session.custom_theme (its light and dark sections "
    "sub-messages of the same type), and AppSession.request_rerun(self, client_state) still receives the browser's "
    "query_string",
    "use_dark: the runtime's _session_mgr.get_session_info(session_id).session is the session's AppSession",
)
PARAM = "dark"  # the view setting's key and its name in the address
TRUE = frozenset({"true", "1", "yes", "on"})  # what the address may say for "on" (app_support.kit.view reads the same)
_WANT, _SENT, _QUERY = "_attnviz_dark", "_attnviz_dark_sent", "_attnviz_query"  # attributes set on an AppSession


def asked_in(query_string: str) -> bool:
    """Whether an address's query string turns the dark theme on (``dark=true``, or 1, yes, on)."""
    return any(key == PARAM and value.strip().lower() in TRUE for key, value in parse_qsl(query_string))


def one_theme(theme: Any, dark: bool) -> None:
    """Make a ``CustomThemeConfig`` message a single theme, in place: the ``dark`` (or ``light``) section's colours
    over the ``[theme]`` ones, that section's base, and no sections left for the browser to choose between."""
    chosen = type(theme)()
    chosen.CopyFrom(theme.dark if dark else theme.light)
    theme.ClearField("light")
    theme.ClearField("dark")
    theme.MergeFrom(chosen)  # a colour set in the section replaces the one from [theme]
    theme.base = theme.BaseTheme.DARK if dark else theme.BaseTheme.LIGHT


def install() -> bool:
    """Hook the theme choice into Streamlit's server, once per process. False (nothing hooked) on a Streamlit of
    another release line: the app then shows the light theme only (`one_theme` is not applied, so the browser would
    follow the device's scheme)."""
    if not st.__version__.startswith(RELEASE):
        return False
    from streamlit.runtime.app_session import AppSession

    made = AppSession._create_new_session_message
    if getattr(made, "attnviz", False):
        return True
    asked = AppSession.request_rerun

    def request_rerun(self: Any, client_state: Any) -> None:
        if client_state is not None:  # the browser's address as of this request (a rerun by the app keeps the last)
            setattr(self, _QUERY, client_state.query_string)
        asked(self, client_state)

    def create_new_session_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        msg = made(self, *args, **kwargs)
        dark = getattr(self, _WANT, None)
        if dark is None:  # before the page has said: as the address says
            dark = asked_in(getattr(self, _QUERY, ""))
        setattr(self, _SENT, dark)
        one_theme(msg.new_session.custom_theme, dark)
        return msg

    create_new_session_message.attnviz = True  # type: ignore[attr-defined]
    AppSession.request_rerun = request_rerun
    AppSession._create_new_session_message = create_new_session_message
    return True


def use_dark(dark: bool) -> bool:
    """Ask for the dark (or light) theme for this session from the next script run on. Returns True when the theme
    this run opened with is the other one, so the page must run again for the browser to get it; False when it is
    the one asked for, or outside a served session (AppTest)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not Runtime.exists():
        return False
    manager = getattr(Runtime.instance(), "_session_mgr", None)  # AppTest's runtime is a stand-in without one
    info = manager.get_session_info(ctx.session_id) if manager is not None else None
    session = getattr(info, "session", None)
    if session is None:
        return False
    setattr(session, _WANT, dark)
    # read after the line above: a run whose message has not been made yet makes it with this choice
    return getattr(session, _SENT, False) != dark
