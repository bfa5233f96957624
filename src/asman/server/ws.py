"""The worker WebSocket endpoint, `/q/<queue>/worker`: registration, heartbeats, logs and results, with every
job message checked against the attempt the server handed out (fencing)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from asman.core import protocol
from asman.core.errors import AsmanError
from asman.core.names import JOB_ID, check_queue
from asman.core.protocol import JobResult, WorkerInfo
from asman.server.http import close_reason
from asman.server.hub import Hub, WorkerConn
from asman.server.views import stored_result

log = logging.getLogger(__name__)

MAX_LOG_LINES_PER_MESSAGE = 10_000


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
        first = await _receive(websocket)
        if first.get("type") != protocol.REGISTER:
            await websocket.close(code=1002, reason="the first message must be 'register'")
            return
        info = WorkerInfo.model_validate(first.get("worker") or {})
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
    service = hub.service
    stale = await service.renew(queue, info.id, announced)
    dropped = set(stale)  # a set: a check per announced job, not a scan of the stale list for each
    keep = [pair for pair in announced if pair not in dropped]
    conn.running.update(dict(keep))
    await send(
        {
            "type": protocol.REGISTERED,
            "leaseSeconds": hub.settings.lease_seconds,
            "heartbeatSeconds": hub.settings.heartbeat_seconds,
            "keep": [{"jobId": job, "attempt": attempt} for job, attempt in keep],
            "drop": [{"jobId": job, "attempt": attempt} for job, attempt in stale],
        }
    )
    await hub.add(conn)
    try:
        while True:
            message = await _receive(websocket)
            await _handle(hub, conn, message)
    except WebSocketDisconnect:
        pass
    except (ValueError, TypeError, ValidationError) as exc:  # TypeError: a field of the wrong type
        log.warning("worker %s sent a bad message: %s", info.id, exc)
        await websocket.close(code=1007, reason=close_reason(str(exc)))
    finally:
        await hub.remove(conn)


def _announced(running: Any, slots: int) -> list[tuple[str, int]] | str:
    """The (job, attempt) pairs a registering worker says it runs, or why they are refused. A worker runs at
    most one job per slot; some slack is allowed (it may still hold attempts the server has since dropped), but
    a list far longer is refused before any of it is looked at."""
    if running is None:
        return []
    if not isinstance(running, list):
        return "register: 'running' must be a list of {jobId, attempt}"
    if len(running) > 4 * slots + 16:
        return f"register: {len(running)} running jobs announced for {slots} slot(s)"
    pairs: list[tuple[str, int]] = []
    for item in running:
        job = item.get("jobId") if isinstance(item, dict) else None
        attempt = item.get("attempt") if isinstance(item, dict) else None
        if not isinstance(job, str) or not JOB_ID.fullmatch(job) or not isinstance(attempt, int):
            return "register: each running job is {jobId: <64 hex digits>, attempt: <integer>}"
        pairs.append((job, attempt))
    return pairs


async def _receive(websocket: WebSocket) -> dict[str, Any]:
    raw = await websocket.receive()
    if raw["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(raw.get("code", 1000))
    payload = raw.get("bytes") or raw.get("text") or ""
    message = orjson.loads(payload)
    if not isinstance(message, dict):
        raise ValueError("messages must be JSON objects")
    return message


def _within_log_budget(
    conn: WorkerConn, job: str, attempt: int, lines: list[list[Any]], limit: int
) -> list[list[Any]]:
    """Keep at most `limit` bytes of log text per attempt; past it, one marker line says what happened."""
    used = conn.log_bytes.get((job, attempt), 0)
    if used > limit:
        return []
    kept: list[list[Any]] = []
    for line in lines:
        used += len(str(line[0]) if line else "")
        if used > limit:
            kept.append(
                [
                    f"[asman] log truncated: over {limit} bytes for this run (ASMAN_MAX_LOG_BYTES)\n",
                    int(time.time() * 1000),
                    True,
                ]
            )
            used = limit + 1
            break
        kept.append(line)
    conn.log_bytes[(job, attempt)] = used
    return kept


async def _reject(conn: WorkerConn, job: str, attempt: int) -> None:
    await conn.send(protocol.rejected(job, attempt))


async def _handle(hub: Hub, conn: WorkerConn, message: dict[str, Any]) -> None:
    service = hub.service
    kind = message.get("type")
    if kind == protocol.HEARTBEAT:
        stale = await service.renew(conn.queue, conn.info.id, list(conn.running.items()))
        for job, attempt in stale:
            if conn.running.get(job) == attempt:
                del conn.running[job]
            await _reject(conn, job, attempt)
        await hub.touch(conn)
        if stale:
            hub.kick(conn.queue)
        return
    if kind == protocol.DRAIN:
        conn.draining = True
        return
    job = str(message.get("jobId", ""))
    attempt = int(message.get("attempt", -1))
    if kind == protocol.LOG:
        if conn.running.get(job) != attempt:
            await _reject(conn, job, attempt)
            return
        lines = [line for line in message.get("logs") or [] if isinstance(line, list)][
            :MAX_LOG_LINES_PER_MESSAGE
        ]
        lines = _within_log_budget(conn, job, attempt, lines, hub.settings.max_log_bytes)
        if not lines:
            return
        step = protocol.STEP_BUILD if message.get("step") == protocol.STEP_BUILD else protocol.STEP_RUN
        key = (job, attempt, step)
        offset = conn.log_lines.get(key)
        if offset is None:  # an attempt re-announced after a reconnect: count what is stored
            offset = await service.stored_log_lines(job, step)
        conn.log_lines[key] = offset + len(lines)
        await service.append_logs(conn.queue, job, attempt, step, lines, offset)
    elif kind == protocol.FINISHED:
        result = JobResult.model_validate(message.get("result") or {})
        was_mine = conn.running.pop(job, None) == attempt
        conn.log_bytes.pop((job, attempt), None)
        for step in (protocol.STEP_RUN, protocol.STEP_BUILD):
            conn.log_lines.pop((job, attempt, step), None)
        stored = stored_result(
            {**result.model_dump(exclude={"reason"}), "reason": result.reason.value},
            queue=conn.queue,
            worker=conn.info.id,
            attempt=attempt,
            time_ms=service.now(),
        )
        transition = await service.finish(conn.queue, job, attempt, result.reason, stored)
        if transition is None and was_mine:
            log.info("dropped the result of stale attempt %s of %s from %s", attempt, job[:12], conn.info.id)
        hub.kick(conn.queue)
    elif kind == protocol.RELEASE:
        conn.running.pop(job, None)
        await service.release(conn.queue, job, attempt)
    else:
        raise ValueError(f"unknown message type {kind!r}")
