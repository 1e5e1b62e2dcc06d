"""What the server puts in front of Streamlit for a classroom, as plain ASGI (no Streamlit here: the patch that
installs it is `app_support.server.server_patches.guard_server`):

* security headers on every HTTP response: a Content-Security-Policy that allows what Streamlit's own browser code
  needs and nothing else (its scripts, the few inline scripts named by their hash, inline styles, images from
  data:/blob:, the websocket to the same host), framing only by the same site, no MIME sniffing, no referrer;
* a cap on the sessions one client holds at once (`DEFAULT_SESSIONS_PER_CLIENT`, ``ATTNVIZ_SESSIONS_PER_CLIENT``):
  a session counts from its websocket's opening until Streamlit drops it (its websocket closed and the
  disconnected-session TTL passed). The client is the connection's address, or, when that address is a trusted
  proxy (``ATTNVIZ_TRUSTED_PROXIES``, default the loopback addresses), the last address of X-Forwarded-For that is
  not one. A websocket over the cap is refused before it opens (HTTP 403); a reconnect of a session the client
  still holds is always let in;
* on a page, a cookie the app reads but whose value no constant script could write (the browser's student id of a
  live class), when the browser does not have it yet.

Every inline script the app sends must be constant text whose hash is in the policy (`app_support.kit.view.OWN_HTML`,
index.html's): the browser refuses any other, a script built with a value in it included.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import ipaddress
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

SESSIONS_PER_CLIENT_ENV = "ATTNVIZ_SESSIONS_PER_CLIENT"
TRUSTED_PROXIES_ENV = "ATTNVIZ_TRUSTED_PROXIES"
DEFAULT_SESSIONS_PER_CLIENT = 100  # a class of 60 behind one school NAT, each with a tab or two, fits
DEFAULT_TRUSTED_PROXIES = "127.0.0.1 ::1"  # a load balancer on the same machine (README, "Serving a class")
STREAM_PATH = "_stcore/stream"  # Streamlit's websocket: one per browser tab, one session each

_LOG = logging.getLogger("attnviz.server")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# --- the headers ----------------------------------------------------------------------------------------------------
def script_hash(text: str) -> str:
    """A CSP source for one inline script: 'sha256-…' of its exact text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def inline_scripts(html: str) -> list[str]:
    """The text of each inline <script> (one without src) of an HTML page or fragment."""
    return re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", html, flags=re.S | re.I)


def content_security_policy(inline: Iterable[str] = ()) -> str:
    """The policy: Streamlit's own files and the inline scripts given (by hash), nothing from elsewhere."""
    hashes = " ".join(sorted({script_hash(text) for text in inline}))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'wasm-unsafe-eval' {hashes}".rstrip(),  # WebAssembly only (long.js), no eval
            "style-src 'self' 'unsafe-inline'",  # Streamlit's components style themselves with inline <style> tags
            "img-src 'self' data: blob:",  # plotly's and Streamlit's generated images
            "font-src 'self' data:",
            "connect-src 'self'",  # the websocket and fetches to this host ('self' covers ws: and wss: in CSP 3)
            "worker-src 'self' blob:",
            "frame-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",  # no other site frames the course (clickjacking)
        ]
    )


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    """The headers every response gets (raw, as ASGI and h11 send them)."""
    return [
        (b"content-security-policy", csp.encode("ascii")),
        (b"x-frame-options", b"SAMEORIGIN"),  # frame-ancestors for browsers that only know this one
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),  # a teacher's link never travels to a site a page links to
    ]


# --- who the client is ----------------------------------------------------------------------------------------------
def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses and networks ("127.0.0.1 10.0.0.0/8", commas or spaces); what is not one is left out."""
    networks = []
    for part in re.split(r"[,\s]+", text.strip()):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def _in(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks if net.version == ip.version)


def client_address(scope: Scope, trusted: tuple) -> str:
    """The client of a connection: its peer address, or behind trusted proxies the last X-Forwarded-For address
    that is not one of them (a client can put anything in the header, but not to the right of what its proxy
    appends)."""
    peer = str((scope.get("client") or ("",))[0])
    if not _in(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for name, value in scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _existing_session(scope: Scope) -> str | None:
    """The session a websocket resumes: the third entry of Sec-WebSocket-Protocol, as Streamlit's browser code sends
    it ("streamlit", the XSRF token, the session's id)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"sec-websocket-protocol":
            entries = [e.strip() for e in value.decode("latin-1").split(",")]
            return entries[2] if len(entries) >= 3 and entries[2] else None
    return None


# --- sessions per client --------------------------------------------------------------------------------------------
@dataclass
class Connection:
    """One websocket being opened: its client, and whether it still holds a place it reserved."""

    client: str
    reserved: bool = True


CONNECTION: contextvars.ContextVar[Connection | None] = contextvars.ContextVar("attnviz_connection", default=None)


class SessionLimit:
    """The sessions each client holds, by their ids, kept until Streamlit no longer has them (``alive``)."""

    def __init__(self, cap: int, alive: Callable[[str], bool]) -> None:
        self.cap, self.alive = cap, alive
        self._sessions: dict[str, set[str]] = {}
        self._reserved: Counter[str] = Counter()  # websockets admitted whose session is not made yet
        self._lock = threading.Lock()
        self._admitted = 0

    def held(self, client: str) -> int:
        with self._lock:
            return len(self._sessions.get(client, ())) + self._reserved[client]

    def _prune(self, client: str) -> None:
        live = {sid for sid in self._sessions.get(client, ()) if self.alive(sid)}
        if live:
            self._sessions[client] = live
        else:
            self._sessions.pop(client, None)

    def admit(self, client: str, existing: str | None) -> Connection | None:
        """A place for a new websocket of ``client`` (resuming ``existing``), or None over the cap."""
        with self._lock:
            self._admitted += 1
            if self._admitted % 512 == 0:  # now and then, forget every client's ended sessions
                for other in list(self._sessions):
                    self._prune(other)
            held = self._sessions.get(client, set())
            if not (existing and existing in held) and len(held) + self._reserved[client] >= self.cap:
                self._prune(client)
                held = self._sessions.get(client, set())
                if len(held) + self._reserved[client] >= self.cap:
                    return None
            self._reserved[client] += 1
            return Connection(client)

    def opened(self, connection: Connection, session_id: str) -> None:
        """The session the websocket got (new or resumed)."""
        with self._lock:
            self._sessions.setdefault(connection.client, set()).add(session_id)
            self._release(connection)

    def closed(self, connection: Connection) -> None:
        """The websocket ended (its session, if it got one, stays counted while Streamlit keeps it)."""
        with self._lock:
            self._release(connection)

    def _release(self, connection: Connection) -> None:
        if connection.reserved:
            connection.reserved = False
            self._reserved[connection.client] -= 1
            if self._reserved[connection.client] <= 0:
                del self._reserved[connection.client]


def sessions_per_client() -> int:
    """The cap: ``ATTNVIZ_SESSIONS_PER_CLIENT`` when it is a whole number ≥ 1, else `DEFAULT_SESSIONS_PER_CLIENT`."""
    raw = os.environ.get(SESSIONS_PER_CLIENT_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) >= 1 else DEFAULT_SESSIONS_PER_CLIENT


def trusted_proxies() -> tuple:
    return parse_networks(os.environ.get(TRUSTED_PROXIES_ENV, DEFAULT_TRUSTED_PROXIES))


# --- the middleware -------------------------------------------------------------------------------------------------
class Guard:
    """ASGI middleware: the security headers on every HTTP response, the session cap on Streamlit's websocket."""

    def __init__(self, app: Callable, *, headers: Callable[[], list[tuple[bytes, bytes]]],
                 limit: SessionLimit | None, trusted: tuple,
                 cookie: Callable[[], tuple[str, str, str]] | None = None) -> None:  # fmt: skip
        self.app, self.headers, self.limit, self.trusted, self.cookie = app, headers, limit, trusted, cookie
        self._told: dict[str, float] = {}  # client → when its refusal was last logged

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.app(scope, receive, self._with_headers(send, scope))
        elif scope["type"] == "websocket" and self.limit is not None and scope["path"].endswith(STREAM_PATH):
            await self._stream(scope, receive, send, self.limit)
        else:
            await self.app(scope, receive, send)

    def _with_headers(self, send: Send, scope: Scope) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers() if name not in present]
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if html and self.cookie is not None:
                    headers += self._new_cookie(scope)
                message = {**message, "headers": headers}
            await send(message)

        return sending

    def _new_cookie(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """`cookie`'s Set-Cookie, on a page whose request does not carry that cookie yet: (name, a new value, its
        attributes). A page's own inline script could not set it under the policy without a hash of its text."""
        assert self.cookie is not None
        name, value, attributes = self.cookie()
        sent = b"; ".join(v for k, v in scope.get("headers", ()) if k.lower() == b"cookie").decode("latin-1")
        if any(part.strip().startswith(f"{name}=") for part in sent.split(";")):
            return []
        return [(b"set-cookie", f"{name}={value}; {attributes}".encode("latin-1"))]

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: SessionLimit) -> None:
        client = client_address(scope, self.trusted)
        connection = limit.admit(client, _existing_session(scope))
        if connection is None:
            now = time.monotonic()
            if now - self._told.get(client, -1e9) > 60:  # once a minute per client, not once per attempt
                self._told[client] = now
                _LOG.warning("attnviz: client %s already holds %d sessions on this server; its new websocket is "
                             "refused (ATTNVIZ_SESSIONS_PER_CLIENT)", client, limit.cap)  # fmt: skip
            await send({"type": "websocket.close", "code": 1008})  # before the handshake: HTTP 403
            return
        token = CONNECTION.set(connection)
        try:
            await self.app(scope, receive, send)
        finally:
            limit.closed(connection)
            CONNECTION.reset(token)


def session_opened(limit: SessionLimit, session_id: str) -> None:
    """Called with the id of the session a websocket got: counted for the client of the connection being handled."""
    connection = CONNECTION.get()
    if connection is not None:
        limit.opened(connection, session_id)
