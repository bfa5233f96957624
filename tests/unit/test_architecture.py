"""The folders are the architecture: each floor imports only floors below it, and no module imports itself back.

Floors, lowest first: the version and the pure domain; PostgreSQL connections; the backends (store, blobs,
events) and the settings; the SDK; the MCP tools; the server and the worker; the CLI on top. Imports inside functions count too (a lazy
import is still a dependency); imports under `if TYPE_CHECKING` do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

FLOORS = {
    "asman._version": 0,
    "asman.core": 0,
    "asman.pg": 1,  # connecting to PostgreSQL, shared by its store and its notifier
    "asman.tes": 1,  # the GA4GH TES schema and task <-> job mapping, pure; the server and worker use it
    "asman.store": 2,
    "asman.blobs": 2,
    "asman.events": 2,
    "asman.settings": 2,
    "asman.client": 3,
    "asman.mcp": 4,  # the agents' tools, over the SDK; the server mounts them
    "asman.server": 5,
    "asman.worker": 5,
    "asman.cli": 6,
    "asman": 7,  # the package's public face re-exports from every floor
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _floor(module: str) -> tuple[str, int]:
    for prefix in sorted(FLOORS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, FLOORS[prefix]
    raise AssertionError(f"{module} belongs to no floor: add its folder to FLOORS")


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for inner in node.body for child in ast.walk(inner))
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("asman"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("asman"):
                found.add(base)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(path): _imports(path, _module(path)) for path in SRC.joinpath("asman").rglob("*.py")}


def test_every_import_goes_down_or_stays_on_its_floor() -> None:
    upward = []
    for module, imported in _graph().items():
        if module == "asman":
            continue
        here, level = _floor(module)
        for target in imported:
            there, target_level = _floor(target)
            if target_level > level or (target_level == level and there != here and level != 0):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that run up or sideways:\n" + "\n".join(sorted(upward))


def test_no_module_imports_itself_back() -> None:
    graph = _graph()
    modules = set(graph)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {
        module: {t for t in (resolve(name) for name in imported) if t and t != module}
        for module, imported in graph.items()
    }
    # A package's __init__ may gather its own submodules; that is not a circle.
    for module, targets in edges.items():
        edges[module] = {t for t in targets if not t.startswith(module + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
