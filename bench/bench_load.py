"""A class at once: N students drive the real server through Streamlit's own websocket protocol.

    python bench/bench_load.py                      all class sizes, N = 1, 10, 30, 60 (about 8 minutes)
    python bench/bench_load.py --quick              N = 1 and 10, 20 s each (about 2 minutes)
    python bench/bench_load.py --sizes 30 --duration 45 --replicas 2 --out bench/RESULTS.md
    python bench/bench_load.py --replicas 3 --paragraphs 0.25   a quarter of each class on a 256-piece paragraph

The server is the app's launcher, `python -m server.serve`, with the repository's `.streamlit/config.toml`, on
127.0.0.1 and a free port. `--replicas K` has it fork K servers on K ports after loading the vectors and the model
once (they share those pages), and gives each student one of them for the whole session, as a load balancer with
sticky sessions would. Nothing leaves the machine.

Each student is an asyncio websocket client that speaks what the browser speaks: it fetches the XSRF cookie,
opens `/_stcore/stream` with the `streamlit` subprotocol and the token, and sends `BackMsg.rerun_script` with the
page's name or script hash, the URL's query string, the state of every widget it has set and the hashes of the
large messages it already holds (the server then sends a reference instead, as it does to a browser), and for a
control drawn inside a fragment (st.fragment) the fragment's id, so that only that fragment reruns. It reads
ForwardMsgs until `script_finished`, and learns the widgets' ids and options from the deltas of the run before.

A student opens one lesson (the class is spread over the lessons in `INTERACTIONS`), answers its "predict first"
questions, then again and again thinks for 1–3 s (uniform) and changes one of the page's ordinary controls — a
slider, radio, selectbox, toggle, a word typed in a box, now and then a new sentence. Never the training button.
Latency is the time from sending the rerun to `script_finished`. Errors are exceptions drawn on the page, a
connection the server closed, and reruns that did not finish within `--timeout` seconds.

`--paragraphs FRACTION`: round(FRACTION × N) of the students, drawn by `--seed` and N alone, open their lesson by a
link that carries the longest preset paragraph (exactly 256 WordPiece pieces, the model's whole window) compressed
in `textz=`, as the app writes a long text into the URL, and when they type new text they type one of the preset
paragraphs; the others type only sentences. The table then adds each group's reruns and p50/p95/max beside the
overall figures, and the paragraph students' page load.

Server memory is the proportional set size (PSS, /proc/<pid>/smaps_rollup) summed over the launcher and its
replicas, sampled every 2 s (each reading costs the kernel 15–25 ms per process): a page shared by k of them counts
1/k in each, so the sum is the memory the server takes (RSS would count the shared vectors and model once per
replica). "After" is the memory once every student has left and the disconnected-session TTL of the config has
passed (a short visit by one more student makes the server drop the expired sessions). Each process's resident
size (VmRSS, /proc/PID/status) is also read before the first student arrives and at the end of the run, while every
session is still open; the table's notes give it per process, in total and as growth per student (RSS counts the
pages the replicas share once in each: the growth is the measure; it includes what new texts add to the bounded
caches, which a second class of the same size, `--sizes 60,60`, finds filled: its growth is the sessions' own). The
figures print as a markdown table; `--out` appends it. Every phase is bounded: students stop at the end of
`--duration`, a rerun waits at most `--timeout`, and the whole run stops at `--deadline` seconds whatever happens,
taking its servers down with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app_support.kit import course, sentence  # noqa: E402  (after the path fix)
from attnviz import paragraph  # noqa: E402
from tests.e2e.conftest import free_ports  # noqa: E402

CONFIG = ROOT / ".streamlit" / "config.toml"
LOGS = ROOT / "artifacts" / "bench-load"
PRESETS: list[str] = json.loads((ROOT / "assets" / "presets.json").read_text())

# Each lesson's URL path → the keys of its ordinary controls (a student changes one of those present at a time).
# Lesson 3's training button and "Trained here" are left out: training is a long run a class starts once.
INTERACTIONS: dict[str, tuple[str, ...]] = {
    "": ("emb_topn", "emb_include", "emb_dims", "emb_nn_k", "emb_nn_word", "emb_claim_kind"),
    "similarity": ("sim_kind", "sim_focus", "sim_exclude", "sim_probe_a", "sim_probe_b"),
    "projections": ("proj_kind", "proj_seed", "proj_query", "proj_layer", "proj_head"),
    "softmax": ("soft_proj", "soft_sqrt", "soft_temp", "soft_causal", "soft_row"),
    "multihead": ("mh_heads", "mh_dim", "mh_seed", "mh_focus"),
    "real-heads": ("real_words", "real_special", "real_layer", "real_head", "real_focus"),
    "real-examples": ("real_coref_pick", "real_coref_tgt", "real_drift_word"),
}
SKIP_OPTIONS = {"proj_kind": ("Trained here",)}  # options a student never picks here
WORDS = {  # what a student types into a word box
    "emb_nn_word": ("bank", "river", "king", "music", "apple", "teacher", "ocean", "computer"),
    "sim_probe_a": ("river", "water", "boat", "shore"),
    "sim_probe_b": ("money", "loan", "cash", "credit"),
    "real_coref_tgt": ("cat", "mat"),
    "real_drift_word": ("bank",),
}
SENTENCE_SHARE = 0.15  # share of interactions that type a new sentence into the sidebar box instead
SENTENCES = [
    *(p for p in PRESETS if len(p) <= paragraph.SHORT_CHARS),  # the presets' sentences; the paragraphs are below
    "the students asked the teacher why the river bank was flooded",
    "she sold her old car to buy a new bicycle for the summer",
    "a bird sang on the roof while the children played in the garden",
    "the bank raised its interest rates again this year",
]
# --paragraphs: a share of the students opens the course on the longest preset paragraph (exactly 256 WordPiece
# pieces, the model's whole window) by a link with `textz=` as a shared link would, and types only paragraphs.
PARAGRAPHS = [p for p in PRESETS if len(p) > paragraph.SHORT_CHARS]
OPENING_PARAGRAPH = max(PARAGRAPHS, key=len) if PARAGRAPHS else ""
WIDGETS = {"slider", "radio", "selectbox", "checkbox", "number_input", "text_input", "text_area", "button"}


# ------------------------------------------------------------------------------------------------ the server


class Server:
    """The app's launcher, `python -m app_support.server.serve --replicas K`, on 127.0.0.1: one Streamlit server, or K
    forked from one process that loaded the vectors and the model first (README, "Serving a class"). Its log is in
    artifacts/bench-load/server.log."""

    def __init__(self, replicas: int, env: dict[str, str] | None = None, log: str = "server.log",
                 port: int | None = None) -> None:  # fmt: skip
        self.ports = free_ports(replicas) if port is None else list(range(port, port + replicas))
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = (LOGS / log).open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app_support.server.serve", "--replicas", str(replicas),
             "--server.port", str(self.ports[0]), "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=os.environ | (env or {}),
        )  # fmt: skip

    async def ready(self, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        waiting = list(self.ports)
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log.name}")
            for port in list(waiting):
                with contextlib.suppress(OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    status, _ = await http_get(port, "/_stcore/health")
                    if status == 200:
                        waiting.remove(port)
            if not waiting:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the server did not answer its health check within {timeout:.0f} s")

    def pids(self) -> list[int]:
        """The launcher and the replicas it forked."""
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def memory(self) -> int:
        """Bytes of memory the server takes: the proportional set size (PSS) summed over its processes. A page that k
        processes share counts 1/k in each, so replicas sharing the vectors and the model are not counted k times
        (for one process, PSS is its resident size less the library pages other programs share)."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
                found = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
                total += int(found.group(1)) * 1024 if found else 0
        return total

    def rss(self) -> dict[int, int]:
        """Each live server process's resident set size in bytes (VmRSS of /proc/PID/status), launcher first. RSS
        counts a page shared by the forked replicas (the vectors, the model) once in each, so the sum overstates the
        total; the growth of each process is what its sessions added."""
        sizes = {}
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError):
                sizes[pid] = rss_bytes(Path(f"/proc/{pid}/status").read_text())
        return sizes

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the launcher and its live replicas."""
        total = 0.0
        for pid in self.pids():
            try:
                parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # a replica the launcher could not stop
        self.log.close()


def rss_bytes(status: str) -> int:
    """The VmRSS line of a /proc/PID/status text, in bytes (ValueError without one: a zombie, a kernel thread)."""
    found = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.M)
    if found is None:
        raise ValueError("no VmRSS line")
    return int(found.group(1)) * 1024


def paragraph_students(n: int, fraction: float, seed: int) -> set[int]:
    """Which of students 0..n-1 open the course on a paragraph: round(fraction × n) of them, drawn by `seed` alone
    (the same class gets the same choice on every run; the students' other choices do not move it)."""
    k = min(n, max(0, round(fraction * n)))
    return set(random.Random(f"paragraphs {seed} {n}").sample(range(n), k))


async def http_get(port: int, path: str, cookie: str = "") -> tuple[int, dict[str, list[str]]]:
    """A bare HTTP/1.1 GET on localhost (with ``cookie`` as its Cookie header): the status and the response headers
    (lower-case names)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    sent = f"Cookie: {cookie}\r\n" if cookie else ""
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{sent}Connection: close\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers


# ----------------------------------------------------------------------------------------------- a student


class RerunFailed(Exception):
    """A rerun that ended in an error: the reason is the message."""


@dataclass
class Stats:
    """What every student reports, for one class size."""

    latencies: list[float] = field(default_factory=list)  # seconds, send → script_finished, interactions
    loads: list[float] = field(default_factory=list)  # seconds, connect → first script_finished
    errors: Counter[str] = field(default_factory=Counter)
    by_control: dict[str, list[float]] = field(default_factory=dict)
    by_group: dict[str, list[float]] = field(default_factory=dict)  # "sentence" / "paragraph" → latencies
    loads_by_group: dict[str, list[float]] = field(default_factory=dict)
    largest_message: int = 0  # bytes of the largest ForwardMsg seen
    largest_where: str = ""  # the page and the group of the student who received it


class Student:
    """One browser tab: a websocket session on one page of the app."""

    def __init__(self, port: int, page: str, rng: random.Random, stats: Stats, timeout: float, text: str = "") -> None:
        self.port, self.page, self.rng, self.stats, self.timeout = port, page, rng, stats, timeout
        # a paragraph student arrives by a link carrying its text, compressed, as the app itself writes it
        self.group = "paragraph" if text else "sentence"
        self.query = f"{sentence.LINK_KEY}={paragraph.pack(text)}" if text else ""  # the URL's, as the server set it
        self.page_hash = ""  # the page's script hash, once the server has named it
        self.widgets: dict[str, tuple[str, object]] = {}  # user key → (element type, proto), from the last run
        self.states: dict[str, WidgetState] = {}  # widget id → the value this student gave it
        self.fragment_of: dict[str, str] = {}  # widget id → the fragment that draws it ("" for the page itself)
        self.cache: dict[str, ForwardMsg] = {}  # hash → large message already received (the browser's cache)
        self.used: set[str] = set()  # hashes of the large messages of the run in progress
        self.finished: asyncio.Future[int] | None = None
        self.run_errors: list[str] = []
        self.seen: dict[str, tuple[str, object]] = {}
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.cookies: dict[str, str] = {}  # name → value, as the server set them

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    async def open(self) -> None:
        """Connect as a browser does: the page and the health check first, keeping every cookie they set (the XSRF
        token, the class's student id, a load balancer's replica), then the websocket with those cookies."""
        for path in ("/", "/_stcore/health"):
            _, headers = await http_get(self.port, path, self.cookie_header())
            for set_cookie in headers.get("set-cookie", []):
                name, _, value = set_cookie.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        token = self.cookies.get("_streamlit_xsrf", "")
        cookie = self.cookie_header()
        self.ws = await connect(
            f"ws://127.0.0.1:{self.port}/_stcore/stream",
            subprotocols=["streamlit", token] if token else ["streamlit"],  # type: ignore[list-item]
            origin=f"http://127.0.0.1:{self.port}",  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie} if cookie else None,
            max_size=None,
            ping_interval=None,
            open_timeout=self.timeout,
        )
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader

    async def _read(self) -> None:
        try:
            async for raw in self.ws:  # type: ignore[union-attr]
                if len(raw) > self.stats.largest_message:
                    self.stats.largest_message = len(raw)
                    self.stats.largest_where = f"{self.page or 'embeddings'}, a {self.group} student"
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self._handle(msg)
        except ConnectionClosed:
            pass
        if self.finished is not None and not self.finished.done():
            self.finished.set_exception(RerunFailed("disconnected"))

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self.run_errors.append("reference to a message never received")
                return
            msg, kind = cached, "delta"
            self.used.add(msg.hash)
        if kind == "delta":
            if msg.metadata.cacheable:
                self.cache[msg.hash] = msg
                self.used.add(msg.hash)
            if msg.delta.WhichOneof("type") != "new_element":
                return
            element = msg.delta.new_element
            etype = element.WhichOneof("type")
            if etype == "exception":
                self.run_errors.append(f"exception on the page: {element.exception.type}")
            elif etype in WIDGETS:
                proto = getattr(element, etype)
                key = proto.id.split("-", 2)[-1] if proto.id.count("-") >= 2 else ""
                if key and key != "None":
                    self.seen[key] = (etype, proto)
                    self.fragment_of[proto.id] = msg.delta.fragment_id
        elif kind == "navigation":
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            self.run_errors.append("the script did not compile")
        elif kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return  # the script asked for another run (st.rerun): the answer is the next one
            if self.finished is not None and not self.finished.done():
                self.finished.set_result(status)

    async def rerun(self, change: WidgetState | None = None, auto_fragment: str = "") -> float:
        """Send one rerun (with `change` applied, or of the fragment `auto_fragment` as its `run_every` asks) and wait
        for the script to finish; the latency in seconds."""
        if change is not None:
            self.states[change.id] = change
        live = {proto.id for _, proto in self.widgets.values()}
        # as the browser does: a control drawn inside a fragment (st.fragment) reruns that fragment alone
        fragment = self.fragment_of.get(change.id, "") if change is not None else auto_fragment
        state = ClientState(
            query_string=self.query,
            page_script_hash=self.page_hash,
            page_name="" if self.page_hash else self.page,
            cached_message_hashes=list(self.cache),
            fragment_id=fragment,
            is_auto_rerun=bool(auto_fragment),
        )
        state.widget_states.widgets.extend(s for i, s in self.states.items() if i in live)
        back = BackMsg(rerun_script=state)
        self.seen, self.run_errors, self.used = {}, [], set()
        self.finished = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        try:
            await self.ws.send(back.SerializeToString())  # type: ignore[union-attr]
        except BaseException:
            self.finished.cancel()  # nobody will wait for it: the reader must not set an exception no one reads
            raise
        try:
            status = await asyncio.wait_for(self.finished, self.timeout)
        except TimeoutError:
            raise RerunFailed(f"no script_finished within {self.timeout:.0f} s") from None
        elapsed = time.perf_counter() - t0
        if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            # the rest of the page stays as it was: keep its widgets and its messages
            kept = {k: w for k, w in self.widgets.items() if self.fragment_of.get(w[1].id, "") != fragment}
            self.widgets = kept | self.seen
        else:
            self.widgets = self.seen
            # like the browser's cache, keep what the last run drew (a student's cache stays the size of one page)
            self.cache = {h: m for h, m in self.cache.items() if h in self.used}
        if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            self.run_errors.append("the script did not compile")
        if self.run_errors:
            raise RerunFailed("; ".join(sorted(set(self.run_errors))))
        return elapsed

    # -- choosing what to change

    def unanswered_question(self) -> WidgetState | None:
        for key, (etype, proto) in self.widgets.items():
            if etype == "radio" and "predict" in key and not proto.HasField("default") and proto.id not in self.states:
                return WidgetState(id=proto.id, string_value=self.rng.choice(list(proto.options)))
        return None

    def next_change(self) -> tuple[str, WidgetState] | None:
        if "sentence" in self.widgets and self.rng.random() < SENTENCE_SHARE:
            _, proto = self.widgets["sentence"]
            texts = PARAGRAPHS if self.group == "paragraph" else SENTENCES
            return "sentence", WidgetState(id=proto.id, string_value=self.rng.choice(texts))
        keys = [k for k in INTERACTIONS.get(self.page, ()) if k in self.widgets]
        self.rng.shuffle(keys)
        for key in keys:
            change = self._change(key, *self.widgets[key])
            if change is not None:
                return key, change
        return None

    def _change(self, key: str, etype: str, proto) -> WidgetState | None:
        rng, old = self.rng, self.states.get(proto.id)
        if etype == "slider" and proto.options:  # select_slider: options as their labels
            return WidgetState(id=proto.id, string_array_value={"data": [rng.choice(list(proto.options))]})
        if etype == "slider":
            steps = round((proto.max - proto.min) / proto.step)
            value = proto.min + rng.randint(0, steps) * proto.step
            return WidgetState(id=proto.id, double_array_value={"data": [value]})
        if etype in ("radio", "selectbox"):
            options = [o for o in proto.options if o not in SKIP_OPTIONS.get(key, ())]
            return WidgetState(id=proto.id, string_value=rng.choice(options)) if options else None
        if etype == "checkbox":
            current = old.bool_value if old is not None else proto.default
            return WidgetState(id=proto.id, bool_value=not current)
        if etype == "number_input":
            low, high = (proto.min if proto.has_min else 0), (proto.max if proto.has_max else 100)
            return WidgetState(id=proto.id, double_value=float(rng.randint(int(low), int(min(high, low + 500)))))
        if etype in ("text_input", "text_area") and key in WORDS:
            return WidgetState(id=proto.id, string_value=rng.choice(WORDS[key]))
        return None

    # -- the session

    async def attend(self, end: float, think: tuple[float, float]) -> None:
        """Open the page, answer its questions, then change controls until `end` (a time.monotonic())."""
        t0 = time.perf_counter()
        try:
            await self.open()
            await self.rerun()
            self.stats.loads.append(time.perf_counter() - t0)
            self.stats.loads_by_group.setdefault(self.group, []).append(self.stats.loads[-1])
            while time.monotonic() < end:
                await asyncio.sleep(self.rng.uniform(*think))
                if time.monotonic() >= end:
                    break
                question = self.unanswered_question()
                picked = ("question", question) if question is not None else self.next_change()
                if picked is None:
                    continue
                name, change = picked
                latency = await self.rerun(change)
                self.stats.latencies.append(latency)
                self.stats.by_group.setdefault(self.group, []).append(latency)
                tag = " (paragraph)" if self.group == "paragraph" else ""
                self.stats.by_control.setdefault(f"{self.page or 'embeddings'} · {name}{tag}", []).append(latency)
        except RerunFailed as err:
            self.stats.errors[str(err)] += 1
        except (OSError, ConnectionClosed, TimeoutError) as err:
            self.stats.errors[f"connection: {type(err).__name__}"] += 1
        finally:
            await self.close()


# ------------------------------------------------------------------------------------------------- a class


@dataclass
class Result:
    n: int
    stats: Stats
    duration: float
    mem_start: int
    mem_peak: int
    mem_after: int
    cpu_share: float  # server CPU seconds per wall second (1.0 = one core busy)
    client_cpu: float  # the same for this process, the students' side
    rss_before: dict[int, int] = field(default_factory=dict)  # pid → VmRSS bytes before the first student arrives
    rss_end: dict[int, int] = field(default_factory=dict)  # pid → VmRSS bytes at the end, every session still open
    n_paragraph: int = 0  # students on a paragraph


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Memory:
    """Samples the server's memory (PSS summed over its processes) until stopped."""

    def __init__(self, server: Server) -> None:
        self.server, self.peak, self.task = server, 0, None

    def now(self) -> int:
        return self.server.memory()

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            await asyncio.sleep(2.0)  # reading smaps_rollup walks the process's page tables: ~15–25 ms each

    def start(self) -> None:
        self.peak = self.now()
        self.task = asyncio.create_task(self._sample())

    async def stop(self) -> int:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        return max(self.peak, self.now())


def pages() -> list[str]:
    return [lesson.address for lesson in course.LESSONS if lesson.address in INTERACTIONS]  # in the course's order


async def warm_up(server: Server | Fleet, timeout: float, ports: list[int] | None = None) -> float:
    """One visit to every lesson on every replica (or on ``ports``), so that loading the vectors and the model is not
    measured."""
    t0 = time.perf_counter()
    stats = Stats()
    for port in ports or server.ports:
        for page in pages():
            student = Student(port, page, random.Random(0), stats, timeout)
            try:
                await student.open()
                await student.rerun()
                for _ in range(8):
                    question = student.unanswered_question()
                    if question is None:
                        break
                    await student.rerun(question)
            finally:
                await student.close()
    if stats.errors:
        raise RuntimeError(f"the warm-up visit failed: {dict(stats.errors)}")
    return time.perf_counter() - t0


async def one_class(
    server: Server,
    n: int,
    duration: float,
    think: tuple[float, float],
    ttl: float,
    timeout: float,
    seed: int,
    paragraphs: float = 0.0,
) -> Result:
    stats, memory = Stats(), Memory(server)
    cpu0, wall0, mine0 = server.cpu_seconds(), time.perf_counter(), time.process_time()
    rss_before = server.rss()
    mem_start = memory.now()
    memory.start()
    ramp = min(10.0, 0.2 * n)  # students arrive over up to 10 s
    end = time.monotonic() + ramp + duration
    rng = random.Random(seed + n)
    on_paragraph = paragraph_students(n, paragraphs, seed)
    students = [
        Student(
            port, pages()[i % len(pages())], random.Random(rng.random()), stats, timeout,
            text=OPENING_PARAGRAPH if i in on_paragraph else "",
        )
        for i, port in enumerate(server.ports[i % len(server.ports)] for i in range(n))
    ]  # fmt: skip

    async def arrive(i: int, student: Student) -> None:
        await asyncio.sleep(ramp * i / max(1, n))
        await student.attend(end, think)

    async def rss_at_end() -> dict[int, int]:  # every student still connected (they leave after `end`)
        await asyncio.sleep(max(0.0, end - time.monotonic() - 0.5))
        return server.rss()

    rss_task = asyncio.create_task(rss_at_end())
    await asyncio.gather(*(arrive(i, s) for i, s in enumerate(students)))
    rss_end = await rss_task
    wall = time.perf_counter() - wall0
    cpu = server.cpu_seconds() - cpu0
    mine = time.process_time() - mine0
    mem_peak = await memory.stop()
    # Everyone has left. Wait out the disconnected-session TTL, then one short visit per replica: saving its session
    # makes the session store drop the expired ones (it expires entries when written to).
    await asyncio.sleep(ttl + 2)
    for port in server.ports:
        visitor = Student(port, "similarity", random.Random(0), Stats(), timeout)
        try:
            await visitor.open()
            await visitor.rerun()
        finally:
            await visitor.close()
    await asyncio.sleep(3)
    return Result(
        n,
        stats,
        wall,
        mem_start,
        mem_peak,
        memory.now(),
        cpu / wall,
        mine / wall,
        rss_before,
        rss_end,
        len(on_paragraph),
    )


# ------------------------------------------------------------------------ launchers behind a real load balancer

CADDYFILE = ROOT / "deploy" / "Caddyfile"  # the README's (README, "Serving a class")
CADDY = shutil.which("caddy") or "/usr/bin/caddy"


def caddyfile_for(port: int, upstreams: list[int], text: str | None = None) -> str:
    """`deploy/Caddyfile` for a run on this machine: its site on 127.0.0.1:``port``, its upstreams the replicas on
    ``upstreams``, every other line as the file has it; Caddy's admin endpoint off (two runs side by side would
    share its port)."""
    text = CADDYFILE.read_text(encoding="utf-8") if text is None else text
    text, sites = re.subn(r"^:80 \{", f"http://127.0.0.1:{port} {{", text, count=1, flags=re.M)
    upstream = " ".join(f"127.0.0.1:{p}" for p in upstreams)
    text, proxies = re.subn(r"^(\s*reverse_proxy)\s[^{\n]*\{", rf"\g<1> {upstream} {{", text, count=1, flags=re.M)
    if sites != 1 or proxies != 1:
        raise ValueError("the Caddyfile has no ':80 {' site or no 'reverse_proxy … {' line")
    return "{\n\tadmin off\n}\n\n" + text


def replica_cookie(port: int) -> str:
    """The value of Caddy's `lb_policy cookie` cookie that sends a browser to the replica on ``port``: HMAC-SHA256 of
    the upstream's address under the policy's secret (none in deploy/Caddyfile), as Caddy 2.6 computes it."""
    import hashlib
    import hmac

    return hmac.new(b"", f"127.0.0.1:{port}".encode(), hashlib.sha256).hexdigest()


class Caddy:
    """Caddy running `caddyfile_for` on a free port (its log: artifacts/bench-load/caddy.log)."""

    def __init__(self, upstreams: list[int], workdir: Path) -> None:
        self.port = free_ports(1)[0]
        config = workdir / "Caddyfile"
        config.write_text(caddyfile_for(self.port, upstreams), encoding="utf-8")
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = (LOGS / "caddy.log").open("w")
        home = {"HOME": str(workdir), "XDG_DATA_HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir)}
        self.proc = subprocess.Popen(
            [CADDY, "run", "--config", str(config), "--adapter", "caddyfile"],
            cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ | home,
        )  # fmt: skip

    async def ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"caddy exited with {self.proc.returncode}; see {self.log.name}")
            with contextlib.suppress(OSError, ValueError, TimeoutError):
                if (await http_get(self.port, "/_stcore/health"))[0] == 200:
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"caddy did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


class Postgres:
    """A throw-away PostgreSQL server (`.ci/postgres.sh`) in a new temporary folder (one the `postgres` user can
    reach, when run as root) on a free port; `dsn` is its address; `stop` stops it and removes the folder."""

    def __init__(self) -> None:
        import tempfile

        self.dir, self.port = Path(tempfile.mkdtemp(prefix="attnviz-pg-")), free_ports(1)[0]
        workdir = self.dir
        done = subprocess.run([str(ROOT / ".ci" / "postgres.sh"), str(workdir), str(self.port)],
                              capture_output=True, text=True, timeout=180, check=True)  # fmt: skip
        self.dsn = done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda b: int(b.parent.name))
        command = [str(bins[-1] / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "stop"]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def listening_pid(port: int, pids: list[int]) -> int:
    """Which of ``pids`` holds the listening socket on ``port`` (from /proc: its socket's inode)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return pid
    raise LookupError(f"no process of {pids} listens on {port}")


class Fleet:
    """``launchers`` launchers (`Server`) of ``replicas`` each, with one cookie secret and the environment ``env``
    (the class store), reached through Caddy (`deploy/Caddyfile`) or, without it, each student kept on one replica.
    It answers what `Server` answers (ports, memory, CPU) for all of them together."""

    def __init__(self, launchers: int, replicas: int, env: dict[str, str], caddy: bool, workdir: Path) -> None:
        import secrets

        # one cookie secret: a cookie one replica signed is good at every other
        self.env = env | {"STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
        self.launchers = [Server(replicas, self.env, "server.log" if launchers == 1 else f"server-{i + 1}.log")
                          for i in range(launchers)]  # fmt: skip
        self.replica_ports = [port for launcher in self.launchers for port in launcher.ports]
        self.caddy = Caddy(self.replica_ports, workdir) if caddy else None
        self.ports = [self.caddy.port] if self.caddy else self.replica_ports
        self._cpu: dict[int, float] = {}  # pid → CPU seconds when last read

    def restart(self, index: int) -> None:
        """Start launcher ``index`` again on its ports (after it was killed), with the same environment."""
        old = self.launchers[index]
        old.stop()
        log = Path(old.log.name).name.replace(".log", "-again.log")
        self.launchers[index] = Server(len(old.ports), self.env, log, port=old.ports[0])

    async def ready(self) -> None:
        for launcher in self.launchers:
            await launcher.ready(timeout=300)  # launchers preloading side by side on two cores
        if self.caddy is not None:
            await self.caddy.ready()

    def pids(self) -> list[int]:
        return [pid for launcher in self.launchers for pid in launcher.pids()]

    def memory(self) -> int:
        self.cpu_seconds()  # sampled with the memory (every 2 s): a process killed since keeps what it had used
        return sum(launcher.memory() for launcher in self.launchers)

    def rss(self) -> dict[int, int]:
        return {pid: size for launcher in self.launchers for pid, size in launcher.rss().items()}

    def cpu_seconds(self) -> float:
        """CPU time of every server process this fleet has had, a killed one's as last read."""
        for pid in self.pids():
            with contextlib.suppress(OSError, IndexError):
                parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self._cpu[pid] = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        return sum(self._cpu.values())

    def stop(self) -> None:
        if self.caddy is not None:
            self.caddy.stop()
        for launcher in self.launchers:
            launcher.stop()


async def faults(fleet: Fleet, duration: float, log: list[str]) -> None:
    """Mid-class: at a third of ``duration`` SIGKILL the last replica of the first launcher (its launcher starts it
    again); at two thirds, with two launchers or more, SIGKILL the last launcher and its replicas (they stay down)."""
    first = fleet.launchers[0]
    await asyncio.sleep(duration / 3)
    victim = listening_pid(first.ports[-1], first.pids()[1:])
    os.kill(victim, signal.SIGKILL)
    log.append(f"{time.monotonic():.1f}: replica on port {first.ports[-1]} killed")
    if len(fleet.launchers) > 1:
        await asyncio.sleep(duration / 3)
        os.killpg(fleet.launchers[-1].proc.pid, signal.SIGKILL)
        log.append(f"{time.monotonic():.1f}: launcher of ports {fleet.launchers[-1].ports} killed")


# -------------------------------------------------------------------------------------------- a live class

CLASS_PAGE, CLASS_QUESTION = "similarity", "sim_predict_diag"  # the page and the question the class answers
ANSWERS_RE = re.compile(
    r"\*\*(\d+) answers?\*\* from class"
)  # the teacher's live count (app_support.classroom.classroom)


class Live(Student):
    """A browser tab in a live class: it also runs the page's live parts (`st.fragment(run_every=…)`) when due, as the
    browser does on the server's `auto_rerun` message, and reads the teacher's live answer count."""

    def __init__(self, *args, query: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.query = query
        self.auto: dict[str, float] = {}  # fragment id → interval, s
        self.last: dict[str, float] = {}  # fragment id → when it last ran (time.monotonic())
        self.counts: list[tuple[float, int]] = []  # (when seen, answers) on the teacher's screen
        self.live_latencies: list[float] = []
        self.asked: set[str] = set()  # the fragments this run asked to rerun

    async def rerun(self, change: WidgetState | None = None, auto_fragment: str = "") -> float:
        self.asked = set()
        elapsed = await super().rerun(change, auto_fragment)
        if not auto_fragment and (change is None or not self.fragment_of.get(change.id, "")):
            # a whole run: as the browser does, keep only the timers of the fragments it drew (the server drops a
            # rerun of a fragment it no longer holds, without an answer)
            self.auto = {fid: every for fid, every in self.auto.items() if fid in self.asked}
        return elapsed

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "auto_rerun":
            self.auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            self.asked.add(msg.auto_rerun.fragment_id)
            self.last.setdefault(msg.auto_rerun.fragment_id, time.monotonic())
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.auto.pop(fid, None)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            if element.WhichOneof("type") == "markdown" and (found := ANSWERS_RE.search(element.markdown.body)):
                self.counts.append((time.monotonic(), int(found.group(1))))
        super()._handle(msg)

    def next_live(self) -> tuple[str, float] | None:
        """The live part due first, and when."""
        due = [(fid, self.last.get(fid, 0.0) + interval) for fid, interval in self.auto.items()]
        return min(due, key=lambda d: d[1]) if due else None

    async def run_live(self, fid: str) -> None:
        self.last[fid] = time.monotonic()
        try:
            self.live_latencies.append(await self.rerun(auto_fragment=fid))
        except RerunFailed as err:
            raise RerunFailed(f"live part: {err}") from None

    async def live_until(self, when: float, end: float) -> None:
        """Run the live parts that fall due before `when` (a time.monotonic()), then wait for it."""
        while (now := time.monotonic()) < min(when, end):
            due = self.next_live()
            if due is None or due[1] >= min(when, end):
                await asyncio.sleep(min(when, end) - now)
                return
            await asyncio.sleep(max(0.0, due[1] - now))
            await self.run_live(due[0])


LOST = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError)  # the connection went (a replica died)


def lost(err: BaseException) -> bool:
    return isinstance(err, LOST) or (isinstance(err, RerunFailed) and "disconnected" in str(err))


@dataclass
class ClassRun:
    n: int
    code: str
    window: float
    sent: list[float]  # when each answer's rerun finished (time.monotonic())
    stored: int  # answers to the question counted in the store afterwards
    teacher: Live
    live: list[float]  # latencies of the students' live-part reruns, s
    stats: Stats  # ordinary controls after answering
    answer_latencies: list[float]
    cpu_share: float
    mem_peak: int
    acknowledged: dict[str, int] = field(default_factory=dict)  # student id → the choice its screen took
    matched: int = 0  # acknowledged answers found in the store with the choice acknowledged
    reconnects: int = 0  # connections lost (a replica killed) and made again, students and teacher
    faults: list[str] = field(default_factory=list)


async def _present(teacher: Live) -> None:
    """The teacher's screen: the page, then presenter mode's "Next step" until the question's live count shows."""
    await teacher.open()
    await teacher.rerun()
    seen = len(teacher.counts)
    for _ in range(4):
        if len(teacher.counts) == seen and "show_next" in teacher.widgets:
            await teacher.rerun(WidgetState(id=teacher.widgets["show_next"][1].id, trigger_value=True))
    if len(teacher.counts) == seen:
        raise RuntimeError("the teacher's screen shows no live answer count")


async def _reopen(tab: Live) -> None:
    """After a lost connection: a new session, as the browser makes (its cookies kept, the page's state gone)."""
    await tab.close()
    tab.ws, tab.page_hash, tab.widgets, tab.states, tab.fragment_of, tab.cache = None, "", {}, {}, {}, {}
    tab.auto, tab.last = {}, {}
    await asyncio.sleep(0.5)


async def class_lesson(server: Server | Fleet, store: Any, n: int, window: float, duration: float,
                       think: tuple[float, float], timeout: float, seed: int,
                       during: Callable[[], Awaitable[None]] | None = None) -> ClassRun:  # fmt: skip
    """A class of `n` on `CLASS_PAGE`: the teacher (presenter mode, the teacher's link) on the first port shows the
    question; the students, spread over the ports, join by the class link, answer within `window` s (uniform),
    then change ordinary controls until `duration` s; every tab runs its live parts when due. A tab whose connection
    is lost (a replica killed: `during` does that) connects again, as a browser does, and a student who had not
    answered yet answers then. Afterwards each acknowledged answer is looked up in ``store`` (a `ClassStore`)."""
    from app_support.classroom import class_questions

    code, token = store.create_class()
    stats, memory, rng = Stats(), Memory(server), random.Random(seed)
    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    memory.start()
    teacher = Live(server.ports[0], CLASS_PAGE, random.Random(seed), Stats(), timeout,
                   query=f"class={code}&teacher={token}&present=true")  # fmt: skip
    await _present(teacher)
    start = time.monotonic()
    end = start + duration
    sent: list[float] = []
    answer_latencies: list[float] = []
    qids: set[str] = set()
    acknowledged: dict[str, tuple[str, int]] = {}  # student id → (question id, choice)
    reconnects = Counter[str]()
    students = [Live(server.ports[i % len(server.ports)], CLASS_PAGE, random.Random(rng.random()), stats, timeout,
                     query=f"class={code}") for i in range(n)]  # fmt: skip

    async def answer(student: Live) -> None:
        _, proto = student.widgets[CLASS_QUESTION]
        qid = class_questions.question_id(CLASS_QUESTION, proto.label, list(proto.options))
        qids.add(qid)
        choice = student.rng.randrange(len(proto.options))
        change = WidgetState(id=proto.id, string_value=proto.options[choice])
        try:
            answer_latencies.append(await student.rerun(change))
        except RerunFailed as err:
            raise RerunFailed(f"answer: {err}") from None
        sent.append(time.monotonic())
        acknowledged[student.cookies.get("attnviz_student", f"tab {id(student)}")] = (qid, choice)

    async def attend(student: Live) -> None:
        answer_at, answered = start + student.rng.uniform(0, window), False
        while True:
            try:
                if student.ws is None:
                    await student.open()
                    await student.rerun()
                if not answered:
                    await student.live_until(answer_at, end)
                    await answer(student)
                    answered = True
                while time.monotonic() < end:
                    await student.live_until(time.monotonic() + student.rng.uniform(*think), end)
                    picked = student.next_change() if time.monotonic() < end else None
                    if picked is not None:
                        name, change = picked
                        latency = await student.rerun(change)
                        stats.latencies.append(latency)
                        stats.by_control.setdefault(f"{CLASS_PAGE} · {name}", []).append(latency)
                break
            except (RerunFailed, KeyError, *LOST) as err:
                if lost(err) and time.monotonic() < end and reconnects[f"s{id(student)}"] < 5:
                    reconnects[f"s{id(student)}"] += 1
                    await _reopen(student)
                    continue
                kind = f"connection: {type(err).__name__}" if isinstance(err, LOST) else str(err)
                stats.errors[kind] += 1
                break
        await student.close()

    async def teach() -> None:
        while True:
            try:
                await teacher.live_until(end, end)
                break
            except (RerunFailed, RuntimeError, *LOST) as err:
                if not lost(err) or time.monotonic() >= end or reconnects["teacher"] >= 5:
                    stats.errors[f"teacher: {err}"] += 1
                    break
                reconnects["teacher"] += 1
                await _reopen(teacher)
                with contextlib.suppress(RerunFailed, RuntimeError, *LOST):
                    await _present(teacher)
        await teacher.close()

    extra = [during()] if during is not None else []
    await asyncio.gather(teach(), *(attend(s) for s in students), *extra)
    cpu = server.cpu_seconds() - cpu0
    wall = time.perf_counter() - wall0
    mem_peak = await memory.stop()
    stored = sum(store.tally(code, qid, 3).total for qid in qids)
    matched = sum(store.my_answer(code, qid, sid) == choice for sid, (qid, choice) in acknowledged.items())
    if len(qids) > 1:
        stats.errors[f"the class saw {len(qids)} versions of the question"] += 1
    live = [x for s in students for x in s.live_latencies]
    return ClassRun(n, code, window, sent, stored, teacher, live, stats, answer_latencies, cpu / wall, mem_peak,
                    {sid: choice for sid, (_, choice) in acknowledged.items()}, matched,
                    sum(reconnects.values()))  # fmt: skip


def chart_lags(run: ClassRun) -> list[float]:
    """For the k-th answer stored: seconds until the teacher's screen first showed k answers or more (inf: never)."""
    lags = []
    for k, t in enumerate(sorted(run.sent), start=1):
        seen = [when for when, count in run.teacher.counts if count >= k and when >= t]
        lags.append(min(seen) - t if seen else float("inf"))
    return lags


def class_table(runs: list[ClassRun], args: argparse.Namespace, warm: float, load: tuple[float, ...]) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    processes = f"{args.replicas} server process{'es' if args.replicas > 1 else ''}"
    if args.launchers > 1:
        processes = f"{args.launchers} launchers of {args.replicas} replicas"
    route = ("through Caddy (deploy/Caddyfile, cookie stickiness)" if args.caddy
             else "each student kept on one replica")  # fmt: skip
    store = "PostgreSQL" if args.launchers > 1 or args.class_db else "SQLite (WAL) in a fresh data directory"
    killed = ("; mid-class, one replica SIGKILLed at a third of the time and the last launcher at two thirds"
              if args.kill else "")  # fmt: skip
    lines = [
        f"### {when}: a live class, {processes}, {route}, answers within {args.class_window:g} s, "
        f"{args.duration:.0f} s per class{killed}",
        "",
        f"{machine()}. Load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. "
        f"Config: {config_summary()}. Class store: {store}. Warm-up: {warm:.1f} s. "
        f"Page {CLASS_PAGE}; the teacher (presenter mode) on the first address, students spread over all; every tab "
        "runs its live parts when the server asks (students: one every 2 s; teacher: the live count every 1.5 s); a "
        'tab whose connection is lost connects again. "Acknowledged = stored" counts the students whose last '
        "acknowledged choice is the one the store has for them.",
        "",
        "| students | answers sent | answers stored | acknowledged = stored | reconnections | answer rerun p95 ms "
        "| teacher's count caught up p50 / p95 / max s "
        "| live-part reruns | live p95 ms | ordinary reruns | ordinary p50 ms | ordinary p95 ms | errors "
        "| server CPU (cores) | memory peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lags, s = chart_lags(r), r.stats
        lines.append(
            f"| {r.n} | {len(r.sent)} | {r.stored} | {r.matched} of {len(r.acknowledged)} | {r.reconnects} "
            f"| {percentile(r.answer_latencies, 0.95) * 1e3:.0f} "
            f"| {percentile(lags, 0.5):.2f} / {percentile(lags, 0.95):.2f} / {max(lags, default=float('nan')):.2f} "
            f"| {len(r.live)} | {percentile(r.live, 0.95) * 1e3:.0f} "
            f"| {len(s.latencies)} | {percentile(s.latencies, 0.5) * 1e3:.0f} "
            f"| {percentile(s.latencies, 0.95) * 1e3:.0f} "
            f"| {sum(s.errors.values())} | {r.cpu_share:.2f} | {r.mem_peak / MIB:.0f} |"
        )
    errors = Counter()
    for r in runs:
        errors.update({f"N={r.n}: {k}": v for k, v in r.stats.errors.items()})
    if errors:
        lines += ["", "Errors: " + "; ".join(f"{k} × {v}" for k, v in errors.items()) + "."]
    return "\n".join(lines) + "\n"


async def class_main(args: argparse.Namespace) -> str:
    import tempfile

    from app_support.classroom import class_store

    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="attnviz-bench-class-"))
    postgres = Postgres() if args.launchers > 1 and not args.class_db else None
    dsn = args.class_db or (postgres.dsn if postgres else "")
    env = {"ATTNVIZ_DATA_DIR": str(work), "ATTNVIZ_CLASS_DB": dsn}  # the servers' class store
    store = class_store.ClassStore(dsn=dsn) if dsn else class_store.ClassStore(path=work / class_store.DB_FILE)
    fleet = Fleet(args.launchers, args.replicas, env, args.caddy, work)
    runs: list[ClassRun] = []
    try:
        await fleet.ready()
        warm = await warm_up(fleet, args.timeout, ports=fleet.replica_ports)
        print(f"servers ready on ports {fleet.replica_ports}, students on {fleet.ports}; warm-up {warm:.1f} s",
              file=sys.stderr)  # fmt: skip
        for n in args.sizes:
            log: list[str] = []
            during = functools.partial(faults, fleet, args.duration, log) if args.kill else None
            run = await class_lesson(fleet, store, n, args.class_window, args.duration, args.think, args.timeout,
                                     args.seed + n, during)  # fmt: skip
            run.faults = log
            runs.append(run)
            lags = chart_lags(run)
            print(
                f"N={n}: {len(run.sent)} answers sent, {run.stored} stored, {run.matched} of "
                f"{len(run.acknowledged)} acknowledged found as acknowledged, {run.reconnects} reconnections, "
                f"teacher's count caught up p95 {percentile(lags, 0.95):.2f} s, ordinary p95 "
                f"{percentile(run.stats.latencies, 0.95) * 1e3:.0f} ms ({len(run.stats.latencies)}), live p95 "
                f"{percentile(run.live, 0.95) * 1e3:.0f} ms, errors {dict(run.stats.errors)}, faults {log}",
                file=sys.stderr,
            )
    finally:
        fleet.stop()
        store.close()
        if postgres is not None:
            postgres.stop()
    return class_table(runs, args, warm if runs else float("nan"), load)


# ---------------------------------------------------------------------------------------------------- report

MIB = 1024 * 1024


def config_summary() -> str:
    cfg = tomllib.loads(CONFIG.read_text()) if CONFIG.exists() else {}
    server, runner = cfg.get("server", {}), cfg.get("runner", {})
    parts = [
        f"disconnectedSessionTTL = {server.get('disconnectedSessionTTL', 120)} s",
        f"maxMessageSize = {server.get('maxMessageSize', 200)} MB",
        f"postScriptGC = {str(runner.get('postScriptGC', True)).lower()}",
    ]
    threads = os.environ.get("ATTNVIZ_TORCH_THREADS", "").strip()
    parts.append(f"torch threads per operation in the server: {threads or '1 (the app default)'}")
    return ", ".join(parts)


def machine() -> str:
    import streamlit
    import torch

    cores = os.cpu_count()
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (
        f"{cpu.group(1).strip() if cpu else platform.machine()}, {cores} cores, {mem:.0f} GiB, Python "
        f"{platform.python_version()}, Streamlit {streamlit.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} intra-op threads unless told)"
    )


def table(results: list[Result], args: argparse.Namespace, warm: float, load: tuple[float, ...]) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### {when}: {args.replicas} server process{'es' if args.replicas > 1 else ''}, "
        f"{args.duration:.0f} s per class size, think time {args.think[0]:g}–{args.think[1]:g} s"
        + (" (forked from one process that loaded the vectors and the model)" if args.replicas > 1 else ""),
        "",
        f"{machine()}. Load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. "
        f"Config: {config_summary()}. Warm-up visit to every lesson (loads the vectors and the model): "
        f"{warm:.1f} s. Memory: PSS summed over the server's processes.",
        "",
        "| students | reruns | p50 ms | p95 ms | max ms | page load p95 ms | errors | server CPU (cores) "
        "| memory before MiB | memory peak MiB | memory after TTL MiB |"
        + (" sentence students: reruns, p50/p95/max ms | paragraph students: reruns, p50/p95/max ms "
           "| paragraph page load p95 ms |" if args.paragraphs else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|---|" if args.paragraphs else ""),
    ]  # fmt: skip
    for r in results:
        s = r.stats
        line = (
            f"| {r.n} | {len(s.latencies)} | {percentile(s.latencies, 0.5) * 1e3:.0f} "
            f"| {percentile(s.latencies, 0.95) * 1e3:.0f} | {max(s.latencies, default=float('nan')) * 1e3:.0f} "
            f"| {percentile(s.loads, 0.95) * 1e3:.0f} | {sum(s.errors.values())} | {r.cpu_share:.2f} "
            f"| {r.mem_start / MIB:.0f} | {r.mem_peak / MIB:.0f} | {r.mem_after / MIB:.0f} |"
        )
        if args.paragraphs:
            line += (
                f" {group_cell(s.by_group.get('sentence', []))} | {group_cell(s.by_group.get('paragraph', []))} "
                f"| {percentile(s.loads_by_group.get('paragraph', []), 0.95) * 1e3:.0f} |"
            )
        lines.append(line)
    errors = Counter()
    for r in results:
        errors.update({f"N={r.n}: {k}": v for k, v in r.stats.errors.items()})
    largest = max((r.stats for r in results), key=lambda s: s.largest_message, default=Stats())
    where = f" ({largest.largest_where})" if largest.largest_where else ""
    lines += ["", f"Largest message from the server: {largest.largest_message / 1024:.0f} KiB{where}."]
    if args.paragraphs:
        lines.append(
            f"Paragraph students: round({args.paragraphs:g} × N) of each class, chosen by seed {args.seed} "
            f"({', '.join(f'N = {r.n}: {r.n_paragraph}' for r in results)}); each opens its lesson by a link "
            f"carrying the {len(OPENING_PARAGRAPH):,}-character preset paragraph (256 WordPiece pieces, the model's "
            f"whole window) compressed in `textz=`, and when it types new text picks one of the {len(PARAGRAPHS)} "
            "preset paragraphs; sentence students type only sentences."
        )
    lines += [rss_note(r) for r in results if r.rss_before and r.rss_end]
    if errors:
        lines.append("Errors: " + "; ".join(f"{k} × {v}" for k, v in errors.items()) + ".")
    if results:
        big = results[-1]
        slow = sorted(
            ((percentile(v, 0.95), k, len(v)) for k, v in big.stats.by_control.items() if len(v) >= 3), reverse=True
        )[:6]
        if slow:
            lines.append(
                f"Slowest controls at N = {big.n} (p95 ms, reruns): "
                + ", ".join(f"{k} {p * 1e3:.0f} ({c})" for p, k, c in slow)
                + "."
            )
    return "\n".join(lines) + "\n"


def group_cell(values: list[float]) -> str:
    """One group's reruns and p50/p95/max in ms, for a table cell."""
    if not values:
        return "0, –"
    ms = [v * 1e3 for v in values]
    return f"{len(ms)}, {percentile(ms, 0.5):.0f}/{percentile(ms, 0.95):.0f}/{max(ms):.0f}"


def rss_note(r: Result) -> str:
    """Each server process's VmRSS before the class and at its end (every session still open), the total and the
    growth per student."""
    pids = list(dict.fromkeys([*r.rss_before, *r.rss_end]))
    parts = []
    for i, pid in enumerate(pids):
        before, end = r.rss_before.get(pid), r.rss_end.get(pid)
        fmt = lambda b: "gone" if b is None else f"{b / MIB:.0f}"  # noqa: E731
        parts.append(f"{'launcher' if i == 0 else 'replica'} {pid} {fmt(before)} → {fmt(end)}")
    total0, total1 = sum(r.rss_before.values()), sum(r.rss_end.values())
    return (
        f"RSS at N = {r.n} (VmRSS from /proc/PID/status, MiB, before the first student arrives → at the end of the "
        f"run with all {r.n} sessions open; pages the forked replicas share count in each): "
        + "; ".join(parts)
        + f"; total {total0 / MIB:.0f} → {total1 / MIB:.0f}, growth {(total1 - total0) / MIB:+.0f} MiB, "
        f"{(total1 - total0) / max(1, r.n) / MIB:.2f} MiB per student."
    )


# ------------------------------------------------------------------------------------------------------ main


async def main(args: argparse.Namespace) -> str:
    ttl = float(tomllib.loads(CONFIG.read_text()).get("server", {}).get("disconnectedSessionTTL", 120))
    if args.ttl_wait is not None:
        ttl = args.ttl_wait
    load = os.getloadavg()
    server = Server(args.replicas)
    results: list[Result] = []
    try:
        await server.ready()
        warm = await warm_up(server, args.timeout)
        print(f"servers ready on ports {server.ports}; warm-up {warm:.1f} s", file=sys.stderr)
        for n in args.sizes:
            result = await one_class(
                server, n, args.duration, args.think, ttl, args.timeout, args.seed, args.paragraphs
            )
            results.append(result)
            print(
                f"N={n}: {len(result.stats.latencies)} reruns, p95 "
                f"{percentile(result.stats.latencies, 0.95) * 1e3:.0f} ms, errors {dict(result.stats.errors)}, "
                f"this client process used {result.client_cpu:.2f} cores",
                file=sys.stderr,
            )
            if args.paragraphs:
                print(
                    f"    sentence students {group_cell(result.stats.by_group.get('sentence', []))}, "
                    f"paragraph students {group_cell(result.stats.by_group.get('paragraph', []))}",
                    file=sys.stderr,
                )
            print("    " + rss_note(result), file=sys.stderr)
            if args.verbose:
                for name, values in sorted(result.stats.by_control.items()):
                    print(
                        f"    {name}: {len(values)} reruns, p50 {percentile(values, 0.5) * 1e3:.0f} ms, "
                        f"p95 {percentile(values, 0.95) * 1e3:.0f} ms",
                        file=sys.stderr,
                    )
    finally:
        server.stop()
    return table(results, args, warm if results else float("nan"), load)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="1,10,30,60", help="class sizes, comma-separated (default 1,10,30,60)")
    p.add_argument("--duration", type=float, default=60, help="seconds of interaction per class size (default 60)")
    p.add_argument("--quick", action="store_true", help="N = 1 and 10, 20 s each: a check that it all works")
    p.add_argument("--replicas", type=int, default=1, help="server processes, students spread over them (default 1)")
    p.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), help="think time range, s (default 1 3)")
    p.add_argument("--timeout", type=float, default=30, help="longest wait for one rerun, s (default 30)")
    p.add_argument("--ttl-wait", type=float, default=None, help="wait after each class instead of the config's TTL")
    p.add_argument("--deadline", type=float, default=900, help="stop everything after this many s (default 900)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--paragraphs", type=float, default=0.0, metavar="FRACTION",
                   help="this share of the students (chosen by --seed) opens the course on a 256-piece paragraph\n"
                   "(a textz= link) and types only paragraphs; latencies reported per group (default 0)")  # fmt: skip
    p.add_argument("--verbose", action="store_true", help="print each control's latencies to stderr")
    p.add_argument("--out", type=Path, help="append the markdown table to this file")
    p.add_argument("--class", dest="live_class", action="store_true",
                   help="a live class instead: the teacher's screen and N students answering one question\n"
                   "(default N = 60 on 3 replicas, answers within 10 s, 40 s)")  # fmt: skip
    p.add_argument("--class-window", type=float, default=10, help="--class: students answer within this many s")
    p.add_argument("--launchers", type=int, default=1,
                   help="--class: launchers of --replicas each, one cookie secret, one class store (PostgreSQL:\n"
                   "--class-db, or one started here with .ci/postgres.sh when there are several)")  # fmt: skip
    p.add_argument("--caddy", action="store_true", help="--class: students reach the replicas through Caddy running\n"
                   "deploy/Caddyfile (the README's), not each on its own replica")  # fmt: skip
    p.add_argument("--class-db", default="", help="--class: the class store, a postgresql:// address")
    p.add_argument("--kill", action="store_true", help="--class: SIGKILL a replica at 1/3 of the time and, with\n"
                   "--launchers 2 or more, the last launcher at 2/3; tabs connect again")  # fmt: skip
    args = p.parse_args(argv)
    if args.live_class:
        given = set(argv if argv is not None else sys.argv[1:])
        if not any(a.startswith("--sizes") for a in given):
            args.sizes = "60"
        if not any(a.startswith("--replicas") for a in given):
            args.replicas = 3
        if not any(a.startswith("--duration") for a in given):
            args.duration = 40
    if args.quick:
        args.sizes, args.duration = "1,10", 20
    args.sizes = [int(x) for x in re.split(r"[,\s]+", str(args.sizes).strip()) if x]
    if not 0.0 <= args.paragraphs <= 1.0:
        p.error("--paragraphs takes a fraction between 0 and 1")
    return args


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    async def bounded() -> str:
        return await asyncio.wait_for((class_main if args.live_class else main)(args), args.deadline)

    try:
        report = asyncio.run(bounded())
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
