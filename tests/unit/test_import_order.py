"""Imports point one way, down the data flow (README, Architecture):

    config -> spec -> render | cost -> components -> cli

A module may import its own package and the packages before it; render and cost sit side by side and
import neither each other. Every import counts: at module level, inside a function, under
`if TYPE_CHECKING:`. No module cycle may remain, and nothing imports by name at run time
(importlib.import_module, __import__), which would hide an edge from this test.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = {"config": 0, "spec": 1, "render": 2, "cost": 2, "components": 3, "cli": 4}
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the layered packages under root."""
    found: dict[str, Path] = {}
    for package in LAYER:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported_names(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            anchor = package[: len(package) - (node.level - 1)]
            base = ".".join(anchor + ([node.module] if node.module else []))
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """module -> the project modules it imports (anywhere in its body); and every dynamic import found."""
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    dynamic: list[str] = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported_names(node, name, path.name == "__init__.py"):
                if target in known and target != name:
                    graph[name].add(target)
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if called in DYNAMIC_IMPORTS:
                    dynamic.append(f"{path.relative_to(root)}:{node.lineno}")
    return graph, dynamic


def fresh_import_graph(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """import_graph(root) read by a new interpreter. CPython 3.11 before 3.11.8 can leave the AST
    constructor's recursion counter off after an earlier RecursionError in the same process (here: the
    YAML alias tests), and ast.parse then raises "SystemError: AST constructor recursion depth mismatch"
    (python/cpython#106905, fixed by #106906); a fresh process has a clean counter."""
    code = (
        "import json, sys; from pathlib import Path; from tests.unit.test_import_order import import_graph; "
        "graph, dynamic = import_graph(Path(sys.argv[1])); "
        "print(json.dumps({'graph': {k: sorted(v) for k, v in graph.items()}, 'dynamic': dynamic}))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(root)], cwd=ROOT, capture_output=True, text=True, check=True)
    document = json.loads(result.stdout)
    return {name: set(targets) for name, targets in document["graph"].items()}, document["dynamic"]


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    wrong: list[str] = []
    for module, targets in sorted(graph.items()):
        here = module.split(".")[0]
        for target in sorted(targets):
            there = target.split(".")[0]
            if there != here and LAYER[there] >= LAYER[here]:
                wrong.append(f"{module} -> {target} ({there} is not below {here})")
    return wrong


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_point_down_the_data_flow() -> None:
    graph, _ = fresh_import_graph(ROOT)
    assert upward_imports(graph) == []


def test_no_module_cycle() -> None:
    graph, _ = fresh_import_graph(ROOT)
    assert cycles(graph) == []


def test_no_import_by_name_at_run_time() -> None:
    _, dynamic = fresh_import_graph(ROOT)
    assert dynamic == []


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for package in LAYER:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The three rules fail on a tree that breaks them: an upward import inside a function and under
    TYPE_CHECKING, a cycle through a relative import, a render -> cost import, an importlib call."""
    root = _tree(tmp_path, {
        "config/schema.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from spec.resources import X\n",
        "spec/resources.py": "def f():\n    from components import platform\n",
        "components/platform.py": "",
        "cost/a.py": "from . import b\n",
        "cost/b.py": "from cost.a import thing\n",
        "render/compose.py": "import cost.a\nimport importlib\nimportlib.import_module('cli')\n",
    })
    graph, dynamic = fresh_import_graph(root)
    assert upward_imports(graph) == [
        "config.schema -> spec.resources (spec is not below config)",
        "render.compose -> cost.a (cost is not below render)",
        "spec.resources -> components (components is not below spec)",  # the package's __init__ runs too
        "spec.resources -> components.platform (components is not below spec)",
    ]
    assert cycles(graph) == [["cost.a", "cost.b"]]
    assert dynamic == ["render/compose.py:3"]
