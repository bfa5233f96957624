"""Server-Sent Events, the mechanism: a watcher's bounded subscription to the notifier, and a lean
`text/event-stream` response that writes it out and notices when the client is gone or stalled.

Each watcher gets a bounded buffer: a client too slow to drain it is disconnected rather than allowed to grow
the server's memory."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from fastapi.responses import Response
from starlette.types import Message, Receive, Scope, Send

from asman.core.events import Event, Resync
from asman.events.base import Notifier

BUFFER = 1000
KEEPALIVE_SECONDS = 15.0
# A watcher whose writes have been blocked this long (it reads nothing) is disconnected.
STALLED_CLIENT_SECONDS = 60.0

log = logging.getLogger(__name__)


def encode(event: str, data: Any, event_id: str = "") -> bytes:
    frame = b"event: " + event.encode()
    if event_id:
        frame += b"\nid: " + event_id.encode()
    return frame + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Subscription:
    """The events one watcher still has to send, and a way to wait for the next without a task per wait."""

    def __init__(self, notifier: Notifier, queue: str, accept: Callable[[Event], bool]) -> None:
        self._pending: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._accept = accept
        self.ended = False
        self.close = notifier.subscribe(self._on_event, queue)

    def _on_event(self, event: Event) -> None:
        if self.ended or not (isinstance(event, Resync) or self._accept(event)):
            return
        if len(self._pending) >= BUFFER:
            self.end()  # the client fell behind: it reconnects and starts from the current state
            return
        self._pending.append(event)
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Event | None:
        """The next event, or None on a keep-alive tick; raises EOFError once the stream has ended."""
        if not self._pending and not self.ended:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            tick = loop.call_later(KEEPALIVE_SECONDS, self._wake)
            try:
                await waiter
            finally:
                tick.cancel()
                self._waiter = None
        if self.ended:
            raise EOFError
        if self._pending:
            return self._pending.popleft()
        return None


_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStreamResponse(Response):
    """A text/event-stream response written straight to the ASGI `send`.

    Leaner than StreamingResponse, which costs a task group per open stream: one coroutine per watcher, plus
    a small task that waits for the client to go away and ends the subscription.
    """

    media_type = "text/event-stream"

    def __init__(
        self, subscription: Subscription, body: AsyncGenerator[bytes], status_code: int = 200
    ) -> None:
        # As StreamingResponse does: no `body`, so no Content-Length. `status_code` is there for FastAPI, which
        # documents a route's status from this signature.
        self.status_code = status_code
        self.background = None
        self.raw_headers = list(_HEADERS)  # a copy: middleware may add headers to the list it is sent
        self.subscription = subscription
        self.body_iterator = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self.subscription
        disconnect = asyncio.create_task(_end_on_disconnect(receive, subscription))

        async def write(message: Message) -> None:
            # A client that stopped reading blocks a write once its socket buffers are full. Giving up returns
            # from the ASGI call with the response unfinished, and the server then closes the connection.
            async with asyncio.timeout(STALLED_CLIENT_SECONDS):
                await send(message)

        try:
            await write(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in self.body_iterator:
                await write({"type": "http.response.body", "body": chunk, "more_body": True})
            await write({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away while we wrote
        except TimeoutError:
            log.warning("closed an event stream whose client read nothing for %g s", STALLED_CLIENT_SECONDS)
        finally:
            subscription.close()
            disconnect.cancel()
            # Its own cleanup (the watcher count) runs now, not when it is collected.
            await self.body_iterator.aclose()


async def _end_on_disconnect(receive: Receive, subscription: Subscription) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.end()
