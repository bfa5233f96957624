"""Request and response helpers shared by the routes: bounded JSON bodies, fast JSON, one error envelope."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse as _StarletteJSON
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from asman.core.errors import AsmanError, BackendUnavailable, InvalidInput, TooLarge
from asman.settings import Settings

Header = tuple[bytes, bytes]

log = logging.getLogger(__name__)


class JSONResponse(_StarletteJSON):
    """Starlette's, rendered by orjson. Being a JSONResponse is what makes FastAPI document a route's answer
    with its model rather than as a string."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


RETRY_AFTER_SECONDS = 2  # what a 503 asks clients to wait: the SDK retries 4 times, riding out a restart


def error_response(error: AsmanError, private: Mapping[str, str] | None = None) -> JSONResponse:
    """The error envelope. `private` maps what clients must not learn (the data folder, the database URL)
    to what the message says instead; the server's log keeps the original."""
    message, headers = masked(error.message, private), None
    if isinstance(error, BackendUnavailable):  # what happened says the operator's part; the client's is this
        message = f"{message} The request may not have been carried out: retry in {RETRY_AFTER_SECONDS} s."
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(
        {"error": error.code, "message": message}, status_code=error.status_code, headers=headers
    )


def masked(message: str, private: Mapping[str, str] | None) -> str:
    for secret, shown in (private or {}).items():
        message = message.replace(secret, shown)
    return message


def private_strings(settings: Settings) -> dict[str, str]:
    """The server's own paths and URLs as error messages may quote them, longest first."""
    named = {
        settings.database_url: "the database (ASMAN_DATABASE_URL)",
        settings.blob_url: "the blob store (ASMAN_BLOB_URL)",
        str(settings.data_dir): "<data folder>",
        str(settings.data_dir.resolve()): "<data folder>",
    }
    return {secret: named[secret] for secret in sorted(named, key=len, reverse=True) if secret}


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


async def close_socket(
    websocket: WebSocket, error: AsmanError, private: Mapping[str, str] | None = None
) -> None:
    """A socket's answer to an error its handler let through: a close frame with the reason, 1013 (try again
    later) when a backend is down, 1008 (policy) for any other refusal."""
    if isinstance(error, BackendUnavailable):
        log.warning("closed a socket on %s: %s", websocket.url.path, error.message)
    code = 1013 if isinstance(error, BackendUnavailable) else 1008
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):  # the peer is gone already
        await websocket.close(code=code, reason=close_reason(masked(error.message, private)))


def close_reason(message: str) -> str:
    """`message` cut to fit a close frame (123 bytes of UTF-8: longer, and the close itself fails)."""
    return message.encode()[:123].decode(errors="ignore")


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    body: dict[str, str],
    headers: Sequence[Header] = (),
) -> None:
    """Answer a request, or a WebSocket handshake, with an error envelope from ASGI middleware. A handshake
    gets the HTTP answer where the server can give one before the upgrade, else a policy-violation close."""
    content = orjson.dumps(body)
    all_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        *headers,
    ]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": all_headers})
            await send({"type": "websocket.http.response.body", "body": content})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": body["error"]})
        return
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": content})
