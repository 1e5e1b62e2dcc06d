"""One record per variant (issue 26): the registry is the one list of variants. A toy variant defined here, and
registered the public way, shows in pages 6 and 6b's choosers, runs on page 6 with its own question and is a row of
6c's closing table with no other file changed; no other file of the repository lists the variants' names again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from attnviz.attention import scaled_dot_product
from attnviz.efficient import REGISTRY, VARIANTS, Knob, KnobText, VariantSpec, VariantText, register, unregister
from attnviz.efficient.registry import Question
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
    cases={},
    question=lambda spec, run, head: Question(f"Toy question about {head}?", ("yes", "no", "maybe"), 0, "Toy answer."),
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
    register(TOY)
    try:
        with pytest.raises(RuntimeError, match=r"no error row for the registered variant.*toy"):
            bench_efficient.worker_errors("random", 32)
    finally:
        unregister(TOY.name)
