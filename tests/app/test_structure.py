"""The shape of the Streamlit side (issue 26), read from the source with `ast` (nothing here imports the app):

* no import cycle among the modules of `app_support/`, counting imports inside functions too, so that no cycle can
  hide behind one;
* packages import only packages below them in `LAYERS` (and their own modules);
* `app_support/` modules, `lessons/` and app.py take every name from the module that defines it: no name imported
  through a module that only imports it itself (a re-export), and no package `__init__` that holds more than its
  docstring.

docs/ARCHITECTURE.md describes the layers; this is where their order is written down.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "app_support"

# bottom to top: a package may import the packages of the tiers below its own, never one beside it or above it
LAYERS: tuple[tuple[str, ...], ...] = (
    ("compat",),  # Streamlit's private API, version-checked; the page's theme; "has the learner clicked?"
    ("data",),  # heavy objects loaded once, results kept between reruns
    ("kit",),  # the page kit: sentence box, view settings, sections, charts, links, downloads, small widgets
    ("classroom", "handout"),  # the live class; the offline handout
    ("efficient", "parts"),  # lesson 6's page parts; the parts of other particular lessons
    ("server",),  # the launcher: starts Streamlit, patches its server, warms every lesson's imports
)
TIER = {package: tier for tier, packages in enumerate(LAYERS) for package in packages}


def _name(path: Path) -> str:
    """The dotted module name of ``path`` (a package's __init__ is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in SOURCES.items()}


def _defined(tree: ast.Module) -> set[str]:
    """Names a module defines itself at its top level (functions, classes, assignments), not those it imports."""
    found: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.If | ast.Try | ast.With):
            todo += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]
    return found


DEFINED = {name: _defined(tree) for name, tree in TREES.items()}


def _imports(tree: ast.Module) -> list[tuple[str, str | None, str | None, int]]:
    """Every import of an `app_support` module anywhere in ``tree``: (module, name taken from it or None, the name it
    is bound to or None, line)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, None, node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            for a in node.names:
                if f"{node.module}.{a.name}" in SOURCES:  # a module from its package
                    found.append((f"{node.module}.{a.name}", None, a.asname or a.name, node.lineno))
                else:
                    found.append((node.module, a.name, None, node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    return {name: {module for module, *_ in _imports(tree)} - {name} for name, tree in TREES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph``, as the modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_in_app_support():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_layer_order_is_kept():
    assert set(TIER) == {n.split(".")[1] for n in SOURCES if n.count(".") == 1}, "every package has its place"
    wrong = []
    for name, tree in TREES.items():
        here = name.split(".")[1] if "." in name else None
        for module, _, _, line in _imports(tree):
            there = module.split(".")[1] if "." in module else None
            if here and there and here != there and TIER[there] >= TIER[here]:
                wrong.append(f"{SOURCES[name].relative_to(ROOT)}:{line} imports {module} ({there} is not below {here})")
    assert not wrong, "\n".join(wrong)


def _through(path: Path, tree: ast.Module) -> list[str]:
    """Names ``tree`` takes through a module that does not define them (imported or as an attribute of a module)."""
    wrong = []
    modules: dict[str, str] = {}  # the names bound to app_support modules
    for module, name, bound, line in _imports(tree):
        if bound:
            modules[bound] = module
        elif name is not None and name not in DEFINED.get(module, set()):
            wrong.append(f"{path.relative_to(ROOT)}:{line} takes {name} from {module}, which does not define it")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            module = modules[node.value.id]
            if node.attr not in DEFINED[module] and f"{module}.{node.attr}" not in SOURCES:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}, "
                             f"which {module} does not define")  # fmt: skip
    return wrong


def test_every_name_comes_from_its_owner():
    readers = {p: ast.parse(p.read_text(encoding="utf-8")) for p in [ROOT / "app.py", *(ROOT / "lessons").glob("*.py")]}
    readers |= {SOURCES[name]: tree for name, tree in TREES.items()}
    wrong = [w for path, tree in readers.items() for w in _through(path, tree)]
    assert not wrong, "\n".join(wrong)


def test_a_package_init_is_its_docstring_alone():
    for name, tree in TREES.items():
        if SOURCES[name].name == "__init__.py" and name != PACKAGE:
            assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr), f"{name}: only the docstring"
            doc = ast.get_docstring(tree) or ""
            assert "may import" in doc, f"{name}: its docstring says what it owns and what it may import"


# the learner's text: read from the sentence box once per run, by the entry script and the page scripts at their top,
# and passed down as a parameter from there; no function below them reads it from session state. The one exception
# is a download's file name (`links.file_stem`), which describes the whole page as the address bar does.
TEXT_READERS = {"app_support.kit.links": {"file_stem"}}


def _text_reads(tree: ast.Module) -> list[tuple[str | None, int]]:
    """(the enclosing function's name or None at module level, line) of every ``sentence.current`` in ``tree``."""
    found: list[tuple[str | None, int]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, getattr(child, "name", "<lambda>") if function is None else function)
            elif (
                isinstance(child, ast.Attribute)
                and child.attr == "current"
                and getattr(child.value, "id", "") == ("sentence")
            ):
                found.append((function, child.lineno))
            else:
                visit(child, function)

    visit(tree, None)
    return found


def test_the_text_is_read_once_at_the_top_and_passed_down():
    wrong = []
    for name, tree in TREES.items():
        allowed = TEXT_READERS.get(name, set())
        wrong += [f"{name}:{line} in {function}()" for function, line in _text_reads(tree) if function not in allowed]
    for path in sorted((ROOT / "lessons").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        wrong += [f"lessons/{path.name}:{line} in {f}()" for f, line in _text_reads(tree) if f is not None]
    app = _text_reads(ast.parse((ROOT / "app.py").read_text(encoding="utf-8")))
    wrong += [f"app.py:{line} in {function}()" for function, line in app if function != "lesson"]
    assert not wrong, "the text is read from the sentence box below a page's top; pass it down instead: " + ", ".join(
        wrong
    )
    assert any(f == "file_stem" for f, _ in _text_reads(TREES["app_support.kit.links"]))  # the walk finds a read


# Streamlit's internals: read only in app_support/compat (version-checked, with their re-check lists) and in
# app_support/server (the launcher and its patches, held to the same release)
INTERNALS = ("streamlit.testing", "streamlit.runtime", "streamlit.proto", "streamlit.web")
ALLOWED_INTERNALS = ("compat", "server")


def _internals(path: Path, tree: ast.Module) -> list[str]:
    """Where ``tree`` reaches into Streamlit's internals: imports one of `INTERNALS`, reads an element's protobuf
    message (``.proto``) or the place Streamlit is installed (``streamlit.__file__``)."""
    wrong, where = [], path.relative_to(ROOT)
    streamlits = set()  # the names bound to the streamlit package itself
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
            streamlits |= {a.asname or a.name for a in node.names if a.name == "streamlit"}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [f"streamlit.{a.name}" for a in node.names] if node.module == "streamlit" else [node.module]
        else:
            continue
        wrong += [f"{where}:{node.lineno} imports {m}" for m in modules if m.startswith(INTERNALS)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "proto":
            wrong.append(f"{where}:{node.lineno} reads .proto (a Streamlit element's protobuf message)")
        if isinstance(node, ast.Attribute) and node.attr == "__file__" and getattr(node.value, "id", "") in streamlits:
            wrong.append(f"{where}:{node.lineno} reads {node.value.id}.__file__ (where Streamlit is installed)")
    return wrong


def test_streamlit_internals_only_in_compat_and_server():
    readers = {p: ast.parse(p.read_text(encoding="utf-8")) for p in [ROOT / "app.py", *(ROOT / "lessons").glob("*.py")]}
    readers |= {SOURCES[n]: t for n, t in TREES.items() if n.count(".") < 1 or n.split(".")[1] not in ALLOWED_INTERNALS}
    wrong = [w for path, tree in readers.items() for w in _internals(path, tree)]
    assert not wrong, "Streamlit's internals belong in app_support/compat (version-checked):\n" + "\n".join(wrong)


def test_the_internals_check_sees_each_kind_of_use():
    code = (
        "import streamlit as st\nimport streamlit.runtime.scriptrunner\nfrom streamlit.testing.v1 import AppTest\n"
        "from streamlit import proto\nfrom streamlit.errors import StreamlitAPIException\n"
        "x = node.proto.label\ny = st.__file__\nz = plotly.__file__\n"
    )
    found = _internals(ROOT / "x.py", ast.parse(code))
    assert sorted(found) == [
        "x.py:2 imports streamlit.runtime.scriptrunner",
        "x.py:3 imports streamlit.testing.v1",
        "x.py:4 imports streamlit.proto",
        "x.py:6 reads .proto (a Streamlit element's protobuf message)",
        "x.py:7 reads st.__file__ (where Streamlit is installed)",
    ]
