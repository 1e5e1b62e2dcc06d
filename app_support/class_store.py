"""Where a live class keeps its state: classes, their questions and the students' answers.

One module, two databases, the SQL written once:

* SQLite (Python's ``sqlite3``), a file ``classroom.sqlite3`` in the data directory (``ATTNVIZ_DATA_DIR``, default
  ``var/`` in the repository), in WAL mode with a busy timeout, so the forked replicas of ``make class`` on one
  machine share it and a restart loses nothing;
* PostgreSQL (``psycopg`` 3, imported only then) when ``ATTNVIZ_CLASS_DB`` names a server
  (``postgresql://user:password@host/db``), for a class spread over several machines behind one load balancer.

The dialects differ only in the placeholder (``?`` or ``%s``): both speak ``INSERT … ON CONFLICT … DO UPDATE``,
and the tables use types both understand. Every write is one statement, so one short transaction.

Every failure of the database (a full or unwritable disk, a server that is down, a locked file past the timeout)
is raised as `ClassStoreError`, which a page turns into a message while the lesson goes on without the class.
This module never imports streamlit.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV, DB_ENV = "ATTNVIZ_DATA_DIR", "ATTNVIZ_CLASS_DB"
DB_FILE = "classroom.sqlite3"

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: nothing to misread on a projector
CODE_LENGTH = 4  # new codes; 31**4 ≈ 920,000 of them
CODE_MIN, CODE_MAX = 4, 6  # what a typed code may be
NAME_MAX = 40  # characters of a display name
MAX_CHOICES = 12  # options a question may have
LIFETIME_S = 4 * 3600  # a class lasts a lesson period
KEEP_S = 24 * 3600  # ended or expired classes are deleted this long after their end
_CODE = re.compile(f"[{ALPHABET}]{{{CODE_MIN},{CODE_MAX}}}")
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,80}")  # question keys (ours) and student ids (ours too, kept in the session)

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


class ClassStoreError(RuntimeError):
    """The class store cannot be used now (disk full or unwritable, database down or locked). The message says
    which, in words for the page."""


@dataclass(frozen=True)
class ClassInfo:
    """A class as stored: its code, times (seconds since the epoch) and the teacher's shared view."""

    code: str
    created: float
    expires: float
    ended: float | None
    state: dict[str, Any] = field(default_factory=dict)

    def active(self, now: float | None = None) -> bool:
        return self.ended is None and (time.time() if now is None else now) < self.expires


@dataclass(frozen=True)
class Tally:
    """The answers to one question: how many chose each option, and whether the teacher has revealed it."""

    counts: list[int]
    revealed: bool
    correct: int | None

    @property
    def total(self) -> int:
        return sum(self.counts)

    def share_right(self) -> float | None:
        """The share of answers that chose the measured answer (None when there is none, or no answer)."""
        if self.correct is None or not self.total or not 0 <= self.correct < len(self.counts):
            return None
        return self.counts[self.correct] / self.total


# --- validation ----------------------------------------------------------------------------------------------------
def clean_code(raw: object) -> str | None:
    """A typed or linked class code, upper-cased, or None when it is not one (wrong length or characters)."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    code = raw.strip().upper()
    return code if _CODE.fullmatch(code) else None


def clean_name(raw: object) -> str:
    """A display name as stored and shown: printable characters only, spaces collapsed, at most `NAME_MAX`
    characters ("" for anonymous). It is text, never markup: pages show it with st.text or escaped."""
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFC", raw[: NAME_MAX * 8])
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())[:NAME_MAX].strip()


def new_student_id() -> str:
    return secrets.token_urlsafe(12)


def valid_student_id(value: str) -> bool:
    """Whether ``value`` can be a student id (what `new_student_id` makes: 16 URL-safe characters)."""
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]{16}", value) is not None


def _key(value: str, what: str) -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise ValueError(f"not a valid {what}")
    return value


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# --- the store -----------------------------------------------------------------------------------------------------
class ClassStore:
    """The class tables in SQLite (``path``) or PostgreSQL (``dsn``). Safe to share between threads; after a fork
    each process opens its own connections."""

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
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
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

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        with self._lock:
            if self._pid != os.getpid():  # a forked replica: its parent's connections are not its own
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        errors = self._errors()
        try:
            if conn is None:
                conn = self._connect()
            if not self._ready:
                self._schema(conn)
            yield conn
        except ClassStoreError:
            raise
        except errors as err:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            raise ClassStoreError(self._explain(err)) from err
        with self._lock:
            if len(self._idle) < 8 and self._pid == os.getpid():
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()

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
        with self._conn() as conn:
            cur = conn.execute(self._sql(sql), params)
            return cur.fetchall() if cur.description else cur.rowcount

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()

    # classes
    def create_class(self, now: float | None = None) -> tuple[str, str]:
        """A new class: returns (code, teacher token). Only the token's hash is stored."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(24)
        self._run("DELETE FROM class_answers WHERE code IN (SELECT code FROM class_sessions WHERE expires < ?)",
                  (now - KEEP_S,))  # fmt: skip
        self._run("DELETE FROM class_questions WHERE code IN (SELECT code FROM class_sessions WHERE expires < ?)",
                  (now - KEEP_S,))  # fmt: skip
        self._run("DELETE FROM class_sessions WHERE expires < ?", (now - KEEP_S,))
        for _ in range(50):
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            inserted = self._run(
                "INSERT INTO class_sessions (code, token_hash, created, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (code) DO NOTHING",
                (code, _hash(token), now, now + LIFETIME_S),
            )
            if inserted == 1:
                return code, token
        raise ClassStoreError("no free class code was found; try again")

    def get_class(self, code: str) -> ClassInfo | None:
        rows = self._run("SELECT code, created, expires, ended, state FROM class_sessions WHERE code = ?", (code,))
        if not rows:
            return None
        code, created, expires, ended, state = rows[0]
        try:
            shared = json.loads(state)
        except ValueError:
            shared = {}
        return ClassInfo(code, float(created), float(expires), None if ended is None else float(ended),
                         shared if isinstance(shared, dict) else {})  # fmt: skip

    def is_teacher(self, code: str, token: object, now: float | None = None) -> bool:
        """Whether ``token`` is the teacher's for this class, and the class is still on."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return False
        rows = self._run("SELECT token_hash, expires, ended FROM class_sessions WHERE code = ?", (code,))
        if not rows:
            return False
        stored, expires, ended = rows[0]
        now = time.time() if now is None else now
        return hmac.compare_digest(_hash(token), stored) and ended is None and now < float(expires)

    def _teacher(self, code: str, token: str) -> None:
        if not self.is_teacher(code, token):
            raise PermissionError("only the teacher's link can do this, while the class is on")

    def end_class(self, code: str, token: str, now: float | None = None) -> None:
        self._teacher(code, token)
        self._run("UPDATE class_sessions SET ended = ? WHERE code = ?", (time.time() if now is None else now, code))

    def set_state(self, code: str, token: str, state: dict[str, Any]) -> None:
        """The teacher's view for students who follow: e.g. {"page": "softmax", "query": "sentence=…"}."""
        self._teacher(code, token)
        text = json.dumps(state, ensure_ascii=False)
        if len(text) > 8000:
            raise ValueError("the view is too long to share")
        self._run("UPDATE class_sessions SET state = ? WHERE code = ?", (text, code))

    # questions and answers
    def reveal(self, code: str, token: str, question: str, correct: int | None) -> None:
        self._teacher(code, token)
        self._run(
            "INSERT INTO class_questions (code, question, revealed, correct) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (code, question) DO UPDATE SET revealed = 1, correct = excluded.correct",
            (code, _key(question, "question"), correct),
        )

    def answer(self, code: str, question: str, student: str, name: str, choice: int, now: float | None = None) -> None:
        """Store a student's answer; a second answer to the same question replaces the first."""
        if not isinstance(choice, int) or not 0 <= choice < MAX_CHOICES:
            raise ValueError("not one of the options")
        info = self.get_class(code)
        if info is None or not info.active(now):
            raise PermissionError("this class has ended")
        self._run(
            "INSERT INTO class_answers (code, question, student, name, choice, answered) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (code, question, student) DO UPDATE SET name = excluded.name, choice = excluded.choice, "
            "answered = excluded.answered",
            (code, _key(question, "question"), _key(student, "student id"), clean_name(name), choice,
             time.time() if now is None else now),
        )  # fmt: skip

    def my_answer(self, code: str, question: str, student: str) -> int | None:
        rows = self._run(
            "SELECT choice FROM class_answers WHERE code = ? AND question = ? AND student = ?",
            (code, question, student),
        )
        return int(rows[0][0]) if rows else None

    def tally(self, code: str, question: str, options: int) -> Tally:
        """How many students chose each of ``options`` options, and whether the answer is revealed."""
        counts = [0] * options
        for choice, n in self._run(
            "SELECT choice, COUNT(*) FROM class_answers WHERE code = ? AND question = ? GROUP BY choice",
            (code, question),
        ):
            if 0 <= int(choice) < options:
                counts[int(choice)] = int(n)
        rows = self._run("SELECT revealed, correct FROM class_questions WHERE code = ? AND question = ?",
                         (code, question))  # fmt: skip
        revealed = bool(rows and rows[0][0])
        return Tally(counts, revealed, int(rows[0][1]) if revealed and rows[0][1] is not None else None)

    def revealed(self, code: str, question: str) -> bool:
        rows = self._run("SELECT revealed FROM class_questions WHERE code = ? AND question = ?", (code, question))
        return bool(rows and rows[0][0])

    def revealed_among(self, code: str, questions: set[str] | frozenset[str]) -> set[str]:
        """Which of ``questions`` the teacher has revealed (one query, whatever their number)."""
        rows = self._run("SELECT question FROM class_questions WHERE code = ? AND revealed = 1", (code,))
        return {str(q) for (q,) in rows} & set(questions)

    def names(self, code: str, question: str) -> list[tuple[str, int]]:
        """(display name, choice) of each answer, oldest first."""
        rows = self._run(
            "SELECT name, choice FROM class_answers WHERE code = ? AND question = ? ORDER BY answered, student",
            (code, question),
        )
        return [(str(n), int(c)) for n, c in rows]

    def count_answers(self, code: str) -> int:
        return int(self._run("SELECT COUNT(*) FROM class_answers WHERE code = ?", (code,))[0][0])


_STORE: ClassStore | None = None
_STORE_LOCK = threading.Lock()


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or ROOT / "var")


def from_config() -> ClassStore:
    """The store the config names: PostgreSQL when ``ATTNVIZ_CLASS_DB`` is a postgresql:// address, else SQLite in
    the data directory. One per process (its connections are made on first use, after any fork)."""
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            dsn = os.environ.get(DB_ENV, "").strip()
            if dsn.startswith(("postgresql://", "postgres://")):
                _STORE = ClassStore(dsn=dsn)
            else:
                _STORE = ClassStore(path=Path(dsn) if dsn else data_dir() / DB_FILE)
        return _STORE
