"""A protocol-level worker for several API replicas: it fails over to the next replica when its connection is
lost, re-announcing what it runs, and 'runs' each job by sleeping (src/asman/core/protocol.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from asman.core import protocol


@dataclass
class FailoverWorker:
    """Speaks the worker protocol (src/asman/core/protocol.py) and 'runs' each job by sleeping."""

    urls: list[str]  # API base URLs, in order of preference: it fails over to the next on a lost connection
    worker_id: str
    queue: str
    slots: int = 2
    run_seconds: float = 0.3
    assigned: list[tuple[str, int]] = field(default_factory=list)
    finished: list[tuple[str, int]] = field(default_factory=list)
    rejected: list[tuple[str, int]] = field(default_factory=list)
    connections: int = 0
    running: dict[str, int] = field(default_factory=dict)
    _ws: ClientConnection | None = None
    _online: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def send(self, message: dict[str, Any]) -> None:
        """Send on the live connection, waiting out a reconnect if there is none right now."""
        while True:
            await self._online.wait()
            ws = self._ws
            if ws is None:
                continue
            try:
                await ws.send(orjson.dumps(message))
                return
            except websockets.ConnectionClosed:
                self._online.clear()

    async def run(self) -> None:
        index = 0
        while True:
            url = self.urls[index % len(self.urls)].replace("http://", "ws://") + f"/q/{self.queue}/worker"
            try:
                async with connect(url, open_timeout=5, max_size=None) as ws:
                    await ws.send(
                        orjson.dumps(
                            {
                                "type": protocol.REGISTER,
                                "worker": {"id": self.worker_id, "slots": self.slots, "gpus": 0},
                                "running": [{"jobId": job, "attempt": n} for job, n in self.running.items()],
                            }
                        )
                    )
                    registered = orjson.loads(await ws.recv())
                    assert registered["type"] == protocol.REGISTERED, registered
                    for item in registered["drop"]:
                        self._stop(item["jobId"], item["attempt"])
                    self._ws = ws
                    self.connections += 1
                    self._online.set()
                    beat = asyncio.create_task(self._heartbeat(ws))
                    try:
                        async for raw in ws:
                            self._handle(orjson.loads(raw))
                    finally:
                        beat.cancel()
            except (OSError, websockets.WebSocketException, TimeoutError):
                pass
            self._online.clear()
            self._ws = None
            index += 1  # this replica is gone or going: try the next one
            await asyncio.sleep(0.2)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(0.5)
                running = [{"jobId": job, "attempt": n} for job, n in self.running.items()]
                await ws.send(orjson.dumps({"type": protocol.HEARTBEAT, "running": running}))

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == protocol.ASSIGN:
            job, attempt = message["jobId"], int(message["attempt"])
            self.assigned.append((job, attempt))
            self.running[job] = attempt
            self._tasks[job] = asyncio.create_task(self._job(job, attempt, message["definition"]))
        elif kind in (protocol.REJECTED, protocol.CANCEL):
            self.rejected.append((message["jobId"], int(message["attempt"])))
            self._stop(message["jobId"], int(message["attempt"]))

    def _stop(self, job: str, attempt: int) -> None:
        if self.running.get(job) == attempt:
            del self.running[job]
            task = self._tasks.pop(job, None)
            if task is not None:
                task.cancel()

    async def _job(self, job: str, attempt: int, definition: dict[str, Any]) -> None:
        started = time.time()
        await self.send(
            {
                "type": protocol.LOG,
                "jobId": job,
                "attempt": attempt,
                "step": protocol.STEP_RUN,
                "logs": [[f"{definition['command']} on {self.worker_id}", int(started * 1000), False]],
            }
        )
        await asyncio.sleep(self.run_seconds)
        result = {
            "reason": "Success",
            "StatusCode": 0,
            "logs": [],
            "duration": int((time.time() - started) * 1000),
        }
        await self.send({"type": protocol.FINISHED, "jobId": job, "attempt": attempt, "result": result})
        self.finished.append((job, attempt))
        self.running.pop(job, None)
        self._tasks.pop(job, None)
