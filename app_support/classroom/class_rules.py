"""What a live class accepts from outside: class codes, display names, student ids and question keys, checked and
cleaned before they reach the store (`classroom.class_store`), and the hash kept in place of the teacher's token.
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
    """A display name as stored and shown: NFKC-normalised (fullwidth "Ｔｅａｃｈｅｒ" is "Teacher"), invisible format
    characters removed (zero-width spaces, bidirectional overrides, soft hyphens), other controls and line breaks as
    spaces, spaces collapsed, at most `NAME_MAX` characters, cut between two whole characters as a reader sees them
    (an emoji sequence joined by U+200D, a flag or a skin tone is kept whole or left out); "" for anonymous.
    It is text, never markup: pages show it with st.text or escaped."""
    if not isinstance(raw, str):
        return ""
    text = _visible(raw)
    return _cut(text, NAME_MAX).strip()


def name_was_cut(raw: object) -> bool:
    """Whether `clean_name` cut ``raw`` to `NAME_MAX` characters (the page says so, beside the name box)."""
    return isinstance(raw, str) and len(_visible(raw)) > NAME_MAX


_ZWJ, _TAG_BASE = "\u200d", "\U0001f3f4"  # the emoji joiner; the black flag that tag sequences (🏴 Scotland) follow


def _emoji_part(c: str) -> bool:
    """A character an emoji sequence is made of: a symbol, a variation selector, a skin tone, a keycap."""
    return unicodedata.category(c) in ("So", "Me") or c in "\ufe0e\ufe0f" or "\U0001f3fb" <= c <= "\U0001f3ff"


def _tag(c: str) -> bool:
    return "\U000e0020" <= c <= "\U000e007f"


def _visible(raw: str) -> str:
    """`clean_name` before the cut: NFKC, format characters out (but inside emoji sequences), spaces collapsed."""
    text = unicodedata.normalize("NFKC", raw[: NAME_MAX * 8])
    kept: list[str] = []
    for i, c in enumerate(text):
        kind = unicodedata.category(c)
        after = text[i + 1] if i + 1 < len(text) else ""
        if c == _ZWJ:
            if kept and _emoji_part(kept[-1]) and after and unicodedata.category(after) == "So":
                kept.append(c)  # 👩‍👩‍👧 stays one family
        elif _tag(c):
            if kept and (kept[-1] == _TAG_BASE or _tag(kept[-1])):
                kept.append(c)
        elif kind == "Cf" or kind in ("Co", "Cs", "Cn"):
            continue  # invisible, or no character at all: a look-alike's disguise
        elif kind in ("Cc", "Zs", "Zl", "Zp"):
            kept.append(" ")
        else:
            kept.append(c)
    return " ".join("".join(kept).split())


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, never inside what a reader sees as one character."""
    if len(text) <= limit:
        return text
    i = limit
    while i > 0 and (_extends(text[i]) or text[i - 1] == _ZWJ or _splits_flag(text, i)):
        i -= 1
    return text[:i]


def _extends(c: str) -> bool:
    """Whether ``c`` belongs to the character before it (a mark, a selector, a skin tone, a joiner, a tag)."""
    return unicodedata.category(c).startswith("M") or c == _ZWJ or _tag(c) or "\U0001f3fb" <= c <= "\U0001f3ff"


def _splits_flag(text: str, i: int) -> bool:
    """Whether a cut before ``text[i]`` falls between the two regional indicators of a flag (🇫🇷)."""

    def regional(c: str) -> bool:
        return "\U0001f1e6" <= c <= "\U0001f1ff"

    if not (regional(text[i]) and regional(text[i - 1])):
        return False
    run = 0
    while i - 1 - run >= 0 and regional(text[i - 1 - run]):
        run += 1
    return run % 2 == 1


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
