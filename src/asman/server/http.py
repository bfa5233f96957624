"""Request and response helpers shared by the routes: bounded JSON bodies, fast JSON, one error envelope."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse as _StarletteJSON
from starlette.websockets import WebSocket, WebSocketDisconnect

from asman.core.errors import AsmanError, BackendUnavailable, InvalidInput, TooLarge

log = logging.getLogger(__name__)


class JSONResponse(_StarletteJSON):
    """Starlette's, rendered by orjson. Being a JSONResponse is what makes FastAPI document a route's answer
    with its model rather than as a string."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


RETRY_AFTER_SECONDS = 2  # what a 503 asks clients to wait: the SDK retries 4 times, riding out a restart


def error_response(error: AsmanError) -> JSONResponse:
    message, headers = error.message, None
    if isinstance(error, BackendUnavailable):  # what happened says the operator's part; the client's is this
        message = f"{message} The request may not have been carried out: retry in {RETRY_AFTER_SECONDS} s."
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(
        {"error": error.code, "message": message}, status_code=error.status_code, headers=headers
    )


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


async def close_socket(websocket: WebSocket, error: AsmanError) -> None:
    """A socket's answer to an error its handler let through: a close frame with the reason, 1013 (try again
    later) when a backend is down, 1008 (policy) for any other refusal."""
    if isinstance(error, BackendUnavailable):
        log.warning("closed a socket on %s: %s", websocket.url.path, error.message)
    code = 1013 if isinstance(error, BackendUnavailable) else 1008
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):  # the peer is gone already
        await websocket.close(code=code, reason=close_reason(error.message))


def close_reason(message: str) -> str:
    """`message` cut to fit a close frame (123 bytes of UTF-8: longer, and the close itself fails)."""
    return message.encode()[:123].decode(errors="ignore")
