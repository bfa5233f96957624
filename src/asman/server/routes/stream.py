"""Server-Sent Events: one job (`state`, `run-log`, `build-log`, `final`) or a whole queue (`job`, `workers`).

Each watcher gets a bounded buffer: a client too slow to drain it is disconnected rather than allowed to grow
the server's memory."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from asman.core.events import Event
from asman.core.names import check_queue
from asman.core.states import JobState
from asman.server.service import JobService

router = APIRouter()

BUFFER = 1000
KEEPALIVE_SECONDS = 15.0


class Watchers:
    """Counts SSE clients per queue, for status."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

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
    def __init__(self, service: JobService, accept: Callable[[Event], bool]) -> None:
        self.events: asyncio.Queue[Event | None] = asyncio.Queue(BUFFER)

        def listener(event: Event) -> None:
            if accept(event):
                try:
                    self.events.put_nowait(event)
                except asyncio.QueueFull:
                    self.overflowed = True

        self.overflowed = False
        self.close = service.notifier.subscribe(listener)

    async def next(self) -> Event | None:
        """The next event, or None on a keep-alive tick; raises EOFError when the client fell behind."""
        if self.overflowed:
            raise EOFError
        if not self.events.empty():
            return self.events.get_nowait()
        # asyncio.timeout, unlike wait_for, starts no extra task per wait: it matters with thousands of watchers.
        try:
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                return await self.events.get()
        except TimeoutError:
            return None


def _streaming(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/q/{queue}/j/{job_id}/stream", summary="Live state and logs of a job (Server-Sent Events)")
async def job_stream(queue: str, job_id: str, request: Request) -> StreamingResponse:
    service: JobService = request.app.state.service
    watchers: Watchers = request.app.state.watchers
    await service.require_job(queue, job_id)
    # Subscribe before reading the current state so no event falls between the two.
    subscription = _Subscription(service, lambda event: event.job_id == job_id and event.queue == queue)

    async def body() -> AsyncIterator[bytes]:
        watchers.enter(queue)
        try:
            row = await service.require_job(queue, job_id)
            yield _sse("state", row.summary())
            # Lines already sent per step for the attempt read here; live events may repeat some of them.
            sent: dict[str, int] = {}
            for step in ("build", "run"):
                lines, total = await service.store.read_logs(job_id, step, 0)
                sent[step] = total
                if lines:
                    yield _sse(f"{step}-log", lines)
            if row.state is JobState.FINISHED:
                yield _sse("final", await service.job_view(row))
                return
            while True:
                event = await subscription.next()
                if event is None:
                    yield b": keep-alive\n\n"
                    continue
                if event.kind == "log":
                    step = str(event.data.get("step", "run"))
                    lines = event.data.get("logs", [])
                    offset = event.data.get("offset")
                    if event.data.get("attempt") == row.attempt and isinstance(offset, int):
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
        except EOFError:
            return
        finally:
            subscription.close()
            watchers.leave(queue)

    return _streaming(body())


@router.get("/q/{queue}/events", summary="Live job states and workers of a queue (Server-Sent Events)")
async def queue_stream(queue: str, request: Request) -> StreamingResponse:
    service: JobService = request.app.state.service
    watchers: Watchers = request.app.state.watchers
    check_queue(queue)
    subscription = _Subscription(
        service, lambda event: event.queue == queue and event.kind in ("state", "workers")
    )

    async def body() -> AsyncIterator[bytes]:
        watchers.enter(queue)
        try:
            yield _sse("hello", {"queue": queue})
            while True:
                event = await subscription.next()
                if event is None:
                    yield b": keep-alive\n\n"
                elif event.kind == "state":
                    yield _sse("job", {"jobId": event.job_id, "queue": queue, **event.data})
                else:
                    yield _sse("workers", {"queue": queue})
        except EOFError:
            return
        finally:
            subscription.close()
            watchers.leave(queue)

    return _streaming(body())
