"""The fast lane: submits and worker sockets served before FastAPI's middleware stack and router.

A submit is the one request clients send by the thousand. Through the full stack it passes about ten ASGI
layers (server errors, telemetry, body limits, metrics, CORS, streams, exceptions, exit stacks, two routers
that test every route in turn) that together cost more than the submit itself. The lane takes only the
requests for which those layers do nothing but time the request and add `Vary: Origin`: a POST to
`/q/<queue>` or `/q/<queue>/j` without an `Origin` header (not a browser's), on a server without a rate
limit (the lane has no limiter). It calls the same endpoint, answers errors with the app's own exception handlers, and counts the
request in the same metrics. Everything else (browsers, preflights, other routes) takes the full stack.

A worker socket is opened once, but every message in and out of it passes the same layers' send and receive
wrappers; the lane hands a worker's socket (no `Origin` either, no rate limit set: connects are limited by the
full stack) to the worker endpoint directly. Its errors end
the socket as they would through the stack, where no handler answers a WebSocket.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from asman.server.metrics import ReplicaMetrics
from asman.server.routes.jobs import submit
from asman.server.ws import worker_socket

# The routes' paths; `[^/]+` is how Starlette matches a `{queue}` path parameter.
_SUBMIT = re.compile(r"/q/([^/]+)(/j)?")
_TEMPLATES = {None: "/q/{queue}", "/j": "/q/{queue}/j"}
_WORKER = re.compile(r"/q/([^/]+)/worker")
# What CORSMiddleware adds to an answer to a request without Origin.
_VARY = (b"vary", b"Origin")


def _from_a_browser(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


class FastLane:
    def __init__(self, metrics: ReplicaMetrics, enabled: bool) -> None:
        self._observe = metrics.requests.observe
        self.enabled = enabled

    async def serve(self, app: Any, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve `scope` if it is the lane's (True), else leave it to the full stack (False)."""
        kind = scope["type"]
        if not self.enabled or kind not in ("http", "websocket") or scope.get("root_path"):
            return False
        if kind == "http":
            if scope["method"] != "POST":
                return False
            match = _SUBMIT.fullmatch(scope["path"])
            if match is None or _from_a_browser(scope):
                return False
            scope["app"] = app
            await self._submit(app, scope, receive, send, match[1], _TEMPLATES[match[2]])
            return True
        match = _WORKER.fullmatch(scope["path"])
        if match is None or _from_a_browser(scope):
            return False
        scope["app"] = app
        scope["path_params"] = {"queue": match[1]}
        await worker_socket(WebSocket(scope, receive, send))
        return True

    async def _submit(
        self, app: Any, scope: Scope, receive: Receive, send: Send, queue: str, template: str
    ) -> None:
        started = time.perf_counter()
        request = Request(scope, receive, send)
        response: Response
        try:
            response = await submit(queue, request)
        except Exception as exc:
            response = await _handler(app, exc)(request, exc)
        response.raw_headers.append(_VARY)
        try:
            await response(scope, receive, send)
        finally:
            self._observe(("POST", template, str(response.status_code)), time.perf_counter() - started)


def _handler(app: Any, exc: Exception) -> Any:
    """The app's exception handler for `exc`, found as Starlette finds it: the nearest class registered."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    raise exc
