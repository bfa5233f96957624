"""The optional parts of an install. `pip install asman` is the SDK and the client commands; `asman server`
needs the `server` extra and `asman worker` the `worker` extra (both in local mode). A command checks before
it imports anything heavy, so a missing extra is one line that says what to install, not an ImportError."""

from __future__ import annotations

from importlib.util import find_spec

import typer

# The modules Asman imports from each extra's distributions (pyproject.toml lists the distributions; a unit
# test keeps the two in step). uvloop and httptools are left out: uvicorn runs without them, only slower.
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": (
        "fastapi",
        "uvicorn",
        "websockets",
        "orjson",
        "prometheus_client",
        "asyncpg",
        "aiobotocore",
        "mcp",
    ),
    "worker": ("docker", "websockets", "orjson"),
    "mcp": ("mcp",),
}


def missing_extras(*extras: str) -> list[str]:
    return [extra for extra in extras if any(find_spec(module) is None for module in EXTRAS[extra])]


def require_extras(command: str, *extras: str) -> None:
    """Exit with the pip command to run when an extra that `command` needs is not installed."""
    missing = missing_extras(*extras)
    if not missing:
        return
    needs = f"the {missing[0]} extra" if len(missing) == 1 else f"the {' and '.join(missing)} extras"
    typer.secho(f"{command} needs {needs}: pip install 'asman[{','.join(missing)}]'", err=True, fg="red")
    raise typer.Exit(1)
