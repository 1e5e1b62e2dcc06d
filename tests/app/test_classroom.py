"""The classroom features, run from app.py: links that reproduce a view, presenter mode, the view settings, exports.

A link round trip: open a page with its settings in the URL, check every widget shows them, take the "copy link to
this view" link the page offers, open that link in a fresh session and check the same view comes back.
"""

import csv
import io
import json
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from app_support.kit import downloads
from attnviz import plots
from tests.app.conftest import PAGES, ROOT
from tests.app.test_pages import _reveal_all, no_html, plain

WIDGETS = ("text_input", "text_area", "slider", "select_slider", "toggle", "checkbox", "radio", "selectbox",
           "number_input", "multiselect")  # fmt: skip
RIVER = "I walked by the river bank"

# every page with a non-default value for each setting that defines its view, as a link would write them
LINKS = {
    "embeddings": {
        "emb_expr": "paris - france + italy",
        "emb_topn": "12",
        "emb_include": "true",
        "emb_dims": "3-D",
        "emb_word_a": "king",
        "emb_word_b": "queen",
        "emb_nn_word": "river",
        "emb_nn_k": "15",
        "emb_claim_kind": "cosine",
    },
    "similarity": {
        "sentence": "the cat sat on the mat",
        "sim_kind": "cosine",
        "sim_focus": "cat",
        "sim_exclude": "false",
        "sim_probe_a": "dog",
        "sim_probe_b": "rug",
    },
    "projections": {"proj_kind": "Random (seeded)", "proj_seed": "42", "proj_query": "river"},
    "projections-real": {"proj_kind": "From a real transformer (MiniLM)", "proj_layer": "3", "proj_head": "7"},
    "projections-trained": {"proj_kind": "Trained here", "proj_steps": "50", "proj_train_seed": "7"},
    "softmax": {
        "soft_proj": "random (seed 0)",
        "soft_sqrt": "false",
        "soft_temp": "0.5",
        "soft_causal": "true",
        "soft_row": "river",
    },
    "multihead": {"mh_heads": "6", "mh_dim": "16", "mh_seed": "3", "mh_focus": "head 5"},
    "real_heads": {
        "real_words": "false",
        "real_special": "false",
        "real_layer": "3",
        "real_head": "5",
        "real_focus": "river",
    },
    "real_examples": {
        "real_coref_text": "the dog chased the ball because it was fast",
        "real_coref_text_b": "the dog chased the ball because it was round",
        "real_coref_tgt": "dog",
        "real_coref_tgt_b": "ball",
        "real_vs_set": "page 3's labelled sentences",
        "real_drift_a": "the bank of the river was muddy",
        "real_drift_b": "the bank raised its interest rate",
        "real_drift_word": "the",
        "real_drift_c": "",
    },
}


def page_of(name: str) -> str:
    return f"lessons/{name.split('-')[0]}.py"


def open_link(query: dict[str, str], page: str, reveal: bool = True) -> AppTest:
    """A fresh session opened on ``page`` with ``query`` in the URL, every question answered (skipped)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page != PAGES[0]:  # the first lesson is the root address
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return _reveal_all(at) if reveal else at


def widget(at: AppTest, key: str):
    for kind in WIDGETS:
        for w in at.get(kind):
            if getattr(w, "key", None) == key:
                return w
    raise AssertionError(f"no widget {key!r} on the page")


def shown(w) -> str:
    """A widget's value as the URL writes it: a choice by its label, a switch as true/false."""
    if type(w).__name__ in {"Selectbox", "Radio"}:
        return str(w.options[w.index])
    if isinstance(w.value, bool):
        return str(w.value).lower()
    return str(w.value)


def same(url_value: str, value: str) -> bool:
    try:
        return float(url_value) == float(value)
    except ValueError:
        return url_value == value


def the_link(at: AppTest) -> str:
    links = [c.value for c in at.code if c.value.startswith("http://") and "?" in c.value]
    assert len(links) == 1, [c.value for c in at.code]
    return links[0]


def check_view(at: AppTest, query: dict[str, str]) -> None:
    for key, value in query.items():
        if key == "sentence":
            assert at.text_area(key="sentence").value == value
        else:
            assert same(value, shown(widget(at, key))), (key, value, shown(widget(at, key)))
    assert not [plain(w) for w in at.warning if "link" in w.value], "a good link gives no warning"


@pytest.mark.parametrize("name", list(LINKS))
def test_link_round_trip(name):
    query = LINKS[name]
    at = open_link(query, page_of(name))
    check_view(at, query)
    no_html(at)
    # the URL written back keeps every setting, and the page's link carries them, on this page's address
    for key, value in query.items():
        assert at.query_params.get(key) == value, (key, at.query_params)
    link = urlsplit(the_link(at))
    assert link.path == "/" + ("" if name == "embeddings" else page_of(name)[8:-3].replace("_", "-"))
    written = dict(parse_qsl(link.query, keep_blank_values=True))
    assert {k: written.get(k) for k in query} == query
    # and the link, opened by a student, gives the same view
    again = open_link(written, page_of(name))
    check_view(again, query)


@pytest.mark.parametrize(
    ("query", "key", "message"),
    [
        ({"emb_topn": "999"}, "emb_topn", "“Answers to show” to “999”"),
        ({"emb_include": "maybe"}, "emb_include", "“Keep the input words among the answers” to “maybe”"),
        ({"sim_focus": "zebra"}, "sim_focus", "“Word to follow” to “zebra”"),
        ({"soft_temp": "0.123"}, "soft_temp", "“Temperature τ” to “0.123”"),
        ({"proj_kind": "<script>alert(1)</script>"}, "proj_kind", "“What are M_Q, M_K and M_V?” to “<script>"),
    ],
)
def test_bad_link_values_are_named_and_dropped(query, key, message):
    page = {"emb": "embeddings", "sim": "similarity", "soft": "softmax", "proj": "projections"}[key.split("_")[0]]
    at = open_link(query, f"lessons/{page}.py", reveal=False)  # the warning is for the page the link opens
    assert any(message in plain(w) for w in at.warning), [plain(w) for w in at.warning]
    no_html(at)
    assert key not in dict(parse_qsl(urlsplit(the_link(at)).query)), "the link says what is shown, not the bad value"


def test_view_settings_live_in_the_url():
    at = open_link({"present": "true", "contrast": "true", "cells": "1"}, "lessons/similarity.py")
    assert [at.toggle(key=k).value for k in ("present", "contrast", "cells")] == [True, True, True]
    assert "present" not in the_link(at), "a link for students does not put them in presenter mode"
    assert "contrast=true" in the_link(at)
    plain_at = open_link({}, "lessons/similarity.py")
    assert [plain_at.toggle(key=k).value for k in ("present", "contrast", "cells")] == [False, False, False]


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header]


def test_presenter_mode_reveals_one_step_at_a_time():
    at = open_link({"present": "true"}, "lessons/similarity.py")
    assert headers(at) == ["I: the sentence as a matrix"]
    assert len(at.get("plotly_chart")) == 1
    at.button(key="show_next").click().run()
    assert headers(at)[-1].startswith("S = I·Iᵀ")
    assert "sim_predict_diag" not in [r.key for r in at.radio], "the question is a class prompt, not a radio"
    assert any(s.value.startswith("Class question") for s in at.subheader)
    assert at.button(key="show_next").proto.shortcut  # the N key
    at.button(key="sim_predict_diag_reveal").click().run()
    assert any("diagonal" in plain(s) for s in at.success) or any("diagonal" in plain(i) for i in at.info)
    assert any("sim_S" in c.proto.id for c in at.get("plotly_chart"))
    at.button(key="show_all").click().run()
    assert len(headers(at)) == 3 and not at.exception
    # another page starts again at its first section
    at.switch_page("lessons/softmax.py").run()
    assert headers(at) == ["Step by step"]
    at.switch_page("lessons/similarity.py").run()
    assert headers(at) == ["I: the sentence as a matrix"]


@pytest.mark.parametrize("page", PAGES)
def test_presenter_mode_renders_every_page(page):
    at = open_link({"present": "true"}, page)
    for _ in range(20):  # a page may open on a class question (reveal it) or on a first step (show the rest)
        reveals = [b.key for b in at.button if b.key and b.key.endswith("_reveal")]
        if not reveals and not any(b.key == "show_all" for b in at.button):
            break
        for key in reveals:
            at.button(key=key).click().run()
        if any(b.key == "show_all" for b in at.button):
            at.button(key="show_all").click().run()
        assert not at.exception, at.exception
    no_html(at)
    assert any("presenter mode" in h.proto.body for h in at.get("html")), "the presenter style sheet is on the page"
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert specs and all(s["layout"]["font"]["size"] >= plots.PRESENT_FONT for s in specs)
    assert all(s["layout"]["title"]["font"]["size"] > plots.PRESENT_FONT for s in specs if s["layout"].get("title"))


def test_every_control_is_labelled():
    for page in PAGES:
        at = open_link({}, page)
        for kind in (*WIDGETS, "button", "download_button"):
            for w in at.get(kind):
                assert str(w.proto.label).strip(), f"{page}: a {kind} without a label ({w.key})"


NO_MATRIX = {"lessons/efficient_scaling.py"}  # times and memory against length: curves and tables, no matrix


@pytest.mark.parametrize("page", PAGES)
def test_every_matrix_figure_has_a_csv_download(page):
    at = open_link({}, page)
    charts = {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    downloads = {d.proto.id.rsplit("-", 1)[-1] for d in at.get("download_button")}
    heatmaps = {k for k, spec in charts.items() if any(t["type"] == "heatmap" for t in spec["data"])}
    assert heatmaps or page in NO_MATRIX, "every page shows a matrix"
    assert {f"{k}_csv" for k in heatmaps} <= downloads, heatmaps - {d[:-4] for d in downloads}


def test_png_and_csv_are_named_after_the_sentence_and_settings():
    at = open_link({"sim_kind": "cosine"}, "lessons/similarity.py")
    charts = {c.proto.id.rsplit("-", 1)[-1]: c for c in at.get("plotly_chart")}
    config = json.loads(charts["sim_S"].proto.config)
    assert config["toImageButtonOptions"]["filename"] == "attnviz_s-cosine_i-walked-by-the-river-bank_sim-kind-cosine"
    assert config["toImageButtonOptions"]["format"] == "png" and config.get("displayModeBar", True)
    assert "toImage" not in config["modeBarButtonsToRemove"]
    button = next(d for d in at.get("download_button") if d.proto.id.endswith("-sim_S_csv"))
    assert button.proto.label == "Download S cosine as CSV"


def test_the_svg_setting_makes_every_camera_save_svg():
    at = open_link({"svg": "true"}, "lessons/similarity.py")
    configs = [json.loads(c.proto.config)["toImageButtonOptions"] for c in at.get("plotly_chart")]
    shown = [c for c in configs if "filename" in c]  # the figures (not the empty chart that preloads plotly.js)
    assert shown and all(c["format"] == "svg" and c["filename"].startswith("attnviz_") for c in shown)
    assert at.toggle(key="svg").value


def test_pages_show_things_through_show():
    """Headings and figures go through kit.steps and kit.charts: presenter mode, palette and exports reach them."""
    for path in [*sorted((ROOT / "lessons").glob("*.py")), ROOT / "app_support" / "parts" / "training_panel.py"]:
        text = path.read_text()
        assert "plotly_chart(" not in text, f"{path.name}: use charts.chart"
        assert "st.header(" not in text, f"{path.name}: use steps.step"


def test_matrix_csv_parses_with_labels_and_values():
    values = np.array([[1.0, -0.25], [1e-7, 123456.789]])
    text = downloads.matrix_csv(values, ['say "hi"', "=SUM(A1)"], ["a,b", "+1"])
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["", "a,b", "'+1"]
    assert [r[0] for r in table[1:]] == ['say "hi"', "'=SUM(A1)"]
    assert np.allclose(np.array([[float(x) for x in r[1:]] for r in table[1:]]), values, rtol=1e-5)
    with pytest.raises(ValueError):
        downloads.matrix_csv(values, ["one"], ["a", "b"])


def _heat(n: int, **kw):
    return plots.heatmap(np.arange(n * n, dtype=float).reshape(n, n) - n, [str(i) for i in range(n)],
                         [str(i) for i in range(n)], cell_text=False, decimals=1, **kw)  # fmt: skip


def test_numbers_in_cells_and_high_contrast_restyle_figures():
    small, big = _heat(5), _heat(plots.CELLS_VIEW_MAX + 1)
    assert plots.styled(small) is small, "nothing asked, nothing copied"
    with_cells = plots.styled(small, cells=True).to_dict()["data"][0]
    assert with_cells["texttemplate"] == "%{z:.1f}", "the hover's decimals"
    assert "texttemplate" not in plots.styled(big, cells=True).to_dict()["data"][0], "too large to read"
    assert "texttemplate" not in small.to_dict()["data"][0], "the original figure is left alone"
    contrast = plots.styled(small, contrast=True).to_dict()
    assert contrast["data"][0]["colorscale"] == plots.HIGH_CONTRAST_DIVERGING
    seq = plots.styled(_heat(4, diverging=False), contrast=True).to_dict()
    assert seq["data"][0]["colorscale"] == plots.HIGH_CONTRAST_SEQUENTIAL
    assert contrast["layout"]["font"]["color"] == "#000000"
    line = plots.styled(plots.lines([plots.Series("a", [1, 2], [3, 4])], title="t"), contrast=True, present=True)
    layout = line.to_dict()["layout"]
    assert layout["font"] == {"size": plots.PRESENT_FONT, "color": "#000000"}
    assert layout["title"]["font"]["size"] > plots.PRESENT_FONT and layout["title"]["font"]["color"] == "#000000"
    assert layout["xaxis"]["tickfont"]["color"] == "#000000" and layout["xaxis"]["tickfont"]["size"] >= 16
    view = plots.head_view(["a", "b"], ["a", "b"], np.array([[0.9, 0.1], [0.2, 0.8]]), focus=0)
    before = view.to_dict()["layout"]["shapes"]  # one line per key, as wide as its weight
    assert plots.styled(view, contrast=True).to_dict()["layout"].get("shapes", []) == before, "widths carry weights"
    for fig in (plots.styled(small, cells=True, contrast=True, present=True), plots.styled(big, contrast=True)):
        go.Figure(fig.to_dict())  # valid for plotly's own validator
