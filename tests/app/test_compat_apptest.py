"""`compat.apptest`, the handout's headless run: held to the Streamlit release compat was written for, and what it
gives back for a small page (the plain values the handout draws)."""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import streamlit

from app_support.compat import apptest
from app_support.compat import streamlit_compat as compat
from tests.app.test_streamlit_compat import _pinned

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("where", "version"), [("installed", streamlit.__version__), ("requirements.txt", _pinned())])
def test_written_for_the_streamlit_in_use(where, version):
    assert apptest.WRITTEN_FOR is compat.WRITTEN_FOR  # one release for all of compat
    recheck = "\n  - ".join(apptest.RECHECK)
    assert version == apptest.WRITTEN_FOR, (
        f"Streamlit {version} ({where}), but compat/apptest.py was written for {apptest.WRITTEN_FOR}. "
        f"Before moving WRITTEN_FOR, re-check each use of Streamlit's internals there:\n  - {recheck}"
    )


def test_every_function_is_on_the_recheck_list():
    public = {
        name
        for name, value in vars(apptest).items()
        if inspect.isfunction(value) and not name.startswith("_") and value.__module__ == apptest.__name__
    }
    assert public == {line.split(":")[0] for line in apptest.RECHECK} == {"run_page", "static_dir"}


APP = """
import streamlit as st

st.navigation([st.Page("first.py", default=True), st.Page("page.py", url_path="elsewhere")]).run()
"""

PAGE = """
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

st.title("A **small** page")
st.markdown("Some *text* for " + st.query_params.get("sentence", "nobody"))
st.caption("a caption")
st.latex("x^2")
st.divider()
st.header("Head")
st.subheader("Sub")
st.info("an alert")
st.code("print(1)")
st.metric("Loss", "0.5", delta="-0.1")
left, right = st.columns([2, 1])
left.selectbox("Pick", ["a", "b"], index=1, key="pick")
right.radio("Which?", ["x", "y"], index=None, key="which")
with st.expander("More"):
    st.checkbox("hidden", value=True, label_visibility="collapsed", key="box")
with st.container(border=True):
    st.markdown("boxed")
with st.container(horizontal=True):
    st.markdown("in a row")
st.dataframe(pd.DataFrame({"n": [1, 2]}))
st.plotly_chart(go.Figure(go.Bar(y=[1, 2])), config={"displaylogo": False})
if st.button("Reveal", key="q_skip") or st.session_state.get("revealed"):
    st.session_state.revealed = True
    st.markdown("the answer")
if st.query_params.get("fail"):
    raise ValueError("it broke")
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("app")
    (folder / "first.py").write_text("import streamlit as st\nst.title('First')\n", encoding="utf-8")
    (folder / "page.py").write_text(textwrap.dedent(PAGE), encoding="utf-8")
    (folder / "app.py").write_text(textwrap.dedent(APP), encoding="utf-8")
    return folder / "app.py"


def _walk(part: apptest.Part) -> list[apptest.Part]:
    return [part, *(p for child in part.children for p in _walk(child))]


def test_run_page_gives_the_page_as_parts(app):
    page = apptest.run_page(app, "page.py", {"sentence": "the river"}, timeout=30, press_suffix="_skip")
    assert page.error is None and page.title == "A **small** page"
    parts = _walk(page.main)
    kinds = [p.kind for p in parts]
    text: dict[str, str] = {}
    for p in parts:
        text.setdefault(p.kind, p.text)  # the first of each kind
    assert text["markdown"] == "Some *text* for the river"  # the link's query parameters reached the page
    assert (text["caption"], text["latex"], text["header"], text["subheader"]) == (
        "a caption",
        "$$\nx^2\n$$",
        "Head",
        "Sub",
    )
    assert text["code"] == "print(1)" and "divider" in kinds
    assert [(p.type, p.text) for p in parts if p.kind == "alert"] == [("info", "an alert")]
    metric = next(p for p in parts if p.kind == "metric")
    assert (metric.label, metric.text, metric.delta) == ("Loss", "0.5", "-0.1")
    columns = [p for p in parts if p.kind == "column"]
    assert [c.weight for c in columns] == pytest.approx([2 / 3, 1 / 3])
    widgets = {p.label: p for p in parts if p.kind == "widget"}
    assert widgets["Pick"].value == "b" and widgets["Pick"].options == ("a", "b")
    assert widgets["Which?"].value is None and widgets["Which?"].options == ("x", "y")
    assert widgets["hidden"].value is True and widgets["hidden"].label_hidden and not widgets["Pick"].label_hidden
    assert widgets["Reveal"].type == "button"
    expander = next(p for p in parts if p.kind == "expander")
    assert expander.label == "More" and [c.label for c in expander.children] == ["hidden"]
    flexes = [p for p in parts if p.kind == "flex" and p.children and p.children[0].text in ("boxed", "in a row")]
    assert [(f.children[0].text, f.horizontal, f.border) for f in flexes] == [
        ("boxed", False, True),
        ("in a row", True, False),
    ]
    table = next(p for p in parts if p.kind == "table").table
    assert isinstance(table, pd.DataFrame) and table["n"].tolist() == [1, 2]
    chart = next(p for p in parts if p.kind == "plotly_chart")
    assert json.loads(chart.spec)["data"][0]["type"] == "bar" and json.loads(chart.config)["displaylogo"] is False
    assert any(p.text == "the answer" for p in parts)  # the button was pressed
    with pytest.raises(AttributeError):
        page.main.kind = "changed"  # frozen


def test_run_page_presses_only_when_asked(app):
    page = apptest.run_page(app, "page.py", {}, timeout=30)
    texts = [p.text for p in _walk(page.main)]
    assert "Some *text* for nobody" in texts and "the answer" not in texts


def test_run_page_says_how_the_page_stopped(app):
    page = apptest.run_page(app, "page.py", {"fail": "1"}, timeout=30)
    assert page.error and page.title == "" and page.main.children == ()  # the message (Streamlit may redact it)


def test_static_dir_holds_katex():
    folder = apptest.static_dir()
    assert any("KaTeX_Main" in p.read_text(encoding="utf-8") for p in folder.glob("css/*.css"))
    assert list(folder.glob("js/*.js"))
