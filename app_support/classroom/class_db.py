"""The database under a live class: the tables, the connections and the one dialect difference.

* SQLite (Python's ``sqlite3``) in WAL mode with a busy timeout, so the forked replicas of ``make class`` on one
  machine share the file and a restart loses nothing;
* PostgreSQL (``psycopg`` 3, imported only then) for a class spread over several machines behind one load balancer.
  A pooled connection is checked before it is used again (one empty query, as ``psycopg_pool``'s
  ``check_connection`` does), so the connections left over from before a restart of the database server are
  replaced instead of failing the next calls; a statement that fails on a lost connection, or meets a server still
  starting up, is tried again after 0.1, 0.4 and 1.6 s.

The dialects differ only in the placeholder (``?`` or ``%s``): both speak ``INSERT … ON CONFLICT … DO UPDATE``,
and the tables use types both understand. Every write is one statement, so one short transaction. Every failure of
the database is raised as `ClassStoreError`, with a message in words for the page. This module never imports
streamlit.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS class_sessions (
        code TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        expires DOUBLE PRECISION NOT NULL,
        ended DOUBLE PRECISION,
        state TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE IF NOT EXISTS class_questions (
        code TEXT NOT NULL,
        question TEXT NOT NULL,
        revealed INTEGER NOT NULL DEFAULT 0,
        correct INTEGER,
        PRIMARY KEY (code, question)
    )""",
    """CREATE TABLE IF NOT EXISTS class_answers (
        code TEXT NOT NULL,
        question TEXT NOT NULL,
        student TEXT NOT NULL,
        name TEXT NOT NULL,
        choice INTEGER NOT NULL,
        answered DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (code, question, student)
    )""",
)


RETRY_DELAYS_S = (0.1, 0.4, 1.6)  # PostgreSQL: waits before trying a transient failure again (lost connection)


class ClassStoreError(RuntimeError):
    """The class store cannot be used now (disk full or unwritable, database down or locked). The message says
    which, in words for the page; ``kind`` says it in one word for the logs ("full", "read-only", "busy",
    "unreachable" or "other"); ``transient`` whether trying again at once may work (a lost connection)."""

    def __init__(self, message: str, kind: str = "other", transient: bool = False) -> None:
        super().__init__(message)
        self.kind, self.transient = kind, transient


class Connections:
    """Connections to the class tables in SQLite (``path``) or PostgreSQL (``dsn``): a small pool per process, the
    schema made on first use, the dialect's placeholder, and every database failure raised as `ClassStoreError`.
    Safe to share between threads; after a fork each process opens its own connections."""

    BUSY_TIMEOUT_S = 10.0  # SQLite: how long a write waits for another connection's write to finish

    def __init__(self, *, path: str | Path | None = None, dsn: str | None = None) -> None:
        if (path is None) == (dsn is None):
            raise ValueError("give a SQLite path or a PostgreSQL dsn")
        self.path = Path(path) if path is not None else None
        self.dsn = dsn
        self.kind = "postgresql" if dsn else "sqlite"
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._pid = os.getpid()
        self._ready = False

    def __repr__(self) -> str:  # never the password in a dsn
        return f"ClassStore({self.kind})"

    # connections: a small pool per process
    def _connect(self) -> Any:
        if self.dsn is not None:
            try:
                import psycopg
            except ImportError as err:
                raise ClassStoreError("the PostgreSQL driver (psycopg) is not installed on this server") from err
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _schema(self, conn: Any) -> None:
        for attempt in range(3):
            try:
                for statement in SCHEMA:
                    conn.execute(statement)
                break
            except self._errors():
                # two replicas creating the tables at once: PostgreSQL lets one of them fail; the next try finds them
                if attempt == 2:
                    raise
                time.sleep(0.2)
        self._ready = True

    def _errors(self) -> tuple[type[BaseException], ...]:
        errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
        if self.dsn is not None:
            with contextlib.suppress(ImportError):
                import psycopg

                errors += (psycopg.Error,)
        return errors

    def _reuse(self) -> Any:
        """An idle connection of this process that still works, or None. A PostgreSQL connection is checked with
        an empty query (one round trip); when it fails, the server has dropped it (a restart): the other idle ones
        date from before that too, and go with it."""
        with self._lock:
            if self._pid != os.getpid():  # a forked replica: its parent's connections are not its own
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None or self.dsn is None:
            return conn
        try:
            conn.execute("")
            return conn
        except Exception:
            with contextlib.suppress(Exception):
                conn.close()
            self.close()
            return None

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        conn = self._reuse()
        errors = self._errors()
        try:
            if conn is None:
                try:
                    conn = self._connect()
                except errors as err:
                    starting = any(w in str(err).lower() for w in ("starting up", "shutting down", "recovery"))
                    raise self._failure(err, transient=starting) from err
            if not self._ready:
                self._schema(conn)
            yield conn
        except ClassStoreError:
            raise
        except errors as err:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            raise self._failure(err, transient=self.dsn is not None and _lost(err)) from err
        with self._lock:
            if len(self._idle) < 8 and self._pid == os.getpid():
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()

    def _failure(self, err: BaseException, transient: bool) -> ClassStoreError:
        message = self._explain(err)
        kinds = {"full": "full", "cannot be written": "read-only", "busy": "busy", "reached": "unreachable"}
        kind = next((k for w, k in kinds.items() if w in message), "other")
        return ClassStoreError(message, kind=kind, transient=transient)

    def _explain(self, err: BaseException) -> str:
        text = str(err).lower()
        where = "the class database" if self.dsn else f"the class file in {self.path.parent if self.path else '?'}"
        if "full" in text or "no space" in text:
            return f"the disk holding {where} is full"
        if "readonly" in text or "read-only" in text or "permission" in text or isinstance(err, PermissionError):
            return f"{where} cannot be written to"
        if "locked" in text or "busy" in text:
            return f"{where} is busy"
        if self.dsn:
            return "the class database server cannot be reached or refused the request"
        return f"{where} cannot be used ({type(err).__name__})"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dsn else sql

    def _run(self, sql: str, params: tuple = ()) -> Any:
        """One statement; tried again after `RETRY_DELAYS_S` when it failed in a way that may pass (every statement
        of the store is safe to repeat: upserts, updates, deletes of expired rows)."""
        delays = iter(RETRY_DELAYS_S)
        while True:
            try:
                with self._conn() as conn:
                    cur = conn.execute(self._sql(sql), params)
                    return cur.fetchall() if cur.description else cur.rowcount
            except ClassStoreError as err:
                delay = next(delays, None) if err.transient else None
                if delay is None:
                    raise
                time.sleep(delay)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


def _lost(err: BaseException) -> bool:
    """Whether a PostgreSQL error says the connection was lost (or the server is restarting), not that the statement
    was refused: psycopg raises those as OperationalError (a dropped socket, an administrator's shutdown)."""
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(err, psycopg.OperationalError)
