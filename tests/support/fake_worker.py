"""A protocol-level worker: speaks the WebSocket protocol without running containers, so tests can drive
leases, attempts and stale messages precisely. Like Asman's worker, it echoes each attempt's token (taken from
the assignment) and numbers its log lines, unless a test says otherwise. With `assign_many` it announces that it
takes `assignMany` frames, as Asman's worker does, and hands their assignments out one by one; with
`finished_many`, that it sends `finishedMany` frames, and `finish_every_assignment` reports the results of one
frame's assignments in one."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from asman.core import protocol


class FakeWorker:
    def __init__(
        self,
        url: str,
        queue: str,
        worker_id: str,
        slots: int = 1,
        gpus: int = 0,
        token: str | None = None,
        assign_many: bool = False,
        finished_many: bool = False,
    ) -> None:
        self.headers = {"Authorization": f"Bearer {token}"} if token else None
        base = url.replace("http://", "ws://", 1)
        self.socket_url = f"{base}/q/{queue}/worker"
        self.info: dict[str, Any] = {"id": worker_id, "slots": slots, "gpus": gpus, "version": "test"}
        if assign_many:
            self.info["assignMany"] = True
        if finished_many:
            self.info["finishedMany"] = True
        self.frames: Counter[str] = Counter()  # frames received, by type
        self.unread: list[dict[str, Any]] = []  # the rest of an `assignMany` frame
        self.ws: ClientConnection | None = None
        self.registered: dict[str, Any] = {}
        # Each assigned attempt's token, and the next sequence number of its run log.
        self.tokens: dict[tuple[str, int], str] = {}
        self.seq: dict[tuple[str, int], int] = {}

    async def connect(self, running: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Register, announcing `running` ({jobId, attempt}, given the token this worker was handed unless the
        item names one)."""
        self.ws = await connect(self.socket_url, additional_headers=self.headers, max_size=None)
        announced = [
            {"token": self.tokens.get((item["jobId"], item["attempt"]), ""), **item} for item in running or []
        ]
        await self.send({"type": protocol.REGISTER, "worker": self.info, "running": announced})
        self.registered = await self.receive()
        assert self.registered["type"] == protocol.REGISTERED
        return self.registered

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(orjson.dumps(message))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        assert self.ws is not None
        if not self.unread:
            self.unread = self.messages(await asyncio.wait_for(self.ws.recv(), timeout))
        return self.unread.pop(0)

    def messages(self, raw: str | bytes) -> list[dict[str, Any]]:
        """The messages of one frame (an `assignMany` frame holds several), each assignment's token kept."""
        frame: dict[str, Any] = orjson.loads(raw)
        self.frames[frame.get("type", "")] += 1
        found = frame["assignments"] if frame.get("type") == protocol.ASSIGN_MANY else [frame]
        for message in found:
            if message.get("type") == protocol.ASSIGN:
                self.tokens[(message["jobId"], message["attempt"])] = message["token"]
        return found

    def token(self, job_id: str, attempt: int) -> str | None:
        return self.tokens.get((job_id, attempt))

    async def receive_type(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.receive(max(0.01, deadline - asyncio.get_running_loop().time()))
            if message["type"] == kind:
                return message

    async def heartbeat(self, running: list[dict[str, Any]]) -> None:
        await self.send({"type": protocol.HEARTBEAT, "running": running})

    async def log(self, job_id: str, attempt: int, text: str) -> None:
        await self.logs(job_id, attempt, [[text, 0, False]])

    async def logs(self, job_id: str, attempt: int, lines: list[list[Any]], seq: int | None = None) -> None:
        """Send run-log lines numbered from `seq` (default: after the lines sent before)."""
        first = self.seq.get((job_id, attempt), 0) if seq is None else seq
        self.seq[(job_id, attempt)] = first + len(lines)
        await self.send(
            {
                "type": protocol.LOG,
                "jobId": job_id,
                "attempt": attempt,
                "token": self.token(job_id, attempt),
                "step": "run",
                "seq": first,
                "logs": lines,
            }
        )

    async def finish(
        self,
        job_id: str,
        attempt: int,
        status: int = 0,
        reason: str = "Success",
        logs: list[list[Any]] | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> None:
        await self.send(
            {"type": protocol.FINISHED, **self.report(job_id, attempt, status, reason, logs, outputs)}
        )

    def report(
        self,
        job_id: str,
        attempt: int,
        status: int = 0,
        reason: str = "Success",
        logs: list[list[Any]] | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A `finished` message without its type: an entry of a `finishedMany` frame."""
        result = {"reason": reason, "StatusCode": status, "logs": logs or [], "outputs": outputs or {}}
        return {"jobId": job_id, "attempt": attempt, "token": self.token(job_id, attempt), "result": result}

    async def finish_many(self, reports: list[dict[str, Any]]) -> None:
        await self.send({"type": protocol.FINISHED_MANY, "results": reports})

    async def release(self, job_id: str, attempt: int) -> None:
        await self.send(
            {
                "type": protocol.RELEASE,
                "jobId": job_id,
                "attempt": attempt,
                "token": self.token(job_id, attempt),
            }
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def finish_every_assignment(
        self, result_of: Callable[[dict[str, Any]], dict[str, Any]], assigned: Counter[str] | None = None
    ) -> None:
        """Play a worker with many slots until the socket closes: finish each assignment at once, with the
        result `result_of(definition)`, counting the assignments per job in `assigned`."""
        assert self.ws is not None
        async for raw in self.ws:
            reports = []
            for message in self.messages(raw):
                if message.get("type") != protocol.ASSIGN:
                    continue
                if assigned is not None:
                    assigned[message["jobId"]] += 1
                result = {"reason": "Success", "StatusCode": 0, "logs": [], "outputs": {}}
                result.update(result_of(message["definition"]))
                reports.append({"jobId": message["jobId"], "attempt": message["attempt"], "result": result})
            await self.report_all(reports)

    async def report_all(self, reports: list[dict[str, Any]]) -> None:
        """Results ready at the same moment: in one frame where both ends take `finishedMany`."""
        if len(reports) > 1 and self.info.get("finishedMany") and self.registered.get("finishedMany"):
            await self.finish_many(reports)
        else:
            for report in reports:
                await self.send({"type": protocol.FINISHED, **report})
