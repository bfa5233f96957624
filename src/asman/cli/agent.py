"""`asman mcp`: the MCP tools over stdio (stdout carries only MCP messages; logs go to stderr)."""

from __future__ import annotations

from asman.cli._output import ApiOption
from asman.client import DEFAULT_URL


def mcp(api: ApiOption = DEFAULT_URL) -> None:
    """Serve Asman's MCP tools over stdio for a desktop agent (Claude Desktop, Cursor...), against --api."""
    from asman.mcp.stdio import run

    run(api)
