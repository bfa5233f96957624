"""Load-generating helper processes, run as `python -m bench.agents KIND ...` so they never share a CPU-bound
event loop with the server or with each other. Each prints JSON lines on stdout: one when ready, one when done.

  workers URL QUEUE N SLOTS SECONDS       N protocol-level workers that finish every assigned job at once
  submit URL QUEUE COUNT CONC TAG         COUNT distinct submits over CONC keep-alive connections, as fast as possible
  pace URL QUEUE RATE SECONDS TAG         distinct submits at a steady RATE per second (background load)
  probe URL QUEUE COUNT TAG               dispatch latency: one worker; submit, time until it is assigned, finish
  watchers URL PATH N                     N Server-Sent-Events clients; on stdin `report`, when each saw each job

All traffic goes to 127.0.0.1. Every loop is bounded by a count and by a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.common import RawHTTP, percentile, submit_body

FINISHED_RESULT = {"reason": "Success", "StatusCode": 0, "logs": [], "outputs": {}}


def finished(assign: dict[str, Any]) -> bytes:
    """The worker's answer to an assignment: done, at once, with nothing to show."""
    return orjson.dumps(
        {
            "type": "finished",
            "jobId": assign["jobId"],
            "attempt": assign["attempt"],
            "result": FINISHED_RESULT,
        }
    )


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def stop_signal(seconds: float) -> None:
    """Return on SIGTERM/SIGINT, or after `seconds` at the latest."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


# -- protocol-level workers ------------------------------------------------------------------------------------


async def workers(url: str, queue: str, n: int, slots: int, seconds: float) -> None:
    from tests.support.fake_worker import FakeWorker

    done = frames = 0  # results, and the frames that carried them
    pool = [
        FakeWorker(url, queue, f"bench-{queue[-6:]}-{i}", slots=slots, assign_many=True, finished_many=True)
        for i in range(n)
    ]
    for worker in pool:
        await worker.connect()

    async def serve(worker: FakeWorker) -> None:
        nonlocal done, frames
        assert worker.ws is not None
        async for raw in worker.ws:
            # The results of one frame's assignments are ready at the same moment: one frame back.
            reports = [
                {"jobId": message["jobId"], "attempt": message["attempt"], "result": FINISHED_RESULT}
                for message in worker.messages(raw)
                if message.get("type") == "assign"
            ]
            await worker.report_all(reports)
            done += len(reports)
            frames += len(reports) > 0

    tasks = [asyncio.create_task(serve(worker)) for worker in pool]
    emit({"ready": True, "workers": n, "slots": slots})
    await stop_signal(seconds)
    for task in tasks:
        task.cancel()
    for worker in pool:
        with contextlib.suppress(Exception):
            await worker.close()
    emit({"done": done, "frames": frames})


# -- submitters ------------------------------------------------------------------------------------------------


async def submit(url: str, queue: str, count: int, conc: int, tag: str, deadline_s: float = 300) -> None:
    host, port = host_port(url)
    clients = [RawHTTP(host, port) for _ in range(conc)]
    for client in clients:
        await client.connect()
    next_index = 0
    errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + deadline_s
    emit({"ready": True})

    async def run(client: RawHTTP) -> None:
        nonlocal next_index, errors
        while next_index < count and time.monotonic() < deadline:
            index = next_index
            next_index += 1
            raw = client.encode("POST", f"/q/{queue}", submit_body(f"echo {tag}-{index}"))
            began = time.monotonic()
            status, _ = await client.send_raw(raw)
            latencies.append(time.monotonic() - began)
            if status != 200:
                errors += 1

    t0 = time.monotonic()
    await asyncio.gather(*(run(client) for client in clients))
    t1 = time.monotonic()
    for client in clients:
        await client.close()
    emit(
        {
            "t0": t0,
            "t1": t1,
            "n": len(latencies),
            "errors": errors,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
        }
    )


async def pace(url: str, queue: str, rate: float, seconds: float, tag: str) -> None:
    """Steady background load: `rate` distinct submits per second over a few connections, for `seconds`."""
    host, port = host_port(url)
    conc = max(1, min(16, int(rate // 100) + 1))
    clients = [RawHTTP(host, port) for _ in range(conc)]
    for client in clients:
        await client.connect()
    sent = 0
    errors = 0
    emit({"ready": True})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    start = time.monotonic()
    interval = conc / rate

    async def run(slot: int, client: RawHTTP) -> None:
        nonlocal sent, errors
        due = start + slot * interval / conc
        while not stop.is_set() and time.monotonic() - start < seconds:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            due += interval
            status, _ = await client.request("POST", f"/q/{queue}", submit_body(f"echo {tag}-{slot}-{sent}"))
            sent += 1
            errors += status != 200

    await asyncio.gather(*(run(slot, client) for slot, client in enumerate(clients)))
    elapsed = time.monotonic() - start
    for client in clients:
        await client.close()
    emit({"sent": sent, "errors": errors, "rate": sent / elapsed if elapsed else 0.0})


async def probe(
    url: str, queue: str, count: int, tag: str, gap_s: float = 0.005, deadline_s: float = 120
) -> None:
    """Dispatch latency: from the moment a submit is written to the socket until its worker holds the assignment."""
    from tests.support.fake_worker import FakeWorker

    host, port = host_port(url)
    client = RawHTTP(host, port)
    await client.connect()
    worker = FakeWorker(url, queue, f"probe-{tag}", slots=1)
    await worker.connect()
    assert worker.ws is not None
    latencies: list[float] = []
    submit_ms: list[float] = []
    deadline = time.monotonic() + deadline_s
    emit({"ready": True})
    for index in range(count):
        if time.monotonic() > deadline:
            break
        raw = client.encode("POST", f"/q/{queue}", submit_body(f"echo probe-{tag}-{index}"))
        began = time.monotonic()
        status, body = await client.send_raw(raw)
        answered = time.monotonic()
        job_id = orjson.loads(body)["jobId"] if status == 200 else None
        while True:
            message = orjson.loads(await asyncio.wait_for(worker.ws.recv(), 30))
            if message.get("type") == "assign":
                break
        latencies.append(time.monotonic() - began)
        submit_ms.append(answered - began)
        if message["jobId"] != job_id:
            emit({"warning": f"assigned {message['jobId']} while probing {job_id}"})
        await worker.ws.send(finished(message))
        await asyncio.sleep(gap_s)
    await worker.close()
    await client.close()
    emit({"latencies": latencies, "submit": submit_ms})


# -- Server-Sent-Events watchers -------------------------------------------------------------------------------


class Watcher(asyncio.Protocol):
    """One SSE client as a bare protocol: its data is parsed in the callback that receives it, so the time
    taken is the server's, not a coroutine's wake-up in this process."""

    def __init__(self, request: bytes, tally: Tally) -> None:
        self.request = request
        self.tally = tally
        self.head = True
        self.rest = b""
        self.event = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        received = time.monotonic()
        data = self.rest + data
        if self.head:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.rest = data
                return
            if data[9:12] != b"200":
                self.tally.fail(self)
                return
            self.head, data = False, data[end + 4 :]
        *lines, self.rest = data.split(b"\n")
        for line in lines:  # the chunk-size lines of the chunked encoding match neither field
            if line.startswith(b"event: "):
                self.event = line[7:].strip()
            elif line.startswith(b"data: "):
                self.tally.event(self, self.event, line[6:], received)

    def connection_lost(self, exc: Exception | None) -> None:
        if self not in self.tally._counted:  # a stream that ends after it worked is no failure
            self.tally.fail(self)


class Tally:
    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: dict[str, list[float]] = {}
        self.connected = 0
        self.failed = 0
        self.ready = asyncio.Event()
        self._counted: set[Watcher] = set()
        self._failed: set[Watcher] = set()

    def event(self, watcher: Watcher, event: bytes, data: bytes, received: float) -> None:
        if event == b"hello":
            if watcher not in self._counted:
                self._counted.add(watcher)
                self.connected += 1
                self._check()
        elif event == b"job" or event == b"state":
            payload = orjson.loads(data)
            self.seen.setdefault(f"{payload.get('jobId')}:{payload.get('state')}", []).append(received)

    def fail(self, watcher: Watcher) -> None:
        if watcher not in self._failed:
            self._failed.add(watcher)
            self.failed += 1
            self._check()

    def _check(self) -> None:
        if self.connected + self.failed >= self.n:
            self.ready.set()


async def watchers(url: str, path: str, n: int, connect_timeout: float = 120) -> None:
    host, port = host_port(url)
    loop = asyncio.get_running_loop()
    tally = Tally(n)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    transports: list[asyncio.BaseTransport] = []

    async def watch() -> None:
        try:
            transport, _ = await loop.create_connection(lambda: Watcher(request, tally), host, port)
        except OSError:
            tally.failed += 1
            tally._check()
            return
        transports.append(transport)

    tasks: list[asyncio.Task[None]] = []
    began = time.monotonic()
    for start in range(0, n, 200):  # connect in waves so the listen backlog never overflows
        tasks.extend(asyncio.create_task(watch()) for _ in range(min(200, n - start)))
        while tally.connected + tally.failed < len(tasks) and time.monotonic() - began < connect_timeout:
            await asyncio.sleep(0.01)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.ready.wait(), max(1.0, connect_timeout - (time.monotonic() - began)))
    emit(
        {
            "ready": True,
            "connected": tally.connected,
            "failed": tally.failed,
            "seconds": time.monotonic() - began,
        }
    )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.strip()
        if command == "report":
            emit({"seen": tally.seen, "connected": tally.connected, "failed": tally.failed})
        elif command in ("quit", ""):
            break
    for transport in transports:
        transport.close()
    for task in tasks:
        task.cancel()


def main() -> None:
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "workers":
        runner(workers(args[0], args[1], int(args[2]), int(args[3]), float(args[4])))
    elif kind == "submit":
        runner(submit(args[0], args[1], int(args[2]), int(args[3]), args[4]))
    elif kind == "pace":
        runner(pace(args[0], args[1], float(args[2]), float(args[3]), args[4]))
    elif kind == "probe":
        runner(probe(args[0], args[1], int(args[2]), args[3]))
    elif kind == "watchers":
        runner(watchers(args[0], args[1], int(args[2])))
    else:
        raise SystemExit(f"unknown agent {kind!r}: see the module docstring")


if __name__ == "__main__":
    main()
