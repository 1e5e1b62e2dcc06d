"""A page run headless, as plain values: the handout's use of Streamlit's internals, in one place.

The handout (`app_support.handout.handout`) runs a page as a fresh session would open its link, with Streamlit's
AppTest, and turns what the page drew into HTML. AppTest is meant for tests; reading what it drew means reading its
element tree and, for some elements, the protobuf messages Streamlit sends the browser (a flex container's direction,
a metric's label and delta, a figure's JSON, whether a widget's label is shown). All of that is here: `run_page`
gives back `Part`s, frozen Python values, and nothing else in the app reaches into AppTest or Streamlit's messages.
Streamlit's own frontend files (the handout embeds their KaTeX) are found by `static_dir`.

Held to Streamlit `WRITTEN_FOR`, like `app_support.compat.streamlit_compat`: tests/app/test_compat_apptest.py fails
when the installed Streamlit or the pin moves, and lists `RECHECK`, what to look at again first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app_support.compat.streamlit_compat import WRITTEN_FOR

__all__ = ["RECHECK", "WRITTEN_FOR", "Page", "Part", "run_page", "static_dir"]

RECHECK = (
    "run_page: streamlit.testing.v1.AppTest.from_file(path, default_timeout=), .query_params, .run(), "
    ".switch_page(script) (it knows the pages' addresses after a first run), .button with .key and .click(), "
    ".exception (each with .value), .title and .main still run a page headless as a fresh session opens its link",
    "run_page: the element tree's classes (Block, Column.weight, Expander and Tab .label, Markdown and its Caption, "
    "Divider and Latex, Title, Header, Subheader, AlertBase, Code, Metric, Dataframe, Table, Exception, Widget, "
    "UnknownElement) and their .type, .value, .label and .options are what `_part` reads",
    "run_page: the protobuf fields `_part` reads: a block's flex_container (direction, an enum whose names include "
    "HORIZONTAL; border), a metric's label and delta, an st.plotly_chart element's spec and config (JSON text; "
    "AppTest gives it as UnknownElement of type plotly_chart), a widget's label_visibility.value (0: shown)",
    "static_dir: file_util.get_static_dir() / 'static' still holds the frontend's bundled files (KaTeX's script, "
    "its CSS and fonts)",
)


@dataclass(frozen=True)
class Part:
    """One element or container the page drew, as the handout draws it.

    ``kind`` says which: a container ("block", "column", "expander", "tab", "popover", "flex") or an element
    ("divider", "latex", "caption", "markdown", "title", "header", "subheader", "alert", "code", "metric",
    "table", "exception", "plotly_chart", "widget"; "other" for the rest). ``type`` is Streamlit's own name for it
    (an alert's "error" or "info", a widget's "selectbox", a container's "vertical"…)."""

    kind: str
    type: str = ""
    text: str = ""  # a text element's body (markdown, formula, code), an alert's, an exception's, a metric's value
    label: str = ""  # a widget's, metric's, expander's or tab's label
    label_hidden: bool = False  # a widget whose label is not shown (label_visibility hidden or collapsed)
    delta: str = ""  # a metric's delta
    weight: float | None = None  # a column's width (relative)
    horizontal: bool = False  # a flex container laid out in a row
    border: bool = False  # a flex container with a border
    spec: str = ""  # a plotly figure, as JSON
    config: str = ""  # its plotly config, as JSON ("" for none)
    table: Any = None  # a table's or dataframe's content (a pandas DataFrame; None when AppTest cannot read it)
    value: Any = None  # a widget's value (a list as a tuple; None when AppTest cannot read it)
    options: tuple[str, ...] = ()  # a widget's choices, as text
    children: tuple[Part, ...] = ()  # a container's parts, in order


@dataclass(frozen=True)
class Page:
    """A page run headless: its title (its first st.title, "" for none), what its main area drew, and the error
    it stopped with (None for none; then ``main`` is empty)."""

    title: str
    main: Part
    error: str | None = None


def run_page(
    app: Path, script: str, params: dict[str, str], *, timeout: float, press_suffix: str = "", presses: int = 40
) -> Page:
    """Run the page ``script`` (relative to ``app``'s folder, e.g. ``lessons/similarity.py``) of the multipage
    app ``app`` headless, as a fresh session opens its link with the query parameters ``params``; then press, one at
    a time, each button whose key ends with ``press_suffix`` (at most ``presses`` presses: a press may draw the next
    such button). Each run may take ``timeout`` seconds. AppTest replaces Streamlit's runtime while it runs: call
    this in a process of its own, never in a server's."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app), default_timeout=timeout)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # AppTest knows the pages' own addresses (url_path) only after a first run
    at.switch_page(script)
    at.run()
    for _ in range(presses if press_suffix else 0):
        keys = [b.key for b in at.button if b.key and b.key.endswith(press_suffix)]
        if not keys or at.exception:
            break
        at.button(key=keys[0]).click().run()
    if at.exception:
        return Page("", Part("block"), str(at.exception[0].value))
    return Page(at.title[0].value if at.title else "", _part(at.main))


def static_dir() -> Path:
    """The folder of the files Streamlit's frontend is built from (its js/, css/ and media/ folders)."""
    from streamlit import file_util

    return Path(file_util.get_static_dir()) / "static"


# --- the element tree as Parts --------------------------------------------------------------------------------------
_TEXTS = ("Divider", "Latex", "Caption", "Markdown", "Title", "Header", "Subheader")  # subclasses before classes


def _part(node: Any) -> Part:
    """``node`` of AppTest's element tree (a Block or an element) as a Part."""
    from streamlit.testing.v1 import element_tree as et

    if isinstance(node, et.Block):
        return _block(node)
    for name in _TEXTS:
        if isinstance(node, getattr(et, name)):
            return Part(name.lower(), node.type, text=str(node.value))
    if isinstance(node, et.AlertBase):
        return Part("alert", node.type, text=str(node.value))
    if isinstance(node, et.Code):
        return Part("code", node.type, text=str(node.value))
    if isinstance(node, et.Metric):
        return Part("metric", node.type, text=str(node.value), label=node.proto.label, delta=node.proto.delta)
    if isinstance(node, et.Dataframe | et.Table):
        try:
            table = node.value
        except Exception:
            table = None
        return Part("table", node.type, table=table)
    if isinstance(node, et.Exception):
        return Part("exception", node.type, text=str(node.value))
    if isinstance(node, et.UnknownElement) and node.type == "plotly_chart":
        chart = node.proto.plotly_chart if hasattr(node.proto, "plotly_chart") else node.proto
        return Part("plotly_chart", node.type, spec=chart.spec, config=chart.config)
    if isinstance(node, et.Widget):
        return _widget(node)
    return Part("other", str(getattr(node, "type", "")))


def _block(node: Any) -> Part:
    from streamlit.testing.v1 import element_tree as et

    children = tuple(_part(child) for child in node.children.values())
    kind, label, weight, horizontal, border = "block", "", None, False, False
    if node.type == "popover":
        kind = "popover"
    elif isinstance(node, et.Expander | et.Tab):
        kind, label = ("tab" if isinstance(node, et.Tab) else "expander"), str(node.label)
    elif isinstance(node, et.Column):
        kind, weight = "column", float(node.weight or 1.0)
    elif node.type == "flex_container" and getattr(node.proto, "flex_container", None) is not None:
        flex = node.proto.flex_container
        names = flex.DESCRIPTOR.fields_by_name["direction"].enum_type.values_by_number
        kind, horizontal, border = "flex", names[flex.direction].name == "HORIZONTAL", bool(flex.border)
    return Part(kind, node.type, label=label, weight=weight, horizontal=horizontal, border=border, children=children)


def _widget(node: Any) -> Part:
    visibility = getattr(getattr(node.proto, "label_visibility", None), "value", 0)
    try:
        value = node.value
    except Exception:
        value = None
    if isinstance(value, list):
        value = tuple(value)
    try:
        options = tuple(str(o) for o in (getattr(node, "options", None) or ()))
    except Exception:
        options = ()
    label = str(getattr(node, "label", "") or "")
    return Part("widget", node.type, label=label, label_hidden=bool(visibility), value=value, options=options)
