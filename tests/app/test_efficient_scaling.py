"""lessons/efficient_scaling.py: the scaling lab, measured live, by widget key."""

import numpy as np
import pytest

from attnviz import curves
from attnviz.efficient import REGISTRY, compare
from tests.app.elements import chart, ok, warnings
from tests.app.test_pages import _reveal_all, plain

INFO = {name: spec.text for name, spec in REGISTRY.items()}  # each variant's text, from its record

PAGE, SWAP, SCALING = "lessons/efficient.py", "lessons/efficient_swap.py", "lessons/efficient_scaling.py"


def test_scaling_page_without_measuring(app):
    at = ok(_reveal_all(app(SCALING)))
    assert at.button(key="l6c_run") is not None
    assert at.button(key="l6c_million") is not None
    table = next(t.value for t in at.table if "choose it for" in t.value.columns)  # a table: every word shown
    assert len(table) == len(INFO) and list(table.index) == [i.title for i in INFO.values()]
    closing = next(m.value for m in at.markdown if "**Fidelity:**" in m.value)
    moved = compare.head_changes(*_layer3_qkv(), 1)  # page 6's default view: MiniLM's layer 3, one K/V group
    assert f"move by {moved.min():.0%} to {moved.max():.0%}" in closing and f"head 1: {moved[0]:.0%}" in closing
    assert "measure SDPA and a cheaper variant above" in closing  # nothing measured yet: no crossing is claimed
    reference = [plain(i) for i in at.info] + [e.label for e in at.expander]
    assert any("RESULTS.md" in r for r in reference)


def _layer3_qkv():
    from app_support.efficient import efficient

    inp = efficient.LayerReading("I walked by the river bank", "real", 2).inp
    return inp.q, inp.k, inp.v


def test_scaling_measures_and_plots(app):
    at = ok(app(SCALING, l6c_max="512"))
    at.multiselect(key="l6c_cases").set_value(["sdpa", "longformer"]).run()
    ok(at)
    at.button(key="l6c_run").click().run(timeout=600)
    ok(_reveal_all(at))
    time_chart = chart(at, "l6c_median_s")
    assert {t["name"] for t in time_chart["data"]} >= {"Longformer (ours)"}
    assert time_chart["layout"]["xaxis"]["type"] == "log" and time_chart["layout"]["yaxis"]["type"] == "log"
    shown = next(d.value for d in at.dataframe if "GFLOP/s (nominal)" in d.value.columns)
    assert set(shown["n"]) == {256, 512}
    assert "Measure 0 new case(s)" in at.button(key="l6c_run").label  # kept: nothing new to measure
    slopes = next(t.value for t in at.table if "time: measured slope" in t.value.columns)
    ours = shown[shown["variant"] == "Longformer (ours)"]
    times = {n: float(ours[ours["n"] == n]["time"].iloc[0][:-3]) for n in (256, 512)}
    expected = np.log(times[512] / times[256]) / np.log(2)  # two points: the slope is the line through them
    assert float(slopes.loc["Longformer (ours)", "time: measured slope"]) == pytest.approx(expected, abs=0.02)
    assert slopes.loc["PyTorch SDPA (fused C++ kernel)", "memory: designed"] == "T"
    ms = {(v, n): float(t[:-3]) for v, n, t in zip(shown["variant"], shown["n"], shown["time"], strict=True)}
    sdpa = [ms["PyTorch SDPA (fused C++ kernel)", n] for n in (256, 512)]
    start = curves.faster_from([256, 512], sdpa, [times[256], times[512]])
    closing = next(m.value for m in at.markdown if "**Low latency:**" in m.value)
    if start is None:
        assert "no cheaper variant measured was faster than PyTorch SDPA (fused C++ kernel) up to 512" in closing
    else:
        assert f"Longformer was faster than PyTorch SDPA (fused C++ kernel) from {start:,} tokens on" in closing
    assert at.multiselect(key="l6c_cases").value == ["sdpa", "longformer"]
    assert at.query_params["l6c_cases"] == ["sdpa", "longformer"]  # the link names the cases by their short names


def test_scaling_pytorch_kernels_beside_ours(app):
    """SDPA per backend (only those this CPU runs) and compiled FlexAttention, measured and labelled by what they are;
    the paragraph comparing PyTorch's flash kernel with its math path reads its numbers off the table."""
    from attnviz.efficient import flex

    at = ok(app(SCALING, l6c_max="256"))
    options = at.multiselect(key="l6c_cases").options
    assert "PyTorch SDPA · fused flash kernel (C++)" in options and "PyTorch SDPA · math path (builds T×T)" in options
    assert "FlexAttention · Longformer window (compiled)" in options and "Longformer (ours)" in options
    if "efficient" not in flex.sdpa_backends("cpu"):
        assert not any("memory-efficient" in o for o in options)
        assert any("Left out on this CPU: SDPBackend.EFFICIENT_ATTENTION" in c.value for c in at.caption)
    at.multiselect(key="l6c_cases").set_value(["sdpa-flash", "sdpa-math", "flex-longformer"]).run()
    ok(at)
    assert any("**first call**" in c.value for c in at.caption)  # the page says FlexAttention compiles first
    at.button(key="l6c_run").click().run(timeout=600)
    ok(_reveal_all(at))
    shown = next(d.value for d in at.dataframe if "GFLOP/s (nominal)" in d.value.columns)
    assert set(shown["variant"]) == {"PyTorch SDPA · fused flash kernel (C++)", "PyTorch SDPA · math path (builds T×T)",
                                     "FlexAttention · Longformer window (compiled)"}  # fmt: skip
    ms = {v: float(t[:-3]) for v, t in zip(shown["variant"], shown["time"], strict=True)}
    compile_cell = shown.set_index("variant")["first call (compile)"]
    assert compile_cell["FlexAttention · Longformer window (compiled)"].endswith(" s")
    assert compile_cell["PyTorch SDPA · math path (builds T×T)"] == ""
    para = next(m.value for m in at.markdown if "against its math path" in m.value)
    speed = ms["PyTorch SDPA · math path (builds T×T)"] / ms["PyTorch SDPA · fused flash kernel (C++)"]
    assert "At 256 tokens" in para
    if speed >= 1:  # the table rounds to 0.01 ms: the ratio shown is the page's own, from unrounded times
        assert "faster than the math path" in para
    else:
        assert "slower:" in para


def test_scaling_ours_beside_pytorch_paragraph(app):
    """On the CPU our FlashAttention is the Python loop over tiles; the ratio is read off the table."""
    at = ok(app(SCALING, l6c_max="256"))
    at.multiselect(key="l6c_cases").set_value(["sdpa", "flash"]).run()
    at.button(key="l6c_run").click().run(timeout=600)
    ok(_reveal_all(at))
    shown = next(d.value for d in at.dataframe if "GFLOP/s (nominal)" in d.value.columns)
    ms = {v: float(t[:-3]) for v, t in zip(shown["variant"], shown["time"], strict=True)}
    para = next(m.value for m in at.markdown if "our FlashAttention took" in m.value)
    shown_ratio = float(para.split("our FlashAttention took ")[1].split("×")[0])
    expected = ms["FlashAttention (ours, Python)"] / ms["PyTorch SDPA (fused C++ kernel)"]
    assert shown_ratio == pytest.approx(expected, rel=0.05, abs=0.01)  # the table rounds to 0.01 ms
    assert "a fused C++ kernel" in para and "a Python loop over tiles" in para and "Triton" not in para
    assert "A CPU run does not show that effect." in para


def test_scaling_bad_link(app):
    at = ok(app(SCALING, l6c_max="1000000"))
    assert any("1000000" in w for w in warnings(at))
    assert at.select_slider(key="l6c_max").value == 2048


def test_scaling_million_tokens_button(app):
    at = ok(_reveal_all(app(SCALING)))
    at.button(key="l6c_million").click().run(timeout=600)
    ok(at)
    labels = {m.label: m.value for m in at.metric}
    assert float(labels["Time"].rstrip(" s")) > 0
    assert "GFLOP/s" in labels["Throughput"]
    assert any("69 GFLOP" in c.value for c in at.caption)  # 4 · 2^20 · 256 · 64 = 68.7 billion


def test_one_length_asks_no_prediction(app):
    at = ok(app(SCALING, l6c_max="256"))
    assert not [b for b in at.button if "Skip" in str(b.label)]  # no "predict first" question over one length
    assert any("Only one length, 256 tokens" in c.value for c in at.caption)
    assert not any("the length grows 1×" in m.value for m in at.markdown)


def test_designed_work_says_which_lines_lie_on_one_another(app):
    """Issue 23, item 9: the designed-work chart listed 5 variants and showed 3 lines, SDPA, plain and flash hidden
    under one another with nothing saying so. The legend and the caption now say which lines coincide."""
    at = ok(_reveal_all(app(SCALING)))
    design = chart(at, "l6c_design")
    names = [t["name"] for t in design["data"]]
    assert len(names) == 5
    first = names[0]
    hidden = [n for n in names if n.endswith(f", same line as {first}")]
    assert len(hidden) == 2, names
    solid = [t for t in design["data"] if t["line"]["dash"] == "solid"]
    assert len(solid) == 3  # the three lines seen; the two on the first are dashed over it
    said = " ".join(plain(c) for c in at.caption)
    bare = [n.removesuffix(f", same line as {first}") for n in hidden]
    assert f"{first}, {bare[0]} and {bare[1]} are designed to do the same work" in said
