"""A live class through a real load balancer: Caddy running the README's Caddyfile (`deploy/Caddyfile`) in front of
two `make class` launchers (`python -m server.serve --replicas 2`) on one PostgreSQL, with one cookie secret.

A teacher and three students in real Chromium, each sent to a known replica by Caddy's own stickiness cookie; one
replica is SIGKILLed and then a whole launcher, mid-class. Every answer a student's screen acknowledged is in the
store with the choice acknowledged; the teacher's live count, Reveal and "Follow the teacher" reach every student
after their page has moved to another replica. Then bench/bench_load.py's class scenario through the same Caddy,
with its own replica and launcher killed. The Content-Security-Policy reports no violation anywhere.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import IN_CI, ROOT, SHOTS
from tests.e2e.test_browser import settle

pytestmark = pytest.mark.e2e

WATCH = """window.attnvizViolations = [];
document.addEventListener('securitypolicyviolation', e => window.attnvizViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}:${e.lineNumber}`));"""
OPTIONS = ("the word with itself (the diagonal)", "the word next to it")  # two options of similarity's first question


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load_for_caddy", ROOT / "bench" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(coroutine):
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(what)
    pytest.skip(what)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Two launchers of two replicas behind Caddy, one PostgreSQL (ATTNVIZ_TEST_PG_DSN, or one started here)."""
    if not shutil.which("caddy"):
        _missing("caddy not found (apt-get install caddy)")
    bench = _bench()
    postgres = None
    dsn = os.environ.get("ATTNVIZ_TEST_PG_DSN", "").strip()
    if not dsn:
        if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
            _missing("PostgreSQL not found (apt-get install postgresql) and ATTNVIZ_TEST_PG_DSN not set")
        postgres = bench.Postgres()
        dsn = postgres.dsn
    work = tmp_path_factory.mktemp("caddy-class")
    env = {"ATTNVIZ_CLASS_DB": dsn, "ATTNVIZ_DATA_DIR": str(work)}
    servers = bench.Fleet(2, 2, env, caddy=True, workdir=work)
    try:
        _run(servers.ready())
        yield bench, servers, dsn
    finally:
        servers.stop()
        if postgres is not None:
            postgres.stop()


def _tab(browser, base: str, replica: int, bench):
    """A browser sent by Caddy to the replica on port ``replica`` (its stickiness cookie, as Caddy would set it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "attnviz_replica", "value": bench.replica_cookie(replica), "url": base}])
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(60_000)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.sockets = sockets  # type: ignore[attr-defined]
    return context, page


def _moved(page, before: int) -> None:
    """Wait until the page has opened a new websocket (its replica died; it connected again) and settled."""
    deadline = time.monotonic() + 90
    while len(page.sockets) <= before:
        assert time.monotonic() < deadline, "the page did not connect again within 90 s"
        page.wait_for_timeout(500)
    settle(page)


def _student_id(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "attnviz_student")


def _stored(dsn: str, code: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn) as db:
        return dict(db.execute("SELECT student, choice FROM class_answers WHERE code = %s", (code,)).fetchall())


def test_a_class_in_chromium_survives_a_replica_and_a_launcher(fleet, browser):
    bench, servers, dsn = fleet
    base = f"http://127.0.0.1:{servers.caddy.port}"
    (a0, a1), (b0, b1) = servers.launchers[0].ports, servers.launchers[1].ports
    tabs = {name: _tab(browser, base, port, bench) for name, port in (("teacher", a0), ("s1", a1), ("s2", b0),
                                                                        ("s3", b1))}  # fmt: skip
    teacher = tabs["teacher"][1]
    students = {name: tabs[name][1] for name in ("s1", "s2", "s3")}
    acknowledged: dict[str, int] = {}  # student id → the option index its screen said was in
    try:
        teacher.goto(f"{base}/similarity")
        settle(teacher)
        teacher.get_by_role("button", name="Start a class").click()
        expect(teacher.get_by_text(re.compile(r"^Class [A-Z0-9]{4} · you are teaching$"))).to_be_visible()
        code = re.search(r"[?&]class=([A-Z0-9]+)", teacher.url).group(1)
        teacher.get_by_text("Presenter mode", exact=True).click()
        settle(teacher)
        for _ in range(6):
            if teacher.get_by_role("button", name="Reveal the answer").count():
                break
            teacher.get_by_role("button", name=re.compile("Next step")).first.click()
            settle(teacher)
        tally = teacher.locator("p", has_text=f"from class {code}").first

        def answer(name: str, option: int) -> None:
            page = students[name]
            page.get_by_text(OPTIONS[option], exact=True).first.click()
            expect(page.get_by_text(re.compile("^Your answer is in")).first).to_be_visible()
            acknowledged[_student_id(tabs[name][0])] = option

        for i, (name, page) in enumerate(students.items()):
            page.goto(f"{base}/similarity?class={code}")
            settle(page)
            expect(page.get_by_text(f"Class {code} · joined")).to_be_visible()
            answer(name, i % 2)
        expect(tally).to_have_text(f"3 answers from class {code}", timeout=20_000)

        # a replica dies (s1's): its launcher starts it again; s1's page connects again, through Caddy
        launcher_a = servers.launchers[0]
        before = len(students["s1"].sockets)
        os.kill(bench.listening_pid(a1, launcher_a.pids()[1:]), signal.SIGKILL)
        _moved(students["s1"], before)
        expect(students["s1"].get_by_text(f"Class {code} · joined")).to_be_visible()
        # a whole launcher dies (s2's and s3's replicas): they go on on the other launcher
        before = {name: len(students[name].sockets) for name in ("s2", "s3")}
        os.killpg(servers.launchers[1].proc.pid, signal.SIGKILL)
        for name in ("s2", "s3"):
            _moved(students[name], before[name])
            expect(students[name].get_by_text(f"Class {code} · joined")).to_be_visible()
        answer("s2", 1 - acknowledged[_student_id(tabs["s2"][0])])  # a changed answer, on its new replica
        expect(tally).to_have_text(f"3 answers from class {code}", timeout=20_000)  # the same students, counted once
        assert _stored(dsn, code) == acknowledged

        # Reveal reaches every student, each told about the answer the store has for them
        teacher.get_by_role("button", name="Reveal the answer").first.click()
        for page in students.values():
            verdict = page.get_by_text(re.compile(r"^(Right\.|Not this time: the answer is “the word with itself)"))
            expect(verdict.first).to_be_visible(timeout=20_000)

        # "Follow the teacher" (on for a student who joined by the class's link, replica lost or not): the teacher
        # opens lesson 3; every student is taken there
        for page in students.values():
            expect(page.locator(".st-key-cls_follow input")).to_be_checked()
        # (presenter mode keeps the sidebar's navigation out of the viewport: the link is clicked where it is; the
        # navigation's link, not the lesson's own "Next lesson" link to the same page)
        teacher.get_by_test_id("stSidebarNavItems").get_by_role("link", name="3 · Queries, keys and values").evaluate(
            "link => link.click()"
        )
        settle(teacher)
        for page in students.values():
            page.wait_for_url(re.compile(rf"/projections\?(.*&)?class={code}"), timeout=30_000)
        teacher.screenshot(path=str(SHOTS / "caddy-class-teacher.png"))
        for name, (_, page) in tabs.items():
            assert page.evaluate("window.attnvizViolations") == [], name
    finally:
        for context, _ in tabs.values():
            context.close()


def test_bench_load_class_through_caddy(fleet):
    """bench/bench_load.py's class scenario through the same Caddy: its students answer while a replica and then the
    last launcher are killed; every acknowledged answer is in the store as acknowledged."""
    bench, servers, dsn = fleet
    from app_support.classroom import class_store

    for index, launcher in enumerate(servers.launchers):  # a launcher the first test killed starts again
        if launcher.proc.poll() is not None:
            servers.restart(index)
    _run(servers.ready())
    time.sleep(3)  # Caddy's next health check (every 2 s) finds the restarted replicas
    store = class_store.ClassStore(dsn=dsn)
    log: list[str] = []
    try:
        lesson = bench.class_lesson(servers, store, n=8, window=6, duration=30, think=(1.0, 3.0), timeout=30,
                                    seed=1, during=lambda: bench.faults(servers, 30, log))  # fmt: skip
        run = _run(lesson)
    finally:
        store.close()
    assert len(log) == 2, log
    assert not run.stats.errors, dict(run.stats.errors)
    assert len(run.acknowledged) == 8 and run.matched == 8, (run.matched, run.acknowledged)
    assert run.stored == 8 and run.reconnects >= 1
    assert max(bench.chart_lags(run)) < 10  # the teacher's live count caught up with every answer
