"""`pip install asman` is the SDK and the client commands: what they import at module level must come with the
base install, and the server and worker commands must name the extra they need when it is missing.
tests/integration/test_packaging.py checks the same on a real wheel in a fresh venv."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asman.cli import _extras
from asman.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# The entry points of a base install: the SDK (`from asman import Client`) and the `asman` command.
BASE_ENTRY_POINTS = ("asman", "asman.client", "asman.cli.main")


def distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def import_name(dist: str) -> str:
    return dist.replace("-", "_")


def module_file(module: str) -> Path:
    path = SRC / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def module_level_imports(module: str) -> set[str]:
    """Modules imported when `module` is: its top-level statements only (not functions, not TYPE_CHECKING)."""
    tree = ast.parse(module_file(module).read_text())
    found: set[str] = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If) and not is_type_checking(node):
            statements += [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            statements += [*node.body, *node.orelse, *node.finalbody]
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from asman.cli import jobs` imports the module asman.cli.jobs
            found |= {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if module_file(f"{node.module}.{alias.name}").exists()
            }
    return found


def third_party_imports(entry_points: tuple[str, ...]) -> dict[str, str]:
    """Each third-party top-level module imported by loading `entry_points`, with the Asman module that does."""
    seen: set[str] = set()
    third_party: dict[str, str] = {}
    pending = list(entry_points)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        pending += [".".join(parts[:end]) for end in range(1, len(parts))]  # packages run their __init__
        for imported in module_level_imports(module):
            top = imported.split(".")[0]
            if top == "asman":
                pending.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.setdefault(top, module)
    return third_party


def test_the_sdk_and_the_cli_import_only_the_base_install() -> None:
    base = {import_name(distribution(requirement)) for requirement in PROJECT["dependencies"]}
    imported = third_party_imports(BASE_ENTRY_POINTS)
    assert {"httpx", "typer"} <= set(imported)
    outside = {name: module for name, module in imported.items() if name not in base}
    assert not outside, f"imported at module level but not in the base dependencies: {outside}"


def test_the_extras_the_commands_check_are_the_extras_pyproject_installs() -> None:
    extras = PROJECT["optional-dependencies"]
    base = {import_name(distribution(requirement)) for requirement in PROJECT["dependencies"]}
    for extra, modules in _extras.EXTRAS.items():
        provided = {import_name(distribution(requirement)) for requirement in extras[extra]}
        assert set(modules) <= provided, (extra, set(modules) - provided)
    assert set(extras["all"]) == {"asman[server,worker,mcp]"}
    # What the server and worker packages import is what the commands check for (speed-ups aside).
    for extra, package in (("server", "asman.server.app"), ("worker", "asman.worker.daemon")):
        imported = set(third_party_imports((package,))) - base
        # These come with fastapi, docker, aiobotocore and mcp.
        imported -= {"starlette", "requests", "botocore", "mcp_types"}
        assert imported <= set(_extras.EXTRAS[extra]), (extra, imported - set(_extras.EXTRAS[extra]))


@pytest.mark.parametrize(
    "args,missing,message",
    [
        (["server"], {"fastapi"}, "asman server needs the server extra: pip install 'asman[server]'"),
        (["worker", "q"], {"docker"}, "asman worker needs the worker extra: pip install 'asman[worker]'"),
        (
            ["worker", "--mode", "local"],
            {"uvicorn", "docker"},
            "asman worker --mode local needs the server and worker extras: pip install 'asman[server,worker]'",
        ),
    ],
)
def test_a_missing_extra_is_one_line_that_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, args: list[str], missing: set[str], message: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(_extras, "find_spec", lambda name: None if name in missing else real(name))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.output.strip() == message
