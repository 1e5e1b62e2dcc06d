"""One record per variant (issue 26): the registry is the one list of variants. A toy variant defined here, and
registered the public way, shows in pages 6 and 6b's choosers, runs on page 6 with its own question and its own page
part (a module of its own, tests/app/toy_variant_part.py, that its record names), is among 6c's timed cases and a row
of 6c's closing table, and gets a row of the bench's error table, with no other file changed; no other file of the
repository lists the variants' names again."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from app_support.efficient import efficient_sections
from attnviz import scaling
from attnviz.attention import scaled_dot_product
from attnviz.efficient import REGISTRY, VARIANTS, Knob, KnobText, VariantSpec, VariantText, register, unregister
from attnviz.efficient.registry import Question, TimingCase
from tests.app import toy_variant_part
from tests.app.elements import ok
from tests.app.test_pages import _reveal_all

ROOT = Path(__file__).resolve().parents[2]
PAGE, SWAP, SCALING = "lessons/efficient.py", "lessons/efficient_swap.py", "lessons/efficient_scaling.py"

TOY = VariantSpec(
    name="toy",
    fn=lambda q, k, v, mask=None, scale=None, return_weights=False: scaled_dot_product(q, k, v, mask=mask, scale=scale),
    kind="exact",
    text=VariantText(
        title="Toy attention (a test's)",
        paper="tests/app/test_variant_registry.py",
        knobs={"size": KnobText(label="Size", help="Changes nothing.")},
        formula=r"O = \mathrm{softmax}(QK^\top/\sqrt d)\,V",
        time="toy time",
        memory="toy memory",
        keeps_exact="toy keeps",
        costs="toy costs",
        choose_when="toy choose",
    ),
    knobs=(Knob("size", (1, 2), 1),),
    to_kwargs=lambda knobs, fit: {},
    cases={
        "toy": TimingCase(
            make=lambda q, k, v: lambda: scaled_dot_product(q, k, v),
            flops=lambda n, heads, d: 4.0 * n * n * d * heads,
            setting="toy setting",
            growth=("T", "T"),
            label="Toy attention (timed)",
        )
    },
    question=lambda spec, run, head: Question(f"Toy question about {head}?", ("yes", "no", "maybe"), 0, "Toy answer."),
    page_part="tests.app.toy_variant_part",
)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)


def test_register_adds_after_the_others_and_unregister_takes_it_out(toy):
    assert list(REGISTRY)[-1] == "toy" and VARIANTS["toy"] is TOY.fn
    with pytest.raises(ValueError, match="registered already"):
        register(TOY)


def test_the_registry_is_back_without_the_toy():
    assert "toy" not in REGISTRY and "toy" not in VARIANTS


def test_a_record_needs_a_text_for_each_knob():
    with pytest.raises(ValueError, match="one text each"):
        VariantSpec(
            name="untold", fn=TOY.fn, kind="exact", text=TOY.text, knobs=(Knob("other", (1,), 1),),
            to_kwargs=TOY.to_kwargs, cases={},
        )  # fmt: skip


@pytest.mark.parametrize("page,key", [(PAGE, "l6_variant"), (SWAP, "l6b_variant")])
def test_a_registered_variant_is_in_the_chooser_in_the_registrys_order(app, toy, page, key):
    at = ok(app(page))
    assert at.selectbox(key=key).options == [spec.text.title for spec in REGISTRY.values()]
    assert at.selectbox(key=key).options[-1] == TOY.text.title


def test_a_registered_variant_runs_on_page_6_with_its_own_question(app, toy):
    at = ok(app(PAGE, l6_variant="toy"))
    assert at.selectbox(key="l6_variant").value == "toy"
    assert any(TOY.text.title in h.value for h in at.header)
    assert at.radio(key="l6_predict_toy").label == "Toy question about head 1?"
    assert any(TOY.text.formula in latex.value for latex in at.latex)


def test_a_registered_variant_is_a_row_of_the_closing_table(app, toy):
    at = ok(_reveal_all(app(SCALING)))
    table = next(t.value for t in at.table if "choose it for" in t.value.columns)
    assert list(table.index) == [spec.text.title for spec in REGISTRY.values()]
    assert table.loc[TOY.text.title].tolist() == ["toy keeps", "toy costs", "toy time", "toy memory", "toy choose"]


def _name_lists(path: Path, names: set[str]) -> list[str]:
    """Literal lists, tuples and sets in ``path`` of three or more variants' names and nothing else (a list that
    also holds other cases, such as 6c's default choice of "sdpa", "plain", "flash", …, is a choice, not a list of
    the variants)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            held = {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names}
            if len(held) >= 3 and len(held) == len(node.elts):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(held)}")
    return found


def test_no_file_lists_the_variants_again():
    """The registry (attnviz/efficient/__init__.py) is the one list: pages, tests, e2e tests and the bench read it."""
    names = set(REGISTRY)
    files = [
        p
        for folder in ("attnviz", "app_support", "lessons", "tests", "bench")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if p != ROOT / "attnviz" / "efficient" / "__init__.py"
    ]
    assert len(files) > 100
    assert [item for p in files for item in _name_lists(p, names)] == []


def test_the_bench_has_an_error_row_for_every_registered_variant():
    from bench import bench_efficient

    rows = bench_efficient.worker_errors("random", 32)["rows"]  # (H = 8, 32 tokens, width 64)
    assert {row.split(" (")[0] for row in rows} == set(REGISTRY)
    assert len(rows) == sum(len(spec.bench_rows()) for spec in REGISTRY.values())
    register(TOY)
    try:
        rows = bench_efficient.worker_errors("random", 32)["rows"]
    finally:
        unregister(TOY.name)
    assert list(rows)[-1] == "toy"  # no bench setting of its own: its knobs at their defaults
    assert rows["toy"]["approx"]["output_rel_frobenius"] < 1e-6  # the toy is exact attention


# ---------------------------------------------------------------------------------------------- its own page part


def test_every_page_part_is_one_variants_module_with_its_extras():
    parts = [spec.page_part for spec in REGISTRY.values() if spec.page_part is not None]
    assert len(parts) == len(set(parts))  # one module per variant
    for name, spec in REGISTRY.items():
        part = efficient_sections.part_of(name)
        assert isinstance(part, efficient_sections.Extras)
        assert (spec.page_part is None) == (part == efficient_sections.Extras())  # a module names some part


def test_a_page_part_without_its_extras_is_refused():
    spec = dataclasses.replace(TOY, name="toy-without-part", page_part="tests.app.elements")  # no PART there
    register(spec)
    try:
        with pytest.raises(TypeError, match="needs a PART that is an Extras"):
            efficient_sections.part_of(spec.name)
    finally:
        unregister(spec.name)


def test_a_registered_variant_shows_its_own_part_on_page_6(app, toy):
    at = ok(app(PAGE, l6_variant="toy", l6_size="2"))
    _reveal_all(at)
    assert any(h.value.startswith(toy_variant_part.SECTION) and "at size 2" in h.value for h in at.subheader)


def test_a_registered_variant_shows_its_own_note_on_page_6b(app, toy):
    at = ok(app(SWAP, l6b_variant="toy"))
    assert any(c.value.startswith(toy_variant_part.NOTE) for c in at.caption)


def test_without_the_toy_page_6_has_no_toy_part(app):
    at = ok(app(PAGE))
    assert not any(toy_variant_part.SECTION in h.value for h in at.subheader)


# ---------------------------------------------------------------------------------------------- its timing case


def test_a_variant_registered_at_run_time_is_among_the_timed_cases(toy):
    assert scaling.cases()[-1 - len(scaling.FLEX_CASES)] == "toy"  # after the other variants', before FlexAttention
    assert scaling.nominal_flops("toy", 16) == 4.0 * 16 * 16 * 64 * 8
    assert scaling.make_case("toy", *scaling.inputs_for_timing(8, "cpu"))().output.shape == (1, 8, 8, 64)


def test_the_timed_cases_are_back_without_the_toy():
    assert "toy" not in scaling.cases()
    with pytest.raises(ValueError):
        scaling.nominal_flops("toy", 16)


def test_a_registered_variants_timing_case_is_offered_on_page_6c(app, toy):
    at = ok(app(SCALING, l6c_cases="toy"))
    chooser = at.multiselect(key="l6c_cases")
    assert "Toy attention (timed)" in chooser.options
    assert chooser.value == ["toy"]  # chosen by its case's name, from the link
