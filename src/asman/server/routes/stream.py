"""The Server-Sent-Event endpoints: one job (`state`, `run-log`, `build-log`, `final`) or a whole queue (`job`,
`workers`, `resync`), and the middleware that answers them before routing. The mechanism is `server/sse.py`."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from asman.core.errors import AsmanError
from asman.core.events import Event, LogsAppended, Resync, StateChanged, WorkersChanged
from asman.core.names import check_queue
from asman.core.states import JobState
from asman.server.limits import HttpLimits
from asman.server.service import JobService
from asman.server.sse import BUFFER, EventStreamResponse, Subscription, encode

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
    description="Events `state`, `run-log`, `build-log`, then `final` (docs/api.md). Each carries an `id`; a"
    " reconnection that sends it back (the `Last-Event-ID` header, or `?lastEventId=`) gets only the log lines"
    " it has not had.",
)
async def job_stream(queue: str, job_id: str, request: Request) -> EventStreamResponse:
    state = request.app.state
    return await counted(
        state, request.scope, lambda: open_job_stream(state, queue, job_id, last_event_id(request.scope))
    )


async def counted(
    state: State, scope: Scope, open_stream: Callable[[], Awaitable[EventStreamResponse]]
) -> EventStreamResponse:
    """A stream opened in one of the client's stream slots, given back when it ends; TooManyStreams (429)
    when it has none left."""
    limits: HttpLimits = state.limits
    client = limits.proxies.client(scope)
    limits.streams.admit(client)
    try:
        response = await open_stream()
    except BaseException:
        limits.streams.release(client)
        raise
    response.on_close = functools.partial(limits.streams.release, client)
    return response


def last_event_id(scope: Scope) -> str:
    """Where a reconnecting watcher left off: the `Last-Event-ID` header browsers and the SDK send, or the
    `lastEventId` query parameter for clients that cannot set headers."""
    for name, value in scope.get("headers", ()):
        if name == b"last-event-id":
            return str(value.decode("latin-1"))
    query: bytes = scope.get("query_string", b"")
    if b"lasteventid=" in query.lower():
        for key, value in parse_qsl(query.decode("latin-1")):
            if key.lower() == "lasteventid":
                return value
    return ""


@dataclass
class Position:
    """How far a watcher has got in a job's logs: the attempt and the lines sent per step. It is the events'
    `id` (`attempt:build:run`), so a reconnection resumes where the last connection stopped."""

    attempt: int = 0
    sent: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, event_id: str) -> Position:
        parts = event_id.split(":")
        if len(parts) != 3 or not all(part.isdigit() and len(part) <= 12 for part in parts):
            return cls()  # none, or not one of ours: start from the first line
        attempt, build, run = (int(part) for part in parts)
        return cls(attempt, {"build": build, "run": run})

    def event_id(self) -> str:
        return f"{self.attempt}:{self.sent.get('build', 0)}:{self.sent.get('run', 0)}"

    def start(self, attempt: int) -> None:
        """Lines are counted per attempt: a new one starts from its first line."""
        if attempt != self.attempt:
            self.attempt = attempt
            self.sent.clear()


async def open_job_stream(state: State, queue: str, job_id: str, resume: str = "") -> EventStreamResponse:
    service: JobService = state.service
    await service.require_job(queue, job_id)
    # Subscribe before reading the current state so no event falls between the two.
    subscription = Subscription(
        service.notifier,
        queue,
        lambda event: isinstance(event, (StateChanged, LogsAppended)) and event.job_id == job_id,
    )
    return EventStreamResponse(
        subscription,
        _job_events(service, state.watchers, subscription, queue, job_id, Position.parse(resume)),
    )


async def _job_events(
    service: JobService,
    watchers: Watchers,
    subscription: Subscription,
    queue: str,
    job_id: str,
    position: Position,
) -> AsyncGenerator[bytes]:
    watchers.enter(queue)
    sent = position.sent  # log lines already sent per step of `position.attempt`: live events may repeat some

    def chunk(event: str, data: dict[str, Any]) -> bytes:
        return encode(event, data, position.event_id())

    async def current() -> AsyncGenerator[bytes]:
        """The job's state, the log lines not sent yet (a page at a time) and, once finished, its result."""
        async with watchers.reads:
            row = await service.require_job(queue, job_id)
        position.start(row.attempt)
        yield chunk("state", state_payload(row.summary()))
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
                yield chunk(f"{step}-log", {"lines": lines, "cursor": sent[step]})
        if row.state is JobState.FINISHED:
            async with watchers.reads:
                view = await service.job_view(row)
            yield chunk("final", final_payload(view))
            subscription.end()

    try:
        async for data in current():
            yield data
        while True:
            event = await subscription.next()
            match event:
                case None:
                    yield b": keep-alive\n\n"
                case Resync():  # events may have been lost: send what changed meanwhile
                    async for data in current():
                        yield data
                case LogsAppended(step=step, lines=lines, offset=offset):
                    if event.attempt < position.attempt:
                        continue  # lines of an attempt that was lost
                    position.start(event.attempt)
                    end = offset + len(event.lines)
                    lines = lines[max(0, sent.get(step, 0) - offset) :]
                    sent[step] = max(sent.get(step, 0), end)
                    if lines:
                        yield chunk(f"{step}-log", {"lines": lines, "cursor": end})
                case StateChanged():
                    if event.predates(position.attempt):
                        continue  # a late Queued, say
                    yield chunk("state", state_payload(event.summary()))
                    if event.state is JobState.FINISHED:
                        final = await service.store.get_job(queue, job_id)
                        if final is not None:
                            yield chunk("final", final_payload(await service.job_view(final)))
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
    state = request.app.state
    return await counted(state, request.scope, lambda: open_queue_stream(state, queue))


async def open_queue_stream(state: State, queue: str) -> EventStreamResponse:
    check_queue(queue)
    subscription = Subscription(
        state.service.notifier,
        queue,
        lambda event: isinstance(event, (StateChanged, WorkersChanged)),
        direct=_queue_chunk,
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


# The bytes of the latest queue events, by event: as many as a watcher may have queued (a batch's).
_queue_chunks: dict[int, tuple[Event, bytes]] = {}


def _queue_chunk(event: Event) -> bytes:
    """The SSE bytes of a queue event. Every watcher of the queue sends the same bytes, one after another, so
    the latest ones encoded are kept: thousands of watchers cost one encoding."""
    cached = _queue_chunks.get(id(event))
    if cached is not None and cached[0] is event:
        return cached[1]
    if isinstance(event, StateChanged):
        chunk = encode("job", event.summary())
    elif isinstance(event, Resync):
        chunk = encode("resync", {})
    else:
        chunk = encode("workers", {"queue": event.queue})
    if len(_queue_chunks) >= BUFFER:
        del _queue_chunks[next(iter(_queue_chunks))]  # the oldest
    _queue_chunks[id(event)] = (event, chunk)
    return chunk


_JOB_STREAM = re.compile(r"/q/([^/]+)/j/([^/]+)/stream")
_QUEUE_STREAM = re.compile(r"/q/([^/]+)/events")


class StreamShortcut:
    """The two stream endpoints, answered in front of the application's middleware and routing.

    An open stream keeps its whole ASGI call stack alive, and every layer of it costs memory for as long as
    the stream lasts, and a call on every event written: FastAPI's routing (exception wrappers, exit stacks,
    the request) and the middleware (errors, metrics, CORS, rate limits). So the shortcut does what those do
    for a stream itself: it draws from the client's rate limit and stream cap, adds the CORS header and
    counts the request in the metrics. Requests that fail (unknown job, bad queue name, over a limit) go on
    to the routes above, which give the documented error answers.
    """

    def __init__(self, app: Any) -> None:
        self.app = app  # the FastAPI app: its state holds the service once it has started

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer `scope` if it opens a stream that can be served; False to let the application answer."""
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith("/q/"):
            return False
        path: str = scope["path"]
        state: State = self.app.state
        if match := _QUEUE_STREAM.fullmatch(path):
            template, queue = "/q/{queue}/events", match[1]
            opener = functools.partial(open_queue_stream, state, queue)
        elif match := _JOB_STREAM.fullmatch(path):
            template = "/q/{queue}/j/{job_id}/stream"
            opener = functools.partial(open_job_stream, state, match[1], match[2], last_event_id(scope))
        else:
            return False
        limits: HttpLimits = state.limits
        if not limits.allow(scope):
            return False
        try:
            response = await counted(state, scope, opener)
        except Exception:  # the route answers it again, inside the error handling (envelope, log)
            return False
        response.raw_headers.extend(limits.origins.cors_headers(scope))
        started = time.perf_counter()
        try:
            await response(scope, receive, send)
        finally:
            state.replica_metrics.requests.observe(
                ("GET", template, str(response.status_code)), time.perf_counter() - started
            )
        return True
