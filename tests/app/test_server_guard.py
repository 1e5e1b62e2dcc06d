"""`server.server_guard` and its installation (`server_patches.guard_server`): security headers on every response
the server sends, and the cap on the sessions one client holds, by itself and on a started server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app_support.server import server_guard as guard
from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TRUSTED = guard.parse_networks(guard.DEFAULT_TRUSTED_PROXIES)
NAMES = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


# --- the policy and the headers ------------------------------------------------------------------------------------
def test_policy_allows_streamlits_own_files_and_the_named_inline_scripts_only():
    csp = guard.content_security_policy(["window.a = 1", "window.a = 1", "  x()\n"])
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    scripts = directives["script-src"].split()
    assert scripts[:2] == ["'self'", "'wasm-unsafe-eval'"] and len(scripts) == 4  # one hash per distinct script
    assert guard.script_hash("window.a = 1") in scripts
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in csp
    assert directives["frame-ancestors"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["img-src"] == "'self' data: blob:"  # plotly draws into data: and blob: images
    assert directives["connect-src"] == "'self'"


def test_inline_scripts_are_found_and_scripts_with_src_left_out():
    html = '<script>one()</script><script type="module" src="x.js"></script>\n<SCRIPT type="module">two()</SCRIPT >'
    assert guard.inline_scripts(html) == ["one()", "two()"]
    # the known hash of a known text (echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64)
    assert guard.script_hash("alert(1)") == "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"


# --- who the client is ----------------------------------------------------------------------------------------------
def _scope(peer: str, *forwarded: str, protocol: str = "") -> dict:
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    if protocol:
        headers.append((b"sec-websocket-protocol", protocol.encode()))
    return {"type": "websocket", "path": "/_stcore/stream", "client": (peer, 50000), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.1.2.3", ("6.6.6.6",), "10.1.2.3"),  # not from a proxy: the header is the client's word, ignored
        ("127.0.0.1", (), "127.0.0.1"),
        ("127.0.0.1", ("10.1.2.3",), "10.1.2.3"),  # Caddy on this machine, one student
        ("127.0.0.1", ("6.6.6.6, 10.1.2.3",), "10.1.2.3"),  # a forged first entry: the proxy's own is the last
        ("127.0.0.1", ("6.6.6.6", "10.1.2.3, 127.0.0.1"), "10.1.2.3"),  # two headers, a second proxy hop
        ("::1", ("2001:db8::7",), "2001:db8::7"),
        ("127.0.0.1", ("127.0.0.1",), "127.0.0.1"),  # only proxies: the first
    ],
)
def test_client_address_reads_forwarded_for_only_from_a_trusted_proxy(peer, forwarded, client):
    assert guard.client_address(_scope(peer, *forwarded), TRUSTED) == client


def test_trusted_proxies_and_the_cap_from_the_environment(monkeypatch):
    monkeypatch.setenv(guard.TRUSTED_PROXIES_ENV, "10.0.0.0/8, not-an-address ::1")
    nets = guard.trusted_proxies()
    assert [str(n) for n in nets] == ["10.0.0.0/8", "::1/128"]
    assert guard.client_address(_scope("10.9.9.9", "192.168.1.20"), nets) == "192.168.1.20"
    assert guard.client_address(_scope("127.0.0.1", "192.168.1.20"), nets) == "127.0.0.1"  # loopback not trusted now
    for raw, cap in (("7", 7), ("0", 100), ("many", 100), ("", 100)):
        monkeypatch.setenv(guard.SESSIONS_PER_CLIENT_ENV, raw)
        assert guard.sessions_per_client() == cap


# --- the cap --------------------------------------------------------------------------------------------------------
def test_session_limit_counts_sessions_until_streamlit_drops_them():
    alive: set[str] = set()
    limit = guard.SessionLimit(2, alive.__contains__)
    first = limit.admit("a", None)
    second = limit.admit("a", None)
    assert first and second and limit.admit("a", None) is None  # two places reserved before any session is made
    assert limit.admit("b", None) is not None  # another client is not affected
    limit.opened(first, "s1")
    limit.opened(second, "s2")
    alive |= {"s1", "s2"}
    limit.closed(first)  # the websocket closed: the session stays while Streamlit keeps it
    assert limit.held("a") == 2 and limit.admit("a", None) is None
    again = limit.admit("a", "s1")  # a reconnect of a session the client holds is let in
    assert again is not None
    limit.opened(again, "s1")
    assert limit.held("a") == 2
    alive.discard("s2")  # Streamlit dropped it (its TTL passed)
    assert limit.admit("a", None) is not None
    assert limit.admit("a", "forged-id") is None  # an id the client does not hold buys no place


def test_a_websocket_that_ends_before_its_session_gives_its_place_back():
    limit = guard.SessionLimit(1, lambda _sid: True)
    connection = limit.admit("a", None)
    limit.closed(connection)
    limit.closed(connection)  # twice changes nothing
    assert limit.held("a") == 0 and limit.admit("a", None) is not None


def test_guard_adds_headers_and_refuses_a_websocket_over_the_cap():
    sent: list[dict] = []
    limit = guard.SessionLimit(1, lambda _sid: True)

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-frame-options", b"DENY")]})
            await send({"type": "http.response.body", "body": b"ok"})
        else:
            guard.session_opened(limit, "s-" + scope["client"][0])
            await send({"type": "websocket.accept"})

    middleware = guard.Guard(app, headers=lambda: guard.security_headers("default-src 'self'"), limit=limit,
                             trusted=TRUSTED)  # fmt: skip

    async def record(message):
        sent.append(message)

    async def nothing():
        return {}

    async def run():
        await middleware({"type": "http", "path": "/", "client": ("10.0.0.5", 1), "headers": []}, nothing, record)
        await middleware(_scope("127.0.0.1", "10.0.0.5"), nothing, record)
        await middleware(_scope("127.0.0.1", "10.0.0.5"), nothing, record)  # the same student again: over the cap
        await middleware(_scope("127.0.0.1", "10.0.0.6"), nothing, record)

    asyncio.run(run())
    headers = dict(sent[0]["headers"])
    assert headers[b"x-frame-options"] == b"DENY"  # a header the response set is kept, not doubled
    assert len(sent[0]["headers"]) == 4 and headers[b"x-content-type-options"] == b"nosniff"
    assert [m["type"] for m in sent[2:]] == ["websocket.accept", "websocket.close", "websocket.accept"]
    assert limit.held("10.0.0.5") == limit.held("10.0.0.6") == 1


def test_guard_gives_a_page_the_cookie_the_browser_lacks():
    sent: list[dict] = []

    def app_sending(content_type: bytes):
        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})

        return app

    async def record(message):
        sent.append(message)

    async def nothing():
        return {}

    def request(cookie: str) -> dict:
        return {"type": "http", "path": "/", "client": ("10.0.0.5", 1), "headers": [(b"cookie", cookie.encode())]}

    async def run():
        for content_type, cookie in ((b"text/html; charset=utf-8", "a=1"), (b"text/html", "a=1; sid=known"),
                                     (b"application/javascript", "")):  # fmt: skip
            middleware = guard.Guard(app_sending(content_type), headers=list, limit=None, trusted=TRUSTED,
                                     cookie=lambda: ("sid", "fresh-value", "Path=/; HttpOnly"))  # fmt: skip
            await middleware(request(cookie), nothing, record)

    asyncio.run(run())
    assert [dict(m["headers"]).get(b"set-cookie") for m in sent] == [b"sid=fresh-value; Path=/; HttpOnly", None, None]


# --- on a started server --------------------------------------------------------------------------------------------
def _get(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """`python -m app_support.server.serve` with a cap of 3 sessions per client."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("guard") / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_support.server.serve", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=os.environ | {guard.SESSIONS_PER_CLIENT_ENV: "3"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _up(port):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not answer within 120 s"
            time.sleep(0.5)
        yield port, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).close()
        return True
    except OSError:
        return False


def test_every_response_has_the_headers(started):
    port, _ = started
    index_status, index = _get(f"http://127.0.0.1:{port}/similarity")
    assert index_status == 200
    static = next((ROOT / ".venv").glob("lib/python*/site-packages/streamlit/static/static/js/index.*.js")).name
    for path in ("/", "/similarity", "/_stcore/health", "/favicon.png", f"/static/js/{static}", "/no-such-file.js"):
        status, headers = _get(f"http://127.0.0.1:{port}{path}")
        assert status in (200, 404), (path, status)
        missing = [name for name in NAMES if name not in headers]
        assert not missing, (path, missing)
        assert headers["content-security-policy"] == index["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "SAMEORIGIN"
    # the index.html the server sends: each of its inline scripts is allowed by its hash
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        html = r.read().decode()
    scripts = guard.inline_scripts(html)
    assert len(scripts) >= 2  # Streamlit's and the early import of plotly's chunk (server_patches)
    for text in scripts:
        assert guard.script_hash(text) in index["content-security-policy"]


def test_a_page_sets_the_student_cookie_once(started):
    """The live class's student id, set by the server (under the policy the app's script that wrote it cannot run)."""
    from app_support.classroom import class_rules, class_session, class_store

    port, _ = started
    _, first = _get(f"http://127.0.0.1:{port}/similarity")
    cookie = first["set-cookie"]
    value = cookie.split(";", 1)[0].split("=", 1)
    assert value[0] == class_session.COOKIE and class_rules.valid_student_id(value[1])
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Max-Age={class_store.LIFETIME_S}" in cookie
    request = urllib.request.Request(f"http://127.0.0.1:{port}/similarity", headers={"Cookie": cookie.split(";")[0]})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.headers.get("set-cookie") is None
    assert "set-cookie" not in _get(f"http://127.0.0.1:{port}/favicon.png")[1]


async def _open(port: int, forwarded: str | None = None):
    from websockets.asyncio.client import connect

    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return await connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],  # type: ignore[list-item]
                         origin=f"http://127.0.0.1:{port}", additional_headers=headers, open_timeout=20)  # fmt: skip


def test_a_client_over_its_sessions_is_refused_others_are_not(started):
    from websockets.exceptions import InvalidStatus

    port, log_path = started

    async def run() -> None:
        held = [await _open(port, "10.20.0.1") for _ in range(3)]
        with pytest.raises(InvalidStatus) as refused:
            await _open(port, "10.20.0.1")
        assert refused.value.response.status_code == 403
        other = await _open(port, "10.20.0.2")  # another student behind the same proxy
        forged = await _open(port, "10.20.0.1, 10.20.0.3")  # the proxy's last entry is who it is
        for ws in (*held, other, forged):
            await ws.close()
        with pytest.raises(InvalidStatus):  # their sessions are still held (disconnected, within their TTL)
            await _open(port, "10.20.0.1")

    asyncio.run(run())
    assert "client 10.20.0.1 already holds 3 sessions on this server" in log_path.read_text()


def test_the_page_for_an_unreadable_request_has_the_headers_too(started):
    """A link too long for the server (refused by uvicorn before Streamlit) gets server_patches' page, headers on."""
    import socket

    port, _ = started
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(f"GET /?sentence={'a' * 200_000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 400")
    for name in NAMES:
        assert f"\r\n{name}: " in head, name
