"""The package's import graph has no cycle ("each layer only uses the ones below it").

Every ``import`` statement of every module counts, at module level and inside functions
(a function-level import hides a cycle from Python, not from a reader). An edge goes from a
module to the module it names: ``from .functional import basic`` -> minifcn.functional.basic,
``from .. import functional as F`` -> minifcn.functional (the package's __init__).
"""
from __future__ import annotations

import ast
from pathlib import Path

import minifcn

ROOT = Path(minifcn.__file__).resolve().parent


def package_modules(root: Path = ROOT, package: str = "minifcn") -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (package,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()

    def known(dotted: str) -> str | None:
        # the longest prefix of ``dotted`` that is a module of the package
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in modules:
                return ".".join(parts[:n])
        return None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (m := known(alias.name)) is not None:
                    found.add(m)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in modules:
                    found.add(target)
                elif (m := known(base)) is not None:
                    found.add(m)
    found.discard(name)
    return found


def import_graph(root: Path = ROOT, package: str = "minifcn") -> dict[str, set[str]]:
    modules = package_modules(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle [a, b, ..., a] of the graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}          # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_function_level_imports_are_edges(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("def f():\n    from ..a import thing\n")
    (pkg / "b.py").write_text("def g():\n    from .sub import c\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "minifcn.autograd" in graph and "minifcn.functional.conv" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_core_imports_only_the_backend():
    graph = import_graph()
    assert graph["minifcn.backend"] == set()
    assert graph["minifcn.autograd"] <= {"minifcn.backend"}, graph["minifcn.autograd"]
