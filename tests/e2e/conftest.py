"""A real server (`python -m app_support.server.serve`, as `make run` starts it) and a real headless Chromium (Debian's,
driven by Playwright).

Screenshots go to artifacts/screenshots/ (or $ATTNVIZ_SCREENSHOTS). Outside CI the tests skip when Chromium is
missing; under CI=true they fail instead, so a green CI always means the browser really ran.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app_support.kit import course

ROOT = Path(__file__).resolve().parents[2]
PAGES = {lesson.url_path: lesson.address for lesson in course.LESSONS}  # each lesson's name → its path in addresses
CHROMIUM = os.environ.get("ATTNVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("ATTNVIZ_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The server's python: `make test` names a virtualenv built as `make run` builds .venv (the app's requirements alone),
# so the browser tests prove the app runs without the test packages; elsewhere the tests' own python.
APP_PYTHON = os.environ.get("ATTNVIZ_APP_PYTHON") or sys.executable


def free_ports(count: int) -> list[int]:
    """`count` consecutive free ports on 127.0.0.1 (a launcher with `--replicas` takes P, P+1, …)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count > 65536:
            continue
        try:
            for port in range(base + 1, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return list(range(base, base + count))
    raise RuntimeError(f"no {count} consecutive free ports")


def free_port() -> int:
    return free_ports(1)[0]


@pytest.fixture(scope="session")
def server():
    """Start the app on a free localhost port; yield its base URL."""
    port = free_port()
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = (SHOTS / "server.log").open("w")  # open for the server's whole life
    proc = subprocess.Popen(
        [
            APP_PYTHON,
            "-m",
            "app_support.server.serve",  # what `make run` starts
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("streamlit did not answer /_stcore/health within 60 s")
    yield url
    log.close()
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()
