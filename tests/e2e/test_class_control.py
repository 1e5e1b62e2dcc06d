"""The teacher keeps control of a live class when the server is restarted under the page (real Chromium, a real
server that is stopped and started again on the same port), with the token in no address and no offered link; and a
learner's URL on page 6b is plain text, not a link.

What the browser does here is what the AppTest fault tests (tests/app/test_class_faults.py) emulate: the page's
script writes the teacher's cookie, the browser sends it when the page reconnects, and Streamlit hands it to the new
session (``st.context.cookies``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, SHOTS, free_port
from tests.e2e.test_browser import reveal_all, settle
from tests.e2e.test_live_class import _healthy

pytestmark = pytest.mark.e2e


class Server:
    """`python -m app_support.server.serve` on one port, with its own class store; stopped and started at will."""

    def __init__(self, data) -> None:
        self.port, self.data, self.proc = free_port(), data, None
        self.path = SHOTS / "class-control-server.log"
        self.log = self.path.open("w")

    def served(self) -> int:
        """How many times a server has drawn its first page (`app_support.server.serve` says so in its log)."""
        self.log.flush()
        return self.path.read_text(errors="replace").count("first page served")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app_support.server.serve", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=os.environ | {"ATTNVIZ_DATA_DIR": str(self.data)},
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while not _healthy(self.port):
            assert self.proc.poll() is None, "the server stopped"
            assert time.monotonic() < deadline, "the server did not answer within 180 s"
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    SHOTS.mkdir(parents=True, exist_ok=True)
    s = Server(tmp_path_factory.mktemp("class-control"))
    s.start()
    try:
        yield s
    finally:
        s.stop()
        s.log.close()


def _wait_for_stored_step(server, code: str, shown: int, timeout: float = 30) -> None:
    import json
    import sqlite3

    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(server.data / "classroom.sqlite3") as db:
            row = db.execute("SELECT state FROM class_sessions WHERE code = ?", (code,)).fetchone()
        step = json.loads(row[0]).get("step", {}) if row else {}
        if isinstance(step, dict) and step.get("shown", 0) >= shown:
            return
        assert time.monotonic() < deadline, f"the teacher's step {shown} never reached the store: {step}"
        time.sleep(0.25)


def _shared_link(page) -> str:
    page.get_by_role("button", name="Copy link to this view").click()
    text = page.locator('[data-testid="stPopover"] code, [data-testid="stPopoverBody"] code').first.inner_text()
    page.keyboard.press("Escape")
    expect(page.locator('[data-testid="stPopoverBody"]')).to_have_count(0)
    return text


def test_teacher_keeps_control_through_a_server_restart(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"http://127.0.0.1:{server.port}/similarity")
        settle(page)
        page.get_by_role("button", name="Start a class").click()
        expect(page.get_by_text(re.compile(r"^Class [A-Z0-9]{4} · you are teaching$"))).to_be_visible()
        code = re.search(r"[?&]class=([A-Z0-9]+)", page.url).group(1)
        page.get_by_text("Presenter mode", exact=True).click()
        settle(page)
        shown = 1
        for _ in range(6):
            if page.get_by_role("button", name="Reveal the answer").count():
                break
            page.get_by_role("button", name=re.compile("Next step")).first.click()
            shown += 1
            settle(page)
        expect(page.get_by_role("button", name="Reveal the answer").first).to_be_visible()
        # the teacher's step reaches the store with the next share (`class_follow.share_view`, every
        # STUDENT_EVERY s: "Next step" reruns the lesson alone); a server lost before then brings the teacher back
        # to the step stored last, so the restart waits for it
        _wait_for_stored_step(server, code, shown)
        cookies = {c["name"]: c for c in context.cookies()}
        kept = cookies[f"attnviz_teacher_{code}"]
        assert kept["sameSite"] == "Strict" and kept["path"] == "/"
        token = kept["value"]
        assert "teacher=" not in page.url and token not in page.url

        server.stop()  # the server goes away under the page, and comes back on the same port
        served = server.served()
        server.start()
        # the page reconnects by itself, to a fresh session, and runs again; until that first run is over, the page
        # shows what it had (and Streamlit drops a click in a part the new session has not drawn yet)
        deadline = time.monotonic() + 120
        while server.served() == served:
            assert time.monotonic() < deadline, "the page did not run again on the restarted server"
            time.sleep(0.5)
        settle(page)
        # the teacher again, at the same step, by the cookie
        expect(page.get_by_text(f"Class {code} · you are teaching")).to_be_attached()
        expect(page.get_by_text(f"Class {code} · joined")).to_have_count(0)
        # the step comes back from the store once the new session has run (seconds on a busy 2-core machine)
        expect(page.get_by_role("button", name="Reveal the answer").first).to_be_visible(timeout=30_000)
        assert "teacher=" not in page.url and token not in page.url
        link = _shared_link(page)
        assert f"class={code}" in link and token not in link and "teacher" not in link
        page.get_by_role("button", name="Reveal the answer").first.click()
        expect(page.get_by_text(re.compile(r"^Answer \d: "))).to_be_visible(timeout=30_000)
        page.screenshot(path=str(SHOTS / "class-control-after-restart.png"))
    finally:
        context.close()
    import sqlite3

    with sqlite3.connect(server.data / "classroom.sqlite3") as db:
        revealed = db.execute("SELECT COUNT(*) FROM class_questions WHERE code = ? AND revealed = 1", (code,))
        assert revealed.fetchone()[0] == 1, "the reveal after the restart reached the store: the teacher's own"


def test_a_learners_url_on_page_6b_is_not_a_link(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    typed = "read www.example.com and https://evil.example/x now"
    try:
        page.goto(f"http://127.0.0.1:{server.port}/efficient-swap?sentence={typed.replace(' ', '+')}")
        settle(page)
        reveal_all(page)
        caption = page.get_by_text(re.compile("yours is")).last
        expect(caption).to_be_visible()
        assert caption.locator("a").count() == 0, caption.inner_html()
        assert caption.inner_text().replace("\u2060", "").endswith(f"yours is “{typed}”.")
    finally:
        context.close()
