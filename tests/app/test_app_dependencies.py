"""The app runs from what `make run` installs alone: every package the app's code imports is pinned in
requirements.txt (or requirements-nodeps.txt), and every such import works in a virtualenv that holds only those.

The first fault this catches: `markdown_it` was imported by the handout but arrived only with the test packages
(transformers → typer → rich), so `make test` passed while `make run` showed an error on every page.

`make test` builds that app-only virtualenv (`.venv-app`, as `make run` builds `.venv`) and names its python in
ATTNVIZ_APP_PYTHON; the e2e server is started from it too (tests/e2e/conftest.py). Under CI=true the check in that
virtualenv may not be skipped.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"app", "app_support", "attnviz", "lessons"}
# Imports the app makes only where a package beyond requirements.txt is installed, each with its reason.
OPTIONAL = {
    "triton": "the FlashAttention GPU kernel (attnviz/efficient/flash_triton.py), imported only when triton is "
    "installed and the tensors are on CUDA; requirements-dev.txt pins it for the interpreter tests",
}
APP_PYTHON = os.environ.get("ATTNVIZ_APP_PYTHON", "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def app_files() -> list[Path]:
    """Every Python file the running app may execute: the entrypoint, the Streamlit side, the pages and the core."""
    files = [ROOT / "app.py"]
    for folder in ("app_support", "lessons", "attnviz"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def imported_modules(files: list[Path]) -> dict[str, set[str]]:
    """Absolute imports of third-party modules, full dotted name → the files that import it."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in LOCAL or top in sys.stdlib_module_names:
                    continue
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def pinned_distributions() -> set[str]:
    """Normalised names of the distributions requirements.txt and requirements-nodeps.txt pin."""
    names = set()
    for file in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (ROOT / file).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                match = re.match(r"[A-Za-z0-9_.-]+", line)
                assert match and "==" in line, f"{file}: '{line}' is not an exact pin"
                names.add(normalise(match.group(0)))
    return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_direct_import_of_the_app_is_pinned():
    owners = importlib.metadata.packages_distributions()
    pinned = pinned_distributions()
    missing = {}
    for module, where in imported_modules(app_files()).items():
        top = module.split(".")[0]
        if top in OPTIONAL:
            continue
        distributions = {normalise(d) for d in owners.get(top, [])}
        if not distributions & pinned:
            missing[module] = (sorted(distributions) or ["not installed"], sorted(where)[:3])
    assert not missing, f"imported by the app but not pinned in requirements.txt: {missing}"


def test_the_check_maps_the_handouts_markdown_import_to_its_pin():
    """The check above is not vacuous: the handout's markdown import is found and mapped to its distribution."""
    modules = imported_modules(app_files())
    assert "markdown_it" in modules and "app_support/handout/handout_html.py" in modules["markdown_it"]
    owners = importlib.metadata.packages_distributions()
    assert "markdown-it-py" in {normalise(d) for d in owners["markdown_it"]}
    assert "markdown-it-py" in pinned_distributions()


def test_every_import_works_where_only_the_apps_requirements_are_installed():
    """Import every third-party module the app names, and every module of app_support and attnviz, with the python
    of a virtualenv built from requirements.txt and requirements-nodeps.txt alone (no test packages)."""
    if not APP_PYTHON:
        message = "ATTNVIZ_APP_PYTHON is not set: `make test` builds .venv-app and sets it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    modules = sorted(m for m in imported_modules(app_files()) if m.split(".")[0] not in OPTIONAL)
    ours = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for folder in ("app_support", "attnviz")
        for p in (ROOT / folder).rglob("*.py")
        if "flash_triton" not in p.name  # imports triton, which the app loads only when it is installed
    )
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {modules + ours!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as error:\n"
        "        failed.append(f'{name}: {error}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run([APP_PYTHON, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"imports that fail in the app-only virtualenv:\n{done.stdout}{done.stderr[-2000:]}"
    # and that virtualenv really is the app's alone: none of the test packages is there
    probe = "import importlib.util as u; print([m for m in ('pytest', 'transformers', 'playwright') if u.find_spec(m)])"
    extra = subprocess.run([APP_PYTHON, "-c", probe], capture_output=True, text=True, timeout=60).stdout.strip()
    assert extra == "[]", f"the app-only virtualenv holds test packages: {extra}"
