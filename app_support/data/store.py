"""A small bounded store for results a page computes itself (with live progress) and wants to keep for the process.

`st.cache_data` keeps what a cached function returns; a result built on the page (a training run drawing its own
progress bar, a timing) has no function to cache, so it is put here under its settings. Shared by every session of
the server, like `st.cache_data`; the oldest entry goes first when ``max_entries`` is reached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedStore(Generic[V]):
    """At most ``max_entries`` values by key, thread-safe; a read refreshes the entry (least recently used goes)."""

    def __init__(self, max_entries: int) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a whole number, 1 or more, got {max_entries!r}")
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value stored under ``key``, or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value`` under ``key``, dropping the least recently used entry beyond ``max_entries``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


__all__ = ["BoundedStore"]
