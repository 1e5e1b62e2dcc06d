"""How fast the lessons answer: server start-up to first rendered page, and server-side rerun times.

    python bench/bench_lessons.py [--repeats 15] [--no-browser]

Start-up: `make run` on a free port, timed to the health check answering and to the first page fully drawn in
headless Chromium (title shown, script finished, every chart drawn). Reruns: each interaction is replayed with
Streamlit's AppTest, which runs the script with the server's own ScriptRunner, in process; the figure is the time
between the runner's SCRIPT_STARTED and SCRIPT_STOPPED events, which covers the whole script and the queueing of
every message for the browser (the websocket hop itself is not included). A 12-word
sentence is used throughout, a different one on each repeat so that nothing is served from a cache. Like the
server, and unlike a plain AppTest, the compiled page scripts are kept between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _unseen(i: int) -> str:
    """A 12-word sentence no earlier repeat used: one of SENTENCES with its words rotated."""
    words = SENTENCES[i % len(SENTENCES)].split()
    shift = 1 + i // len(SENTENCES)
    return " ".join(words[shift:] + words[:shift])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def startup(browser: bool) -> dict[str, float]:
    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out: dict[str, float] = {}
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
                time.sleep(0.05)
        if browser:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
                page = b.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("h1", timeout=60_000)
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=60_000)
                page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
                    ".every(c => c.querySelector('.js-plotly-plot .main-svg'))",
                    timeout=60_000,
                )
                out["first page rendered in Chromium"] = time.perf_counter() - t0
                b.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
    return out


_SCRIPT_TIMES: list[float] = []


def _record_script_times() -> None:
    """Time each script run from the runner's own start and stop events, as the server's runner sees it."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunnerEvent
    from streamlit.testing.v1 import local_script_runner

    original_init = local_script_runner.LocalScriptRunner.__init__
    started: list[float] = []

    def on_event(_sender, event, **_kwargs) -> None:
        if event == ScriptRunnerEvent.SCRIPT_STARTED:
            started.append(time.perf_counter())
        elif event == ScriptRunnerEvent.SCRIPT_STOPPED_WITH_SUCCESS and started:
            _SCRIPT_TIMES.append(time.perf_counter() - started.pop())

    def init(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        self.on_event.connect(on_event, weak=False)

    local_script_runner.LocalScriptRunner.__init__ = init


def _timed(at, action) -> float:
    action(at)
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return _SCRIPT_TIMES[-1]


def reruns(repeats: int) -> dict[str, list[float]]:
    import streamlit.testing.v1.app_test as app_test
    from streamlit.testing.v1 import AppTest

    # AppTest compiles the page scripts afresh on every run; the server keeps one compiled copy per process.
    shared_cache = app_test.ScriptCache()
    app_test.ScriptCache = lambda: shared_cache
    _record_script_times()

    def session(page: str | None):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["sentence"] = SENTENCES[0]
        at.run()
        if page:
            at.switch_page(page).run()
        for key in [b.key for b in at.button if b.key and b.key.endswith("_skip")]:
            at.button(key=key).click().run()  # reveal everything: the heaviest version of each page
        return at

    cases = {
        "lesson 1 · new sentence": (None, lambda at, i: at.text_input(key="sentence").set_value(SENTENCES[i % 6])),
        "lesson 1 · new analogy": (
            None,
            lambda at, i: at.text_input(key="emb_expr").set_value(
                ["king - man + woman", "paris - france + italy", "walked - walk + swim"][i % 3]
            ),
        ),
        "lesson 1 · new neighbour word": (
            None,
            lambda at, i: at.text_input(key="emb_nn_word").set_value(["bank", "river", "money", "cat"][i % 4]),
        ),
        "lesson 1 · slider": (None, lambda at, i: at.slider(key="emb_topn").set_value(5 + i % 10)),
        "lesson 1 · claim score switch": (
            None,
            lambda at, i: at.radio(key="emb_claim_kind").set_value(["cosine", "dot"][i % 2]),
        ),
        "lesson 2 · new sentence": (
            "lessons/similarity.py",
            lambda at, i: at.text_input(key="sentence").set_value(SENTENCES[i % 6]),
        ),
        "lesson 2 · dot/cosine switch": (
            "lessons/similarity.py",
            lambda at, i: at.radio(key="sim_kind").set_value(["cosine", "dot"][i % 2]),
        ),
        "lesson 2 · word to follow": (
            "lessons/similarity.py",
            lambda at, i: at.selectbox(key="sim_focus").set_value(i % 12),
        ),
        "lesson 2 · probe word": (
            "lessons/similarity.py",
            lambda at, i: at.text_input(key="sim_probe_a").set_value(["river", "water", "shore", "boat"][i % 4]),
        ),
        "lesson 5 · new sentence": (
            "lessons/multihead.py",
            lambda at, i: at.text_input(key="sentence").set_value(SENTENCES[i % 6]),
        ),
        "lesson 5 · heads slider": (
            "lessons/multihead.py",
            lambda at, i: at.slider(key="mh_heads").set_value(1 + i % 8),
        ),
        "lesson 5 · head width": (
            "lessons/multihead.py",
            lambda at, i: at.radio(key="mh_dim").set_value([4, 16][i % 2]),
        ),
        "lesson 5 · seed": ("lessons/multihead.py", lambda at, i: at.number_input(key="mh_seed").set_value(i + 1)),
        "lesson 5 · head to enlarge": (
            "lessons/multihead.py",
            lambda at, i: at.selectbox(key="mh_focus").set_value(i % len(at.selectbox(key="mh_focus").options)),
        ),
        # the real model: a sentence never seen before (a forward pass), then settings on a cached one
        "lesson 5b · new sentence (forward pass)": (
            "lessons/real_heads.py",
            lambda at, i: at.text_input(key="sentence").set_value(_unseen(i)),
        ),
        "lesson 5b · layer": (
            "lessons/real_heads.py",
            lambda at, i: at.selectbox(key="real_layer").set_value(1 + i % 6),
        ),
        "lesson 5b · head": (
            "lessons/real_heads.py",
            lambda at, i: at.selectbox(key="real_head").set_value(1 + i % 12),
        ),
        "lesson 5b · [CLS]/[SEP] switch": (
            "lessons/real_heads.py",
            lambda at, i: at.toggle(key="real_special").set_value(i % 2 == 0),
        ),
        "lesson 5b · pieces/words switch": (
            "lessons/real_heads.py",
            lambda at, i: at.toggle(key="real_words").set_value(i % 2 == 0),
        ),
        "lesson 5b · head view token": (
            "lessons/real_heads.py",
            lambda at, i: at.selectbox(key="real_focus").set_value(i % 12),
        ),
        "lesson 5c · new it → cat sentence (forward passes)": (
            "lessons/real_examples.py",
            lambda at, i: at.text_input(key="real_coref_text").set_value(
                f"the cat sat on the {PLACES[i % len(PLACES)]} because it was tired {'and hungry ' * (i // 16)}"
            ),
        ),
        "lesson 5c · head to look at": (
            "lessons/real_examples.py",
            lambda at, i: at.selectbox(key="real_coref_pick").set_value(i % 5),
        ),
        "lesson 5c · new bank sentence (forward passes)": (
            "lessons/real_examples.py",
            lambda at, i: at.text_input(key="real_drift_b").set_value(
                f"I deposited money at the bank on {PLACES[i % len(PLACES)]} {'street ' * (i // 16)}"
            ),
        ),
    }
    results: dict[str, list[float]] = {}
    sessions: dict[str | None, object] = {}
    for name, (page, action) in cases.items():
        at = sessions.setdefault(page, session(page))
        _timed(at, lambda a, action=action: action(a, 1))  # warm-up
        # from 2 on, so that no repeat meets the warm-up's value in a cache
        results[name] = [_timed(at, lambda a, i=i, action=action: action(a, i)) for i in range(2, repeats + 2)]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-browser", action="store_true", help="time the server start only")
    ap.add_argument(
        "--no-startup", action="store_true", help="skip the start-up (it runs `make run`, which may install packages)"
    )
    args = ap.parse_args()
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
    print(
        f"# Lessons: start-up and rerun times\n\n{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}\n"
    )
    if not args.no_startup:
        print("| start-up (from `make run`) | seconds |\n|---|---|")
        for name, secs in startup(browser=not args.no_browser).items():
            print(f"| {name} | {secs:.2f} |")
    print(f"\n| rerun, 12-word sentence (server side, {args.repeats} repeats) | median ms | p90 ms | max ms |")
    print("|---|---|---|---|")
    for name, times in reruns(args.repeats).items():
        ms = sorted(t * 1000 for t in times)
        p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
        print(f"| {name} | {statistics.median(ms):.0f} | {p90:.0f} | {ms[-1]:.0f} |")


if __name__ == "__main__":
    main()
