"""What a live class accepts from outside: class codes, display names, student ids and question keys, checked and
cleaned before they reach the store (`app_support.class_store`), and the hash kept in place of the teacher's token.
This module never imports streamlit."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: nothing to misread on a projector
CODE_LENGTH = 4  # new codes; 31**4 ≈ 920,000 of them
CODE_MIN, CODE_MAX = 4, 6  # what a typed code may be
NAME_MAX = 40  # characters of a display name
MAX_CHOICES = 12  # options a question may have
_CODE = re.compile(f"[{ALPHABET}]{{{CODE_MIN},{CODE_MAX}}}")
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,80}")  # question keys (ours) and student ids (ours too, kept in the session)


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


def checked_key(value: str, what: str) -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise ValueError(f"not a valid {what}")
    return value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
