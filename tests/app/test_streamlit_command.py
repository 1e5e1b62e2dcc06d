"""The launcher runs `streamlit run app.py …` in its own process through `compat.streamlit_compat.streamlit_command`:
the arguments reach Streamlit's command through click, and the launcher does not rewrite sys.argv to pass them.

Each check runs in a process of its own, with Streamlit's `bootstrap.run` (what starts the server) replaced by a
recorder: the command's parsing of its options sets Streamlit's global config, which other tests must not inherit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"

RECORDER = """
import json, sys
from streamlit.web import bootstrap

seen = {"argv before": list(sys.argv)}

def run(main_script_path, is_hello, args, flag_options, **_):
    seen.update(argv=list(sys.argv), script=main_script_path, hello=is_hello, args=list(args),
                port=flag_options.get("server_port"), headless=flag_options.get("server_headless"))

bootstrap.run = run
try:
    CALL
except SystemExit as done:
    seen["exit"] = done.code
print("SEEN " + json.dumps(seen))
"""


def _seen(call: str) -> dict:
    code = textwrap.dedent(RECORDER).replace("CALL", call)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("SEEN ")]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[-1][5:])


def test_streamlit_command_passes_its_arguments_through_click():
    call = (
        "from app_support.compat import streamlit_compat\n    streamlit_compat.streamlit_command("
        f"['run', {str(APP)!r}, '--server.port', '9999', '--server.headless', 'true', '--', 'a1'])"
    )
    seen = _seen(call)
    assert seen["exit"] == 0
    assert (seen["script"], seen["args"], seen["port"], seen["headless"]) == (str(APP), ["a1"], 9999, True)
    assert seen["hello"] is False
    assert seen["argv"] == seen["argv before"] == ["-c"]  # nothing rewrote sys.argv before Streamlit ran


def test_the_launcher_leaves_sys_argv_alone():
    """`serve._run_streamlit` (one server, or each forked replica) used to set sys.argv to
    ["streamlit", "run", app.py, …] for Streamlit's command to read."""
    call = (
        "from app_support.server import serve\n    "
        "serve._run_streamlit(['--server.port', '9998', '--server.headless', 'true'])"
    )
    seen = _seen(call)
    assert seen["exit"] == 0
    assert (seen["script"], seen["args"], seen["port"], seen["headless"]) == (str(APP), [], 9998, True)
    assert seen["argv"] == seen["argv before"] == ["-c"]
