"""The Server-Sent-Event endpoints: one job (`state`, `run-log`, `build-log`, `final`) or a whole queue (`job`,
`workers`, `resync`), and the middleware that answers them before routing. The mechanism is `server/sse.py`."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from asman.core.errors import AsmanError
from asman.core.events import Event, LogsAppended, Resync, StateChanged, WorkersChanged
from asman.core.names import check_queue
from asman.core.states import JobState
from asman.server.metrics import ROUTE_TEMPLATE
from asman.server.service import JobService
from asman.server.sse import EventStreamResponse, Subscription, encode

router = APIRouter(tags=["streams"])

STORE_READERS = 8
# Log lines per event when a stream replays what is stored: a long log is read and sent a page at a time.
REPLAY_PAGE_LINES = 2000


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


@router.get(
    "/q/{queue}/j/{job_id}/stream",
    summary="Live state and logs of a job (Server-Sent Events)",
    response_class=EventStreamResponse,
    operation_id="streamJob",
    description="Events `state`, `run-log`, `build-log`, then `final` (docs/api.md).",
)
async def job_stream(queue: str, job_id: str, request: Request) -> EventStreamResponse:
    return await open_job_stream(request.app.state, queue, job_id)


async def open_job_stream(state: State, queue: str, job_id: str) -> EventStreamResponse:
    service: JobService = state.service
    await service.require_job(queue, job_id)
    # Subscribe before reading the current state so no event falls between the two.
    subscription = Subscription(
        service.notifier,
        queue,
        lambda event: isinstance(event, (StateChanged, LogsAppended)) and event.job_id == job_id,
    )
    return EventStreamResponse(
        subscription, _job_events(service, state.watchers, subscription, queue, job_id)
    )


async def _job_events(
    service: JobService, watchers: Watchers, subscription: Subscription, queue: str, job_id: str
) -> AsyncGenerator[bytes]:
    watchers.enter(queue)
    # Log lines already sent per step, for `attempt`: live events may repeat some of them.
    sent: dict[str, int] = {}
    attempt = 0

    async def current() -> AsyncGenerator[bytes]:
        """The job's state, the log lines not sent yet (a page at a time) and, once finished, its result."""
        nonlocal attempt
        async with watchers.reads:
            row = await service.require_job(queue, job_id)
        if row.attempt != attempt:
            attempt = row.attempt
            sent.clear()
        yield encode("state", state_payload(row.summary()))
        for step in ("build", "run"):
            while True:
                since = sent.get(step, 0)
                async with watchers.reads:
                    lines, total = await service.store.read_logs(
                        job_id, step, since, REPLAY_PAGE_LINES, queue
                    )
                if not lines:
                    sent[step] = max(since, total)
                    break
                sent[step] = since + len(lines)
                yield encode(f"{step}-log", {"lines": lines, "cursor": sent[step]})
        if row.state is JobState.FINISHED:
            async with watchers.reads:
                view = await service.job_view(row)
            yield encode("final", final_payload(view))
            subscription.end()

    try:
        async for chunk in current():
            yield chunk
        while True:
            event = await subscription.next()
            match event:
                case None:
                    yield b": keep-alive\n\n"
                case Resync():  # events may have been lost: send what changed meanwhile
                    async for chunk in current():
                        yield chunk
                case LogsAppended(step=step, lines=lines, offset=offset):
                    end = offset + len(event.lines)
                    if event.attempt == attempt:
                        lines = lines[max(0, sent.get(step, 0) - offset) :]
                        sent[step] = max(sent.get(step, 0), end)
                    if lines:
                        yield encode(f"{step}-log", {"lines": lines, "cursor": end})
                case StateChanged():
                    if event.predates(attempt):
                        continue  # a late Queued, say
                    yield encode("state", state_payload(event.summary()))
                    if event.state is JobState.FINISHED:
                        final = await service.store.get_job(queue, job_id)
                        if final is not None:
                            yield encode("final", final_payload(await service.job_view(final)))
                        return
    except (EOFError, AsmanError):
        return
    finally:
        watchers.leave(queue)


@router.get(
    "/q/{queue}/events",
    summary="Live job states and workers of a queue (Server-Sent Events)",
    response_class=EventStreamResponse,
    operation_id="streamQueue",
    description="Events `hello`, `job`, `workers`, `resync` (docs/api.md).",
)
async def queue_stream(queue: str, request: Request) -> EventStreamResponse:
    return await open_queue_stream(request.app.state, queue)


async def open_queue_stream(state: State, queue: str) -> EventStreamResponse:
    check_queue(queue)
    subscription = Subscription(
        state.service.notifier, queue, lambda event: isinstance(event, (StateChanged, WorkersChanged))
    )
    return EventStreamResponse(subscription, _queue_events(state.watchers, subscription, queue))


async def _queue_events(watchers: Watchers, subscription: Subscription, queue: str) -> AsyncGenerator[bytes]:
    watchers.enter(queue)
    try:
        yield encode("hello", {"queue": queue})
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


def state_payload(summary: dict[str, Any]) -> dict[str, Any]:
    """A `state` event: upstream's `{state}`, or `{state: "Finished", reason}`, then Asman's fields."""
    reason = summary.get("finishedReason")
    return {"state": summary["state"], **({"reason": reason} if reason else {}), **summary}


def final_payload(view: dict[str, Any]) -> dict[str, Any]:
    """The `final` event: upstream's `{state: "Finished", reason}`, then the job's full view."""
    return {"state": JobState.FINISHED.value, "reason": view.get("finishedReason") or "Unknown", **view}


_last_queue_chunk: tuple[Event | None, bytes] = (None, b"")


def _queue_chunk(event: Event) -> bytes:
    """The SSE bytes of a queue event. Every watcher of the queue sends the same bytes, one after another, so
    the last one encoded is kept: thousands of watchers cost one encoding."""
    global _last_queue_chunk
    cached, chunk = _last_queue_chunk
    if cached is event:
        return chunk
    if isinstance(event, StateChanged):
        chunk = encode("job", event.summary())
    elif isinstance(event, Resync):
        chunk = encode("resync", {})
    else:
        chunk = encode("workers", {"queue": event.queue})
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
                scope[ROUTE_TEMPLATE] = "/q/{queue}/events"
                return await open_queue_stream(state, match[1])
            if match := _JOB_STREAM.fullmatch(path):
                scope[ROUTE_TEMPLATE] = "/q/{queue}/j/{job_id}/stream"
                return await open_job_stream(state, match[1], match[2])
        except AsmanError:
            return None
        return None
