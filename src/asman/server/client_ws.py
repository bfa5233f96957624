"""Upstream's browser-client WebSocket, `/q/<queue>/client` (also `/browser`, and both without the `/q`): job
states, workers and live log lines go out; submits, cancels, deletes and queries come in. The shapes are
upstream's (UPSTREAM-WIRE.md §4), so upstream's browser app and test scripts work unchanged.

On this replica each queue with clients has one `Room`. It listens to the notifier once for all of them and
one task of its own, the pump, reads the store and turns events into frames: a change costs one read and one
encoding however many browsers watch, and the frames reach every client in the order the pump made them, so
no client sees a job step back. Every client has a bounded outbox written by a task of its own: a client too
slow to drain it is disconnected, and never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import orjson
from starlette.websockets import WebSocket

from asman.core.definition import ALL_NAMESPACES, DEFAULT_NAMESPACE
from asman.core.errors import AsmanError, InvalidInput, RateLimited
from asman.core.events import Event, LogsAppended, Resync, StateChanged, WorkersChanged
from asman.core.protocol import STEP_BUILD, STEP_RUN
from asman.core.states import FinishedReason, JobState
from asman.server import views
from asman.server.limits import TokenBuckets
from asman.server.routes.queues import connected_workers
from asman.server.routes.stream import Watchers
from asman.server.service import JobService
from asman.server.views import HIDDEN_REASONS
from asman.server.ws import socket_queue
from asman.store.base import JobRow, WorkerRow

log = logging.getLogger(__name__)

PATHS = ("/q/{queue}/client", "/q/{queue}/browser", "/{queue}/client", "/{queue}/browser")

# Message types, server to client.
JOB_STATES = "JobStates"
JOB_STATE_UPDATES = "JobStateUpdates"
WORKERS = "Workers"
JOB_STATUS_PAYLOAD = "JobStatusPayload"
ERROR = "Error"  # Asman's own: why a frame was refused (upstream's clients ignore types they do not know)
# Message types, client to server.
STATE_CHANGE = "StateChange"
QUERY_JOB = "QueryJob"
QUERY_JOB_STATES = "QueryJobStates"
PING = "PING"
PONG = "PONG"

# Upstream's step names: its browser sorts log lines into run and build logs by them.
STEP_NAMES = {STEP_RUN: JobState.RUNNING.value, STEP_BUILD: "docker build"}

SNAPSHOT_EVERY = 10.0  # seconds between full JobStates, as upstream
SNAPSHOT_GAP = 0.5  # at most two full JobStates a second, however fast jobs are submitted
SNAPSHOT_JOBS = 1000  # the most recent jobs of the queue a JobStates lists
BURST = 50  # more state changes than this in one pump round are sent as one JobStates instead
CACHE_JOBS = 5 * SNAPSHOT_JOBS
PENDING_ASKS = 1000
OUTBOX_FRAMES = 1000
STALLED_CLIENT_SECONDS = 60.0
_QUEUE_JOB_KEYS = ("queuedTime", "state", "time", "worker", "attempt", "finishedReason", "exitCode")
_RANK = {JobState.QUEUED: 0, JobState.RUNNING: 1, JobState.FINISHED: 2}


def sendable(job: dict[str, Any]) -> bool:
    return job["state"] != JobState.FINISHED.value or job.get("finishedReason") not in HIDDEN_REASONS


def queue_job(row: JobRow) -> dict[str, Any]:
    """A job row as upstream's QueueJob, with Asman's `attempt` and `exitCode` beside its fields (the job's
    id is the key it is listed under)."""
    summary = views.queue_job(row)
    return {key: summary[key] for key in (*_QUEUE_JOB_KEYS, "namespaces") if key in summary}


def _overlay(job: dict[str, Any], change: StateChanged) -> dict[str, Any]:
    moved = {**job, "state": change.state.value, "time": change.time_ms, "attempt": change.attempt}
    moved["worker"] = change.worker or ""
    moved.pop("finishedReason", None)
    moved.pop("exitCode", None)
    if change.reason is not None:
        moved["finishedReason"] = change.reason.value
    if change.exit_code is not None:
        moved["exitCode"] = change.exit_code
    return moved


def _advanced(job: dict[str, Any], change: StateChanged) -> dict[str, Any] | None:
    """`job` moved on by `change`, or None when `job` already shows the change or has left it behind (a
    snapshot read from the store after the change, before its event arrived)."""
    attempt = int(job.get("attempt", 0))
    if change.attempt < attempt:
        return None
    if change.attempt == attempt:
        known = JobState(job["state"])
        if change.state is known and job.get("finishedReason") == change.reason:
            return None
        # Within one attempt only a requeue goes back (a release, a lost lease, a resubmitted failure); a
        # stale Queued is told from it by its time.
        if _RANK[change.state] < _RANK[known] and (
            change.state is not JobState.QUEUED or change.time_ms <= int(job["time"])
        ):
            return None
    return _overlay(job, change)


def _frame(kind: str, payload: dict[str, Any]) -> str:
    return orjson.dumps({"type": kind, "payload": payload}).decode()


def _job_states(jobs: dict[str, dict[str, Any]], subset: bool) -> str:
    shown = {job_id: job for job_id, job in jobs.items() if sendable(job)}
    return _frame(JOB_STATE_UPDATES if subset else JOB_STATES, {"isSubset": subset, "state": {"jobs": shown}})


def _workers(rows: list[WorkerRow]) -> str:
    newest: dict[str, WorkerRow] = {}
    for row in rows:  # a worker that moved replicas may have a row on each until the old one expires
        if row.worker_id not in newest or row.seen_ms > newest[row.worker_id].seen_ms:
            newest[row.worker_id] = row
    workers = []
    for row in newest.values():
        worker: dict[str, Any] = {
            "version": str(row.info.get("version") or ""),
            "id": row.worker_id,
            "cpus": row.info.get("slots", 1),
            "gpus": row.info.get("gpus", 0),
            "time": row.seen_ms,
            "replica": row.replica,
        }
        if row.info.get("maxJobDuration") is not None:
            worker["maxJobDuration"] = row.info["maxJobDuration"]
        workers.append(worker)
    return _frame(WORKERS, {"workers": workers})


class Client:
    """One browser connection: what it still has to be sent, and whether it has had its first JobStates."""

    def __init__(self, websocket: WebSocket, address: str) -> None:
        self.websocket = websocket
        self.address = address
        self.active = False  # broadcasts reach it only after its own Workers and JobStates
        self.dropped = False
        self.writer: asyncio.Task[None] | None = None
        self._outbox: deque[str] = deque()
        self._ready = asyncio.Event()

    def push(self, text: str) -> None:
        if self.dropped:
            return
        if len(self._outbox) < OUTBOX_FRAMES:
            self._outbox.append(text)
            self._ready.set()
            return
        # It fell behind: it reconnects and starts again from a fresh JobStates. Its writer is most likely
        # stuck in a send the client does not read, so it is stopped rather than told.
        self.dropped = True
        self._outbox.clear()
        if self.writer is not None:
            self.writer.cancel()

    def refuse(self, error: AsmanError, job: Any = None) -> None:
        payload: dict[str, Any] = {"error": error.code, "message": error.message}
        if isinstance(job, str):
            payload["jobId"] = job
        self.push(_frame(ERROR, payload))

    async def write(self) -> None:
        """Send what is pushed, until the client stops reading (or is dropped, which cancels this)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox:
                text = self._outbox.popleft()
                async with asyncio.timeout(STALLED_CLIENT_SECONDS):
                    await self.websocket.send_text(text)


class Room:
    """The clients of one queue on this replica, and the pump that keeps them up to date.

    Every JobStates goes to all of them, so what the room remembers of each job is what every client was sent
    last: a change is sent as that job moved on by it, without reading the store. A client that connects
    waits for the next JobStates (at most SNAPSHOT_GAP).
    """

    def __init__(self, service: JobService, queue: str) -> None:
        self.service = service
        self.queue = queue
        self.clients: set[Client] = set()
        # Work for the pump's next round.
        self._changes: list[StateChanged] = []
        self._fresh: list[Client] = []
        self._asks: dict[tuple[Client, str], None] = {}
        self._snapshot_due = False
        self._workers_due = False
        self._last_snapshot = -SNAPSHOT_EVERY
        self._jobs: dict[str, dict[str, Any]] = {}  # QueueJob by id, hidden ones too
        self._wake = asyncio.Event()
        self._unsubscribe = service.notifier.subscribe(self._on_event, queue)
        self.task = asyncio.create_task(self._pump(), name=f"asman-clients-{queue[:40]}")

    def close(self) -> None:
        self._unsubscribe()
        self.task.cancel()

    # -- what the pump is asked to do -------------------------------------------------------------------------

    def join(self, client: Client) -> None:
        self.clients.add(client)
        self._fresh.append(client)
        self._wake.set()

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        if client in self._fresh:
            self._fresh.remove(client)

    def snapshot_soon(self) -> None:
        self._snapshot_due = True
        self._wake.set()

    def ask(self, client: Client, job_id: str) -> None:
        if len(self._asks) >= PENDING_ASKS:
            client.refuse(RateLimited("too many QueryJob messages at once: wait for the answers"), job_id)
            return
        self._asks[(client, job_id)] = None
        self._wake.set()

    def _on_event(self, event: Event) -> None:
        match event:
            case StateChanged():
                self._changes.append(event)
                if event.state is JobState.QUEUED:
                    self._snapshot_due = True  # upstream sends every client the whole queue after an enqueue
            case LogsAppended():
                text = _frame(
                    JOB_STATUS_PAYLOAD,
                    {
                        "jobId": event.job_id,
                        "step": STEP_NAMES.get(event.step, event.step),
                        "logs": event.lines,
                    },
                )
                for client in self.clients:
                    if client.active:
                        client.push(text)
                return
            case WorkersChanged():
                self._workers_due = True
            case Resync():  # events may have been missed: everything is read again
                self._snapshot_due = self._workers_due = True
            case _:
                return
        self._wake.set()

    # -- the pump ---------------------------------------------------------------------------------------------

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait = self._idle_seconds(loop.time())
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                continue
            try:
                await self._round(loop.time())
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store is unreachable, say: the next round reads everything again.
                log.exception("client updates for queue %s failed; retrying in 1 s", self.queue)
                self._snapshot_due = self._workers_due = True
                await asyncio.sleep(1)

    def _snapshot_at(self) -> float:
        urgent = self._snapshot_due or self._fresh
        return self._last_snapshot + (SNAPSHOT_GAP if urgent else SNAPSHOT_EVERY)

    def _idle_seconds(self, now: float) -> float:
        if self._changes or self._asks or self._workers_due:
            return 0.0
        return max(0.0, self._snapshot_at() - now)

    async def _round(self, now: float) -> None:
        full = now >= self._snapshot_at()
        changes, self._changes = self._changes, []
        if len(changes) > BURST:
            changes, self._snapshot_due = [], True  # the next JobStates says it all at once
        asks, self._asks = self._asks, {}
        workers_due, self._workers_due = self._workers_due, False
        fresh: list[Client] = []
        if full:
            fresh, self._fresh, self._snapshot_due = self._fresh, [], False
        active = [client for client in self.clients if client.active]
        try:
            # Changes first, then the snapshot read after them: what a client is sent never goes back.
            for text in await self._updates(changes):
                for client in active:
                    client.push(text)
            if workers_due or fresh:
                text = _workers(await connected_workers(self.service, self.queue))
                for client in [*active, *fresh] if workers_due else fresh:
                    client.push(text)
            if full:
                text = await self._snapshot()
                self._last_snapshot = asyncio.get_running_loop().time()
                for client in [*active, *fresh]:
                    client.push(text)
        except BaseException:
            self._fresh[:0] = [client for client in fresh if client in self.clients]
            raise
        for client in fresh:
            client.active = True
        for client, job_id in asks:
            job = self._jobs.get(job_id) or await self._read(job_id)
            client.push(_job_states({job_id: job} if job else {}, subset=True))

    async def _updates(self, changes: list[StateChanged]) -> list[str]:
        """JobStateUpdates frames for `changes`, in order; a job changing twice starts a new frame."""
        frames: list[str] = []
        batch: dict[str, dict[str, Any]] = {}
        for change in changes:
            known = self._jobs.get(change.job_id)
            if known is not None:
                moved = _advanced(known, change)
            else:
                # New to the clients: the store has its queue time and namespaces, possibly a later state too,
                # but every client is to see each step, this one first.
                job = await self._read(change.job_id)
                moved = _overlay(job, change) if job is not None else None
            if moved is None:
                continue
            self._remember(change.job_id, moved)
            if not sendable(moved):
                self._snapshot_due = True  # the clients drop it with the next JobStates
                continue
            if change.job_id in batch:
                frames.append(_job_states(batch, subset=True))
                batch = {}
            batch[change.job_id] = moved
        if batch:
            frames.append(_job_states(batch, subset=True))
        return frames

    async def _read(self, job_id: str) -> dict[str, Any] | None:
        row = await self.service.store.get_job(self.queue, job_id)
        return queue_job(row) if row is not None else None

    def _remember(self, job_id: str, job: dict[str, Any]) -> None:
        self._jobs[job_id] = job
        if len(self._jobs) > CACHE_JOBS:
            self._jobs.pop(next(iter(self._jobs)))

    async def _snapshot(self) -> str:
        page = await self.service.store.list_jobs(self.queue, SNAPSHOT_JOBS, None, None)
        self._jobs = {row.job_id: queue_job(row) for row in page.jobs}
        return _job_states(self._jobs, subset=False)


class ClientRooms:
    """Every client socket of this replica, by queue."""

    def __init__(self, service: JobService, watchers: Watchers) -> None:
        self.service = service
        self.watchers = watchers
        settings = service.settings
        self.max_frame = settings.max_body_bytes
        self.limits = (
            TokenBuckets(settings.rate_limit, settings.rate_burst or 2 * settings.rate_limit)
            if settings.rate_limit > 0
            else None
        )
        self._rooms: dict[str, Room] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def join(self, queue: str, client: Client) -> Room:
        room = self._rooms.get(queue)
        if room is None:
            room = self._rooms[queue] = Room(self.service, queue)
        room.join(client)
        self.watchers.enter(queue)  # counted with the SSE watchers in the queue's status
        return room

    def leave(self, room: Room, client: Client) -> None:
        if client not in room.clients:
            return
        room.leave(client)
        self.watchers.leave(room.queue)
        if not room.clients and self._rooms.get(room.queue) is room:
            del self._rooms[room.queue]
            room.close()
            self._closing.add(room.task)
            room.task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        rooms, self._rooms = list(self._rooms.values()), {}
        for room in rooms:
            room.close()
        tasks = [*(room.task for room in rooms), *self._closing]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def allow(self, client: Client) -> bool:
        return self.limits is None or self.limits.allow(client.address, time.monotonic()) <= 0


async def client_socket(websocket: WebSocket) -> None:
    queue = await socket_queue(websocket)
    if queue is None:
        return
    rooms: ClientRooms = websocket.app.state.clients
    await websocket.accept()
    client = Client(websocket, websocket.app.state.limits.proxies.client(websocket.scope))
    room = rooms.join(queue, client)
    client.writer = asyncio.create_task(client.write(), name="asman-client-write")
    tasks = [asyncio.create_task(_read(rooms, room, client), name="asman-client-read"), client.writer]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        rooms.leave(room, client)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    if isinstance(results[1], TimeoutError):
        log.warning(
            "closed a client socket of queue %s that read nothing for %g s", queue, STALLED_CLIENT_SECONDS
        )
    if client.dropped:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await websocket.close(code=1013, reason="too slow to keep up: reconnect")


async def _read(rooms: ClientRooms, room: Room, client: Client) -> None:
    while True:
        message = await client.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if not text:
            continue  # binary frames: upstream's clients send none
        if text == PING:
            client.push(PONG)
            continue
        if not text.startswith("{"):
            continue  # upstream's browser sends "undefined" once it connects
        if len(text) > rooms.max_frame:
            client.refuse(InvalidInput(f"a message may hold at most {rooms.max_frame} characters"))
            continue
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        payload = data.get("payload")
        try:
            await _handle(rooms, room, client, data.get("type"), payload if isinstance(payload, dict) else {})
        except AsmanError as exc:
            client.refuse(exc, payload.get("job") if isinstance(payload, dict) else None)
        except Exception:
            log.exception("a client message on queue %s failed", room.queue)
            client.refuse(AsmanError("internal error: the server logged the details"))


async def _handle(rooms: ClientRooms, room: Room, client: Client, kind: Any, payload: dict[str, Any]) -> None:
    if kind not in (STATE_CHANGE, QUERY_JOB, QUERY_JOB_STATES):
        return  # upstream ignores what it does not know
    if not rooms.allow(client):
        raise RateLimited("too many messages from this address: slow down")
    if kind == QUERY_JOB:
        job_id = payload.get("jobId")
        if isinstance(job_id, str) and job_id:
            room.ask(client, job_id)
    elif kind == QUERY_JOB_STATES:
        room.snapshot_soon()  # upstream answers every client of the queue
    else:
        await _state_change(rooms.service, room, client, payload)


async def _state_change(service: JobService, room: Room, client: Client, change: dict[str, Any]) -> None:
    state, value = change.get("state"), change.get("value")
    if not isinstance(value, dict):
        raise InvalidInput("a StateChange needs a 'value' object")
    if state == JobState.QUEUED.value:
        enqueued = value.get("enqueued")
        if not isinstance(enqueued, dict):
            raise InvalidInput("a Queued StateChange needs value.enqueued = {id, definition, control?}")
        body = {key: enqueued[key] for key in ("id", "definition", "control") if key in enqueued}
        if "id" not in body and isinstance(change.get("job"), str):
            body["id"] = change["job"]
        row = await service.submit(room.queue, body)
        room.ask(client, row.job_id)
    elif state == JobState.FINISHED.value:
        job_id, reason = change.get("job"), value.get("reason")
        namespace = value.get("namespace") or DEFAULT_NAMESPACE
        if not isinstance(job_id, str) or not isinstance(namespace, str):
            raise InvalidInput("a Finished StateChange needs 'job' (the job id) and a string namespace")
        if reason == FinishedReason.CANCELLED.value:
            await service.cancel(room.queue, job_id, namespace)
        elif reason == FinishedReason.DELETED.value:
            await _delete(service, room.queue, job_id, namespace)
        else:
            raise InvalidInput(
                "a client may only finish a job as Cancelled or Deleted: workers report results"
            )
    else:
        raise InvalidInput("a client StateChange is Queued (submit) or Finished (cancel or delete)")
    room.snapshot_soon()  # namespaces changed, which no event tells


async def _delete(service: JobService, queue: str, job_id: str, namespace: str) -> None:
    """Upstream's delete: the namespace lets go of the job, which is deleted once no namespace wants it."""
    row = await service.require_job(queue, job_id)
    if namespace == ALL_NAMESPACES or not set(row.namespaces) - {namespace}:
        await service.delete(queue, job_id)
    else:
        await service.cancel(queue, job_id, namespace)
