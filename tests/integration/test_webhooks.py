"""Webhooks against a real server process and a real HTTP receiver on 127.0.0.1: upstream's `queued` body (its
functional test allows 12 s), `finished` with the outcome, none on a dedupe or a cached success, retries that
keep the delivery id, deliveries that survive a SIGKILL, and a private target refused by default."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.all_backends

ALLOW_PRIVATE = {"ASMAN_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    at: float


@dataclass
class Receiver:
    """Records every POST; answers with `statuses` in order, then 200."""

    url: str
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, count: int, timeout: float = 12) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.requests)} of {count} webhooks arrived in {timeout} s")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                status = state.statuses.pop(0) if state.statuses else 200
                headers = {name.lower(): value for name, value in self.headers.items()}
                state.requests.append(Received(self.path, headers, body, status, time.monotonic()))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ServerProcess]:
    process = start_server(tmp_path / "server-data", {**backend, **ALLOW_PRIVATE})
    yield process
    process.stop()


def submit(server: ServerProcess, queue: str, command: str, control: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"definition": {"image": "alpine:3.19.1", "command": command}}
    if control is not None:
        body["control"] = control
    response = httpx.post(f"{server.url}/q/{queue}", json=body, timeout=10)
    response.raise_for_status()
    job_id: str = response.json()["jobId"]
    return job_id


def callbacks(receiver: Receiver, **events: Any) -> dict[str, Any]:
    return {
        "callbacks": {event: {"url": f"{receiver.url}/{event}", **spec} for event, spec in events.items()}
    }


async def run_once(server: ServerProcess, queue: str, job_id: str, status: int = 0) -> None:
    """A protocol-level worker takes the job and finishes it with exit code `status`."""
    worker = FakeWorker(server.url, queue, f"w-{uuid.uuid4().hex[:6]}")
    await worker.connect()
    assigned = await worker.receive_type("assign")
    assert assigned["jobId"] == job_id
    await worker.finish(job_id, assigned["attempt"], status=status)
    await wait_until(lambda: job_state(server, queue, job_id) == "Finished")
    await worker.close()


def job_state(server: ServerProcess, queue: str, job_id: str) -> str:
    state: str = httpx.get(f"{server.url}/q/{queue}/j/{job_id}").json()["data"]["state"]
    return state


async def wait_until(predicate: Callable[[], bool], timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_queued_webhook_carries_upstreams_body(server: ServerProcess, receiver: Receiver) -> None:
    payload = {"token": "abc", "nested": [1, 2]}
    started = time.monotonic()
    job_id = submit(server, "hooks", "echo queued", callbacks(receiver, queued={"payload": payload}))
    [hook] = receiver.wait(1)
    assert hook.at - started < 12
    assert hook.path == "/queued"
    assert hook.body == {"jobId": job_id, "queue": "hooks", "namespace": "_", "config": payload}
    assert hook.headers["x-asman-event"] == "queued"
    assert uuid.UUID(hook.headers["x-asman-delivery"])
    assert hook.headers["content-type"] == "application/json"


def test_queued_webhook_without_payload_sends_an_empty_config(
    server: ServerProcess, receiver: Receiver
) -> None:
    control = {"namespace": "tab", **callbacks(receiver, queued={})}
    job_id = submit(server, "hooks", "echo bare", control)
    [hook] = receiver.wait(1)
    assert hook.body == {"jobId": job_id, "queue": "hooks", "namespace": "tab", "config": {}}


async def test_finished_webhook_reports_the_outcome(server: ServerProcess, receiver: Receiver) -> None:
    control = callbacks(receiver, finished={"payload": "mine"})
    job_id = submit(server, "done", "exit 3", control)
    await run_once(server, "done", job_id, status=3)
    [hook] = await asyncio.to_thread(receiver.wait, 1)
    result_url = f"{server.url}/q/done/j/{job_id}/result.json"
    assert hook.body == {
        "jobId": job_id,
        "queue": "done",
        "namespace": "_",
        "state": "Finished",
        "finishedReason": "Success",
        "exitCode": 3,
        "resultUrl": result_url,
        "config": "mine",
    }
    assert hook.headers["x-asman-event"] == "finished"
    assert httpx.get(result_url).status_code == 200


async def test_no_webhook_on_a_dedupe_or_a_cached_success(server: ServerProcess, receiver: Receiver) -> None:
    control = callbacks(receiver, queued={})
    job_id = submit(server, "dedupe", "echo once", control)
    assert submit(server, "dedupe", "echo once", control) == job_id  # still queued: a dedupe
    await run_once(server, "dedupe", job_id)
    cached = callbacks(receiver, queued={}, finished={})
    assert submit(server, "dedupe", "echo once", cached) == job_id  # a kept success
    await asyncio.to_thread(receiver.wait, 1)
    await asyncio.sleep(3)  # three polls of the delivery loop
    assert [hook.path for hook in receiver.requests] == ["/queued"]


def test_a_failing_receiver_gets_the_same_delivery_until_it_answers(
    server: ServerProcess, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    submit(server, "retry", "echo retry", callbacks(receiver, queued={}))
    hooks = receiver.wait(3, timeout=20)
    assert [hook.status for hook in hooks] == [500, 503, 200]
    assert len({hook.headers["x-asman-delivery"] for hook in hooks}) == 1
    # Backoff: each retry waits longer than the one before.
    assert hooks[2].at - hooks[1].at > hooks[1].at - hooks[0].at
    time.sleep(2.5)
    assert len(receiver.requests) == 3  # a 2xx ends it


def test_a_delivery_pending_when_the_server_is_killed_is_sent_after_restart(
    tmp_path: Path, backend: dict[str, str], receiver: Receiver
) -> None:
    receiver.statuses = [503] * 1000
    data = tmp_path / "server-data"
    first = start_server(data, {**backend, **ALLOW_PRIVATE})
    try:
        submit(first, "durable", "echo durable", callbacks(receiver, queued={}))
        receiver.wait(1)
        time.sleep(0.5)  # the failure is recorded: the delivery waits for its retry, not for a lease
    finally:
        first.stop(signal.SIGKILL)
    with receiver.lock:
        receiver.statuses = []
        failed = len(receiver.requests)
    second = start_server(data, {**backend, **ALLOW_PRIVATE})
    try:
        hooks = receiver.wait(failed + 1)
        assert hooks[-1].status == 200
        assert len({hook.headers["x-asman-delivery"] for hook in hooks}) == 1
    finally:
        second.stop()


def test_a_private_target_is_refused_by_default(
    tmp_path: Path, backend: dict[str, str], receiver: Receiver
) -> None:
    guarded = start_server(tmp_path / "server-data", backend)
    try:
        submit(guarded, "guarded", "echo guarded", callbacks(receiver, queued={}))
        deadline = time.monotonic() + 10
        while "refused" not in guarded.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "internal address (127.0.0.1)" in guarded.log()
        assert receiver.requests == []
    finally:
        guarded.stop()


def test_two_replicas_send_each_delivery_once(
    tmp_path: Path, backend: dict[str, str], receiver: Receiver
) -> None:
    if not backend:
        pytest.skip("replicas share a PostgreSQL store; SQLite has one server")
    replicas = [start_server(tmp_path / f"replica-{n}", {**backend, **ALLOW_PRIVATE}) for n in range(2)]
    try:
        jobs = {
            submit(replicas[n % 2], "shared", f"echo {n}", callbacks(receiver, queued={})) for n in range(20)
        }
        hooks = receiver.wait(20)
        time.sleep(2)  # any duplicate would have come by now
        assert sorted(hook.body["jobId"] for hook in receiver.requests) == sorted(jobs)
        assert len({hook.headers["x-asman-delivery"] for hook in hooks}) == 20
    finally:
        for replica in replicas:
            replica.stop()
