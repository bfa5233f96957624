"""Server-Sent Events, the mechanism: a watcher's bounded subscription to the notifier, and a lean
`text/event-stream` response that writes it out and notices when the client is gone or stalled.

Each watcher gets a bounded buffer: a client too slow to drain it is disconnected rather than allowed to grow
the server's memory.

An event whose bytes do not depend on the stream (a queue stream's) is written to every idle watcher from
one callback, without waking their tasks: waking 10,000 tasks to write the same bytes cost about two thirds
of a fan-out's CPU. A write that would wait (the client's socket is full) is finished by the watcher's own
task before anything else it sends, so every event still goes out once and in order."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import orjson
from fastapi.responses import Response
from starlette.types import Message, Receive, Scope, Send

from asman.core.events import Event, Resync
from asman.events.base import Notifier

BUFFER = 1000
# The most bytes of queued events one write from outside the task joins (uvicorn pauses a response at 64 KiB).
WRITE_BYTES = 1 << 16
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
    """The events one watcher still has to send, and a way to wait for the next without a task per wait.

    With `direct`, the encoding of events whose bytes are the same for every watcher, events that arrive
    while the watcher's task waits in `next` are written by its response (`writer`) without waking the task
    (`DIRECT`); `next` only sees those that arrive while it is busy."""

    def __init__(
        self,
        notifier: Notifier,
        queue: str,
        accept: Callable[[Event], bool],
        direct: Callable[[Event], bytes] | None = None,
    ) -> None:
        self._pending: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._accept = accept
        self._direct = direct
        self._loop = asyncio.get_running_loop()
        self.writer: EventStreamResponse | None = None
        self._queued_for_writes = False
        self.ended = False
        # When the current wait began, or the last event written during it (the clock's keep-alive tick wakes
        # a long one); None when not waiting.
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
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # the task is busy or already woken: it sends the queue in order
        if self.writer is None or self._direct is None:
            waiter.set_result(None)
        elif not self._queued_for_writes:
            # Written by DIRECT after the callbacks already due (the submit's answer, the dispatcher's wake-up)
            self._queued_for_writes = True
            DIRECT.add(self)

    def write_pending(self) -> None:
        """Write what is queued while the task waits in `next`; wake it for a write that has to wait."""
        self._queued_for_writes = False
        writer, waiter, direct = self.writer, self._waiter, self._direct
        if writer is None or direct is None or self.ended or waiter is None or waiter.done():
            return  # closed, or the task is awake and sends the queue itself
        pending = self._pending
        while pending:
            # Events queued together (a batch submit's) go out in one write, up to about what uvicorn buffers
            # before it pauses: 10,000 watchers of a 100-job batch cost 10,000 writes, not a million.
            chunks, size = [], 0
            while pending and size < WRITE_BYTES:
                chunk = direct(pending.popleft())
                chunks.append(chunk)
                size += len(chunk)
            if not writer.write_now(chunks[0] if len(chunks) == 1 else b"".join(chunks)):
                waiter.set_result(None)  # the task finishes that write before the rest of the queue
                return
        self.waiting_since = self._loop.time()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Event | None:
        """The next event, or None on a keep-alive tick; raises EOFError once the stream has ended."""
        tick = False
        while True:
            writer = self.writer
            if writer is not None and writer.unfinished is not None:
                await writer.finish()  # an event written from the callback goes out before any queued later
            if self.ended:
                raise EOFError
            if self._pending:
                return self._pending.popleft()
            if tick:
                return None
            waiter = self._waiter = self._loop.create_future()
            self.waiting_since = self._loop.time()
            try:
                await waiter
            finally:
                self._waiter = self.waiting_since = None
            # Woken for a write that has to wait: finish it and wait on, with no keep-alive in between.
            tick = writer is None or writer.unfinished is None


class DirectWrites:
    """The subscriptions with events to write from outside their tasks, written in one callback.

    One callback for every watcher of an event, run after the callbacks already due: the publisher (a
    submit's answer) and the dispatcher go first, then thousands of writes, rather than the other way."""

    def __init__(self) -> None:
        self._due: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, subscription: Subscription) -> None:
        loop = subscription._loop
        if loop is not self._loop:
            self._due, self._loop = [], loop  # a new loop (tests run several): the old one's callback is gone
        if not self._due:
            loop.call_soon(self._write)
        self._due.append(subscription)

    def _write(self) -> None:
        due, self._due = self._due, []
        for subscription in due:
            try:
                subscription.write_pending()
            except Exception:  # one broken stream must not starve the others
                log.exception("event stream write failed")


DIRECT = DirectWrites()


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
        # A write begun from the notifier's callback that has to wait for the client (`write_now`).
        self.unfinished: _Unfinished | None = None
        self._send: Send | None = None
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
            # From here on the subscription may write through `write_now` while this task waits in `next`.
            self._send = send
            subscription.writer = self
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
            subscription.writer = None
            if self.unfinished is not None:
                self.unfinished.close()
            if self.on_close is not None:
                self.on_close()
            disconnect.cancel()
            # Its own cleanup (the watcher count) runs now, not when it is collected.
            await self.body_iterator.aclose()

    def write_now(self, chunk: bytes) -> bool:
        """Write `chunk` now, outside this response's task: True when `send` finished without waiting. False
        when it has to wait (flow control) or failed: `unfinished` holds the rest, for `finish`."""
        assert self._send is not None
        # It runs in the callback's context, not the task's: uvicorn's `send` reads no context variables.
        step = self._send({"type": "http.response.body", "body": chunk, "more_body": True}).__await__()
        try:
            first = step.send(None)
        except StopIteration:
            return True
        except Exception as exc:  # raised in the task, as if its own write had failed
            self.unfinished = _Unfinished(None, None, exc)
            return False
        self.unfinished = _Unfinished(step, first, None)
        return False

    async def finish(self) -> None:
        """Finish the write `write_now` began, as a write of this task (a client that reads nothing stalls)."""
        unfinished, self.unfinished = self.unfinished, None
        if unfinished is not None:
            self.writing_since = asyncio.get_running_loop().time()
            await unfinished
            self.writing_since = None

    def stall(self) -> None:
        """Give up on a client that has read nothing for STALLED_CLIENT_SECONDS."""
        if self._task is not None and not self._stalled:
            self._stalled = True
            self._task.cancel()


class _Unfinished:
    """A `send` stepped by hand that stopped at `first` (what it waits for): awaiting this goes on from
    there in the awaiting task, as if that task had called `send` itself. Or the error its first step raised."""

    def __init__(self, step: Generator[Any, Any, Any] | None, first: Any, error: Exception | None) -> None:
        self.step, self.first, self.error = step, first, error

    def __await__(self) -> Generator[Any, Any, None]:
        if self.error is not None:
            raise self.error
        step, value = self.step, self.first
        assert step is not None
        self.step = None
        while True:
            try:
                try:
                    sent = yield value
                except GeneratorExit:
                    step.close()
                    raise
                except BaseException as exc:  # a cancellation: into `send`, where it waits
                    value = step.throw(exc)
                else:
                    value = step.send(sent)
            except StopIteration:
                return

    def close(self) -> None:
        if self.step is not None:
            self.step.close()


async def _end_on_disconnect(receive: Receive, subscription: Subscription) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.end()
