"""bench/bench_load.py's pure parts: which students open on a paragraph, the VmRSS parser, the options, the report."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from attnviz import paragraph

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_load", None)


def test_paragraph_students_are_a_seeded_share(bench):
    chosen = bench.paragraph_students(60, 0.25, 0)
    assert len(chosen) == 15 and chosen <= set(range(60))
    assert bench.paragraph_students(60, 0.25, 0) == chosen  # the same class gets the same students
    assert bench.paragraph_students(60, 0.25, 1) != chosen  # another seed, another draw
    assert len(bench.paragraph_students(10, 0.5, 0)) == 5
    assert bench.paragraph_students(10, 0.0, 0) == set()
    assert bench.paragraph_students(10, 1.0, 3) == set(range(10))
    assert bench.paragraph_students(1, 0.25, 0) == set()  # round(0.25) = 0: one student stays on a sentence


def test_paragraph_students_spread_over_the_lessons(bench):
    pages = bench.pages()
    chosen = bench.paragraph_students(60, 0.25, 0)
    assert len({pages[i % len(pages)] for i in chosen}) >= len(pages) - 2


def test_the_opening_paragraph_fills_the_model_window(bench):
    from app_support.kit import sentence

    text, note = sentence.clean(bench.OPENING_PARAGRAPH)
    assert text == bench.OPENING_PARAGRAPH and note == ""  # nothing cut: it is at most 256 pieces
    assert len(sentence._tokenizer().encode(text).ids) == paragraph.MODEL_PIECES
    assert len(text) > paragraph.SHORT_CHARS  # so the app itself writes it into `textz=`, as the student's link does
    assert all(len(s) <= paragraph.SHORT_CHARS for s in bench.SENTENCES)  # sentence students never type paragraphs
    assert bench.OPENING_PARAGRAPH in bench.PARAGRAPHS


def test_a_paragraph_student_arrives_by_a_textz_link(bench):
    student = bench.Student(1, "softmax", bench.random.Random(0), bench.Stats(), 5, text=bench.OPENING_PARAGRAPH)
    name, value = student.query.split("=", 1)
    assert name == "textz" and paragraph.unpack(value) == bench.OPENING_PARAGRAPH
    assert student.group == "paragraph"
    plain = bench.Student(1, "softmax", bench.random.Random(0), bench.Stats(), 5)
    assert plain.query == "" and plain.group == "sentence"


STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t 2345678 kB
VmHWM:\t  812345 kB
VmRSS:\t  742512 kB
RssAnon:\t  600000 kB
"""


def test_rss_bytes_reads_the_vmrss_line(bench):
    assert bench.rss_bytes(STATUS) == 742512 * 1024  # not VmHWM, not RssAnon
    with pytest.raises(ValueError):
        bench.rss_bytes("Name:\tkthreadd\nState:\tS (sleeping)\n")  # a kernel thread has no VmRSS


def test_rss_bytes_on_this_process(bench):
    rss = bench.rss_bytes(Path(f"/proc/{os.getpid()}/status").read_text())
    assert 10 * 2**20 < rss < 64 * 2**30


def test_options(bench):
    args = bench.parse_args(["--quick", "--paragraphs", "0.25"])
    assert args.paragraphs == 0.25 and args.sizes == [1, 10]
    assert bench.parse_args([]).paragraphs == 0.0
    live = bench.parse_args(["--class"])  # the live-class scenario keeps its defaults
    assert live.live_class and live.sizes == [60] and live.replicas == 3
    with pytest.raises(SystemExit):
        bench.parse_args(["--paragraphs", "1.5"])


def _result(bench, n, by_group, rss_before, rss_end):
    stats = bench.Stats(latencies=[v for vs in by_group.values() for v in vs], loads=[0.1] * n, by_group=by_group)
    stats.loads_by_group = {"paragraph": [0.2, 0.4]}
    return bench.Result(n, stats, 20.0, 0, 0, 0, 0.5, 0.1, rss_before, rss_end, 2)


def test_table_has_the_groups_and_the_rss_only_when_asked(bench, monkeypatch):
    monkeypatch.setattr(bench, "machine", lambda: "a test machine")
    mib = bench.MIB
    r = _result(
        bench,
        10,
        {"sentence": [0.010, 0.020, 0.030], "paragraph": [0.100, 0.300]},
        {100: 700 * mib, 101: 600 * mib},
        {100: 700 * mib, 101: 650 * mib},
    )
    with_groups = bench.table([r], bench.parse_args(["--paragraphs", "0.25"]), 1.0, (0.0, 0.0, 0.0))
    header, _, row = with_groups.splitlines()[4:7]
    assert header.count("|") == row.count("|") == 15
    assert "| 3, 20/30/30 | 2, 100/300/300 | 400 |" in row  # p50/p95/max per group, the paragraphs' page load
    assert "launcher 100 700 → 700; replica 101 600 → 650; total 1300 → 1350, growth +50 MiB, 5.00 MiB" in with_groups
    plain = bench.table([r], bench.parse_args([]), 1.0, (0.0, 0.0, 0.0))
    header, _, row = plain.splitlines()[4:7]
    assert header.count("|") == row.count("|") == 12  # the old columns, unchanged
    assert "Paragraph students" not in plain
