"""Worker connections on this replica and the dispatcher that assigns jobs to them.

The server assigns (workers never race to claim): oldest queued job first, to a connected worker with a free
slot and enough GPUs. Each assignment carries an attempt number (the fencing token) and a lease the worker
renews by heartbeat. Dispatch coalesces wake-ups, so a burst of submissions costs one claim round per worker,
not one per job; each queue is dispatched by a task of its own, so a busy queue never delays another's jobs,
and claims for several queues share the store's transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from asman.core import protocol
from asman.core.errors import BackendUnavailable
from asman.core.events import CancelRequested, Event, Resync, StateChanged
from asman.core.protocol import WorkerInfo
from asman.core.states import STOPS_CONTAINER, JobState
from asman.server.service import JobService, now_ms
from asman.store.base import LogCount, WorkerRow

log = logging.getLogger(__name__)

Sender = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class WorkerConn:
    queue: str
    info: WorkerInfo
    send: Sender
    running: dict[str, int] = field(default_factory=dict)
    # The secret of each running attempt (core/protocol.py): this connection holds the attempt, so its messages
    # need not repeat it.
    tokens: dict[str, str] = field(default_factory=dict)
    # What each running attempt's log holds per step, as the store counts it (loaded once per connection).
    logs: dict[tuple[str, int], dict[str, LogCount]] = field(default_factory=dict)
    # Attempts ended by a cancel or delete while this connection ran them (monotonic time of the end): their
    # containers are being stopped, so their slots are held until the worker reports, or for a lease at most.
    stopping: dict[str, float] = field(default_factory=dict)
    draining: bool = False
    connected_ms: int = field(default_factory=now_ms)

    def hold(self, job: str, attempt: int, token: str) -> None:
        self.forget(job)
        self.running[job] = attempt
        self.tokens[job] = token

    def forget(self, job: str) -> None:
        """This connection no longer holds the job's attempt."""
        attempt = self.running.pop(job, None)
        self.tokens.pop(job, None)
        self.stopping.pop(job, None)
        if attempt is not None:
            self.logs.pop((job, attempt), None)

    def holds(self, job: str, attempt: int) -> bool:
        return self.running.get(job) == attempt

    @property
    def free_slots(self) -> int:
        return 0 if self.draining else max(0, self.info.slots - len(self.running))

    def row(self, replica: str, now: int) -> WorkerRow:
        info = {**self.info.model_dump(), "connectedTime": self.connected_ms}
        return WorkerRow(self.queue, self.info.id, replica, info, now)


class Hub:
    def __init__(self, service: JobService) -> None:
        self.service = service
        self.settings = service.settings
        self._workers: dict[str, list[WorkerConn]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        # Queues whose dispatch task is running; a kick meanwhile makes that task go round once more.
        self._dispatching: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        # Messages on their way to workers, held so none is collected mid-send.
        self._sending: set[asyncio.Task[None]] = set()
        self._rotation = itertools.count()
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self.service.notifier.subscribe(self._on_event)
        self._tasks = [
            asyncio.create_task(self._supervise("dispatch", self._dispatch_loop), name="asman-dispatch"),
            asyncio.create_task(self._supervise("leases", self._lease_loop), name="asman-leases"),
        ]

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        tasks = [*self._tasks, *self._dispatching.values(), *self._sending]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Keep a background loop alive: a failing store must not silently stop dispatch for good."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except BackendUnavailable as exc:  # expected while the store is down: no traceback
                log.warning("%s loop paused for 1 s: %s", name, exc.message)
                await asyncio.sleep(1)
            except Exception:
                log.exception("%s loop failed; restarting in 1 s", name)
                await asyncio.sleep(1)

    # -- connections ------------------------------------------------------------------------------------------

    def workers(self, queue: str) -> list[WorkerConn]:
        return list(self._workers.get(queue, ()))

    async def add(self, conn: WorkerConn) -> None:
        self._workers.setdefault(conn.queue, []).append(conn)
        try:
            await self.service.register_worker(conn.row(self.settings.replica_id, self.service.now()))
        except BaseException:
            # Not registered, so not served: left in the list it would be handed jobs it never sees.
            self._forget(conn)
            raise
        self.kick(conn.queue)

    def _forget(self, conn: WorkerConn) -> None:
        conns = self._workers.get(conn.queue, [])
        if conn in conns:
            conns.remove(conn)
        if not conns:
            self._workers.pop(conn.queue, None)

    async def remove(self, conn: WorkerConn) -> None:
        self._forget(conn)
        try:
            await self.service.unregister_worker(conn.queue, conn.info.id, self.settings.replica_id)
        except BackendUnavailable as exc:  # its row goes unseen, and status drops it
            log.warning("could not unregister worker %s: %s", conn.info.id, exc.message)

    async def touch(self, conn: WorkerConn) -> None:
        await self.service.register_worker(
            conn.row(self.settings.replica_id, self.service.now()), announce=False
        )

    # -- dispatch ---------------------------------------------------------------------------------------------

    def kick(self, queue: str) -> None:
        if queue in self._workers:
            self._dirty.add(queue)
            self._wake.set()

    def _on_event(self, event: Event) -> None:
        match event:
            case StateChanged():
                if event.state is JobState.QUEUED:
                    self.kick(event.queue)
                self._forget_other_attempts(event)
            case CancelRequested():
                for conn in self._workers.get(event.queue, ()):
                    attempt = conn.running.get(event.job_id)
                    if attempt is not None:
                        self.send_soon(
                            conn, {"type": protocol.CANCEL, "jobId": event.job_id, "attempt": attempt}
                        )
            case Resync():
                for queue in list(self._workers):
                    self.kick(queue)

    def _forget_other_attempts(self, event: StateChanged) -> None:
        """A job that left Running (or runs as another attempt) is no longer this connection's to report on."""
        for conn in self._workers.get(event.queue, ()):
            attempt = conn.running.get(event.job_id)
            if attempt is None or event.predates(attempt):
                continue
            if event.state is JobState.RUNNING and event.attempt == attempt:
                continue
            if event.state is JobState.FINISHED and event.reason in STOPS_CONTAINER:
                # The cancel event stops the container; the slot frees when the worker reports.
                conn.stopping.setdefault(event.job_id, time.monotonic())
                continue
            conn.forget(event.job_id)
            self.send_soon(conn, protocol.rejected(event.job_id, attempt))
            self.kick(conn.queue)

    def send_soon(self, conn: WorkerConn, message: dict[str, Any]) -> None:
        """Send from a callback that cannot wait: the task is held until it is done."""
        task = asyncio.get_running_loop().create_task(self._send(conn, message), name="asman-send")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, conn: WorkerConn, message: dict[str, Any]) -> None:
        try:
            await conn.send(message)
        except Exception:  # a dead socket: the lease expires and the job is requeued
            log.info("could not send %s to worker %s", message.get("type"), conn.info.id)

    async def _dispatch_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            queues, self._dirty = self._dirty, set()
            for queue in queues:
                if queue in self._dispatching:
                    self._again.add(queue)
                else:
                    self._dispatching[queue] = asyncio.create_task(self._dispatch_queue(queue))

    async def _dispatch_queue(self, queue: str) -> None:
        """Dispatch one queue until no kick for it arrived meanwhile; one such task per queue at a time."""
        try:
            while True:
                self._again.discard(queue)
                try:
                    await self.dispatch(queue)
                except BackendUnavailable as exc:
                    log.warning("dispatch of queue %s paused for 1 s: %s", queue, exc.message)
                    await asyncio.sleep(1)
                except Exception:
                    # A failing store must not stop dispatch for good: the lease loop kicks every queue again.
                    log.exception("dispatch of queue %s failed; retrying on the next kick", queue)
                    await asyncio.sleep(1)
                if queue not in self._again:
                    return
        finally:
            self._dispatching.pop(queue, None)

    async def dispatch(self, queue: str) -> None:
        conns = [conn for conn in self._workers.get(queue, ()) if conn.free_slots > 0]
        if not conns:
            return
        # Rotate the starting worker so work spreads across workers with free slots.
        start = next(self._rotation) % len(conns)
        for conn in conns[start:] + conns[:start]:
            if conn.free_slots <= 0:
                continue
            assignments = await self.service.claim(queue, conn.info.id, conn.free_slots, conn.info.gpus)
            messages = []
            for assignment in assignments:
                conn.hold(assignment.job_id, assignment.attempt, assignment.token)
                conn.logs[(assignment.job_id, assignment.attempt)] = {}  # a new attempt has no log yet
                messages.append(
                    {
                        "type": protocol.ASSIGN,
                        "jobId": assignment.job_id,
                        "attempt": assignment.attempt,
                        "token": assignment.token,
                        "queue": queue,
                        "definition": assignment.definition,
                        "leaseSeconds": self.settings.lease_seconds,
                    }
                )
            if len(messages) > 1 and conn.info.assignMany:
                await self._send(conn, {"type": protocol.ASSIGN_MANY, "assignments": messages})
            else:
                for message in messages:
                    await self._send(conn, message)
            if not assignments:
                break  # the queue is empty for every worker alike

    async def _lease_loop(self) -> None:
        interval = max(0.2, min(1.0, self.settings.lease_seconds / 5))
        while True:
            await asyncio.sleep(interval)
            changes = await self.service.expire_leases()
            if changes:
                log.warning(
                    "leases expired: %s", [(c.job_id[:12], c.attempt, c.state.value) for c in changes]
                )
            # A periodic pass also covers events missed while a replica or the store was unreachable.
            for queue in list(self._workers):
                self.kick(queue)
