"""Request and response helpers shared by the routes: bounded JSON bodies, fast JSON, one error envelope."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse as _StarletteJSON

from asman.core.errors import AsmanError, InvalidInput, TooLarge


class JSONResponse(_StarletteJSON):
    """Starlette's, rendered by orjson. Being a JSONResponse is what makes FastAPI document a route's answer
    with its model rather than as a string."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: AsmanError) -> JSONResponse:
    return JSONResponse({"error": error.code, "message": error.message}, status_code=error.status_code)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(
            f"the body is {declared} bytes, over the {limit} byte limit: upload large files to /f/<sha256>"
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over the {limit} byte limit: upload large files to /f/<sha256>")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"malformed JSON ({exc}): send a JSON object with Content-Type application/json"
        ) from exc


def wants_html(request: Request) -> bool:
    """Browsers navigating to a queue or job URL get the web client; scripts get JSON."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and request.query_params.get("format") != "json"
