"""The first page a fresh server draws (lesson 1) computes with NumPy and imports no torch: importing torch costs
about 1.4 s of a fresh server's start-up, before the page could be drawn (issue 14, "First page faster")."""

import subprocess
import sys

from attnviz.threads import requested
from tests.app.conftest import ROOT

_RUN = """
import sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file({app!r}, default_timeout=120)
{query}
at.run()
assert not at.exception, [e.value for e in at.exception]
assert at.title[0].value == "1 · Words as vectors", at.title[0].value
print("torch" in sys.modules)
print("|".join(c.value for c in at.sidebar.caption))
"""


def _first_page(sentence: str | None = None) -> tuple[bool, str]:
    query = f"at.query_params['sentence'] = {sentence!r}" if sentence else ""
    script = _RUN.format(app=str(ROOT / "app.py"), query=query)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    imported, captions = done.stdout.strip().splitlines()[-2:]
    return imported == "True", captions


def test_first_lesson_draws_without_torch():
    imported, captions = _first_page("she sat on the bank and watched the river")
    assert not imported, "drawing lesson 1 imported torch"
    # the sidebar says what the page computed with: the CPU, through NumPy
    threads = requested()
    assert f"Computing on: **CPU, NumPy ({threads} thread{'' if threads == 1 else 's'})**" in captions
