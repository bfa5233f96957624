"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes a keep-alive connection that sends nothing, but one that has sent part of a request's headers
waits for the rest forever: a few thousand such sockets (slow-loris), each trickling a byte now and then,
hold every descriptor the server has. Here a connection has `header_timeout` seconds from when it opens,
and from the end of each response, to get a request's headers in; then it is closed."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Fastest
except ImportError:  # pragma: no cover - httptools is in the server extra; uvicorn falls back the same way
    _Fastest = H11Protocol  # type: ignore[assignment,misc]


class _HeaderDeadline:
    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None
    # What uvicorn's protocols have (the mixin comes first in the class's bases).
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm()

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._disarm()  # the socket's own protocol (pings, close timeouts) takes over
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        self._disarm()
        # A request whose headers are complete has a cycle of its own: the deadline passes it by.
        self._header_timer = self.loop.call_later(self.header_timeout, self._deadline, self.cycle)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _deadline(self, cycle: Any) -> None:
        self._header_timer = None
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


def http_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's `http` option (0: no deadline)."""
    if header_timeout <= 0:
        return _Fastest
    protocol: type[asyncio.Protocol] = type(
        "AsmanHttpProtocol", (_HeaderDeadline, _Fastest), {"header_timeout": header_timeout}
    )
    return protocol
