"""How fast the lessons answer: server start-up to first rendered page, and server-side rerun times.

    python bench/bench_lessons.py [--repeats 15] [--startups 5] [--no-browser] [--reruns-only | --startup-only]

Start-up: `make run` on a free port, timed to the health check answering and to the first page fully drawn in
headless Chromium (title shown, script finished, every chart drawn), over several cold starts (the median is
printed last, in bold), with the CPU time the server had used by then (steady when other jobs share the
machine, unlike the wall clock). Chromium is already running when the clock starts, as a teacher's browser is.
Reruns: each interaction is replayed with Streamlit's AppTest, which runs the script with the server's own
ScriptRunner, in process; the figure is the time between the runner's SCRIPT_STARTED and SCRIPT_STOPPED events,
which covers the whole script and the queueing of every message for the browser (the websocket hop itself is not
included). A 12-word sentence is used throughout, a different one on each repeat so that nothing is served from a
cache. Like the server, and unlike a plain AppTest, the compiled page scripts are kept between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app_support.server.serve import one_pool_per_process  # noqa: E402  (after the path fix)

one_pool_per_process()  # as the launcher does, before torch loads: the reruns run on new threads, as in the server

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, free_port  # noqa: E402

SENTENCES = [  # twelve known words each
    "I walked by the river bank and watched the boats drift slowly past",
    "she deposited her money at the bank before the market closed on friday",
    "the old king and the young queen ruled the kingdom for many years",
    "the cat sat on the mat because it was tired after the chase",
    "a small dog ran across the green park to find its lost ball",
    "we drove along the coast road to see the sunset over the sea",
]

PLACES = [  # sixteen one-word places: each repeat's sentence is new to the caches
    "mat", "rug", "bed", "sofa", "chair", "floor", "roof", "wall",
    "porch", "step", "desk", "table", "shelf", "bench", "carpet", "pillow",
]  # fmt: skip


def _unseen(i: int) -> str:
    """A 12-word sentence no earlier repeat used: one of SENTENCES with its words rotated."""
    words = SENTENCES[i % len(SENTENCES)].split()
    shift = 1 + i // len(SENTENCES)
    return " ".join(words[shift:] + words[:shift])


PARAGRAPH = False  # --paragraph: every session on a 256-piece paragraph of ours (the last preset), not 12 words


def _paragraph(i: int) -> str:
    """The 256-piece preset with its sentences rotated by ``i``: the same pieces, a text no earlier repeat used."""
    import re

    from app_support.kit.sentence import PRESETS

    parts = re.split(r"(?<=[.!?])\s+", PRESETS[-1])
    shift = i % len(parts)
    return " ".join(parts[shift:] + parts[:shift])


def _text(i: int) -> str:
    return _paragraph(i % 6) if PARAGRAPH else SENTENCES[i % 6]


def _unseen_text(i: int) -> str:
    return _paragraph(i) if PARAGRAPH else _unseen(i)


FIRST_PAGE = "first lesson fully drawn in Chromium"
SERVED_CPU = "server CPU time when its first page's script ended (its log, s)"


def _new_sentence(page: str | None) -> tuple:
    """A rerun case: type the next of `SENTENCES` into the sidebar's sentence box of ``page``."""
    return page, lambda at, i: at.text_area(key="sentence").set_value(_text(i))


def _pick(page: str | None, key: str, options: int) -> tuple:
    """A rerun case: choose option i mod ``options`` of the select box ``key`` of ``page``."""
    return page, lambda at, i: at.selectbox(key=key).select_index(i % options)


def _switch(page: str | None, key: str) -> tuple:
    """A rerun case: turn the toggle ``key`` of ``page`` on and off, in turn."""
    return page, lambda at, i: at.toggle(key=key).set_value(i % 2 == 0)


def _choose(page: str | None, widget: str, key: str, values: Sequence) -> tuple:
    """A rerun case: set the widget ``key`` (an ``AppTest`` element kind: "slider", "radio", …) of ``page`` to the
    next of ``values``, in turn."""
    return page, lambda at, i: getattr(at, widget)(key=key).set_value(values[i % len(values)])


def _cpu_seconds(group: int) -> float:
    """CPU time (user + system) used so far by the processes of process group ``group`` (the launcher's): unlike the
    wall clock, it hardly changes when other jobs share the machine."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def startup(browser: bool) -> dict[str, float]:
    """One cold start: `make run` on a free port, timed from the launch to the health check answering, the first
    lesson's title shown and the first lesson fully drawn (script finished, every chart drawn) in Chromium.

    Chromium is started and ready before the clock starts, as a teacher's browser is: its own start-up (a second
    or more, and nothing the app can change) is not counted. The page is requested as soon as the server answers.
    """
    port = free_port()
    out: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        page = None
        if browser:
            from playwright.sync_api import sync_playwright

            p = stack.enter_context(sync_playwright())
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            stack.callback(b.close)
            page = b.new_page(viewport={"width": 1280, "height": 800})
            page.goto("about:blank")
        log = stack.enter_context(tempfile.TemporaryFile("w+"))
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["make", "-s", "run", f"PORT={port}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                        if r.status == 200:
                            out["server ready (health check answers)"] = time.perf_counter() - t0
                            break
                except OSError:
                    if time.perf_counter() - t0 > 60:
                        raise RuntimeError("server did not start within 60 s") from None
                    time.sleep(0.02)
            if page is not None:
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("h1", timeout=60_000)
                out["first lesson's title shown"] = time.perf_counter() - t0
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=60_000)
                # the launcher's warm-up starts loading torch and the model for the other lessons once the first
                # page's script has run, so the CPU used by the time the charts are drawn counts some of that too
                script_cpu = _cpu_seconds(proc.pid)
                page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
                    ".every(c => c.querySelector('.js-plotly-plot .main-svg'))",
                    timeout=60_000,
                )
                out[FIRST_PAGE] = time.perf_counter() - t0
                out["server CPU time used by then (s of CPU, not wall)"] = _cpu_seconds(proc.pid)
                out["server CPU time when the browser saw the script finish (s)"] = script_cpu
                log.seek(0)
                served = re.search(r"first page served after ([0-9.]+) s of CPU", log.read())
                if served:  # the launcher's own count, at the end of the first page's script: no browser lag in it
                    out[SERVED_CPU] = float(served.group(1))
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(10)
    return out


def startups(count: int, browser: bool) -> dict[str, list[float]]:
    """`count` cold starts, one after the other (each its own server process)."""
    runs: dict[str, list[float]] = {}
    for _ in range(count):
        for name, secs in startup(browser).items():
            runs.setdefault(name, []).append(secs)
    return runs


_SCRIPT_TIMES: list[tuple[float, float]] = []  # (wall seconds, CPU seconds of the script thread) per run


def _record_script_times() -> None:
    """Time each script run from the runner's own start and stop events, as the server's runner sees it."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunnerEvent
    from streamlit.testing.v1 import local_script_runner

    original_init = local_script_runner.LocalScriptRunner.__init__
    started: list[tuple[float, float]] = []

    # Both events fire on the script's own thread, so its CPU clock counts this run's work alone: on a machine
    # shared with other jobs the wall time grows, the CPU time does not.
    def on_event(_sender, event, **_kwargs) -> None:
        if event == ScriptRunnerEvent.SCRIPT_STARTED:
            started.append((time.perf_counter(), time.thread_time()))
        elif event == ScriptRunnerEvent.SCRIPT_STOPPED_WITH_SUCCESS and started:
            wall, cpu = started.pop()
            _SCRIPT_TIMES.append((time.perf_counter() - wall, time.thread_time() - cpu))

    def init(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        self.on_event.connect(on_event, weak=False)

    local_script_runner.LocalScriptRunner.__init__ = init


def _timed(at, action) -> tuple[float, float]:
    action(at)
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return _SCRIPT_TIMES[-1]


_HOOKED: list[bool] = []


def _as_the_server() -> None:
    """Once per process: share the compiled scripts between runs, and time each script run."""
    if _HOOKED:
        return
    import streamlit.testing.v1.app_test as app_test

    # AppTest compiles the page scripts afresh on every run; the server keeps one compiled copy per process.
    shared_cache = app_test.ScriptCache()
    app_test.ScriptCache = lambda: shared_cache
    _record_script_times()
    _HOOKED.append(True)


def reruns(repeats: int, only: str = "") -> dict[str, list[tuple[float, float]]]:
    from streamlit.testing.v1 import AppTest

    _as_the_server()

    def reveal(at) -> None:
        for key in [b.key for b in at.button if b.key and b.key.endswith("_skip")]:
            at.button(key=key).click().run()  # reveal everything: the heaviest version of each page

    def session(page: str | None, setup=None):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        if PARAGRAPH:
            from attnviz.paragraph import pack

            at.query_params["textz"] = pack(_paragraph(0))
        else:
            at.query_params["sentence"] = SENTENCES[0]
        at.run()
        if page:
            at.switch_page(page).run()
        reveal(at)
        if setup is not None:
            setup(at)  # e.g. choose the real model, or train once (training itself is not timed)
            at.run()
            reveal(at)
        return at

    def choose(kind: str):
        return lambda at: at.radio(key="proj_kind").set_value(kind).run()

    def trained(at) -> None:
        choose("trained")(at)
        at.slider(key="proj_steps").set_value(150).run()
        at.button(key="proj_train").click().run()

    proj, soft = "lessons/projections.py", "lessons/softmax.py"
    sessions = {
        "lesson 3": (proj, None),
        "lesson 3 trained": (proj, trained),
        "lesson 3 real": (proj, choose("real")),
        "lesson 4": (soft, None),
    }

    cases = {
        "lesson 1 · new sentence": _new_sentence(None),
        "lesson 1 · new analogy": (
            None,
            lambda at, i: at.text_input(key="emb_expr").set_value(
                ["king - man + woman", "paris - france + italy", "walked - walk + swim"][i % 3]
            ),
        ),
        "lesson 1 · new neighbour word": _choose(None, "text_input", "emb_nn_word", ["bank", "river", "money", "cat"]),
        "lesson 1 · slider": (None, lambda at, i: at.slider(key="emb_topn").set_value(5 + i % 10)),
        "lesson 1 · claim score switch": _choose(None, "radio", "emb_claim_kind", ["cosine", "dot"]),
        "lesson 2 · new sentence": _new_sentence("lessons/similarity.py"),
        "lesson 2 · dot/cosine switch": _choose("lessons/similarity.py", "radio", "sim_kind", ["cosine", "dot"]),
        "lesson 2 · word to follow": _pick("lessons/similarity.py", "sim_focus", 12),
        "lesson 2 · probe word": _choose(
            "lessons/similarity.py", "text_input", "sim_probe_a", ["river", "water", "shore", "boat"]
        ),
        "lesson 3 · new sentence (identity)": _new_sentence("lesson 3"),
        "lesson 3 · identity/random switch": _choose("lesson 3", "radio", "proj_kind", ["random", "identity"]),
        "lesson 3 · random seed": ("lesson 3", lambda at, i: at.number_input(key="proj_seed").set_value(i % 50)),
        "lesson 3 · query word": _pick("lesson 3", "proj_query", 12),
        "lesson 3 · trained: new sentence": _new_sentence("lesson 3 trained"),
        "lesson 3 · trained: query word": _pick("lesson 3 trained", "proj_query", 12),
        "lesson 3 · real model: new sentence": _new_sentence("lesson 3 real"),
        "lesson 3 · real model: layer": _choose("lesson 3 real", "slider", "proj_layer", range(1, 7)),
        "lesson 3 · real model: head": _choose("lesson 3 real", "slider", "proj_head", range(1, 13)),
        "lesson 4 · new sentence": _new_sentence("lesson 4"),
        "lesson 4 · temperature": _choose("lesson 4", "select_slider", "soft_temp", [0.1, 0.5, 1.0, 2.0, 10.0]),
        "lesson 4 · √d switch": _switch("lesson 4", "soft_sqrt"),
        "lesson 4 · causal switch": _switch("lesson 4", "soft_causal"),
        "lesson 4 · identity/random switch": _choose("lesson 4", "radio", "soft_proj", ["random", "identity"]),
        "lesson 4 · row to watch": _pick("lesson 4", "soft_row", 12),
        "lesson 5 · new sentence": _new_sentence("lessons/multihead.py"),
        "lesson 5 · heads slider": _choose("lessons/multihead.py", "slider", "mh_heads", range(1, 9)),
        "lesson 5 · head width": _choose("lessons/multihead.py", "radio", "mh_dim", [4, 16]),
        "lesson 5 · seed": ("lessons/multihead.py", lambda at, i: at.number_input(key="mh_seed").set_value(i + 1)),
        "lesson 5 · head to enlarge": (
            "lessons/multihead.py",
            lambda at, i: at.selectbox(key="mh_focus").set_value(i % len(at.selectbox(key="mh_focus").options)),
        ),
        # the real model: a sentence never seen before (a forward pass), then settings on a cached one
        "lesson 5b · new sentence (forward pass)": (
            "lessons/real_heads.py",
            lambda at, i: at.text_area(key="sentence").set_value(_unseen_text(i)),
        ),
        "lesson 5b · layer": _choose("lessons/real_heads.py", "selectbox", "real_layer", range(1, 7)),
        "lesson 5b · head": _choose("lessons/real_heads.py", "selectbox", "real_head", range(1, 13)),
        "lesson 5b · [CLS]/[SEP] switch": _switch("lessons/real_heads.py", "real_special"),
        "lesson 5b · pieces/words switch": _switch("lessons/real_heads.py", "real_words"),
        "lesson 5b · head view token": (
            "lessons/real_heads.py",
            lambda at, i: at.selectbox(key="real_focus").set_value(i % 12),
        ),
        "lesson 5c · new it → cat sentence (forward passes)": (
            "lessons/real_examples.py",
            lambda at, i: at.text_input(key="real_coref_text").set_value(
                f"the cat sat on the mat by the {PLACES[i % len(PLACES)]} because it was tired "
                + "and hungry " * (i // 16)
            ),
        ),
        "lesson 5c · head to look at": _pick("lessons/real_examples.py", "real_coref_pick", 5),
        "lesson 5c · verb → subject head": _pick("lessons/real_examples.py", "real_vs_pick", 5),
        "lesson 5c · verb → subject sentence": _pick("lessons/real_examples.py", "real_vs_sentence", 24),
        "lesson 6 · flash tile size": (
            "lessons/efficient.py",
            lambda at, i: at.select_slider(key="l6_tile").set_value(  # the smallest six tiles offered for this length
                int(at.select_slider(key="l6_tile").options[i % min(6, len(at.select_slider(key="l6_tile").options))])
            ),
        ),
        "lesson 6 · flash tile step": _choose("lessons/efficient.py", "slider", "l6_step", range(1, 5)),
        "lesson 6 · layer": _pick("lessons/efficient.py", "l6_layer", 6),
        "lesson 6 · real/toy source": _choose("lessons/efficient.py", "radio", "l6_source", ("toy", "real")),
        "lesson 6 · variant": _pick("lessons/efficient.py", "l6_variant", 9),
        "lesson 5c · new bank sentence (forward passes)": (
            "lessons/real_examples.py",
            lambda at, i: at.text_input(key="real_drift_b").set_value(
                f"I deposited money at the bank on {PLACES[i % len(PLACES)]} {'street ' * (i // 16)}"
            ),
        ),
    }
    results: dict[str, list[tuple[float, float]]] = {}
    live: dict[str | None, object] = {}
    for name, (page, action) in cases.items():
        if only not in name or ("paragraph view" in name and not PARAGRAPH):
            continue
        if page not in live:
            live[page] = session(*sessions[page]) if page in sessions else session(page)
        at = live[page]
        _timed(at, lambda a, action=action: action(a, 1))  # warm-up
        results[name] = [_timed(at, lambda a, i=i, action=action: action(a, i)) for i in range(repeats)]
    return results


def first_views(repeats: int) -> dict[str, list[float]]:
    """Each lesson opened on a paragraph no earlier run used (nothing cached for it), server side: the page's
    first run, after the sidebar's, as `reruns` times them (the model's forward pass included where the page runs it).
    """
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import PAGES

    _as_the_server()
    out: dict[str, list[float]] = {}
    for page in PAGES:
        out[page] = []
        for i in range(repeats):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            at.query_params["sentence"] = "warm"  # the sidebar's run, not timed
            at.run()
            text = _paragraph(i) + " " + PLACES[(i + PAGES.index(page)) % len(PLACES)]  # unseen by every cache
            at.session_state["sentence"] = text  # as the box's callback stores it: one run, the page's

            def open_page(a, p=page):
                a.switch_page(p)

            out[page].append(_timed(at, open_page)[0])
    return out


def forward_pass(repeats: int) -> list[float]:
    """The real model's forward pass alone on the 256-piece paragraph, seconds."""
    from app_support.data import loaders
    from attnviz import pretrained

    model = loaders.model()
    tokens = pretrained.encode(model, _paragraph(0))
    assert len(tokens) == 256, len(tokens)
    pretrained.forward(model, tokens)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pretrained.forward(model, tokens)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-browser", action="store_true", help="time the server start only")
    ap.add_argument(
        "--reruns-only",
        action="store_true",
        help="skip the start-up timing (it runs `make run`, which installs into ./.venv when there is none)",
    )
    ap.add_argument("--startups", type=int, default=5, help="cold starts to time (the median is reported)")
    ap.add_argument("--startup-only", action="store_true", help="time the start-up only, not the reruns")
    ap.add_argument("--only", default="", help="time only the interactions whose name contains this text")
    ap.add_argument(
        "--paragraph",
        action="store_true",
        help="every session on a 256-piece paragraph (issue 17), plus each lesson's first view and the forward pass",
    )
    args = ap.parse_args()
    global PARAGRAPH
    PARAGRAPH = args.paragraph
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
    print(
        f"# The lessons: start-up and rerun times\n\n{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}\n"
    )
    if not args.reruns_only:
        with contextlib.suppress(OSError):
            print(f"load average before the start-ups: {Path('/proc/loadavg').read_text().split()[0]}\n")
        runs = startups(args.startups, browser=not args.no_browser)
        print(f"| start-up (from `make run`, {args.startups} cold starts) | median s | each run, s |\n|---|---|---|")
        for name, secs in runs.items():
            print(f"| {name} | {statistics.median(secs):.2f} | {', '.join(f'{x:.2f}' for x in secs)} |")
        if FIRST_PAGE in runs:
            first = statistics.median(runs[FIRST_PAGE])
            print(f"\n**Start-up to the first lesson fully drawn: {first:.2f} s** (median of {args.startups})")
    if args.startup_only:
        return
    with contextlib.suppress(OSError):
        print(f"\nload average while measuring: {Path('/proc/loadavg').read_text().split()[0]} (before the reruns)")
    if PARAGRAPH:
        fwd = sorted(x * 1000 for x in forward_pass(args.repeats))
        print(f"\nThe model's forward pass on the 256-piece paragraph: median {statistics.median(fwd):.0f} ms, "
              f"max {fwd[-1]:.0f} ms ({args.repeats} runs)")  # fmt: skip
        print(f"\n| first view of a lesson on an unseen paragraph (server side, {max(2, args.repeats // 5)} runs) "
              "| median ms | max ms |\n|---|---|---|")  # fmt: skip
        for page, secs in first_views(max(2, args.repeats // 5)).items():
            ms = sorted(x * 1000 for x in secs)
            print(f"| {page} | {statistics.median(ms):.0f} | {ms[-1]:.0f} |")
    what = "256-piece paragraph" if PARAGRAPH else "12-word sentence"
    print(f"\n| rerun, {what} (server side, {args.repeats} repeats) | median ms | p90 ms | median CPU ms |")
    print("|---|---|---|---|")
    for name, runs in reruns(args.repeats, args.only).items():
        wall = sorted(w * 1000 for w, _ in runs)
        cpu = [c * 1000 for _, c in runs]
        p90 = wall[min(len(wall) - 1, round(0.9 * (len(wall) - 1)))]
        print(f"| {name} | {statistics.median(wall):.0f} | {p90:.0f} | {statistics.median(cpu):.0f} |")


if __name__ == "__main__":
    main()
