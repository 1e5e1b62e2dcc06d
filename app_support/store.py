"""A small bounded store shared by every session of this server: results kept only once they exist.

`st.cache_data` caches what a function returns, so it cannot hold "not measured yet"; a `Store` holds results
put in it (a measurement that completed, a model that finished training) and answers None for the rest. It keeps
at most ``max_entries``, dropping the oldest first, and a lock makes it safe across the server's threads.

    results = store("scaling", max_entries=256)   # one Store per name for the whole server process
    results.put(key, value); results.get(key)     # None until put
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import streamlit as st


class Store:
    """A dict with a lock and a size limit (the oldest entry goes first)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a store keeps at least one entry")
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        """The value put under ``key``, or None."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, value: object) -> None:
        """Keep ``value`` under ``key`` (the newest entry), dropping the oldest beyond ``max_entries``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@st.cache_resource(show_spinner=False)
def store(name: str, max_entries: int) -> Store:
    """The server-wide store called ``name`` (made on first use)."""
    return Store(max_entries)
