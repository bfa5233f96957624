"""An MCP client on the official SDK 1.x, run by tests/integration/test_mcp.py in an environment of its own
(`uv run --with "mcp<2"`): `python mcp_v1_client.py <mcp url> <queue> <image>` submits a job, follows it and
prints what it saw as JSON. The 1.x API differs from 2.x: `streamablehttp_client` and `ClientSession`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


def payload(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


async def main(url: str, queue: str, image: str) -> None:
    messages: list[str] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
        initialized = await session.initialize()
        tools = [tool.name for tool in (await session.list_tools()).tools]
        command = "sh -c 'echo from v1; echo second line'"
        submitted = await session.call_tool(
            "submit_job", {"queue": queue, "image": image, "command": command}
        )
        job = payload(submitted)
        followed = await session.call_tool(
            "follow_job", {"jobId": job["jobId"], "queue": queue}, progress_callback=progress
        )
        bad = await session.call_tool("submit_job", {"queue": queue})
    print(
        json.dumps(
            {
                "protocol": initialized.protocolVersion,
                "server": initialized.serverInfo.name,
                "tools": tools,
                "submitted": job,
                "followed": payload(followed),
                "progress": messages,
                "bad": {"isError": bad.isError, **payload(bad)},
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
