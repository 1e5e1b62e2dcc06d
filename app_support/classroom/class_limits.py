"""Limits that fit a classroom behind one school address (NAT): wrong class codes are counted per client address,
right ones never, so a class of 60 joining at once from one address is never refused, while guessing codes is.

* `WRONG_CODES_PER_MINUTE` wrong codes (a well-formed code of no running class) per client address and minute, per
  server process: the next lookup from that address waits until the oldest of them is a minute old. With 31⁴ ≈
  920,000 codes, a replica answers at most 20 guesses a minute from one address.
* The client address is the connection's peer, or, when the peer is this machine (a load balancer here, such as
  the README's Caddy), the last address in its ``X-Forwarded-For`` header (the one that proxy saw). Behind a
  load balancer on another machine every client has that machine's address, and the limit is the school's.

This module never stores anything: the counts live in the process and go with it.
"""

from __future__ import annotations

import collections
import threading
import time

import streamlit as st

WRONG_CODES_PER_MINUTE = 20
WINDOW_S = 60.0
_MAX_ADDRESSES = 10_000  # addresses remembered at once; the quietest go first
_wrong: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
_lock = threading.Lock()


def client_address() -> str:
    """Who is asking, as well as the server can tell (see the module): an IP address, or "local"."""
    peer = st.context.ip_address  # None on loopback
    if isinstance(peer, str) and peer:
        return peer
    forwarded = st.context.headers.get("X-Forwarded-For")
    last = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else ""
    return last[:64] if last else "local"


def wait_s(address: str, now: float | None = None) -> float:
    """Seconds before ``address`` may look up a class code again (0 when it may now)."""
    now = time.monotonic() if now is None else now
    with _lock:
        times = _wrong.get(address)
        if times is None:
            return 0.0
        while times and now - times[0] >= WINDOW_S:
            times.popleft()
        if len(times) < WRONG_CODES_PER_MINUTE:
            return 0.0
        return WINDOW_S - (now - times[0])


def wrong_code(address: str, now: float | None = None) -> None:
    """Count a wrong code from ``address``."""
    now = time.monotonic() if now is None else now
    with _lock:
        times = _wrong.pop(address, None) or collections.deque(maxlen=WRONG_CODES_PER_MINUTE)
        times.append(now)
        _wrong[address] = times  # the most recent last
        while len(_wrong) > _MAX_ADDRESSES:
            _wrong.popitem(last=False)


def reset() -> None:
    """Forget every count (tests)."""
    with _lock:
        _wrong.clear()
