"""Per-client limits: who a client is (its address, or the hop its trusted proxies saw), a token bucket per
client answered with 429 when empty, and a cap on the event streams a client holds open.

Pure ASGI (no BaseHTTPMiddleware) so the hot path pays one dict lookup. The rate limit is off unless
ASMAN_RATE_LIMIT is set: an embedded server on a laptop has one client; a public server should set it. It
covers HTTP requests and WebSocket connects alike (a socket that is refused gets 429 before the upgrade)."""

from __future__ import annotations

import ipaddress
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from asman.core.errors import AsmanError
from asman.server.http import refuse
from asman.server.origins import Origins
from asman.settings import Network

_IDLE_SECONDS = 300.0
# Clients remembered at most: past it the least recently seen is forgotten, so a flood of addresses (one per
# spoofed header, or an IPv6 block) costs bounded memory. Forgetting only refills that client's bucket.
MAX_CLIENTS = 100_000


class TrustedProxies:
    """The proxies whose X-Forwarded-For is believed. The client is the right-most hop that is not one of
    them: each trusted proxy appended the address it saw, and anything left of the first stranger is what
    that stranger claimed."""

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks

    def trusts(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, scope: Scope) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if not self.trusts(address):
            return address
        hops: list[str] = [
            hop.strip()
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        for hop in reversed(hops):
            if hop and not self.trusts(hop):
                return hop
            address = hop or address
        return address  # every hop is a trusted proxy: the left-most one is the client


class TokenBuckets:
    """A token bucket per client address; HTTP requests, WebSocket connects and client WebSocket frames
    each draw from one. The table is a bounded LRU."""

    def __init__(self, rate: float, burst: float, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._last_prune = time.monotonic()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client: str, now: float) -> float:
        """0 when the request may go ahead, else the seconds until it would."""
        buckets = self._buckets
        tokens, stamp = buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        taken = tokens >= 1.0
        buckets[client] = (tokens - 1.0 if taken else tokens, now)
        buckets.move_to_end(client)
        if len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        if now - self._last_prune > _IDLE_SECONDS:
            self._prune(now)
        return 0.0 if taken else (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        self._last_prune = now
        while self._buckets:
            key, (_, stamp) = next(iter(self._buckets.items()))
            if now - stamp <= _IDLE_SECONDS:
                break  # least recently seen first: the rest are younger
            del self._buckets[key]


class RateLimiter:
    """ASGI middleware: HTTP requests and WebSocket connects over a client's rate get 429 with Retry-After."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, proxies: TrustedProxies) -> None:
        self.app = app
        self.buckets = buckets
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") == "/healthz":
            await self.app(scope, receive, send)
            return
        wait = self.buckets.allow(self.proxies.client(scope), time.monotonic())
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        message = (
            f"too many requests from this address: slow down to {self.buckets.rate:g}/s"
            f" and retry after {wait:.1f} s"
        )
        retry = [(b"retry-after", str(max(1, round(wait))).encode())]
        await refuse(scope, receive, send, 429, {"error": "rate_limited", "message": message}, retry)


class TooManyStreams(AsmanError):
    status_code = 429
    code = "too_many_streams"


class StreamCap:
    """How many event streams each client holds open, refused past `limit` (0: no cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def admit(self, client: str) -> None:
        if self.limit and self._open[client] >= self.limit:
            raise TooManyStreams(
                f"this address already has {self._open[client]} event streams open, the most a client may"
                " (ASMAN_MAX_STREAMS_PER_CLIENT): close some first, or follow a whole queue with one stream"
                " at /q/<queue>/events instead of one per job"
            )
        self._open[client] += 1

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


@dataclass(frozen=True)
class HttpLimits:
    """Everything that decides what one client may do, for the middleware and for the streams answered
    before it (routes/stream.py)."""

    proxies: TrustedProxies
    buckets: TokenBuckets | None
    streams: StreamCap
    origins: Origins

    def allow(self, scope: Scope) -> bool:
        """Whether the client's rate allows this request (drawing a token)."""
        return self.buckets is None or self.buckets.allow(self.proxies.client(scope), time.monotonic()) <= 0
