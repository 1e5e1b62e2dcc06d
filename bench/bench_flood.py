"""One student floods the server with 20,000-character paragraphs: how far does its memory grow, and does it come back?

    python bench/bench_flood.py                          12 paragraphs on each page, then the cool-down (5–10 min)
    python bench/bench_flood.py --paragraphs 20 --out bench/RESULTS.md

The server is the app's launcher, `python -m app_support.server.serve` (one process, as `make run` starts it, with the
repository's `.streamlit/config.toml`), on 127.0.0.1 and a free port. One student (bench_load's websocket client,
which speaks what the browser speaks) opens each page of `PAGES` in turn, answers its "predict first" questions (so
that every section is drawn), and types a new paragraph into the sidebar's text box `--paragraphs` times (for at most
`--max-seconds` on one page): 20,000 characters of words drawn at random from the
preset paragraphs (the box keeps them all; the lessons cut each to the model's 256 pieces, so every one is a new
text), and after each one changes the page's controls that keep a cached result per text (`TOGGLES`). Each is a new
entry in every cache the page fills.

The server's resident size (VmRSS) is read before the flood, after every paragraph, and after the flood: once the
student has left and the disconnected-session TTL has passed, with a short visit by one more student so that the
server drops the expired session. ``ATTNVIZ_FLOOD_PAGES`` (lesson addresses, space-separated) floods other pages.
Nothing leaves the machine; the run stops at `--deadline` whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_load  # noqa: E402  (after the path fix)
from bench_load import MIB, ROOT, RerunFailed, Server, Stats, Student, WidgetState  # noqa: E402

PAGES = tuple(
    os.environ.get("ATTNVIZ_FLOOD_PAGES", "real-heads real-examples softmax efficient projections").split()
)  # the pages that keep most per text
TOGGLES = {"real-heads": ("real_words", "real_special")}  # controls whose every value is a cache entry per text
CHARS = 20_000


def flood_text(rng: random.Random) -> str:
    """20,000 characters of words from the preset paragraphs, in a random order: a text no cache has seen."""
    words = [w for text in json.loads((ROOT / "assets" / "presets.json").read_text()) for w in text.split()]
    out: list[str] = []
    length = 0
    while length < CHARS:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:CHARS]


async def cache_mib(server: Server) -> dict[str, float]:
    """What st.cache_data holds in the server, MiB per function (Streamlit's /_stcore/metrics: pickled bytes)."""
    import urllib.request

    def read() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.ports[0]}/_stcore/metrics", timeout=30) as r:
            return r.read().decode()

    text = await asyncio.to_thread(read)
    by_function: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("cache_memory_bytes") and "st_cache_data" in line:
            name = line.split('cache="', 1)[1].split('"', 1)[0].rsplit(".", 1)[-1]
            by_function[name] = by_function.get(name, 0.0) + float(line.rsplit(" ", 1)[1]) / MIB
    return by_function


def rss_mib(server: Server) -> float:
    """The server process's resident size, MiB."""
    return bench_load.rss_bytes(Path(f"/proc/{server.proc.pid}/status").read_text()) / MIB


async def flood(server: Server, page: str, count: int, seconds: float, rng: random.Random, samples: list[float],
                timeout: float) -> tuple[int, list[str]]:  # fmt: skip
    """One student on ``page`` typing ``count`` new paragraphs (for at most ``seconds``); the number typed and the
    errors seen."""
    student = Student(server.ports[0], page, rng, Stats(), timeout)
    errors: list[str] = []
    typed = 0
    try:
        await student.open()
        await student.rerun()
        for _ in range(8):  # the "predict first" questions answered: every section of the page is drawn
            question = student.unanswered_question()
            if question is None:
                break
            await student.rerun(question)
        end = time.monotonic() + seconds
        while typed < count and time.monotonic() < end:
            _, box = student.widgets["sentence"]
            try:
                await student.rerun(WidgetState(id=box.id, string_value=flood_text(rng)))
                for key in TOGGLES.get(page, ()):
                    if key in student.widgets:
                        _, proto = student.widgets[key]
                        old = student.states.get(proto.id)
                        value = not (old.bool_value if old is not None else proto.default)
                        await student.rerun(WidgetState(id=proto.id, bool_value=value))
            except RerunFailed as err:
                errors.append(str(err))
            typed += 1
            samples.append(rss_mib(server))
    finally:
        await student.close()
    return typed, errors


async def main(args: argparse.Namespace) -> str:
    load = os.getloadavg()
    server = Server(1, log="flood-server.log")
    rng = random.Random(args.seed)
    rows: list[str] = []
    try:
        await server.ready()
        await bench_load.warm_up(server, args.timeout)
        before = rss_mib(server)
        samples = [before]
        t0 = time.perf_counter()
        for page in PAGES:
            page_t0, cpu0 = time.perf_counter(), server.cpu_seconds()
            typed, errors = await flood(server, page, args.paragraphs, args.max_seconds, rng, samples, args.timeout)
            rows.append(
                f"| {page} | {typed} | {time.perf_counter() - page_t0:.0f} | {server.cpu_seconds() - cpu0:.0f} "
                f"| {max(samples):,.0f} | {len(errors)} |"
            )
            print(f"{page}: {typed} paragraphs, RSS now {samples[-1]:,.0f} MiB, peak {max(samples):,.0f} MiB, "
                  f"errors {sorted(set(errors))[:3]}", file=sys.stderr)  # fmt: skip
        wall = time.perf_counter() - t0
        end_of_flood, by_function = samples[-1], await cache_mib(server)
        cached = sum(by_function.values())
        largest = sorted(by_function.items(), key=lambda kv: -kv[1])[:6]
        await asyncio.sleep(args.ttl_wait)
        visitor = Student(server.ports[0], "", random.Random(0), Stats(), args.timeout)
        try:
            await visitor.open()
            await visitor.rerun()
        finally:
            await visitor.close()
        await asyncio.sleep(3)
        after = rss_mib(server)
    finally:
        server.stop()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"### {when}: one student, {args.paragraphs} paragraphs of 20,000 characters on each page",
            "",
            f"{bench_load.machine()}. Load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. "
            f"Config: {bench_load.config_summary()}. One server process (`python -m app_support.server.serve`). "
            f"Resident size (VmRSS) before the flood (after one visit to every lesson): {before:,.0f} MiB; peak "
            f"during it: {max(samples):,.0f} MiB; at its end: {end_of_flood:,.0f} MiB, of which st.cache_data holds "
            f"{cached:,.0f} MiB (pickled, /_stcore/metrics); after the student left and {args.ttl_wait:.0f} s: "
            f"{after:,.0f} MiB. Flood: {wall:.0f} s, {len(samples) - 1} paragraphs. The largest caches at the end of "
            "the flood: " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in largest) + ".",
            "",
            "| page | paragraphs typed | seconds | server CPU s | peak RSS so far MiB | errors |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paragraphs", type=int, default=12, help="paragraphs typed on each page (default 12)")
    p.add_argument("--max-seconds", type=float, default=240, help="at most this long on one page, s (default 240)")
    p.add_argument("--timeout", type=float, default=120, help="longest wait for one rerun, s (default 120)")
    p.add_argument("--ttl-wait", type=float, default=35, help="wait after the flood, s (default 35: the TTL, 30 s)")
    p.add_argument("--deadline", type=float, default=1200, help="stop everything after this many s (default 1200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="append the markdown table to this file")
    return p.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(asyncio.wait_for(main(args), args.deadline))
    except TimeoutError:
        print(f"stopped: the run passed its deadline of {args.deadline:.0f} s", file=sys.stderr)
        return 1
    print(report)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write("\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(run())
