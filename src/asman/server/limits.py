"""Per-client rate limiting: a token bucket per client address, answered with 429 when empty.

Pure ASGI (no BaseHTTPMiddleware) so the hot path pays one dict lookup. Off unless ASMAN_RATE_LIMIT is set:
an embedded server on a laptop has one client; a public server should set it."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

_IDLE_SECONDS = 300.0


def client_address(scope: Scope, trust_proxy: bool) -> str:
    """Who sent a request or opened a socket: the peer, or the first X-Forwarded-For hop behind a proxy."""
    if trust_proxy:
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                return str(value.decode("latin-1").split(",")[0].strip())
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class TokenBuckets:
    """A token bucket per client address; HTTP requests and client WebSocket frames each draw from one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_prune = time.monotonic()

    def allow(self, client: str, now: float) -> float:
        """0 when the request may go ahead, else the seconds until it would."""
        tokens, stamp = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens - 1.0, now)
        if now - self._last_prune > _IDLE_SECONDS:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        self._last_prune = now
        idle = [key for key, (_, stamp) in self._buckets.items() if now - stamp > _IDLE_SECONDS]
        for key in idle:
            del self._buckets[key]


class RateLimiter(TokenBuckets):
    def __init__(self, app: ASGIApp, rate: float, burst: float, trust_proxy: bool = False) -> None:
        super().__init__(rate, burst)
        self.app = app
        self.trust_proxy = trust_proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/healthz":
            await self.app(scope, receive, send)
            return
        wait = self.allow(client_address(scope, self.trust_proxy), time.monotonic())
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            {
                "error": "rate_limited",
                "message": f"too many requests from this address: slow down to {self.rate:g}/s"
                f" and retry after {wait:.1f} s",
            }
        )
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, round(wait))).encode()),
            (b"access-control-allow-origin", b"*"),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
