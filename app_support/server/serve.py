"""Start the app's server and load the heavy objects while it starts.

    python -m app_support.server.serve [streamlit options]                  one server (what `make run` does)
    python -m app_support.server.serve --replicas K [streamlit options]     K servers on ports P, P+1, …, P+K-1

With one server the word vectors load in a background thread as soon as it listens (`streamlit run app.py` loads
them only when the first learner arrives), into the per-process cache the lessons read; once a first page has been
drawn, the same thread loads what the other lessons need. With `--replicas K` (README, "Serving a class") this
process loads the vectors and both models, then forks the K servers, sharing those pages copy-on-write, one cookie
secret (given, or fresh). It stays as their supervisor: it restarts a replica that dies (with a growing back-off
while it keeps dying at its start, the others serving), and stops them all on Ctrl-C or SIGTERM, or when every
replica keeps dying at its start. P is `--server.port` (default 8501).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"
DEFAULT_PORT = 8501


def _quiet_cache_warning() -> None:
    """The caches are made and filled outside any session, which Streamlit would otherwise warn about."""
    from app_support.compat import streamlit_compat

    streamlit_compat.quiet_cache_warnings()


_STARTED = time.monotonic()
AFTER_FIRST_PAGE_S = 1.5  # the first page's messages reach the browser before the warm-up imports torch


def _warm(listening: threading.Event) -> None:
    """Load what the first page needs, then, once a page has been served, what the other pages need.

    It waits for the server to listen first: the browser then loads the app's scripts (on its own core) while this
    loads gensim and the word vectors, which lesson 1 needs before it can draw anything. Lesson 1 computes with
    NumPy, so torch (about 1.4 s of imports, holding the GIL) waits until the first page has been served. Python's
    collector is off until the vectors are in (`main`): imports allocate millions of objects that live as long as
    the process, and the collections it ran through them were about a tenth of the time."""
    import gc

    listening.wait(15)
    try:
        import app_support.data.cached
        import app_support.kit.widgets  # lesson 1's imports: gensim, scipy, the plots (no torch)
        from app_support.data import loaders

        loaders.glove()
    finally:
        gc.freeze()
        gc.enable()
    # the rest in the background once the first page is drawn (not to slow it): torch, the models, later pages' modules
    if loaders.page_served.wait(120):  # one line in the log: what the first page cost this process (bench_lessons)
        wall = time.monotonic() - _STARTED
        print(f"attnviz: first page served after {time.process_time():.2f} s of CPU ({wall:.2f} s)", file=sys.stderr,
              flush=True)  # fmt: skip
        # the page's script has ended, but its messages are still on their way to the browser through this process's
        # event loop, which an import holding the GIL would starve: give them a moment before torch
        time.sleep(AFTER_FIRST_PAGE_S)
    import torch  # noqa: F401  (first, alone: the other lessons' modules all import it)

    loaders.device()
    import app_support.efficient.efficient_sections
    import app_support.parts.training_panel

    loaders.training_sets()
    app_support.data.cached.paragraphs_census(loaders.model())  # page 5b's census: four passes of the model
    loaders.decoder()  # lesson 7's decoder (about 3 s), last: the later a lesson, the later a learner reaches it


def _when_listening(listening: threading.Event) -> None:
    """Set ``listening`` as soon as Streamlit's server accepts connections (at once on a Streamlit without the hook)."""
    from app_support.compat import streamlit_compat

    if not streamlit_compat.on_server_start(listening.set):
        listening.set()


def _preload() -> None:
    """What a replica would load on its own, loaded once before the fork: the lessons' libraries, the device (one
    torch thread per operation, set before any thread pool), the vectors, both models, the training sets."""
    _quiet_cache_warning()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no tokenizer threads to lose in the fork
    import gc

    import app_support.data.cached
    import app_support.efficient.efficient_sections
    import app_support.parts.training_panel
    from app_support.data import loaders

    loaders.device()
    loaders.glove()
    app_support.data.cached.paragraphs_census(loaders.model())
    loaders.decoder()  # lesson 7's SmolLM2: 560 MiB shared copy-on-write by the replicas
    loaders.training_sets()
    gc.collect()
    gc.freeze()  # out of the collector's sight: its passes would write to (and so copy) the shared pages


def split_args(argv: list[str]) -> tuple[int, int, list[str]]:
    """``--replicas K`` and the port out of the command line: (K, P, the rest for Streamlit, port removed)."""
    replicas, port, rest = 1, DEFAULT_PORT, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in {"--replicas", "--server.port"}:
            if not eq:
                if i + 1 >= len(argv):
                    raise SystemExit(f"{name} needs a value")
                value, i = argv[i + 1], i + 1
            if not value.isdigit() or int(value) < 1:
                raise SystemExit(f"{name} needs a positive whole number, not {value!r}")
            if name == "--replicas":
                replicas = int(value)
            else:
                port = int(value)
        else:
            rest.append(arg)
        i += 1
    if port + replicas - 1 > 65535:
        raise SystemExit(f"ports {port}–{port + replicas - 1} do not exist: the last port is 65535")
    return replicas, port, rest


def tcp_nodelay() -> None:
    """Have the server send each message as soon as it is written (TCP_NODELAY) on every connection it accepts.

    Streamlit 1.67 binds its listening socket as ``socket.socket(family)``, protocol 0, and asyncio only turns
    Nagle's algorithm off on sockets whose protocol says TCP. With Nagle on, the first small message of a rerun
    leaves at once and the rest wait for the browser's acknowledgement, which a browser delays by 40 ms (more on
    some systems): every rerun arrived 40 ms late, however fast the script was. The listening socket is rebuilt
    with its protocol named, which its accepted connections inherit."""
    from app_support.server import server_patches

    server_patches.tcp_listener()


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD = 8 << 20  # an allocation of 8 MiB or more gets pages of its own, given back when it is freed
ARENAS = 2  # malloc's pools shared by the threads (glibc's default: 8 per core, each keeping what it freed)
TRIM_EVERY_S = 10.0
SOFT_LIMIT_MIB = 1152  # above this resident size, reference cycles are collected too (see below)
COLLECT_EVERY_S, GROWTH_MIB = 30.0, 128  # at most that often, unless it grew this much since the last collection


def resident_mib() -> float:
    """This process's resident size (RSS), MiB, from /proc/self/statm (0 where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def return_freed_memory() -> bool:
    """Have this server process give the memory it freed back to the system, so that it shrinks after a student's
    large texts have left its caches, and stays under its ceiling (README, "Serving a class": the memory).

    glibc serves an allocation of 128 KiB or more with pages of its own and unmaps them when it is freed, but raises
    that threshold each time such a block is freed, up to 32 MiB: after the first model pass, every array of a
    256-piece paragraph (a text's 72 maps, 18 MiB; a padded batch, 39 MiB) came from malloc's pools, whose free
    space is not returned, and Streamlit runs each rerun on a new thread, spread over up to 8 pools per core. Here
    the threshold is fixed at 8 MiB (mallopt M_MMAP_THRESHOLD, which also stops the raising) and the pools are two.
    Smaller arrays (a layer's maps, 3 MiB) stay in the pools, which reuse them from one rerun to the next: at 1 MiB,
    every one of them cost fresh pages, and six paragraphs on lesson 5b took 19 s of the server's CPU against
    12–16 s without these settings and 15–18 s with them (bench/bench_flood.py, a busy 2-core VM).
    A thread then asks glibc every `TRIM_EVERY_S` s to return the free pages of every pool (malloc_trim); and when
    the process is above `SOFT_LIMIT_MIB`, it first has Python collect reference cycles (the config turns the
    collection after each script run off, for speed: a page's figures and tensors caught in cycles otherwise wait
    for the collector's own schedule), at most every `COLLECT_EVERY_S` s unless the process grew `GROWTH_MIB` since
    the last collection (a full collection holds every session for 0.1 s or so). False, and nothing changed, where
    the C library is not glibc."""
    import ctypes
    import gc

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return False
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_ARENA_MAX, ARENAS)):
        return False

    def trimming() -> None:
        trimmed = collected = time.monotonic()
        after_collection = 0.0  # the resident size after the last collection, MiB
        while True:
            time.sleep(1.0)
            now, size = time.monotonic(), resident_mib()
            collect = size > SOFT_LIMIT_MIB and (now - collected >= COLLECT_EVERY_S or
                                                 size > after_collection + GROWTH_MIB)  # fmt: skip
            if collect or now - trimmed >= TRIM_EVERY_S:
                if collect:
                    gc.collect()
                trim(0)
                trimmed = time.monotonic()
                if collect:
                    collected, after_collection = trimmed, resident_mib()

    threading.Thread(target=trimming, name="attnviz-memory", daemon=True).start()
    return True


def _run_streamlit(args: list[str]) -> None:
    from app_support.compat import streamlit_compat, theme_switch
    from app_support.server import server_patches

    tcp_nodelay()
    return_freed_memory()  # here, in each server process: the trimming thread is not inherited by a fork
    theme_switch.install()  # each session gets the light or the dark theme its link asks for (?dark=true)
    server_patches.readable_bad_request()  # a link too long for the server to read gets a page that says so
    server_patches.load_chart_code_early()  # the browser runs plotly's code while the first page is computed
    server_patches.guard_server()  # security headers on every response; sessions per client capped
    streamlit_compat.streamlit_command(["run", str(APP), *args])  # `streamlit run app.py …`, sys.argv left alone


def _fork_replica(port: int, args: list[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: a plain Streamlit server on its own port
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _run_streamlit([*args, "--server.port", str(port)])
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        os._exit(code)


# A replica that dies within HEALTHY_S of its start died "quickly": the launcher waits before starting it again,
# BACKOFF_FIRST_S after the first such death, twice as long after each further one in a row, at most BACKOFF_MAX_S.
# A replica that lived longer is started again after BACKOFF_FIRST_S and its count starts over.
HEALTHY_S = 30.0
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 60.0
GIVE_UP_AFTER = 5  # the launcher stops when every replica is down after this many quick deaths in a row


def backoff_s(deaths: int) -> float:
    """Seconds to wait before starting a replica again after ``deaths`` quick deaths in a row (1, 2, 4, … 60)."""
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** max(0, deaths - 1))


def _how_it_ended(status: int) -> str:
    """A child's wait status in words: "exit code 1", "signal SIGKILL"."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"signal {signal.Signals(number).name}"
        except ValueError:
            return f"signal {number}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class Supervisor:
    """The launcher's replicas: each restarted when it dies, after a back-off that grows while it keeps dying
    quickly, so that one crash-looping replica neither spins nor takes the healthy ones down with it."""

    def __init__(self, ports: list[int], args: list[str]) -> None:
        self.args = args
        self.stopping = False
        self.running: dict[int, tuple[int, float]] = {}  # pid → (port, start time)
        self.deaths = dict.fromkeys(ports, 0)  # port → quick deaths in a row
        self.due: dict[int, float] = {}  # port → when to start it again (time.monotonic())

    def start(self, port: int) -> None:
        self.running[_fork_replica(port, self.args)] = (port, time.monotonic())

    def stop(self, *_: object) -> None:
        self.stopping = True
        self.due.clear()
        for pid in list(self.running):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def ended(self, pid: int, status: int) -> None:
        """A child ended: note it, and when to start its port again."""
        gone = self.running.pop(pid, None)
        if gone is None or self.stopping:
            return
        port, started = gone
        quick = time.monotonic() - started < HEALTHY_S
        self.deaths[port] = self.deaths[port] + 1 if quick else 0
        wait = backoff_s(self.deaths[port]) if quick else BACKOFF_FIRST_S
        how = _how_it_ended(status)
        if quick:
            print(f"attnviz: the replica on port {port} died {self.deaths[port]} time"
                  f"{'s' if self.deaths[port] > 1 else ''} in a row ({how}, within {HEALTHY_S:.0f} s of its start); "
                  f"retrying in {wait:g} s", flush=True)  # fmt: skip
        else:
            print(f"attnviz: the replica on port {port} ended ({how}); starting it again in {wait:g} s", flush=True)
        self.due[port] = time.monotonic() + wait

    def all_failing(self) -> bool:
        """Every replica is down and has died quickly `GIVE_UP_AFTER` times in a row."""
        return not self.running and all(n >= GIVE_UP_AFTER for n in self.deaths.values())

    def run(self) -> int:
        """Supervise until stopped (0) or every replica keeps failing (1)."""
        for port in self.deaths:
            self.start(port)
        while self.running or self.due:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid:
                self.ended(pid, status)
                continue  # another child may have ended too
            if self.all_failing():
                print(f"attnviz: every replica died {GIVE_UP_AFTER} times in a row at its start; stopping (see the "
                      "log above)", flush=True)  # fmt: skip
                self.stop()
                return 1
            now = time.monotonic()
            for port, when in sorted(self.due.items()):
                if when <= now and not self.stopping:
                    del self.due[port]
                    self.start(port)
            time.sleep(min([0.2, *(max(0.005, when - now) for when in self.due.values())]))
        return 0


def serve_replicas(replicas: int, port: int, args: list[str]) -> None:
    """Preload, fork `replicas` servers on port, port+1, …, and supervise them until told to stop (or until every
    one of them keeps dying at its start)."""
    if not hasattr(os, "fork"):
        raise SystemExit("--replicas needs fork (Linux or macOS); here, start one server per port (README)")
    if not any(a.startswith("--server.cookieSecret") for a in args):
        os.environ.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    os.environ["ATTNVIZ_REPLICA_PORTS"] = f"{port}-{port + replicas - 1}"  # the class's links say so (class_follow)
    _preload()
    from app_support.server import server_patches

    server_patches.load_chart_code_early()  # here, once: the replicas inherit it (and this process removes it)
    supervisor = Supervisor([port + i for i in range(replicas)], args)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    print(f"attnviz: {replicas} replicas on ports {port}–{port + replicas - 1} (pid {os.getpid()})", flush=True)
    code = supervisor.run()
    while supervisor.running:  # stopping: wait for the replicas to go
        with contextlib.suppress(ChildProcessError):
            supervisor.ended(*os.wait())
    if code:
        raise SystemExit(code)


def one_pool_per_process() -> None:
    """Tell OpenMP and MKL, before torch loads them, how many threads an operation gets: the number torch is
    given (ATTNVIZ_TORCH_THREADS, default 1, see attnviz.device.set_cpu_threads).

    torch.set_num_threads sets it for the thread that calls it, but Streamlit runs every rerun on a new thread, and
    there OpenMP starts from its default, one thread per core: each rerun's first matrix product built a new team
    of OpenMP threads, 6–15 ms of a 50 ms rerun (a 12 × 384 product in a fresh thread: 7.5 ms median; with
    OMP_NUM_THREADS set, 0.07 ms)."""
    from attnviz.threads import requested  # imports nothing heavy: torch is not loaded here

    threads = str(requested())
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, threads)


def main() -> None:
    one_pool_per_process()  # first: nothing has loaded torch yet
    replicas, port, args = split_args(sys.argv[1:])
    if replicas > 1:
        serve_replicas(replicas, port, args)
        return
    import gc

    gc.disable()  # until the warm-up has loaded the first page's libraries and data (`_warm`), then frozen
    # Streamlit is imported here, before the warm-up thread starts: two threads importing the same package at
    # once can stop with Python's import deadlock error
    from streamlit.web import cli  # noqa: F401

    _quiet_cache_warning()
    listening = threading.Event()
    _when_listening(listening)
    threading.Thread(target=_warm, args=(listening,), name="attnviz-warm-up", daemon=True).start()
    _run_streamlit([*args, "--server.port", str(port)])


if __name__ == "__main__":
    main()
