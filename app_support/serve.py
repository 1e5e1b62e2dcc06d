"""Start the app's server and load the heavy objects while it starts.

    python -m app_support.serve [streamlit options]                  one server (what `make run` does)
    python -m app_support.serve --replicas K [streamlit options]     K servers on ports P, P+1, …, P+K-1

`streamlit run app.py` works too; it only loads the word vectors when the first learner arrives, so the first
page waits for them. With one server they load here in a background thread as soon as the server listens, while
the browser connects, into the same per-process cache (st.cache_resource) the lessons read; once a first page has
been drawn, the same thread loads what the other lessons need (their modules, the model, the training sets).

With `--replicas K` (a class larger than one process holds, behind a sticky load balancer: README, "Serving a
class") this process loads the word vectors and the model first, then forks the K servers. They share those
pages of memory with this process (copy-on-write: nothing writes into them), so K replicas cost little more
memory than one. P is `--server.port` (default 8501). All replicas get the same cookie secret (the one given,
or a fresh random one), so a cookie one of them signed is good at all of them. This process stays as their
supervisor: it restarts a replica that dies and stops them all on Ctrl-C or SIGTERM.
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

APP = Path(__file__).resolve().parent.parent / "app.py"
DEFAULT_PORT = 8501


def _quiet_cache_warning() -> None:
    """The caches are made and filled outside any session, which Streamlit would otherwise warn about."""
    from app_support import streamlit_compat

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
        import app_support.cached
        import app_support.widgets  # lesson 1's imports: gensim, scipy, the plots (no torch)
        from app_support import loaders

        loaders.glove()
    finally:
        gc.freeze()
        gc.enable()
    # the rest in the background, after the first page is drawn (so as not to slow it): later pages then find torch,
    # the model and their modules ready
    if loaders.page_served.wait(120):  # one line in the log: what the first page cost this process (bench_lessons)
        wall = time.monotonic() - _STARTED
        print(f"attnviz: first page served after {time.process_time():.2f} s of CPU ({wall:.2f} s)", file=sys.stderr,
              flush=True)  # fmt: skip
        # the page's script has ended, but its messages are still on their way to the browser through this process's
        # event loop, which an import holding the GIL would starve: give them a moment before torch
        time.sleep(AFTER_FIRST_PAGE_S)
    import torch  # noqa: F401  (first, alone: the other lessons' modules all import it)

    loaders.device()
    import app_support.efficient_sections
    import app_support.training_panel

    loaders.training_sets()
    app_support.cached.paragraphs_census(loaders.model())  # page 5b's census: four passes of the model


def _when_listening(listening: threading.Event) -> None:
    """Set ``listening`` as soon as Streamlit's server accepts connections (at once on a Streamlit without the hook)."""
    from app_support import streamlit_compat

    if not streamlit_compat.on_server_start(listening.set):
        listening.set()


def _preload() -> None:
    """Everything a replica would load on its own, loaded once before the fork: the libraries the lessons import,
    the device (one torch thread per operation, set before torch starts any thread pool), the word vectors, the
    model and the training sets."""
    _quiet_cache_warning()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no tokenizer threads to lose in the fork
    import gc

    import app_support.cached
    import app_support.efficient_sections
    import app_support.show
    import app_support.training_panel
    from app_support import loaders

    loaders.device()
    loaders.glove()
    app_support.cached.paragraphs_census(loaders.model())
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
    from app_support import streamlit_compat

    streamlit_compat.tcp_listener()


def _run_streamlit(args: list[str]) -> None:
    from streamlit.web import cli

    from app_support import streamlit_compat, theme_switch

    tcp_nodelay()
    theme_switch.install()  # each session gets the light or the dark theme its link asks for (?dark=true)
    streamlit_compat.readable_bad_request()  # a link too long for the server to read gets a page that says so
    streamlit_compat.load_chart_code_early()  # the browser runs plotly's code while the first page is computed
    sys.argv = ["streamlit", "run", str(APP), *args]
    cli.main()


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


def serve_replicas(replicas: int, port: int, args: list[str]) -> None:
    """Preload, fork `replicas` servers on port, port+1, …, and supervise them until told to stop."""
    if not hasattr(os, "fork"):
        raise SystemExit("--replicas needs fork (Linux or macOS); here, start one server per port (README)")
    if not any(a.startswith("--server.cookieSecret") for a in args):
        os.environ.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    _preload()
    from app_support import streamlit_compat

    streamlit_compat.load_chart_code_early()  # here, once: the replicas inherit it (and this process removes it)
    stopping = False
    children: dict[int, tuple[int, float]] = {}  # pid → (port, start time)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for i in range(replicas):
        children[_fork_replica(port + i, args)] = (port + i, time.monotonic())
    print(f"attnviz: {replicas} replicas on ports {port}–{port + replicas - 1} (pid {os.getpid()})", flush=True)
    quick_deaths = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        gone = children.pop(pid, None)
        if gone is None or stopping:
            continue
        their_port, started = gone
        quick_deaths = quick_deaths + 1 if time.monotonic() - started < 10 else 0
        if quick_deaths >= 3:
            print("attnviz: replicas keep dying at start; stopping (see the log above)", flush=True)
            stop(signal.SIGTERM, None)
            continue
        print(f"attnviz: the replica on port {their_port} ended ({status}); starting it again", flush=True)
        time.sleep(1)
        if not stopping:
            children[_fork_replica(their_port, args)] = (their_port, time.monotonic())


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
