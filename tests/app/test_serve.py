"""The launcher, `python -m app_support.serve`: its command line, TCP_NODELAY, and forked replicas."""

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

from app_support import serve
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
        [sys.executable, "-m", "app_support.serve", "--replicas", "2", "--server.port", str(port),
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
            [sys.executable, "-m", "app_support.serve", "--server.port", str(port),
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
        "import sys; from app_support import serve; serve.one_pool_per_process(); "
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
