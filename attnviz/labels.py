"""Labels for plot axes and tables."""

from __future__ import annotations

from collections.abc import Iterable


def unique_labels(words: Iterable[str]) -> tuple[str, ...]:
    """Make repeated words distinct by their count so far: "the", "cat", "the·2"."""
    seen: dict[str, int] = {}
    out = []
    for w in words:
        seen[w] = seen.get(w, 0) + 1
        out.append(w if seen[w] == 1 else f"{w}·{seen[w]}")
    return tuple(out)
