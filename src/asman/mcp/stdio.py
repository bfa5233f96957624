"""`asman mcp`: the same MCP tools over stdio, for desktop agents, against any Asman server."""

from __future__ import annotations

import anyio

from asman.client import AsyncClient
from asman.mcp.tools import Backend, build_server


async def serve(api: str) -> None:
    """Answer MCP on stdin/stdout until the agent closes them; every tool call goes to the server at `api`."""
    async with AsyncClient(api) as client:
        fixed = Backend(client)
        await build_server(lambda ctx: fixed).run_stdio_async()


def run(api: str) -> None:
    anyio.run(serve, api)
