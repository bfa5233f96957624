"""Server-Sent Events: one job (`state`, `run-log`, `build-log`, `final`) or a whole queue (`job`, `workers`).

Each watcher gets a bounded buffer: a client too slow to drain it is disconnected rather than allowed to grow
the server's memory."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter, deque
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asman.core.errors import AsmanError
from asman.core.events import Event
from asman.core.names import check_queue
from asman.core.states import JobState
from asman.events.base import Notifier
from asman.server.service import JobService

router = APIRouter()

BUFFER = 1000
KEEPALIVE_SECONDS = 15.0
STORE_READERS = 8
# A watcher whose writes have been blocked this long (it reads nothing) is disconnected.
STALLED_CLIENT_SECONDS = 60.0

log = logging.getLogger(__name__)


class Watchers:
    """Counts SSE clients per queue, for status, and bounds how many of them read the store at once."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        # Thousands of job streams catching up at once (a resync, browsers reconnecting to a restarted
        # replica) take turns rather than queueing thousands of reads on the store together.
        self.reads = asyncio.Semaphore(STORE_READERS)

    def count(self, queue: str) -> int:
        return self._counts[queue]

    def enter(self, queue: str) -> None:
        self._counts[queue] += 1

    def leave(self, queue: str) -> None:
        self._counts[queue] -= 1
        if self._counts[queue] <= 0:
            del self._counts[queue]


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class _Subscription:
    """The events one watcher still has to send, and a way to wait for the next without a task per wait."""

    def __init__(self, notifier: Notifier, queue: str, accept: Callable[[Event], bool]) -> None:
        self._pending: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._accept = accept
        self.ended = False
        self.close = notifier.subscribe(self._on_event, queue)

    def _on_event(self, event: Event) -> None:
        if self.ended or not (event.kind == "resync" or self._accept(event)):
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
        self, subscription: _Subscription, body: AsyncGenerator[bytes], status_code: int = 200
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


async def _end_on_disconnect(receive: Receive, subscription: _Subscription) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.end()


@router.get(
    "/q/{queue}/j/{job_id}/stream",
    summary="Live state and logs of a job (Server-Sent Events)",
    response_class=EventStreamResponse,
)
async def job_stream(queue: str, job_id: str, request: Request) -> EventStreamResponse:
    return await open_job_stream(request.app.state, queue, job_id)


async def open_job_stream(state: State, queue: str, job_id: str) -> EventStreamResponse:
    service: JobService = state.service
    await service.require_job(queue, job_id)
    # Subscribe before reading the current state so no event falls between the two.
    subscription = _Subscription(
        service.notifier, queue, lambda event: event.job_id == job_id and event.kind in ("state", "log")
    )
    return EventStreamResponse(
        subscription, _job_events(service, state.watchers, subscription, queue, job_id)
    )


async def _job_events(
    service: JobService, watchers: Watchers, subscription: _Subscription, queue: str, job_id: str
) -> AsyncGenerator[bytes]:
    watchers.enter(queue)
    # Log lines already sent per step, for `attempt`: live events may repeat some of them.
    sent: dict[str, int] = {}
    attempt = 0

    async def current() -> list[bytes]:
        """The job's state, the log lines not sent yet and, once finished, its result."""
        nonlocal attempt
        chunks: list[bytes] = []
        async with watchers.reads:
            row = await service.require_job(queue, job_id)
            if row.attempt != attempt:
                attempt = row.attempt
                sent.clear()
            chunks.append(_sse("state", row.summary()))
            for step in ("build", "run"):
                lines, total = await service.store.read_logs(job_id, step, sent.get(step, 0))
                sent[step] = max(sent.get(step, 0), total)
                if lines:
                    chunks.append(_sse(f"{step}-log", lines))
            if row.state is JobState.FINISHED:
                chunks.append(_sse("final", await service.job_view(row)))
                subscription.end()
        return chunks

    try:
        for chunk in await current():
            yield chunk
        while True:
            event = await subscription.next()
            if event is None:
                yield b": keep-alive\n\n"
            elif event.kind == "resync":  # events may have been lost: send what changed meanwhile
                for chunk in await current():
                    yield chunk
            elif event.kind == "log":
                step = str(event.data.get("step", "run"))
                lines = event.data.get("logs", [])
                offset = event.data.get("offset")
                if event.data.get("attempt") == attempt and isinstance(offset, int):
                    lines = lines[max(0, sent.get(step, 0) - offset) :]
                    sent[step] = max(sent.get(step, 0), offset + len(event.data.get("logs", [])))
                if lines:
                    yield _sse(f"{step}-log", lines)
            elif event.kind == "state":
                yield _sse("state", {"jobId": job_id, "queue": queue, **event.data})
                if event.data.get("state") == JobState.FINISHED.value:
                    final = await service.store.get_job(queue, job_id)
                    if final is not None:
                        yield _sse("final", await service.job_view(final))
                    return
    except (EOFError, AsmanError):
        return
    finally:
        watchers.leave(queue)


@router.get(
    "/q/{queue}/events",
    summary="Live job states and workers of a queue (Server-Sent Events)",
    response_class=EventStreamResponse,
)
async def queue_stream(queue: str, request: Request) -> EventStreamResponse:
    return await open_queue_stream(request.app.state, queue)


async def open_queue_stream(state: State, queue: str) -> EventStreamResponse:
    check_queue(queue)
    subscription = _Subscription(
        state.service.notifier, queue, lambda event: event.kind in ("state", "workers")
    )
    return EventStreamResponse(subscription, _queue_events(state.watchers, subscription, queue))


async def _queue_events(watchers: Watchers, subscription: _Subscription, queue: str) -> AsyncGenerator[bytes]:
    watchers.enter(queue)
    try:
        yield _sse("hello", {"queue": queue})
        while True:
            event = await subscription.next()
            if event is None:
                yield b": keep-alive\n\n"
            else:
                yield _queue_chunk(event)
    except EOFError:
        return
    finally:
        watchers.leave(queue)


_last_queue_chunk: tuple[Event | None, bytes] = (None, b"")


def _queue_chunk(event: Event) -> bytes:
    """The SSE bytes of a queue event. Every watcher of the queue sends the same bytes, one after another, so
    the last one encoded is kept: thousands of watchers cost one encoding."""
    global _last_queue_chunk
    cached, chunk = _last_queue_chunk
    if cached is event:
        return chunk
    if event.kind == "state":
        chunk = _sse("job", {"jobId": event.job_id, "queue": event.queue, **event.data})
    elif event.kind == "resync":
        chunk = _sse("resync", {})
    else:
        chunk = _sse("workers", {"queue": event.queue})
    _last_queue_chunk = (event, chunk)
    return chunk


_JOB_STREAM = re.compile(r"/q/([^/]+)/j/([^/]+)/stream")
_QUEUE_STREAM = re.compile(r"/q/([^/]+)/events")


class StreamShortcut:
    """ASGI middleware answering the two stream endpoints before routing.

    An open stream keeps its whole ASGI call stack alive, and FastAPI's routing layers (exception wrappers, exit
    stacks, the request) cost more per watcher than the stream itself. Requests that fail (unknown job, bad
    queue name) go on to the routes above, which give the documented error answers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            response = await self._open(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _open(scope: Scope) -> EventStreamResponse | None:
        path: str = scope["path"]
        if not path.startswith("/q/"):
            return None
        state: State = scope["app"].state
        try:
            if match := _QUEUE_STREAM.fullmatch(path):
                return await open_queue_stream(state, match[1])
            if match := _JOB_STREAM.fullmatch(path):
                return await open_job_stream(state, match[1], match[2])
        except AsmanError:
            return None
        return None
