"""The fast lane: submits and worker sockets served before FastAPI's middleware stack and router.

A submit is the one request clients send by the thousand. Through the full stack it passes about ten ASGI
layers (server errors, telemetry, body limits, metrics, CORS, streams, exceptions, exit stacks, two routers
that test every route in turn) that together cost more than the submit itself. The lane takes only the
requests for which those layers do nothing but time the request and add `Vary: Origin`: a POST to
`/q/<queue>` or `/q/<queue>/j` with no `Origin` header, on a server without a rate limit. It calls the same
endpoint, answers errors with the same handlers' envelope, and counts the request in the same metrics.
Everything else (browsers, which send `Origin`, preflights, other routes) takes the full stack.

A worker socket is opened once, but every message in and out of it passes the same layers' send and receive
wrappers; the lane hands it to the worker endpoint directly. Its errors end the socket as they would through
the stack (no handler of ours answers a WebSocket).
"""

from __future__ import annotations

import logging
import re
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from asman.core.errors import AsmanError
from asman.server.http import error_response
from asman.server.metrics import ReplicaMetrics
from asman.server.routes.jobs import submit
from asman.server.ws import worker_socket

log = logging.getLogger(__name__)

# The submit routes' paths; `[^/]+` is how Starlette matches a `{queue}` path parameter.
_SUBMIT = re.compile(r"/q/([^/]+)(/j)?")
_TEMPLATES = {None: "/q/{queue}", "/j": "/q/{queue}/j"}
_WORKER = re.compile(r"/q/([^/]+)/worker")
# What CORSMiddleware adds to an answer to a request without Origin.
_VARY = (b"vary", b"Origin")


class FastLane:
    def __init__(self, metrics: ReplicaMetrics, submits: bool) -> None:
        self._observe = metrics.requests.observe
        self.submits = submits  # off when a rate limit is set: the lane has no limiter

    def route(self, scope: Scope) -> tuple[str, str] | None:
        """(queue, route template) when the lane takes this request, else None."""
        if not self.submits or scope["method"] != "POST" or scope.get("root_path"):
            return None
        match = _SUBMIT.fullmatch(scope["path"])
        if match is None:
            return None
        for name, _ in scope["headers"]:
            if name == b"origin":
                return None
        return match[1], _TEMPLATES[match[2]]

    @staticmethod
    async def socket(scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve a worker socket; False when `scope` is some other socket, for the full stack."""
        match = _WORKER.fullmatch(scope["path"]) if not scope.get("root_path") else None
        if match is None:
            return False
        scope["path_params"] = {"queue": match[1]}
        await worker_socket(WebSocket(scope, receive, send))
        return True

    async def serve(self, scope: Scope, receive: Receive, send: Send, queue: str, template: str) -> None:
        started = time.perf_counter()
        response: Response
        try:
            response = await submit(queue, Request(scope, receive, send))
        except AsmanError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unhandled error on POST %s", scope["path"])
            response = error_response(AsmanError("internal error: the server logged the details"))
        response.raw_headers.append(_VARY)
        try:
            await response(scope, receive, send)
        finally:
            self._observe(("POST", template, str(response.status_code)), time.perf_counter() - started)
