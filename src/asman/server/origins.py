"""Which web pages may drive this server from a browser: CORS answers, and a guard for what CORS cannot stop.

CORS only decides whether a page may *read* an answer. A page of any origin can still make the browser send
a simple POST (a form, or `fetch` with `mode: "no-cors"`) or open a WebSocket, and the server would act on it.
So where origins are restricted, the guard refuses requests that change something, and WebSocket handshakes,
whose `Origin` is neither allowed nor the server's own. Requests without an `Origin` (scripts, the SDK, the
CLI, workers) are not a browser's and pass."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from asman.server.http import refuse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Origins:
    def __init__(self, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        self.any = "*" in allowed
        self.allowed = frozenset(origin for origin in allowed if origin != "*")

    def allows(self, origin: str, scope: Scope) -> bool:
        if self.any or origin in self.allowed:
            return True
        # The web client served by this server itself: the page's host is the one the request went to.
        host = _header(scope, b"host")
        return host is not None and origin.partition("://")[2] == host

    def cors_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The CORS headers of a simple answer (what CORSMiddleware adds, for the streams answered before it)."""
        origin = _header(scope, b"origin")
        if origin is None:
            return []
        if self.any:
            return [(b"access-control-allow-origin", b"*")]
        if origin in self.allowed:
            return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        return [(b"vary", b"Origin")]


class OriginGuard:
    """ASGI middleware: 403 for a state-changing request or a WebSocket handshake from a foreign web page."""

    def __init__(self, app: ASGIApp, origins: Origins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (
            self.origins.any
            or kind not in ("http", "websocket")
            or (kind == "http" and scope["method"] in SAFE_METHODS)
        ):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None or self.origins.allows(origin, scope):
            await self.app(scope, receive, send)
            return
        message = (
            f"requests from web pages at {origin} are refused by this server: its operator can allow that"
            " origin with ASMAN_CORS_ORIGINS (docs/security.md)"
        )
        await refuse(scope, receive, send, 403, {"error": "forbidden_origin", "message": message})
