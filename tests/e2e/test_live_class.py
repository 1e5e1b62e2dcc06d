"""The live class in real browsers: a teacher and students in separate Chromium contexts, on two forked replicas of
`python -m app_support.server.serve --replicas 2` (what `make class` starts) sharing one SQLite file.

The student joins with the code, answers; the teacher's live chart counts it; a replica is killed mid-class and the
launcher starts it again: no answer is lost; Reveal reaches a student's page without a reload. Hostile names and
codes show as plain text; a forged teacher link gets a message, not control.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import APP_PYTHON, ROOT, SHOTS, free_ports
from tests.e2e.test_browser import settle

pytestmark = pytest.mark.e2e

HOSTILE_NAME = "<b>Ana</b><img src=x onerror=alert(1)>"  # 40 characters: stored whole


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _listening_pid(port: int, pids: list[int]) -> int:
    """Which of ``pids`` holds the listening socket on ``port`` (from /proc: its socket's inode)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    raise AssertionError(f"no process of {pids} listens on {port}")


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """Two replicas on ports P and P+1, one class store (SQLite in a fresh data directory)."""
    data = tmp_path_factory.mktemp("class-data")
    port = free_ports(2)[0]
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = (SHOTS / "live-class-server.log").open("w")
    proc = subprocess.Popen(
        [APP_PYTHON, "-m", "app_support.server.serve", "--replicas", "2", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=os.environ | {"ATTNVIZ_DATA_DIR": str(data)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not (_healthy(port) and _healthy(port + 1)):
            assert proc.poll() is None, (SHOTS / "live-class-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the replicas did not answer within 180 s"
            time.sleep(0.5)
        yield proc, port, data
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _context_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def _join(page, url: str, code: str, name: str) -> None:
    page.goto(url)
    settle(page)
    page.get_by_role("textbox", name="Class code").fill(code.lower())  # typed in lower case: still the code
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Join the class").click()
    expect(page.get_by_text(f"Class {code} · joined")).to_be_visible()
    if name:
        page.get_by_role("textbox", name="Your name (optional)").fill(name)
        page.keyboard.press("Enter")
        settle(page)


def _answer(page, option: str) -> None:
    page.get_by_text(option, exact=True).first.click()  # the first question of the page ("In each row of S…")
    expect(page.get_by_text(re.compile("^Your answer is in")).first).to_be_visible()


def test_live_class_across_replicas_with_a_restart(browser, replicas):
    proc, port, data = replicas
    dialogs: list[str] = []
    teacher_ctx, teacher = _context_page(browser)
    first_ctx, first = _context_page(browser)
    second_ctx, second = _context_page(browser)
    for pg in (teacher, first, second):
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        # the teacher starts a class on replica 1 and presents the similarity lesson
        teacher.goto(f"http://127.0.0.1:{port}/similarity")
        settle(teacher)
        teacher.get_by_role("button", name="Start a class").click()
        expect(teacher.get_by_text(re.compile(r"^Class [A-Z0-9]{4} · you are teaching$"))).to_be_visible()
        code = re.search(r"[?&]class=([A-Z0-9]+)", teacher.url).group(1)
        assert "teacher=" not in teacher.url  # the token never stays in the address (nor in links to this view)
        teacher.get_by_text("Presenter mode", exact=True).click()
        settle(teacher)
        for _ in range(6):
            if teacher.get_by_role("button", name="Reveal the answer").count():
                break
            teacher.get_by_role("button", name=re.compile("Next step")).first.click()
            settle(teacher)
        # the first question's tally (on a busy machine a second Next step may already show the next question too)
        tally = teacher.locator("p", has_text=f"from class {code}").first
        expect(tally).to_have_text(f"0 answers from class {code}")

        # a student on replica 2 joins by typing the code, with a hostile name, and answers
        _join(first, f"http://127.0.0.1:{port + 1}/similarity", code, HOSTILE_NAME)
        _answer(first, "the word with itself (the diagonal)")
        expect(tally).to_have_text(f"1 answer from class {code}", timeout=10_000)  # the live chart, no click
        # the tally's own chart (the next question may already be drawn below, its figure in a closed expander)
        tally_chart = teacher.locator(".js-plotly-plot", has_text="1. the word with itself (the diagonal)")
        expect(tally_chart).to_be_visible()

        # replica 2 is killed mid-class; the launcher starts it again
        victim = _listening_pid(port + 1, _children(proc.pid))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 180
        while True:
            time.sleep(0.5)
            if victim not in _children(proc.pid) and len(_children(proc.pid)) == 2 and _healthy(port + 1):
                break
            assert time.monotonic() < deadline, "the killed replica was not started again within 180 s"
        # the first answer survived the restart; a second student joins the restarted replica by link
        second.goto(f"http://127.0.0.1:{port + 1}/similarity?class={code}")
        settle(second)
        expect(second.get_by_text(f"Class {code} · joined")).to_be_visible()
        _answer(second, "the word next to it")
        expect(tally).to_have_text(f"2 answers from class {code}", timeout=10_000)

        # the names are plain text on the teacher's screen
        teacher.get_by_text("Who answered what (2)").click()
        names = teacher.locator('[data-testid="stText"]', has_text="(no name): 2")
        expect(names).to_contain_text(f"{HOSTILE_NAME}: 1")
        assert teacher.locator(".stMainBlockContainer b", has_text="Ana").count() == 0
        teacher.screenshot(path=str(SHOTS / "live-class-teacher.png"))

        # Reveal: the second student's page shows the verdict without a reload
        teacher.get_by_role("button", name="Reveal the answer").first.click()
        expect(tally).to_have_text(re.compile(rf"2 answers from class {code} · 1 of 2 \(50%\) chose the measured"))
        verdict = second.get_by_text(re.compile(r"^Not this time: the answer is “the word with itself"))
        expect(verdict).to_be_visible(timeout=10_000)
        second.screenshot(path=str(SHOTS / "live-class-student.png"))
        assert not dialogs, dialogs
    finally:
        for ctx in (teacher_ctx, first_ctx, second_ctx):
            ctx.close()
    # every answer is in the shared file
    import sqlite3

    with sqlite3.connect(data / "classroom.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM class_answers WHERE code = ?", (code,)).fetchone()[0] == 2


def test_hostile_codes_and_a_forged_teacher_link(browser, replicas):
    _, port, _ = replicas
    context, page = _context_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(f"http://127.0.0.1:{port}/similarity?class=%3Cscript%3Ealert(1)%3C/script%3E")
        settle(page)
        refused = "“<script>alert(1)</script>” is not a class code"  # said in the sidebar and at the top of the page
        expect(page.locator(".stMainBlockContainer").get_by_text(refused, exact=False)).to_be_visible()
        expect(page.get_by_test_id("stSidebarUserContent").get_by_text(refused, exact=False)).to_be_attached()
        page.get_by_role("button", name="Start a class").click()
        expect(page.get_by_text(re.compile(r"^Class [A-Z0-9]{4} · you are teaching$"))).to_be_visible()
        code = re.search(r"[?&]class=([A-Z0-9]+)", page.url).group(1)
        forged_ctx, forged = _context_page(browser)
        forged.goto(f"http://127.0.0.1:{port + 1}/similarity?class={code}&teacher=not-the-token")
        settle(forged)
        invalid = f"This teacher link is not valid for class {code}"
        expect(forged.locator(".stMainBlockContainer").get_by_text(invalid, exact=False)).to_be_visible()
        expect(forged.get_by_text(f"Class {code} · joined")).to_be_visible()
        assert forged.get_by_role("button", name="End the class").count() == 0
        assert "teacher=" not in forged.url
        forged_ctx.close()
        assert not dialogs, dialogs
    finally:
        context.close()
