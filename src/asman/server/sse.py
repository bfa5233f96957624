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


class Clock:
    """The timers of every open stream of this process, served by one task: keep-alive ticks for idle watchers,
    and the end of writes to clients that stopped reading.

    One timer for all of them, rather than one armed per wait and one per write: with 10,000 watchers,
    arming and cancelling those timers was nearly half the fan-out's CPU. The task runs while streams are
    open and ends with the last one."""

    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        self.responses: set[EventStreamResponse] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, item: Subscription | EventStreamResponse) -> None:
        if isinstance(item, Subscription):
            self.subscriptions.add(item)
        else:
            self.responses.add(item)
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="asman-stream-clock")

    def discard(self, item: Subscription | EventStreamResponse) -> None:
        if isinstance(item, Subscription):
            self.subscriptions.discard(item)
        else:
            self.responses.discard(item)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.subscriptions or self.responses:
            await asyncio.sleep(min(KEEPALIVE_SECONDS, STALLED_CLIENT_SECONDS) / 4)
            now = loop.time()
            for subscription in list(self.subscriptions):
                since = subscription.waiting_since
                if since is not None and now - since >= KEEPALIVE_SECONDS:
                    subscription._wake()
            for response in list(self.responses):
                since = response.writing_since
                if since is not None and now - since >= STALLED_CLIENT_SECONDS:
                    response.stall()


CLOCK = Clock()


class Subscription:
    """The events one watcher still has to send, and a way to wait for the next without a task per wait."""

    def __init__(self, notifier: Notifier, queue: str, accept: Callable[[Event], bool]) -> None:
        self._pending: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._accept = accept
        self.ended = False
        # When the current wait began (the clock's keep-alive tick wakes a long one); None when not waiting.
        self.waiting_since: float | None = None
        self._unsubscribe = notifier.subscribe(self._on_event, queue)
        CLOCK.add(self)

    def close(self) -> None:
        self._unsubscribe()
        CLOCK.discard(self)

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
            self.waiting_since = loop.time()
            try:
                await waiter
            finally:
                self._waiter = self.waiting_since = None
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
        self.writing_since: float | None = None
        self.on_close: Callable[[], None] | None = None  # e.g. give back the client's stream slot
        self._task: asyncio.Task[Any] | None = None
        self._stalled = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self.subscription
        disconnect = asyncio.create_task(_end_on_disconnect(receive, subscription))
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        # `writing_since` is set while a write is under way: a client that stopped reading blocks a write once
        # its socket buffers are full, and the clock ends the stream (`stall`) when that lasts too long.
        CLOCK.add(self)

        async def write(message: Message) -> None:
            self.writing_since = loop.time()
            await send(message)
            self.writing_since = None

        try:
            await write(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in self.body_iterator:
                await write({"type": "http.response.body", "body": chunk, "more_body": True})
            await write({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away while we wrote
        except asyncio.CancelledError:
            if not self._stalled:
                raise
            # Returning with the response unfinished makes the server close the connection.
            if self._task is not None:
                self._task.uncancel()
            log.warning("closed an event stream whose client read nothing for %g s", STALLED_CLIENT_SECONDS)
        finally:
            CLOCK.discard(self)
            subscription.close()
            if self.on_close is not None:
                self.on_close()
            disconnect.cancel()
            # Its own cleanup (the watcher count) runs now, not when it is collected.
            await self.body_iterator.aclose()

    def stall(self) -> None:
        """Give up on a client that has read nothing for STALLED_CLIENT_SECONDS."""
        if self._task is not None and not self._stalled:
            self._stalled = True
            self._task.cancel()


async def _end_on_disconnect(receive: Receive, subscription: Subscription) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.end()
