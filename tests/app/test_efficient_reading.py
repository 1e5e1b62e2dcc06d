"""Page 6's `Reading` (issue 26): one frozen value for what the page reads, the cache key of every result of one head;
its `of_layer` the key of the layer-wide ones, so a head switch computes no Q, K, V and no layer-wide result again.
Read with `ast` too: no function of lesson 6 takes the loose (text, source, layer, head) any more."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from app_support.efficient import efficient
from attnviz import pretrained
from attnviz.efficient import REGISTRY, anatomy, compare
from tests.app.elements import ok
from tests.app.test_pages import _reveal_all

ROOT = Path(__file__).resolve().parents[2]
PAGE = "lessons/efficient.py"
RIVER = "She sat by the river bank and read a letter"  # not the default sentence: these tests count fresh computes


def _counting(monkeypatch, owner: object, name: str) -> list[int]:
    """Count the calls of ``owner.name`` (still calling it)."""
    calls: list[int] = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_reading_is_frozen_and_keys_the_cache_by_value(monkeypatch):
    reading = efficient.Reading(RIVER, "real", 2, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.head = 5  # type: ignore[misc]
    assert reading == efficient.Reading(RIVER, "real", 2, 4) and hash(reading) == hash(
        efficient.Reading(RIVER, "real", 2, 4)
    )
    efficient.run.clear()
    runs = _counting(monkeypatch, compare, "run_variant")
    knobs = efficient.knob_key({k.name: k.default for k in REGISTRY["longformer"].knobs})
    first = efficient.run(reading, "longformer", knobs)
    again = efficient.run(efficient.Reading(RIVER, "real", 2, 4), "longformer", knobs)  # equal, another object
    assert len(runs) == 1 and again.comparison.approx.output_cosine == first.comparison.approx.output_cosine
    efficient.run(efficient.Reading(RIVER, "real", 2, 5), "longformer", knobs)  # another head: another result
    efficient.run(efficient.Reading(RIVER, "real", 3, 4), "longformer", knobs)  # another layer
    assert len(runs) == 3


def test_q_k_v_are_computed_once_per_text_source_and_layer(monkeypatch):
    for cached in (efficient.head_input, efficient.real_layers, efficient.spectrum, efficient.head_changes):
        cached.clear()
    forwards = _counting(monkeypatch, pretrained, "forward")
    spectra = _counting(monkeypatch, anatomy, "spectrum")
    changes = _counting(monkeypatch, compare, "head_changes")
    for head in range(12):
        reading = efficient.Reading(RIVER, "real", 2, head)
        assert reading.of_layer == efficient.LayerReading(RIVER, "real", 2)  # the same key for every head
        efficient.spectrum(reading.of_layer)
        efficient.head_changes(reading.of_layer, 1)
        q, _, _ = reading.qkv()
        assert q.shape == reading.inp.q[head].shape  # (T, Dh) of the chosen head
    assert (len(forwards), len(spectra), len(changes)) == (1, 1, 1)
    assert efficient.Reading(RIVER, "real", 5, 0).inp.length == reading.inp.length  # another layer: the same pass
    assert len(forwards) == 1
    toy = efficient.Reading(RIVER, "toy", 0, 3)
    assert toy.inp.source == "toy" and efficient.Reading(RIVER, "toy", 4, 3).of_layer == toy.of_layer  # one toy layer


@pytest.mark.parametrize(
    ("name", "compute", "owner"), [("linformer", "spectrum", anatomy), ("mqa", "head_changes", compare)]
)
def test_a_head_switch_on_the_page_recomputes_nothing_of_the_layer(app, monkeypatch, name, compute, owner):
    for cached in (efficient.head_input, efficient.real_layers, efficient.spectrum, efficient.head_changes):
        cached.clear()
    forwards = _counting(monkeypatch, pretrained, "forward")
    layer_wide = _counting(monkeypatch, owner, compute)
    at = ok(_reveal_all(app(PAGE, l6_variant=name, sentence=RIVER)))
    assert (len(forwards), len(layer_wide)) == (1, 1)
    at.selectbox(key="l6_head").set_value(7).run()
    ok(_reveal_all(at))
    assert at.selectbox(key="l6_head").value == 7
    assert (len(forwards), len(layer_wide)) == (1, 1)  # the head's own results are new; the layer's are not


def _functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]]:
    paths = sorted((ROOT / "app_support" / "efficient").glob("*.py")) + sorted((ROOT / "lessons").glob("efficient*.py"))
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def test_no_function_of_lesson_6_takes_the_loose_reading():
    """What a page reads travels as one `Reading` (or its `LayerReading`), never as loose text, source, layer, head."""
    functions = _functions()
    assert len(functions) > 50  # the files were read
    loose = []
    for where, node in functions:
        a = node.args
        names = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        if {"source", "layer"} <= names or {"text", "head"} <= names or {"layer", "head"} <= names:
            loose.append(f"{where} ({', '.join(sorted(names))})")
    assert loose == []
