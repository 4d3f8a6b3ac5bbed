"""The first-party import graph has no circle, deferred (in-function) imports included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for p in ROOT.glob("*/*/src/newsflow_*") if p.is_dir()]


def module_name(path: Path, package_root: Path) -> str:
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in SOURCES:
        for path in package.rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path, package)] = path
    return found


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """First-party modules `module` imports anywhere in its body, TYPE_CHECKING excepted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, path.name == "__init__.py")
            # `from pkg import mod` imports the submodule when there is one.
            targets = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            targets = targets or [target]
        else:
            continue
        for name in targets:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: set(imported(m, p, known)) for m, p in known.items()}


def circles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """Every pair of modules that reach each other (Tarjan's SCCs, reported pairwise)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            found.update(
                frozenset({a, b}) for a in component for b in edges[a] & component if a != b
            )

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_covers_every_first_party_package() -> None:
    names = {m.split(".")[0] for m in graph()}
    assert {"newsflow_enrich", "newsflow_ingest", "newsflow_schema", "newsflow_cli"} <= names


def test_the_checker_finds_a_deferred_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == {frozenset({"a", "b"}), frozenset({"b", "c"}), frozenset({"c", "a"})}


def test_no_import_circle() -> None:
    found = circles(graph())
    assert not found, sorted(sorted(pair) for pair in found)


def test_the_runtime_never_imports_the_training_code() -> None:
    # Training imports the runtime (models, features, the held-out split), never the reverse:
    # a deployment runs without torch and without the training data.
    edges = graph()
    runtime = {m for m in edges if not m.startswith("newsflow_enrich.training")}
    leaks = sorted(
        (m, t) for m in runtime for t in edges[m] if t.startswith("newsflow_enrich.training")
    )
    assert not leaks, leaks
