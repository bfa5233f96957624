"""The fast lane: submits answered before FastAPI's middleware stack and router.

A submit is the one request clients send by the thousand. Through the full stack it passes about ten ASGI
layers (server errors, telemetry, body limits, metrics, CORS, streams, exceptions, exit stacks, two routers
that test every route in turn) that together cost more than the submit itself. The lane takes only the
requests for which those layers do nothing but time the request and add `Vary: Origin`: a POST to
`/q/<queue>` or `/q/<queue>/j` with no `Origin` header, on a server without a rate limit. It calls the same
endpoint, answers errors with the same handlers' envelope, and counts the request in the same metrics.
Everything else (browsers, which send `Origin`, preflights, other routes) takes the full stack.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from asman.core.errors import AsmanError
from asman.server.http import error_response
from asman.server.metrics import ReplicaMetrics
from asman.server.routes.jobs import submit

log = logging.getLogger(__name__)

# The submit routes' paths; `[^/]+` is how Starlette matches a `{queue}` path parameter.
_SUBMIT = re.compile(r"/q/([^/]+)(/j)?")
_TEMPLATES = {None: "/q/{queue}", "/j": "/q/{queue}/j"}
# What CORSMiddleware adds to an answer to a request without Origin.
_VARY = (b"vary", b"Origin")


class FastLane:
    def __init__(self, metrics: ReplicaMetrics) -> None:
        self._observe = metrics.requests.observe

    def route(self, scope: Scope) -> tuple[str, str] | None:
        """(queue, route template) when the lane takes this request, else None."""
        if scope["method"] != "POST" or scope.get("root_path"):
            return None
        match = _SUBMIT.fullmatch(scope["path"])
        if match is None:
            return None
        for name, _ in scope["headers"]:
            if name == b"origin":
                return None
        return match[1], _TEMPLATES[match[2]]

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
