"""The worker WebSocket endpoint, `/q/<queue>/worker`: registration, heartbeats, logs and results, with every
job message checked against the attempt the server handed out (fencing) and bound to the worker that holds it.

What a worker sends is bounded before it costs anything: each message type has a size cap, every check is
linear, and each connection is paced (messages and bytes per second; past them the server stops reading the
socket for a while, so TCP slows the sender down and other requests keep being served). A message that breaks
the protocol gets an `error` answer and one line in the server's log, never a traceback."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from asman.core import protocol
from asman.core.errors import AsmanError
from asman.core.names import JOB_ID, check_queue
from asman.core.protocol import JobResult, WorkerInfo
from asman.core.states import FinishedReason
from asman.server.attempt_logs import admit
from asman.server.http import close_reason
from asman.server.hub import Hub, WorkerConn
from asman.server.views import stored_result
from asman.store.base import LogCount, Report

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
# The largest message of each type (`finished`: ASMAN_MAX_RESULT_BYTES). A legitimate worker stays far below.
MAX_BYTES = {
    protocol.REGISTER: 1 * MIB,
    protocol.HEARTBEAT: 1 * MIB,
    protocol.LOG: 8 * MIB,
    protocol.RELEASE: 4 * KIB,
    protocol.DRAIN: 4 * KIB,
}
MAX_LOG_LINES_PER_MESSAGE = 10_000
MAX_INFO_BYTES = 16 * KIB
MAX_TOKEN_CHARS = 128
# Pace per connection: a worker streaming logs of many jobs sends tens of messages a second, and one finishing
# short jobs on many slots (a sweep) thousands of results; each message costs the loop tens of microseconds, so
# this pace leaves it free for everyone else while not capping the lifecycle (bench/NOTES.md).
MESSAGES_PER_SECOND = 5000.0
MESSAGE_BURST = 10_000.0
BYTES_PER_SECOND = 8.0 * MIB
BYTE_BURST = 32.0 * MIB
# A worker's bad messages are logged up to this many times per connection, then counted silently.
LOGGED_BAD_MESSAGES = 5
# Results of one connection being recorded at once; past this the connection's next message waits.
MOST_PENDING_FINISHES = 64


class BadMessage(Exception):
    """A message that breaks the protocol, refused with this reason (and the job it is about, when known)."""

    def __init__(self, why: str, job: str | None = None, attempt: int | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.job = job
        self.attempt = attempt


@dataclass(frozen=True, slots=True)
class _Finish:
    """A result on its way to the store, and whether this connection held its attempt."""

    report: Report
    was_mine: bool


def _failure(why: str) -> tuple[JobResult, str]:
    return JobResult(reason=FinishedReason.ERROR, error=why), why


class Pace:
    """A token bucket: how long to wait before the next message so the rate stays within bounds."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.level = burst
        self.at = time.monotonic()

    def delay(self, cost: float) -> float:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate) - cost
        self.at = now
        return -self.level / self.rate if self.level < 0 else 0.0


async def socket_queue(websocket: WebSocket) -> str | None:
    """The queue a socket is opened on, or None once a bad name has been refused."""
    queue: str = websocket.path_params["queue"]
    try:
        return check_queue(queue)
    except AsmanError as exc:
        await websocket.close(code=1008, reason=close_reason(exc.message))
        return None


async def worker_socket(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    queue = await socket_queue(websocket)
    if queue is None:
        return
    required = hub.settings.worker_token(queue)
    if required is not None:
        offered = websocket.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), required.encode()):
            await websocket.close(
                code=1008, reason="this queue needs a worker token: asman worker --token ..."
            )
            return
    await websocket.accept()
    send_lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_bytes(orjson.dumps(message))

    try:
        first, size = await _receive(websocket)
        if first.get("type") != protocol.REGISTER:
            await websocket.close(code=1002, reason="the first message must be 'register'")
            return
        if size > MAX_BYTES[protocol.REGISTER]:
            raise ValueError(f"{size} bytes, over the limit of {MAX_BYTES[protocol.REGISTER]}")
        info = WorkerInfo.model_validate(first.get("worker") or {})
        if len(orjson.dumps(info.model_dump())) > MAX_INFO_BYTES:
            raise ValueError(f"the worker's description is over {MAX_INFO_BYTES} bytes")
    except (ValidationError, ValueError) as exc:
        await websocket.close(code=1007, reason=close_reason(f"invalid registration: {exc}"))
        return
    except WebSocketDisconnect:
        return

    announced = _announced(first.get("running"), info.slots)
    if isinstance(announced, str):
        await websocket.close(code=1007, reason=close_reason(announced))
        return
    conn = WorkerConn(queue=queue, info=info, send=send)
    keep = await _take_back(hub, conn, announced)
    kept = set(keep)
    drop = [(job, attempt) for job, attempt, _ in announced if (job, attempt) not in kept]
    await send(
        {
            "type": protocol.REGISTERED,
            "leaseSeconds": hub.settings.lease_seconds,
            "heartbeatSeconds": hub.settings.heartbeat_seconds,
            "keep": [
                {"jobId": job, "attempt": attempt, "logs": _log_positions(conn, job, attempt)}
                for job, attempt in keep
            ],
            "drop": [{"jobId": job, "attempt": attempt} for job, attempt in drop],
            # Taken only from workers that announce it (upstream's and older Asman workers send `finished`).
            "finishedMany": True,
        }
    )
    await hub.add(conn)
    worker = _Worker(hub, conn)
    messages = Pace(MESSAGES_PER_SECOND, MESSAGE_BURST)
    volume = Pace(BYTES_PER_SECOND, BYTE_BURST)
    try:
        while True:
            message, size = await _receive(websocket)
            wait = max(messages.delay(_weight(message)), volume.delay(size))
            if wait > 0:
                await asyncio.sleep(wait)
            await worker.handle(message, size)
    except WebSocketDisconnect as exc:
        if exc.code == 1009:
            log.warning(
                "worker %s sent a message over the server's WebSocket limit; its connection was closed",
                info.id[:80],
            )
    except ValueError as exc:  # not JSON at all: the connection cannot be trusted to frame anything
        log.warning("worker %s sent a message that is not JSON: %s", info.id[:80], str(exc)[:200])
        await websocket.close(code=1007, reason=close_reason(str(exc)))
    finally:
        await worker.settled()
        await hub.remove(conn)


def _announced(running: Any, slots: int) -> list[tuple[str, int, str]] | str:
    """The (job, attempt, token) triples a registering worker says it runs, or why they are refused. A worker
    runs at most one job per slot; some slack is allowed (it may still hold attempts the server has since
    dropped), but a list far longer is refused before any of it is looked at. A worker that sends no token has
    the empty one, which only attempts handed out before tokens existed have."""
    if running is None:
        return []
    if not isinstance(running, list):
        return "register: 'running' must be a list of {jobId, attempt, token}"
    if len(running) > 4 * slots + 16:
        return f"register: {len(running)} running jobs announced for {slots} slot(s)"
    found: list[tuple[str, int, str]] = []
    for item in running:
        job = item.get("jobId") if isinstance(item, dict) else None
        attempt = item.get("attempt") if isinstance(item, dict) else None
        token = item.get("token", "") if isinstance(item, dict) else None
        if not isinstance(job, str) or not JOB_ID.fullmatch(job) or not _is_int(attempt) or attempt >= 2**31:
            return "register: each running job is {jobId: <64 hex digits>, attempt: <integer>, token}"
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return f"register: a token is a string of at most {MAX_TOKEN_CHARS} characters"
        found.append((job, attempt, token))
    return found


async def _take_back(
    hub: Hub, conn: WorkerConn, announced: list[tuple[str, int, str]]
) -> list[tuple[str, int]]:
    """The announced attempts this connection holds from now on: those still current whose token matches."""
    pairs = [(job, attempt) for job, attempt, _ in announced]
    stale = await hub.service.renew(conn.queue, conn.info.id, pairs, [token for _, _, token in announced])
    dropped = set(stale)  # a set: a check per announced job, not a scan of the stale list for each
    keep = []
    for job, attempt, token in announced:
        if (job, attempt) not in dropped:
            conn.hold(job, attempt, token)
            conn.logs[(job, attempt)] = await hub.service.log_counts(conn.queue, job, attempt)
            keep.append((job, attempt))
    return keep


def _log_positions(conn: WorkerConn, job: str, attempt: int) -> dict[str, int]:
    return {step: count.next_seq for step, count in conn.logs.get((job, attempt), {}).items()}


async def _receive(websocket: WebSocket) -> tuple[dict[str, Any], int]:
    """The next message and its size in bytes."""
    raw = await websocket.receive()
    if raw["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(raw.get("code", 1000))
    payload = raw.get("bytes") or raw.get("text") or ""
    message = orjson.loads(payload)
    if not isinstance(message, dict):
        raise ValueError("messages must be JSON objects")
    return message, len(payload)


def _weight(message: dict[str, Any]) -> int:
    """What a message counts for in the connection's pace: one, and a `finishedMany` one per result it holds.
    Each result costs the loop what a `finished` message does (the checks, the result's validation, its
    record), and the pace is there to bound that cost: batching saves the server the work of a frame per
    result, and must not buy a worker more of the server than `finished` messages would."""
    if message.get("type") == protocol.FINISHED_MANY:
        results = message.get("results")
        return max(1, len(results)) if isinstance(results, list) else 1
    return 1


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _about(message: dict[str, Any]) -> tuple[str, int, str | None]:
    """The attempt a job message is about: (job, attempt, token or None)."""
    job, attempt, token = message.get("jobId"), message.get("attempt"), message.get("token")
    if not isinstance(job, str) or not JOB_ID.fullmatch(job):
        raise BadMessage("'jobId' must be a job id (64 hex digits)")
    if not _is_int(attempt) or not 0 <= attempt < 2**31:
        raise BadMessage("'attempt' must be a whole number below 2**31", job)
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS):
        raise BadMessage(f"'token' must be a string of at most {MAX_TOKEN_CHARS} characters", job, attempt)
    return job, attempt, token


def _log_lines(raw: Any) -> list[list[Any]]:
    if not isinstance(raw, list):
        raise BadMessage("'logs' must be a list of [text, epochMs, isStdErr]")
    if len(raw) > MAX_LOG_LINES_PER_MESSAGE:
        raise BadMessage(
            f"{len(raw)} log lines in one message, over the limit of {MAX_LOG_LINES_PER_MESSAGE}"
        )
    for line in raw:
        if not isinstance(line, list) or not 1 <= len(line) <= 3 or not isinstance(line[0], str):
            raise BadMessage("each log line is [text, epochMs, isStdErr]")
    return raw


class _Worker:
    """One registered worker connection's messages, each handled in turn."""

    def __init__(self, hub: Hub, conn: WorkerConn) -> None:
        self.hub = hub
        self.conn = conn
        self.service = hub.service
        self.bad = 0
        self.renewed = 0.0
        self.pending: set[asyncio.Task[None]] = set()
        self.recording = 0  # results in `pending`

    async def handle(self, message: dict[str, Any], size: int) -> None:
        kind = message.get("type")
        try:
            if kind == protocol.FINISHED:
                await self.finished([message], [size])
                return
            if kind == protocol.FINISHED_MANY:
                await self.finished_many(message, size)
                return
            cap = MAX_BYTES.get(str(kind))
            if cap is None:
                raise BadMessage(f"unknown message type {str(kind)[:40]!r}")
            if size > cap:
                raise BadMessage(f"a {kind} message of {size} bytes, over the limit of {cap}")
            if kind == protocol.HEARTBEAT:
                await self.heartbeat()
            elif kind == protocol.DRAIN:
                self.conn.draining = True
            elif kind == protocol.LOG:
                await self.logs(message)
            else:
                await self.release(message)
        except BadMessage as exc:
            await self.refuse(exc)

    async def refuse(self, exc: BadMessage) -> None:
        self.bad += 1
        if self.bad <= LOGGED_BAD_MESSAGES:
            more = " (further ones are not logged)" if self.bad == LOGGED_BAD_MESSAGES else ""
            log.warning("worker %s sent a bad message: %s%s", self.conn.info.id[:80], exc.why[:200], more)
        await self.conn.send(protocol.refused(exc.why, exc.job, exc.attempt))

    async def reject(self, job: str, attempt: int) -> None:
        await self.conn.send(protocol.rejected(job, attempt))

    def bound(self, job: str, attempt: int, token: str | None) -> str | None:
        """The token to fence a message with, or None when this connection may not speak for the attempt: the
        connection holds the attempt (and the message names its token, if any), or the message names a token
        the store checks."""
        conn = self.conn
        if conn.holds(job, attempt):
            held = conn.tokens.get(job, "")
            if token is not None and not hmac.compare_digest(token.encode(), held.encode()):
                return None
            return held
        return token

    async def heartbeat(self) -> None:
        # The leases renewed are those this connection holds, whatever the message lists: more heartbeats than
        # the lease needs change nothing, so they cost nothing either.
        now = time.monotonic()
        if now - self.renewed < self.hub.settings.heartbeat_seconds / 4:
            return
        self.renewed = now
        conn = self.conn
        stale = await self.service.renew(conn.queue, conn.info.id, list(conn.running.items()))
        lease = self.hub.settings.lease_seconds
        for job, attempt in stale:
            if conn.holds(job, attempt):
                # A cancelled attempt is stale by design: rejecting it would make the worker drop its last
                # logs (the containers' end) and free the slot before the container is gone.
                if now - conn.stopping.get(job, -lease) < lease:
                    continue
                conn.forget(job)
            await self.reject(job, attempt)
        await self.hub.touch(conn)
        if stale:
            self.hub.kick(conn.queue)

    async def logs(self, message: dict[str, Any]) -> None:
        conn = self.conn
        job, attempt, token = _about(message)
        if self.bound(job, attempt, token) is None or not conn.holds(job, attempt):
            await self.reject(job, attempt)
            return
        lines = _log_lines(message.get("logs"))
        seq = message.get("seq")
        if seq is not None and (not _is_int(seq) or not 0 <= seq < 2**53):
            raise BadMessage("'seq' must be a whole number below 2**53", job, attempt)
        step = protocol.STEP_BUILD if message.get("step") == protocol.STEP_BUILD else protocol.STEP_RUN
        limit = self.hub.settings.max_log_bytes
        for _ in range(2):  # once more if another connection moved the counts meanwhile
            counts = conn.logs.get((job, attempt))
            if counts is None:
                counts = conn.logs[(job, attempt)] = await self.service.log_counts(conn.queue, job, attempt)
            admitted = admit(counts, step, seq, lines, limit)
            if admitted is None:
                return
            before = counts.get(step, LogCount())
            if await self.service.append_logs(conn.queue, job, attempt, step, admitted, before):
                counts[step] = admitted.after
                return
            conn.logs.pop((job, attempt), None)

    async def finished_many(self, message: dict[str, Any], size: int) -> None:
        """A `finishedMany` frame: each result taken as a `finished` message would be, with its own errors,
        and all of them recorded together."""
        if not self.conn.info.finishedMany:
            raise BadMessage(
                "a finishedMany frame from a worker that did not announce it: register with"
                " worker.finishedMany = true, or send one finished message per result"
            )
        results = message.get("results")
        most = protocol.FINISHED_MANY_MOST_RESULTS
        if not isinstance(results, list) or not 1 <= len(results) <= most:
            raise BadMessage(f"'results' must be a list of 1 to {most} {{jobId, attempt, token, result}}")
        # A frame may be as large as its results may be together (ASMAN_MAX_RESULT_BYTES each), up to a bound
        # that refuses it whole. Only a frame larger than one result may be can hold a result over its cap (a
        # frame over the results' sum always does): then each result is measured, so those over the cap fail
        # alone, as a `finished` over it would, and the others are recorded.
        bound = protocol.FINISHED_MANY_MOST_BYTES
        if size > bound:
            raise BadMessage(
                f"a finishedMany frame of {size} bytes, over the limit of {bound}: send fewer results a frame"
            )
        measure = size > self.hub.settings.max_result_bytes
        sizes = [len(orjson.dumps(one)) if measure else 0 for one in results]
        await self.finished(results, sizes)

    async def finished(self, reports: list[Any], sizes: list[int]) -> None:
        """Results, each checked, fenced and answered on its own (an error, a rejection) and then recorded
        together, in one call to the store's batch of finishes; the next messages are read meanwhile."""
        finishes: list[_Finish] = []
        refused: list[BadMessage] = []
        for report, size in zip(reports, sizes, strict=True):
            try:
                job, attempt, token = _about(report if isinstance(report, dict) else {})
                result, why = self.checked(report, size)
            except BadMessage as exc:
                await self.refuse(exc)
                continue
            finish = await self.bind(job, attempt, token, result)
            if finish is not None:
                finishes.append(finish)
            if why is not None:
                refused.append(BadMessage(why, job, attempt))
        if finishes:
            await self.record(finishes)
        for bad in refused:  # after the failure they report is on its way to the store
            await self.refuse(bad)

    def checked(self, report: dict[str, Any], size: int) -> tuple[JobResult, str | None]:
        """The result a report ends its attempt with, and why it is not the one the worker sent (it ends the
        attempt as an Error that says so: running it again would fail the same way)."""
        cap = self.hub.settings.max_result_bytes
        if size > cap:
            return _failure(
                f"the worker's result was {size} bytes, over the server's limit of {cap}"
                " (ASMAN_MAX_RESULT_BYTES): write fewer or larger output files (an archive, say)"
            )
        raw = report.get("result")
        try:
            result = JobResult.model_validate(raw if isinstance(raw, dict) else {})
        except ValidationError as exc:
            why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            return _failure(f"the worker sent a malformed result ({why[:300]})")
        limit = self.hub.settings.max_outputs
        if len(result.outputs) > limit:
            return _failure(
                f"the job wrote {len(result.outputs)} output files, over the server's limit of {limit}"
                " (ASMAN_MAX_OUTPUTS): pack them into an archive"
            )
        return result, None

    async def bind(self, job: str, attempt: int, token: str | None, result: JobResult) -> _Finish | None:
        """The finish to record for an attempt's result, or None when this connection may not speak for the
        attempt (it is told so)."""
        conn = self.conn
        fence = self.bound(job, attempt, token)
        if fence is None:
            await self.reject(job, attempt)
            return None
        was_mine = conn.holds(job, attempt)
        if was_mine:
            conn.forget(job)
        stored = stored_result(
            {**result.model_dump(exclude={"reason"}), "reason": result.reason.value},
            queue=conn.queue,
            worker=conn.info.id,
            attempt=attempt,
            time_ms=self.service.now(),
        )
        return _Finish(Report(conn.queue, job, attempt, result.reason, stored, token=fence), was_mine)

    async def record(self, finishes: list[_Finish]) -> None:
        # Not awaited here: the next messages are read meanwhile, so this connection's results share the
        # store's transactions with each other as well as with other connections'.
        while self.recording >= MOST_PENDING_FINISHES:
            await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)
        self.recording += len(finishes)
        task = asyncio.get_running_loop().create_task(self.settle(finishes), name="asman-finish")
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def settle(self, finishes: list[_Finish]) -> None:
        conn = self.conn
        try:
            answers = await self.service.finish_many([finish.report for finish in finishes])
        except Exception:
            # The lease runs out and the jobs are queued again, as when the connection drops.
            log.exception("could not record %d result(s) from %s", len(finishes), conn.info.id)
            return
        finally:
            self.recording -= len(finishes)
        for finish, answer in zip(finishes, answers, strict=True):
            job, attempt = finish.report.job_id, finish.report.attempt
            if isinstance(answer, Exception):
                log.error(
                    "could not record the result of attempt %s of %s from %s",
                    attempt,
                    job[:12],
                    conn.info.id,
                    exc_info=answer,
                )
            elif answer is None:
                if finish.was_mine:
                    log.info(
                        "dropped the result of stale attempt %s of %s from %s",
                        attempt,
                        job[:12],
                        conn.info.id,
                    )
                else:
                    await self.reject(job, attempt)
        self.hub.kick(conn.queue)

    async def settled(self) -> None:
        """Wait for the results this connection reported to be recorded."""
        while self.pending:
            await asyncio.wait(self.pending)

    async def release(self, message: dict[str, Any]) -> None:
        # A result reported before is recorded first, as when results were recorded in turn: a release of
        # the same attempt then finds it finished.
        await self.settled()
        conn = self.conn
        job, attempt, token = _about(message)
        fence = self.bound(job, attempt, token)
        if fence is None:
            await self.reject(job, attempt)
            return
        if conn.holds(job, attempt):
            conn.forget(job)
        if await self.service.release(conn.queue, job, attempt, fence) is None:
            await self.reject(job, attempt)
