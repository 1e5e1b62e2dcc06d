"""Where a live class keeps its state: classes, their questions and the students' answers.

Three modules, one store:

* `app_support.classroom.class_db`: the tables and the connections, in SQLite (a file ``classroom.sqlite3`` in the data
  directory, ``ATTNVIZ_DATA_DIR``, default ``var/`` in the repository) or in PostgreSQL when ``ATTNVIZ_CLASS_DB``
  names a server (``postgresql://user:password@host/db``); every failure is raised as `ClassStoreError`, which a
  page turns into a message while the lesson goes on without the class;
* `app_support.classroom.class_rules`: what is accepted from outside (codes, names, student ids, question keys);
* this module: the store's API (`ClassStore`) and the one store the config names (`from_config`).

This module never imports streamlit.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app_support.classroom.class_db import ClassStoreError, Connections
from app_support.classroom.class_rules import (
    ALPHABET,
    CODE_LENGTH,
    MAX_CHOICES,
    checked_key,
    clean_name,
    token_hash,
)

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV, DB_ENV = "ATTNVIZ_DATA_DIR", "ATTNVIZ_CLASS_DB"
DB_FILE = "classroom.sqlite3"

LIFETIME_S = 4 * 3600  # a class lasts a lesson period
KEEP_S = 24 * 3600  # ended or expired classes are deleted this long after their end


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


class ClassStore(Connections):
    """The live classes, their questions and answers, stored through `Connections` (SQLite at ``path`` or PostgreSQL at
    ``dsn``)."""

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
                (code, token_hash(token), now, now + LIFETIME_S),
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
        return hmac.compare_digest(token_hash(token), stored) and ended is None and now < float(expires)

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
            (code, checked_key(question, "question"), correct),
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
            (code, checked_key(question, "question"), checked_key(student, "student id"), clean_name(name), choice,
             time.time() if now is None else now),
        )  # fmt: skip

    def my_answer(self, code: str, question: str, student: str) -> int | None:
        rows = self._run(
            "SELECT choice FROM class_answers WHERE code = ? AND question = ? AND student = ?",
            (code, question, student),
        )
        return int(rows[0][0]) if rows else None

    def student_name(self, code: str, student: str) -> str:
        """The name this student gave with their latest answer in this class ("" when none, or anonymous)."""
        rows = self._run(
            "SELECT name FROM class_answers WHERE code = ? AND student = ? ORDER BY answered DESC LIMIT 1",
            (code, student),
        )
        return str(rows[0][0]) if rows else ""

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
