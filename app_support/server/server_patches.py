"""The server's patches of Streamlit: the listening socket, the page for a request it cannot read, the first page's
index.html, and the guard in front of every request (security headers, sessions per client).

Like `app_support.compat.streamlit_compat`, whose release check they share (`WRITTEN_FOR`), they reach into Streamlit's
private API, each behind a small named function; tests/app/test_streamlit_compat.py fails when the installed or
pinned Streamlit moves and lists `RECHECK`, what to look at again first. The launcher (`app_support.server.serve`)
installs them before Streamlit's server starts.
"""

from __future__ import annotations

import functools
import socket
from pathlib import Path
from typing import Any

from app_support.compat.streamlit_compat import WRITTEN_FOR
from app_support.server import server_guard

__all__ = ["RECHECK", "WRITTEN_FOR", "guard_server", "load_chart_code_early", "page_headers", "readable_bad_request",
           "tcp_listener"]  # fmt: skip

RECHECK = (
    "tcp_listener: starlette_server._bind_socket(address, port, backlog) still makes the listening socket, protocol 0",
    "readable_bad_request: uvicorn's H11Protocol.send_400_response(msg) still answers a request it cannot read "
    "(a link longer than h11's buffer, about 128 KB), and H11Protocol.data_received(data) reads the request",
    "load_chart_code_early: the static files are served from file_util.get_static_dir(), read when the server "
    "starts; its index.html has a </head>; plotly's chart code is the chunk static/js/PlotlyChart.<hash>.js, which "
    "Streamlit's browser code imports (React.lazy) on the first chart",
    "guard_server: starlette_app.create_streamlit_middleware() still builds the middleware of every app the server "
    "makes; Runtime.connect_session still returns the session's id, called in the task of the websocket's ASGI call; "
    "Runtime.instance()._session_mgr.get_session_info(id) is None once a session is dropped; the browser still sends "
    "the session it resumes third in Sec-WebSocket-Protocol; st.html still runs a <script> as an inline script (its "
    "hash in the CSP) and the browser code needs no eval",
    "page_headers: index.html's inline scripts (file_util.get_static_dir()) are the only ones besides the app's own",
)


# --- serve: the listening socket ----------------------------------------------------------------------------------
def tcp_listener() -> None:
    """Make Streamlit's server bind its listening socket with its protocol named TCP, so that asyncio turns Nagle's
    algorithm off on every connection it accepts (connections inherit it). Once per process: a second call changes
    nothing.

    Streamlit 1.67 binds it in the private ``starlette_server._bind_socket`` as ``socket.socket(family)``,
    protocol 0, and asyncio only sets TCP_NODELAY on sockets whose protocol says TCP."""
    from streamlit.web.server.starlette import starlette_server as server

    bind = getattr(server, "_bind_socket", None)
    if bind is None or getattr(bind, "names_tcp", False):
        return

    def bind_tcp(address: str, port: int, backlog: int) -> socket.socket:
        sock = bind(address, port, backlog)
        if sock.proto == socket.IPPROTO_TCP or sock.type != socket.SOCK_STREAM:
            return sock
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.setblocking(False)
        tcp.set_inheritable(True)
        return tcp

    bind_tcp.names_tcp = True  # type: ignore[attr-defined]
    server._bind_socket = bind_tcp


# --- an address too long to read --------------------------------------------------------------------------------

BAD_REQUEST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>attnviz: this link cannot be opened</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1 style="font-size: 1.6rem">This link cannot be opened</h1>
<p>The address is too long for this server to read (it reads addresses up to about 128,000 characters), or it is
not a valid web address. Links made with <b>Copy link to this view</b> are never that long: a long text goes into
them compressed, at most 32,000 characters.</p>
<p>To work on a long text, open the course and paste the text into the box in the sidebar.</p>
<p><a href="/">Open the course</a></p>
</body></html>
"""  # constant: nothing from the request goes into it


def readable_bad_request() -> None:
    """Answer a request the server cannot read with `BAD_REQUEST_PAGE` (HTML, status 400) instead of uvicorn's
    plain "Invalid HTTP request received.". Such a request never reaches Streamlit: a link longer than h11's
    receive buffer is refused by uvicorn (the HTTP layer under Streamlit 1.67) before any page runs."""
    import asyncio

    from uvicorn.protocols.http import h11_impl

    protocol = h11_impl.H11Protocol
    if getattr(protocol.send_400_response, "attnviz", False):
        return
    import h11

    def send_400_response(self: Any, msg: str) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"connection", b"close"), *page_headers()]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=BAD_REQUEST_PAGE.encode()),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        # The browser may still be sending its address: closing now would reset the connection and could lose the
        # page. Stop writing, read and drop the rest, and close when the browser does (or after a few seconds).
        self.attnviz_dropping = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(5.0, self.transport.close)

    def data_received(self: Any, data: bytes) -> None:
        if not getattr(self, "attnviz_dropping", False):
            received(self, data)

    received = protocol.data_received
    send_400_response.attnviz = True  # type: ignore[attr-defined]
    protocol.send_400_response = send_400_response
    protocol.data_received = data_received


# --- the first page: plotly's code, loaded while the server computes ------------------------------------------------
CHART_CHUNK = "PlotlyChart"  # the name of the chunk of Streamlit's browser code that draws plotly charts


def load_chart_code_early() -> bool:
    """Serve an index.html that has the browser load plotly's code as soon as the app's own code has started.

    Streamlit's browser code fetches an element kind's code when the first such element arrives: for a chart, plotly,
    4.7 MB that takes the browser over a second to run, after a cold server has finished the page. Now it runs while
    the server computes, and the first chart finds it loaded (lesson 1 drawn after a cold start: 3.74 → 3.35–3.55 s,
    bench/RESULTS-lessons.md). Every other file is Streamlit's (linked). Whether it is installed: not where the
    static files or the chunk cannot be found, or links cannot be made."""
    import atexit
    import shutil
    import tempfile

    from streamlit import file_util

    if getattr(file_util.get_static_dir, "attnviz", False):
        return True  # once per process (a replica inherits its launcher's)
    static = Path(file_util.get_static_dir())
    chunks = sorted((static / "static" / "js").glob(f"{CHART_CHUNK}.*.js"))
    try:
        index = (static / "index.html").read_text(encoding="utf-8")
    except OSError:
        return False
    if len(chunks) != 1 or index.count("</head>") != 1:
        return False
    tag = f'<script type="module">import("./static/js/{chunks[0].name}")</script>'  # after the app's own code
    served = Path(tempfile.mkdtemp(prefix="attnviz-static-"))
    try:
        for entry in static.iterdir():
            if entry.name != "index.html":
                (served / entry.name).symlink_to(entry)
        (served / "index.html").write_text(index.replace("</head>", f"  {tag}\n  </head>"), encoding="utf-8")
    except OSError:
        shutil.rmtree(served, ignore_errors=True)
        return False
    atexit.register(shutil.rmtree, served, ignore_errors=True)

    def get_static_dir() -> str:
        return str(served)

    get_static_dir.attnviz = True  # type: ignore[attr-defined]
    file_util.get_static_dir = get_static_dir
    return True


# --- the guard: security headers on every response, sessions per client ---------------------------------------------
@functools.cache
def page_headers() -> list[tuple[bytes, bytes]]:
    """The security headers (`server_guard.security_headers`), the CSP allowing the inline scripts of the index.html
    the server sends (Streamlit's, and `load_chart_code_early`'s) and of the app's own `st.html` blocks. Made on the
    first response, once the static folder is the one served."""
    from streamlit import file_util

    # the page modules (Streamlit's page API, the plots) load on the first response, not with the launcher's imports
    from app_support.classroom.class_session import (
        COOKIE_JS,  # the cookie writer: constant text, cookie in an attribute
    )
    from app_support.kit.view import OWN_HTML  # constant blocks of the app's: never any learner text

    try:
        index = (Path(file_util.get_static_dir()) / "index.html").read_text(encoding="utf-8")
    except OSError:
        index = ""
    inline = [
        *server_guard.inline_scripts(index),
        *(s for block in (*OWN_HTML, COOKIE_JS) for s in server_guard.inline_scripts(block)),
    ]
    return server_guard.security_headers(server_guard.content_security_policy(inline))


def _student() -> tuple[str, str, str]:
    """The live class's student cookie (`class_session.student_id` reads it), set by the server: the app's own script
    that writes it carries the id in its text, which the policy does not allow."""
    from app_support.classroom import class_rules, class_session, class_store  # on the first response, as above

    lifetime = f"Path=/; Max-Age={class_store.LIFETIME_S}; SameSite=Strict; HttpOnly"
    return class_session.COOKIE, class_rules.new_student_id(), lifetime


def _session_alive(session_id: str) -> bool:
    """Whether Streamlit still holds the session (connected, or disconnected within its TTL)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return False
    return Runtime.instance()._session_mgr.get_session_info(session_id) is not None


def guard_server() -> bool:
    """Put `server_guard.Guard` in front of every app Streamlit's server makes (outermost: a response Streamlit's own
    middleware answers early gets the headers too), and have each new session counted for its client. Once per
    process. False, and nothing changed, on a Streamlit without those places."""
    from streamlit.runtime.runtime import Runtime
    from streamlit.web.server.starlette import starlette_app

    build = getattr(starlette_app, "create_streamlit_middleware", None)
    if build is None or not hasattr(Runtime, "connect_session"):
        return False
    if getattr(build, "attnviz", False):
        return True
    limit = server_guard.SessionLimit(server_guard.sessions_per_client(), _session_alive)
    trusted = server_guard.trusted_proxies()

    def create_streamlit_middleware() -> list[Any]:
        from starlette.middleware import Middleware

        guard = Middleware(server_guard.Guard, headers=page_headers, limit=limit, trusted=trusted, cookie=_student)
        return [guard, *build()]

    connect = Runtime.connect_session

    def connect_session(self: Any, *args: Any, **kwargs: Any) -> str:
        session_id = connect(self, *args, **kwargs)
        server_guard.session_opened(limit, session_id)
        return session_id

    create_streamlit_middleware.attnviz = True  # type: ignore[attr-defined]
    create_streamlit_middleware.limit = limit  # type: ignore[attr-defined]
    starlette_app.create_streamlit_middleware = create_streamlit_middleware
    Runtime.connect_session = connect_session  # type: ignore[method-assign]
    return True
