"""The live class's store (app_support.classroom.class_store), run against SQLite and against a real PostgreSQL server.

The PostgreSQL run needs a server's address in $ATTNVIZ_TEST_PG_DSN (`.ci/run` starts one with `.ci/postgres.sh`)
and the psycopg driver. Outside CI they skip without them; under CI=true they fail, so a green CI means the store
really ran on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from app_support.classroom import class_rules, class_store
from app_support.classroom.class_db import ClassStoreError
from app_support.classroom.class_rules import ALPHABET, clean_code, clean_name
from app_support.classroom.class_store import ClassStore

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_DSN = os.environ.get("ATTNVIZ_TEST_PG_DSN", "")
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE class_answers; --",
    "Robert'); DELETE FROM class_sessions WHERE ('1'='1",
    "x" * 10_000,
    "🦊🔥 émile",
    "**bold** [link](http://example.com) :red[red] $x$",
    "tab\there\nnew\x00line\u202eevil",
]


def _pg_store() -> ClassStore:
    problem = None
    if not PG_DSN:
        problem = "no PostgreSQL server: set ATTNVIZ_TEST_PG_DSN (.ci/postgres.sh starts one)"
    else:
        try:
            import psycopg
        except ImportError:
            problem = "the psycopg driver is not installed"
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for table in ("class_answers", "class_questions", "class_sessions"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return ClassStore(dsn=PG_DSN)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    s = ClassStore(path=tmp_path / "data" / "class.sqlite3") if request.param == "sqlite" else _pg_store()
    yield s
    s.close()


def test_codes_are_short_unambiguous_and_validated(store):
    code, token = store.create_class()
    assert len(code) == 4 and set(code) <= set(ALPHABET)
    assert not set("0O1IL") & set(ALPHABET)
    assert len(token) >= 30
    assert clean_code(f"  {code.lower()} ") == code
    for bad in ["", "ABC", "ABCDEFG", "K7Q0", "KIQL", "K7 QF", "<b>K7QF</b>", "K7QF'--", "x" * 10_000, None, 42]:
        assert clean_code(bad) is None, bad
    info = store.get_class(code)
    assert info.code == code and info.active() and info.ended is None
    assert info.expires - info.created == class_store.LIFETIME_S
    assert store.get_class("ZZZZ") is None or store.get_class("ZZZZ").code == "ZZZZ"


def test_teacher_token_is_checked_and_stored_hashed(store, tmp_path):
    code, token = store.create_class()
    assert store.is_teacher(code, token)
    for forged in ["", token[:-1], token + "x", token.upper() if token != token.upper() else token.lower(), None,
                   "x" * 10_000, "' OR '1'='1"]:  # fmt: skip
        assert not store.is_teacher(code, forged), forged
    other, other_token = store.create_class()
    assert not store.is_teacher(code, other_token) and store.is_teacher(other, other_token)
    with pytest.raises(PermissionError):
        store.reveal(code, "forged", "q1", 0)
    with pytest.raises(PermissionError):
        store.end_class(code, other_token)
    assert not store.revealed(code, "q1")
    rows = store._run("SELECT token_hash FROM class_sessions WHERE code = ?", (code,))
    assert rows[0][0] != token and token not in rows[0][0] and len(rows[0][0]) == 64


def test_expired_or_ended_class_gives_no_control(store):
    start = time.time() - class_store.LIFETIME_S - 60
    code, token = store.create_class(now=start)
    assert not store.get_class(code).active()
    assert not store.is_teacher(code, token)  # the right token, but the class is over
    with pytest.raises(PermissionError):
        store.answer(code, "q1", "student-aaaa", "Ana", 0)
    live, live_token = store.create_class()
    store.end_class(live, live_token)
    assert not store.get_class(live).active() and not store.is_teacher(live, live_token)
    with pytest.raises(PermissionError):
        store.set_state(live, live_token, {"page": "softmax"})


def test_answers_upsert_tally_and_reveal(store):
    code, token = store.create_class()
    store.answer(code, "l4_q", "s-aaaaaaaa", "Ana", 0)
    store.answer(code, "l4_q", "s-bbbbbbbb", "", 2)
    store.answer(code, "l4_q", "s-cccccccc", "Chen", 2)
    store.answer(code, "l4_q", "s-aaaaaaaa", "Ana", 1)  # Ana changes her mind: replaces, not adds
    store.answer(code, "other", "s-aaaaaaaa", "Ana", 0)
    tally = store.tally(code, "l4_q", 3)
    assert tally.counts == [0, 1, 2] and tally.total == 3
    assert not tally.revealed and tally.correct is None and tally.share_right() is None
    assert store.my_answer(code, "l4_q", "s-aaaaaaaa") == 1
    assert store.my_answer(code, "l4_q", "s-dddddddd") is None
    assert store.count_answers(code) == 4
    store.reveal(code, token, "l4_q", 2)
    tally = store.tally(code, "l4_q", 3)
    assert tally.revealed and tally.correct == 2 and tally.share_right() == pytest.approx(2 / 3)
    assert store.revealed(code, "l4_q") and not store.revealed(code, "other")
    assert store.revealed_among(code, {"l4_q", "other", "none"}) == {"l4_q"}
    assert sorted(store.names(code, "l4_q")) == [("", 2), ("Ana", 1), ("Chen", 2)]
    with pytest.raises(ValueError):
        store.answer(code, "l4_q", "s-aaaaaaaa", "Ana", -1)
    with pytest.raises(ValueError):
        store.answer(code, "l4_q", "s-aaaaaaaa", "Ana", class_rules.MAX_CHOICES)
    with pytest.raises(ValueError):
        store.answer(code, "<script>", "s-aaaaaaaa", "Ana", 0)
    with pytest.raises(ValueError):
        store.answer(code, "l4_q", "'; DROP TABLE x; --", "Ana", 0)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_are_stored_as_plain_text(store, hostile):
    code, _ = store.create_class()
    store.answer(code, "q", "s-aaaaaaaa", hostile, 0)
    [(name, choice)] = store.names(code, "q")
    assert name == clean_name(hostile) and choice == 0
    assert len(name) <= class_rules.NAME_MAX and name.isprintable()
    if len(hostile) < class_rules.NAME_MAX and hostile.isprintable():
        assert name == hostile  # stored as typed: SQL and markup are just characters
    assert store.count_answers(code) == 1  # nothing was dropped or deleted
    assert store.get_class(code).active()


def test_follow_state_round_trip(store):
    code, token = store.create_class()
    assert store.get_class(code).state == {}
    view = {"page": "softmax", "query": "sentence=%3Cscript%3E+%F0%9F%A6%8A&l4_scale=true"}
    store.set_state(code, token, view)
    assert store.get_class(code).state == view
    with pytest.raises(PermissionError):
        store.set_state(code, "forged", {"page": "efficient"})
    with pytest.raises(ValueError):
        store.set_state(code, token, {"query": "x" * 10_000})
    assert store.get_class(code).state == view


def test_many_concurrent_answers_are_all_stored(store):
    code, _ = store.create_class()
    errors: list[BaseException] = []

    def student(i: int) -> None:
        try:
            for question in ("q1", "q2"):
                store.answer(code, question, f"student-{i:04d}", f"S{i}", i % 4)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count_answers(code) == 120
    assert store.tally(code, "q1", 4).counts == [15, 15, 15, 15]


def test_two_stores_on_one_database_share_the_class(store, tmp_path):
    """What replicas do: separate connections (here a second store object) see each other's writes at once."""
    other = ClassStore(path=store.path) if store.path else ClassStore(dsn=store.dsn)
    try:
        code, token = store.create_class()
        other.answer(code, "q", "s-aaaaaaaa", "Ana", 1)
        assert store.tally(code, "q", 2).counts == [0, 1]
        store.reveal(code, token, "q", 1)
        assert other.revealed(code, "q") and other.is_teacher(code, token)
    finally:
        other.close()


def test_sqlite_file_uses_wal(tmp_path):
    s = ClassStore(path=tmp_path / "c.sqlite3")
    s.create_class()
    assert s._run("PRAGMA journal_mode")[0][0] == "wal"
    s.close()


def test_unwritable_directory_raises_one_error_type(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    s = ClassStore(path=blocker / "c.sqlite3")
    with pytest.raises(ClassStoreError, match="cannot"):
        s.create_class()


def test_read_only_database_raises_one_error_type(tmp_path):
    path = tmp_path / "c.sqlite3"
    s = ClassStore(path=path)
    code, _ = s.create_class()
    s.close()
    s = ClassStore(path=path)
    s._connect = lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)  # type: ignore
    with pytest.raises(ClassStoreError, match="cannot be written"):
        s.answer(code, "q", "s-aaaaaaaa", "Ana", 0)


def test_postgres_down_raises_one_error_type():
    pytest.importorskip("psycopg")
    s = ClassStore(dsn="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(ClassStoreError, match="cannot be reached"):
        s.create_class()


def test_config_picks_the_database(monkeypatch, tmp_path):
    monkeypatch.setattr(class_store, "_STORE", None)
    monkeypatch.setenv(class_store.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(class_store.DB_ENV, raising=False)
    s = class_store.from_config()
    assert s.kind == "sqlite" and s.path == tmp_path / class_store.DB_FILE
    assert class_store.from_config() is s
    monkeypatch.setattr(class_store, "_STORE", None)
    monkeypatch.setenv(class_store.DB_ENV, "postgresql://u:secret@db.example/attnviz")
    s = class_store.from_config()
    assert s.kind == "postgresql" and "secret" not in repr(s)
    monkeypatch.setattr(class_store, "_STORE", None)
