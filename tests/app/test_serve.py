"""The launcher, `python -m app_support.server.serve`: its command line, TCP_NODELAY, and forked replicas."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app_support.server import serve
from tests.e2e.conftest import free_ports

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (1, 8501, [])),
        (["--server.port", "9000"], (1, 9000, [])),
        (
            ["--replicas", "3", "--server.port=9100", "--server.headless", "true"],
            (3, 9100, ["--server.headless", "true"]),
        ),
        (["--replicas=2"], (2, 8501, [])),
    ],
)
def test_command_line(argv, expected):
    assert serve.split_args(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [["--replicas"], ["--replicas", "0"], ["--replicas", "two"], ["--server.port=-1"], ["--server.port=70000"],
     ["--replicas", "3", "--server.port", "65534"]],
)  # fmt: skip
def test_bad_command_line_says_why(argv):
    with pytest.raises(SystemExit, match=r"needs|do not exist"):
        serve.split_args(argv)


def test_accepted_connections_send_at_once():
    """Nagle's algorithm off on every connection the server accepts (else each rerun waited for a delayed ACK)."""
    from streamlit.web.server.starlette import starlette_server

    serve.tcp_nodelay()
    serve.tcp_nodelay()  # a second call changes nothing
    listener = starlette_server._bind_socket("127.0.0.1", 0, 8)
    assert listener.proto == socket.IPPROTO_TCP and not listener.getblocking()

    async def accept_one() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
            value = await asyncio.wait_for(accepted, 10)
            writer.close()
        return value

    assert asyncio.run(accept_one()) != 0


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_replicas_are_forked_serve_and_stop_together(tmp_path):
    """`--replicas 2`: two servers, children of the launcher, both answering; SIGTERM stops all of them."""
    port = free_ports(2)[0]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_support.server.serve", "--replicas", "2", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (_healthy(port) and _healthy(port + 1)):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the replicas did not answer within 120 s"
            time.sleep(0.5)
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(children) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        for child in children:
            with pytest.raises(ProcessLookupError):
                os.kill(child, 0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


@pytest.mark.parametrize(("forced", "expected"), [(None, "1"), ("2", "2"), ("0", "1"), ("many", "1")])
def test_openmp_and_mkl_get_torchs_thread_count(monkeypatch, forced, expected):
    """Set before torch loads, so that every rerun's new thread starts with that many, not one per core."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATTNVIZ_TORCH_THREADS"):
        monkeypatch.delenv(name, raising=False)
    if forced is not None:
        monkeypatch.setenv("ATTNVIZ_TORCH_THREADS", forced)
    serve.one_pool_per_process()
    assert os.environ["OMP_NUM_THREADS"] == os.environ["MKL_NUM_THREADS"] == expected


def test_openmp_setting_already_given_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    serve.one_pool_per_process()
    assert os.environ["OMP_NUM_THREADS"] == "4"


def test_one_server_starts_and_stops(tmp_path):
    """`make run`'s launcher: the server answers while the vectors load in a thread (a thread that imported
    Streamlit at the same time as the server once stopped the start with Python's import deadlock error)."""
    port = free_ports(1)[0]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app_support.server.serve", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not _healthy(port):
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the server did not answer within 120 s"
                time.sleep(0.5)
            time.sleep(3)  # the warm-up thread runs on
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    assert "Traceback" not in log_path.read_text()


def test_thread_count_is_read_before_torch_loads():
    """The launcher reads the thread count without loading torch: OpenMP reads its setting once, when torch loads."""
    code = (
        "import sys; from app_support.server import serve; serve.one_pool_per_process(); "
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


# --- the supervisor: a crash-looping replica is backed off, the others keep serving ---------------------------------


def test_backoff_doubles_up_to_a_minute():
    assert [serve.backoff_s(n) for n in (1, 2, 3, 4, 5, 6, 7, 20)] == [1, 2, 4, 8, 16, 32, 60, 60]


def _spawner(codes: dict[int, str]):
    """A stand-in for `_fork_replica`: a shell that runs ``codes[port]`` (e.g. "exit 3", "sleep 30")."""
    started: list[int] = []

    def spawn(port: int, _args: list[str]) -> int:
        started.append(port)
        return os.posix_spawn("/bin/sh", ["sh", "-c", codes[port]], dict(os.environ))

    return spawn, started


def test_every_replica_failing_stops_the_launcher(monkeypatch, capsys):
    monkeypatch.setattr(serve, "BACKOFF_FIRST_S", 0.01)
    spawn, started = _spawner({1: "exit 3", 2: "kill -9 $$"})
    monkeypatch.setattr(serve, "_fork_replica", spawn)
    supervisor = serve.Supervisor([1, 2], [])
    assert supervisor.run() == 1
    assert started.count(1) == started.count(2) == serve.GIVE_UP_AFTER
    log = capsys.readouterr().out
    assert "the replica on port 1 died 1 time in a row (exit code 3" in log
    assert "the replica on port 2 died 5 times in a row (signal SIGKILL" in log
    assert "retrying in 0.01 s" in log and "retrying in 0.08 s" in log  # 0.01 · 2⁰ … 0.01 · 2³
    assert "every replica died 5 times in a row at its start; stopping" in log


def test_one_failing_replica_does_not_stop_the_others(monkeypatch, capsys):
    monkeypatch.setattr(serve, "BACKOFF_FIRST_S", 0.01)
    spawn, started = _spawner({1: "exit 1", 2: "sleep 30"})
    monkeypatch.setattr(serve, "_fork_replica", spawn)
    supervisor = serve.Supervisor([1, 2], [])
    import threading

    stopper = threading.Timer(2.0, supervisor.stop)  # long enough for port 1 to die GIVE_UP_AFTER times and more
    stopper.start()
    try:
        assert supervisor.run() == 0  # stopped when asked, not before
    finally:
        stopper.cancel()
    assert started.count(2) == 1 and started.count(1) > serve.GIVE_UP_AFTER
    assert supervisor.deaths[1] > serve.GIVE_UP_AFTER and supervisor.deaths[2] == 0
    assert "every replica" not in capsys.readouterr().out


def test_a_crash_looping_replica_is_retried_while_the_other_serves(tmp_path):
    """The real launcher, its second port held by another listener: that replica dies at each start and is started
    again after 1, 2, 4 s; the first keeps answering all along; once the port is free the second serves too."""
    port = free_ports(2)[0]
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port + 1))
    blocker.listen()
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_support.server.serve", "--replicas", "2", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        third = f"the replica on port {port + 1} died 3 times in a row"
        while third not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        assert _healthy(port)  # the healthy replica kept serving
        text = log_path.read_text()
        for n, wait in ((1, 1), (2, 2), (3, 4)):
            assert f"died {n} time{'s' if n > 1 else ''} in a row (exit code 1, within 30 s of its start); " \
                   f"retrying in {wait} s" in text, text[-3000:]  # fmt: skip
        blocker.close()  # the fault goes away: the next try starts it for good
        while not _healthy(port + 1):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the second replica did not come back"
            time.sleep(0.5)
        assert _healthy(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        blocker.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


# --- memory: what a server frees goes back to the system --------------------------------------------------------

FREED = """
import sys, threading
from app_support.server import serve
if sys.argv[1] == "ours":
    assert serve.return_freed_memory()
    assert "attnviz-memory" in [t.name for t in threading.enumerate()]
base = serve.resident_mib()
kept = []

def rerun():  # a rerun's thread: large arrays freed, small blocks kept between them
    first = bytearray(16 << 20)
    del first  # by default glibc now serves 16 MiB from its pools
    big = []
    for _ in range(20):
        big.append(bytearray(16 << 20))
        kept.append(bytearray(64 << 10))
    del big

thread = threading.Thread(target=rerun)
thread.start()
thread.join()
print(round(serve.resident_mib() - base))
"""


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's allocator")
def test_freed_memory_goes_back_to_the_system():
    """320 MiB of a text's arrays freed by a thread, small blocks kept between them: glibc's defaults keep it, the
    launcher's settings not."""
    kept = {}
    for how in ("default", "ours"):
        done = subprocess.run([sys.executable, "-c", FREED, how], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, check=True)  # fmt: skip
        kept[how] = int(done.stdout.split()[-1])
    assert kept["default"] > 200 and kept["ours"] < 50, kept


def test_resident_size_is_read():
    assert 10 < serve.resident_mib() < 100_000
