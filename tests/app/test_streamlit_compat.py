"""`compat.streamlit_compat`, the one module that reads Streamlit's internals: written for one release, each of
its functions still doing its job on it, and a loud failure when the installed or pinned Streamlit moves."""

import inspect
import re
import socket
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from app_support.compat import streamlit_compat as compat
from app_support.server import server_patches as patches

ROOT = Path(__file__).resolve().parents[2]


def _pinned() -> str:
    found = re.search(r"^streamlit==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert found, "requirements.txt pins no Streamlit release"
    return found.group(1)


@pytest.mark.parametrize(("where", "version"), [("installed", streamlit.__version__), ("requirements.txt", _pinned())])
def test_written_for_the_streamlit_in_use(where, version):
    recheck = "\n  - ".join(compat.RECHECK)
    assert version == compat.WRITTEN_FOR, (
        f"Streamlit {version} ({where}), but compat/streamlit_compat.py was written for {compat.WRITTEN_FOR}. "
        f"Before moving WRITTEN_FOR, re-check each use of Streamlit's internals there:\n  - {recheck}"
    )
    assert version.startswith(compat.RELEASE)


@pytest.mark.parametrize("module", [compat, patches])
def test_every_function_is_on_the_recheck_list(module):
    public = {
        name
        for name, value in vars(module).items()
        if inspect.isfunction(inspect.unwrap(value))  # functools.cache'd ones too
        and not name.startswith("_")
        and value.__module__ == module.__name__
    }
    assert public == {line.split(":")[0] for line in module.RECHECK}


def test_server_patches_are_held_to_the_same_release():
    assert patches.WRITTEN_FOR is compat.WRITTEN_FOR


def test_guard_server_puts_the_guard_first_and_counts_sessions(monkeypatch):
    from streamlit.runtime.runtime import Runtime
    from streamlit.web.server.starlette import starlette_app

    from app_support.server import server_guard

    assert "existing_session_id" in inspect.signature(Runtime.connect_session).parameters
    monkeypatch.setattr(starlette_app, "create_streamlit_middleware", starlette_app.create_streamlit_middleware)
    monkeypatch.setattr(Runtime, "connect_session", lambda _self, **_kw: "session-1")  # what the wrapper calls
    streamlits = [m.cls for m in starlette_app.create_streamlit_middleware()]
    assert patches.guard_server() and patches.guard_server()  # a second call changes nothing
    stack = starlette_app.create_streamlit_middleware()
    assert [m.cls for m in stack] == [server_guard.Guard, *streamlits]  # outermost: every response passes it
    limit = stack[0].kwargs["limit"]
    assert limit.cap == server_guard.sessions_per_client()
    # Runtime.connect_session now tells the limit which session the websocket being handled got
    connection = limit.admit("10.9.8.7", None)
    token = server_guard.CONNECTION.set(connection)
    try:
        assert Runtime.connect_session(SimpleNamespace(), client=None, user_info={}) == "session-1"
    finally:
        server_guard.CONNECTION.reset(token)
    assert limit.held("10.9.8.7") == 1 and not connection.reserved
    assert Runtime.connect_session(SimpleNamespace(), client=None, user_info={}) == "session-1"  # outside: not counted
    assert limit.held("10.9.8.7") == 1


def test_session_alive_asks_streamlits_session_manager(monkeypatch):
    from streamlit.runtime import Runtime

    known = {"here"}
    manager = SimpleNamespace(get_session_info=lambda sid: object() if sid in known else None)
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: SimpleNamespace(_session_mgr=manager)))
    assert patches._session_alive("here") and not patches._session_alive("gone")
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    assert callable(WebsocketSessionManager.get_session_info)  # the manager Streamlit 1.67 makes (see RECHECK)


def test_allow_page_rerun_sets_what_page_run_reads():
    from streamlit.navigation.page import StreamlitPage

    assert "self._can_be_called" in inspect.getsource(StreamlitPage.run)  # the guard this lifts
    page = SimpleNamespace(_can_be_called=False)
    compat.allow_page_rerun(page)
    assert page._can_be_called is True


def test_run_query_string_is_the_address_of_this_run():
    assert compat.run_query_string() is None  # outside a script run

    def script():
        import streamlit as st

        from app_support.compat import streamlit_compat

        st.text(repr(streamlit_compat.run_query_string()))

    at = AppTest.from_function(script)
    at.query_params["sentence"] = "the river bank"
    at.run()
    assert not at.exception
    assert at.text[0].value == repr("sentence=the+river+bank")


def test_current_page_path_and_page_scripts_name_the_apps_pages(tmp_path):
    assert compat.current_page_path() == "" and compat.page_scripts() == {}  # outside a script run
    (tmp_path / "pages").mkdir()
    page = "import streamlit as st\nfrom app_support.compat import streamlit_compat as c\n\n"
    page += "st.text(repr(c.current_page_path()))\nst.text(repr(sorted(c.page_scripts().items())))\n"
    (tmp_path / "pages" / "first.py").write_text(page, encoding="utf-8")
    (tmp_path / "pages" / "second.py").write_text(page, encoding="utf-8")
    (tmp_path / "main.py").write_text(
        "import streamlit as st\n"
        "st.navigation([st.Page('pages/first.py', default=True), st.Page('pages/second.py', url_path='two')]).run()\n",
        encoding="utf-8",
    )
    at = AppTest.from_file(str(tmp_path / "main.py")).run()
    assert not at.exception
    scripts = repr(sorted({"": str(Path("pages/first.py")), "two": str(Path("pages/second.py"))}.items()))
    assert [t.value for t in at.text] == [repr(""), scripts]
    at.switch_page("pages/second.py").run()
    assert not at.exception
    assert [t.value for t in at.text] == [repr("two"), scripts]


def test_network_address_is_streamlits_guess():
    from streamlit import net_util

    assert compat.network_address() == net_util.get_internal_ip()


def test_ready_figure_is_drawn_as_given_with_arrays_packed():
    z = np.arange(6, dtype=np.float32).reshape(2, 3)  # (2, 3)
    spec = {
        "data": [{"type": "heatmap", "z": z, "x": ["a", "b", "c"], "customdata": np.array([1, 2], dtype=np.int64)}],
        "layout": {"height": 200, "xaxis": {"range": [0, 2]}},
    }
    wire = compat.ready_figure(spec).to_dict()
    trace = wire["data"][0]
    assert trace["z"]["dtype"] == "f4" and trace["z"]["shape"] == "2, 3"
    assert np.array_equal(np.frombuffer(__import__("base64").b64decode(trace["z"]["bdata"]), np.float32), z.ravel())
    assert trace["customdata"]["dtype"] == "i4" and "shape" not in trace["customdata"]
    assert trace["x"] == ["a", "b", "c"] and wire["layout"] == spec["layout"]
    assert compat._packed(np.array([True, False])) == [True, False]  # not a typed array plotly.js reads
    assert compat._packed(np.array([2**40])) == [2**40]

    def script():
        import numpy as np
        import streamlit as st

        from app_support.compat import streamlit_compat

        st.plotly_chart(streamlit_compat.ready_figure({"data": [{"type": "bar", "y": np.ones(3)}]}), key="fig")

    at = AppTest.from_function(script).run()
    assert not at.exception
    sent = at.get("plotly_chart")[0].proto.spec
    assert '"bdata"' in sent and '"dtype": "f8"' in sent.replace('":"', '": "')


@pytest.mark.parametrize(
    ("raw", "crashes"),
    [("inf", True), ("-inf", True), ("1e309", True), ("-1e999", True), ("5", False), ("1e308", False), ("nan", False)],
)
def test_whole_number_seed_crashes_names_the_values(raw, crashes):
    assert compat.whole_number_seed_crashes(raw) is crashes


def test_whole_number_seed_still_crashes_streamlit():
    """The crash `whole_number_seed_crashes` works around: if this fails, Streamlit fixed it (see RECHECK)."""
    from streamlit import config

    def script():
        import streamlit as st

        st.number_input("n", min_value=0, max_value=10, value=3, step=1, key="n", bind="query-params")

    def run(raw: str) -> AppTest:
        at = AppTest.from_function(script)
        at.query_params["n"] = raw
        return at.run()

    shown = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")  # the app's config hides the exception's type
    try:
        assert not run("4").exception and run("4").number_input[0].value == 4
        crashed = run("inf").exception
        assert crashed and crashed[0].proto.type == "OverflowError"
    finally:
        config.set_option("client.showErrorDetails", shown)


def test_rerun_requested_reads_the_run_context(monkeypatch):
    from streamlit.runtime import scriptrunner
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

    assert compat.rerun_requested() is False  # outside a script run
    requests = ScriptRequests()
    monkeypatch.setattr(scriptrunner, "get_script_run_ctx", lambda **_: SimpleNamespace(script_requests=requests))
    assert compat.rerun_requested() is False  # running, nothing asked
    requests.request_rerun(RerunData())
    assert compat.rerun_requested() is True
    stopping = ScriptRequests()
    stopping.request_stop()
    monkeypatch.setattr(scriptrunner, "get_script_run_ctx", lambda **_: SimpleNamespace(script_requests=stopping))
    assert compat.rerun_requested() is True


def test_tcp_listener_names_tcp_once():
    from streamlit.web.server.starlette import starlette_server

    patches.tcp_listener()
    first = starlette_server._bind_socket
    patches.tcp_listener()
    assert starlette_server._bind_socket is first and first.names_tcp
    listener = first("127.0.0.1", 0, 4)
    try:
        assert listener.proto == socket.IPPROTO_TCP  # what asyncio needs to set TCP_NODELAY (test_serve.py)
    finally:
        listener.close()


def test_page_script_is_the_pages_file():
    assert compat.page_script(SimpleNamespace()) is None

    def script(file):
        import streamlit as st

        from app_support.compat import streamlit_compat

        page = st.Page(file, url_path="similarity")
        st.text(str(streamlit_compat.page_script(page)))
        st.text(repr(streamlit_compat.page_script(st.Page(lambda: None, title="a function"))))

    at = AppTest.from_function(script, kwargs={"file": str(ROOT / "lessons" / "similarity.py")})
    at.run()
    assert not at.exception
    assert at.text[0].value == str(ROOT / "lessons" / "similarity.py")
    assert at.text[1].value == "None"


def test_session_params_reader_reads_the_session_address_later():
    assert compat.session_params_reader()() is None  # outside a run: nothing to read

    def script():
        import streamlit as st

        from app_support.compat import streamlit_compat

        read = streamlit_compat.session_params_reader()
        st.query_params["later"] = "yes"  # set after the reader was made: it reads when called
        st.text(repr(read()))

    at = AppTest.from_function(script)
    at.query_params["sentence"] = "the river bank"
    at.run()
    assert not at.exception
    assert at.text[0].value == repr({"sentence": "the river bank", "later": "yes"})


def test_on_server_start_runs_the_callback_before_streamlits_own(monkeypatch):
    from streamlit.web import bootstrap

    calls = []
    monkeypatch.setattr(bootstrap, "_on_server_start", lambda server: calls.append(("streamlit", server)))
    assert compat.on_server_start(lambda: calls.append(("ours", None))) is True
    bootstrap._on_server_start("server")
    assert calls == [("ours", None), ("streamlit", "server")]
    monkeypatch.delattr(bootstrap, "_on_server_start")
    assert compat.on_server_start(lambda: calls.append("never")) is False


def test_quiet_cache_warnings_silences_the_two_loggers():
    import logging

    names = ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching.cache_data_api")
    before = {name: logging.getLogger(name).level for name in names}
    try:
        compat.quiet_cache_warnings()
        assert all(logging.getLogger(name).level == logging.ERROR for name in names)
        from streamlit.runtime.caching import cache_data_api
        from streamlit.runtime.scriptrunner_utils import script_run_context

        assert cache_data_api._LOGGER.name in names and script_run_context._LOGGER.name in names  # the ones that warn
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def test_load_chart_code_early_serves_an_index_that_imports_plotlys_chunk(monkeypatch):
    import shutil

    from streamlit import file_util

    original = Path(file_util.get_static_dir())
    monkeypatch.setattr(file_util, "get_static_dir", file_util.get_static_dir)  # put back after the test
    assert patches.load_chart_code_early()
    served = Path(file_util.get_static_dir())
    try:
        assert served != original
        html = (served / "index.html").read_text(encoding="utf-8")
        tag = re.search(r'\s*<script type="module">import\("\./static/js/(PlotlyChart\.[\w-]+\.js)"\)</script>', html)
        chunk = tag.group(1)
        assert (original / "static" / "js" / chunk).is_file()
        # Streamlit's own code imports that very file when its first chart arrives: the early load is the one it uses
        main = re.search(r'<script type="module" crossorigin src="\./static/js/(index\.[\w-]+\.js)"', html)
        assert f"./{chunk}" in (original / "static" / "js" / main.group(1)).read_text(encoding="utf-8")
        assert main.start() < tag.start()  # after the app's own code, which starts the connection first
        # nothing else differs: the rest of index.html and every other file are Streamlit's
        assert html.replace(tag.group(0), "") == (original / "index.html").read_text(encoding="utf-8")
        assert sorted(p.name for p in served.iterdir()) == sorted(p.name for p in original.iterdir())
        for entry in original.iterdir():
            if entry.name != "index.html":
                assert (served / entry.name).resolve() == entry.resolve()
        assert patches.load_chart_code_early()  # once per process: a second call changes nothing
        assert file_util.get_static_dir() == str(served)
    finally:
        shutil.rmtree(served, ignore_errors=True)


def test_load_chart_code_early_leaves_streamlit_alone_without_the_chunk(monkeypatch, tmp_path):
    from streamlit import file_util

    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<html><head></head><body></body></html>")
    monkeypatch.setattr(file_util, "get_static_dir", lambda: str(tmp_path))
    assert not patches.load_chart_code_early()
    assert file_util.get_static_dir() == str(tmp_path)
