"""The live class under faults (AppTest, the whole app from app.py): the class store locked by another connection,
its data directory read-only or full, PostgreSQL stopped and started again under pooled connections, and the
teacher's session lost.

Each fault test plays a class: a teacher in presenter mode and three students, each a `Browser` (its own sessions
and cookies). Before, during and after the fault it counts the answers each student's screen says the store has
("Your answer is in", or "the teacher still has your earlier answer") and the answers the store has, and finds them
equal; while the store fails no student sees the measured answer, and once it is back every waiting answer and the
teacher's reveal arrive; then the teacher's session is dropped and a fresh one in the same browser is the teacher
again, at the same presenter step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app_support.classroom import class_db, class_limits, class_session, class_store
from tests.app.class_browser import (
    QUESTION,
    SIM,
    Browser,
    answer,
    app_store,
    count_shown,
    count_stored,
    headers,
    sees_answer,
    teacher_starts,
    teaching,
    texts,
    token_free,
    waiting,
)
from tests.app.conftest import ROOT
from tests.app.test_pages import no_html

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def store(monkeypatch, tmp_path):
    yield from app_store(monkeypatch, tmp_path)


# --- the class under a fault -----------------------------------------------------------------------------------------
def play_class(store: class_store.ClassStore, fault: Callable[[], contextlib.AbstractContextManager]) -> None:
    teacher = Browser()
    projector, code = teacher_starts(teacher)
    token = teacher.cookies[f"attnviz_teacher_{code}"]
    assert store.is_teacher(code, token), "the browser keeps the checked token"
    browsers = [Browser() for _ in range(3)]
    students = [b.open(SIM, **{"class": code}) for b in browsers]
    answer(browsers[0], students[0], 1)
    assert count_shown(students)[students[0].session_state["_class_student"]] == 1
    assert count_shown(students) == count_stored(store, code)

    with fault():
        answer(browsers[0], students[0], 2)  # a change of mind: the store keeps option 1 meanwhile
        answer(browsers[1], students[1], 1)
        answer(browsers[2], students[2], 3)
        assert all(waiting(at) for at in students), [texts(at) for at in students]
        during = [count_shown(students)]
        projector.button(key=f"{QUESTION}_reveal").click()
        teacher.run(projector)
        assert [w for w in projector.warning if "Not on the students' screens yet" in w.value], (
            "the projector says that the reveal has not reached the students"
        )
        for b, at in zip(browsers, students, strict=True):
            b.run(at)  # the students' pages go on: their answers wait, and they see no answer
            assert waiting(at) and not sees_answer(at), texts(at)
        during.append(count_shown(students))
    # the fault is over; before any page runs again, the store has what the screens said it had, and no reveal
    for shown in during:
        assert shown == count_stored(store, code), (shown, count_stored(store, code))
    assert len(count_stored(store, code)) == 1
    assert not store.revealed_among(code, {q for (q,) in store._run("SELECT question FROM class_answers")})

    # the store is back: the next run sends what waited (the last student by "Try the class features again")
    for b, at in zip(browsers[:2], students[:2], strict=True):
        b.run(at)
    students[2].sidebar.button(key="cls_retry").click()
    browsers[2].run(students[2])
    expected = {at.session_state["_class_student"]: o for at, o in zip(students, (2, 1, 3), strict=True)}
    assert count_shown(students) == count_stored(store, code) == expected
    teacher.run(projector)  # the projector's run sends the waiting reveal
    assert not [w for w in projector.warning if "Not on the students' screens yet" in w.value]
    for b, at in zip(browsers, students, strict=True):
        b.run(at)
        assert sees_answer(at)
        no_html(at)

    # the teacher's session is lost (a replica restarted, a laptop asleep): a fresh one in the same browser is the
    # teacher again, on the step it had reached, and no link it offers carries the token
    before = headers(projector)
    again = teacher.open(SIM, present="true", **{"class": code})
    assert teaching(again, code) and headers(again) == before
    assert "teacher" not in again.query_params
    assert token_free(again, token)


def test_sqlite_locked_by_another_connection(app, store):
    @contextlib.contextmanager
    def locked() -> Iterator[None]:
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write in progress: writers wait, readers do not
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    play_class(store, locked)


def test_read_only_data_directory(app, store):
    @contextlib.contextmanager
    def read_only() -> Iterator[None]:
        # as root a chmod would not stop the writes: the connections are opened read-only, as on a read-only mount
        store.close()
        store._connect = lambda: sqlite3.connect(  # type: ignore[method-assign]
            f"file:{store.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            yield
        finally:
            del store._connect
            store.close()

    play_class(store, read_only)


class _FullDisk:
    """A connection on a full disk: reads work, every write fails as SQLite reports it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def test_full_data_directory(app, store):
    @contextlib.contextmanager
    def full() -> Iterator[None]:
        connect = store._connect
        store.close()
        store._connect = lambda: _FullDisk(connect())  # type: ignore[method-assign]
        try:
            yield
        finally:
            del store._connect
            store.close()

    play_class(store, full)


# --- PostgreSQL stopped and started again ----------------------------------------------------------------------------
def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture
def pg_server():
    """A PostgreSQL server of this test's own (`.ci/postgres.sh`), to stop and start: yields (dsn, stop, start)."""
    if _pg_bin() is None or (shutil.which("runuser") is None and os.getuid() == 0):
        if IN_CI:
            pytest.fail("PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    from tests.e2e.conftest import free_port

    folder = Path(tempfile.mkdtemp(prefix="attnviz-faults-pg."))
    port = str(free_port())

    def start() -> str:
        out = subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), str(folder), port], check=True,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        return out.stdout.strip().splitlines()[-1]

    def stop() -> None:
        command = [str(_pg_bin() / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=False, capture_output=True, timeout=120)

    dsn = start()
    try:
        yield dsn, stop, start
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_restart_under_pooled_connections(pg_server):
    """The issue's figure: after a restart, 8 of the next 10 store calls failed on stale pooled connections."""
    dsn, stop, start = pg_server
    pytest.importorskip("psycopg")
    s = class_store.ClassStore(dsn=dsn)
    try:
        code, _ = s.create_class()
        with contextlib.ExitStack() as stack:  # several connections in the pool, as a busy replica has
            for _ in range(4):
                stack.enter_context(s._conn())
        assert len(s._idle) == 4
        stop()  # the database restarts while the replica is idle: its pooled connections are dead now
        start()
        for i in range(10):
            s.answer(code, "q", f"s-{i:08d}", "", i % 2)  # every one of the next calls works
        assert s.count_answers(code) == 10
        stop()
        with pytest.raises(class_db.ClassStoreError) as down:
            s.answer(code, "q", "s-aaaaaaaa", "Ana", 0)
        assert down.value.kind == "unreachable"
        start()
        s.answer(code, "q", "s-aaaaaaaa", "Ana", 0)
        assert s.count_answers(code) == 11
    finally:
        s.close()


def test_postgres_stopped_and_restarted_mid_class(monkeypatch, tmp_path, pg_server):
    dsn, stop, start = pg_server
    pytest.importorskip("psycopg")
    monkeypatch.setenv(class_store.DB_ENV, dsn)
    monkeypatch.setattr(class_store, "_STORE", None)
    monkeypatch.setattr(class_session, "RETRY_S", 0.0)
    monkeypatch.setattr(class_session, "cookies", lambda: dict(Browser.current.cookies) if Browser.current else {})
    class_limits.reset()
    s = class_store.from_config()
    assert s.kind == "postgresql"

    @contextlib.contextmanager
    def stopped() -> Iterator[None]:
        stop()
        try:
            yield
        finally:
            start()  # the pooled connections of the app's store are left over from before

    try:
        play_class(s, stopped)
    finally:
        s.close()
        monkeypatch.setattr(class_store, "_STORE", None)


def test_an_answer_waiting_when_the_class_ends_is_said_not_recorded(store):
    code, token = store.create_class()
    browser = Browser()
    at = browser.open(SIM, **{"class": code})
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        answer(browser, at, 2)
        assert waiting(at) and count_shown([at]) == {}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.end_class(code, token)  # the teacher ends the class before the store took the answer
    browser.run(at)
    notes = [w.value.replace("\\", "") for w in at.sidebar.warning]
    assert notes == [f"Class {code} has ended: your last answer was not recorded."], notes
    assert count_stored(store, code) == {} == count_shown([at])
    assert not [c for c in texts(at) if c.startswith("Your answer is in")]


def test_a_student_joining_while_the_store_is_down_waits_and_sees_no_answer(store, monkeypatch):
    """No local quiz for a class's student, whatever the store does: the question waits for the teacher."""
    code, token = store.create_class()
    real = store._run

    def down(*args, **kwargs):
        raise class_db.ClassStoreError("the class database server cannot be reached or refused the request",
                                          kind="unreachable")  # fmt: skip

    monkeypatch.setattr(store, "_run", down)
    browser = Browser()
    at = browser.open(SIM, **{"class": code})
    assert any(m.value.startswith(f"**Predict first** (class {code})") for m in at.markdown)
    answer(browser, at, 1)
    assert waiting(at) and not sees_answer(at) and count_shown([at]) == {}
    [qid] = [q for q in at.session_state["_class_waiting"] if q.startswith(f"{QUESTION}.")]
    monkeypatch.setattr(store, "_run", real)
    store.reveal(code, token, qid, 0)  # revealed while this page could not hear of it
    browser.run(at)  # the store is back: the class is checked, the answer sent, then the reveal shown
    browser.run(at)
    assert count_stored(store, code) == {at.session_state["_class_student"]: 1}
    assert sees_answer(at) and [s for s in at.success if s.value.startswith("Right.")], "the verdict on its answer"
