"""deploy/Caddyfile: the README shows it as it is, and bench_load (and tests/e2e/test_caddy_class.py) run it with
only its site address and its upstreams changed."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def _readme_caddyfile() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Serving a class", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"`deploy/Caddyfile`:\n\n( *)```caddyfile\n(.*?)\n\1```", section, re.S)
    assert found, "README's Serving a class shows no Caddyfile after naming deploy/Caddyfile"
    return textwrap.dedent("\n".join(line[len(found.group(1)) :] for line in found.group(2).split("\n"))) + "\n"


def test_the_readme_shows_deploy_caddyfile_as_it_is():
    assert _readme_caddyfile() == CADDYFILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_load_for_deploy", ROOT / "bench" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_run_changes_only_the_site_and_the_upstreams(bench):
    ran = bench.caddyfile_for(18000, [18001, 18002])
    assert ran.startswith("{\n\tadmin off\n}\n\n")
    body = ran.split("\n\n", 1)[1]
    expected = CADDYFILE.read_text(encoding="utf-8")
    expected = expected.replace(":80 {", "http://127.0.0.1:18000 {", 1)
    expected = expected.replace("127.0.0.1:8501 127.0.0.1:8502 127.0.0.1:8503", "127.0.0.1:18001 127.0.0.1:18002")
    assert body == expected
    with pytest.raises(ValueError):
        bench.caddyfile_for(18000, [18001], text="example.org {\n}\n")


@pytest.mark.skipif(not shutil.which("caddy"), reason="caddy not installed")
def test_caddy_reads_the_file(tmp_path):
    done = subprocess.run(["caddy", "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"selection_policy":{"name":"attnviz_replica","policy":"cookie"}' in done.stdout.replace(" ", "")
