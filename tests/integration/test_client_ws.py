"""Upstream's browser-client WebSocket (UPSTREAM-WIRE.md §4) against real servers, spoken as upstream's
browser and functional tests speak it (§11 items 1-3, 7, 9-13, 20, 21): over uvicorn in the test's loop with
protocol-level workers, over a server subprocess with a real worker and containers, and over two replicas
sharing PostgreSQL with the client on one and the worker on the other."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from asman.core.definition import job_id
from asman.core.events import LogsAppended
from asman.server import client_ws
from asman.settings import Settings
from tests.support.fake_worker import FakeWorker
from tests.support.server import Served, ServerProcess, start_server
from tests.support.stack import Stack

LS_LINES = (
    ".\n..\n.dockerenv\nbin\ndev\netc\nhome\ninputs\njob-cache\nlib\nmedia\nmnt\nopt\noutputs\nproc\nroot\n"
    "run\nsbin\nsrv\nsys\ntmp\nusr\nvar\n"
)
MAX_FRAME = 64 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": MAX_FRAME})


def enqueue_frame(definition: dict[str, Any], namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    """Upstream's createNewContainerJobMessage, byte for byte in shape."""
    enqueued: dict[str, Any] = {"id": job_id(definition), "definition": definition, **extra}
    if namespace is not None:
        enqueued["control"] = {"namespace": namespace}
    return {
        "type": "StateChange",
        "payload": {
            "state": "Queued",
            "job": enqueued["id"],
            "tag": "",
            "value": {"type": "Queued", "time": int(time.time() * 1000), "enqueued": enqueued},
        },
    }


def finish_frame(job: str, reason: str = "Cancelled", namespace: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "Finished", "reason": reason, "time": int(time.time() * 1000)}
    if namespace is not None:
        value["namespace"] = namespace
    else:
        value["message"] = "Job cancelled by client"
    return {"type": "StateChange", "payload": {"state": "Finished", "job": job, "tag": "", "value": value}}


class Browser:
    """One client socket: every frame JSON-parsed, as upstream's tests do, and the job states merged as
    upstream's browser merges them."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.pongs = 0
        self.jobs: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, list[str]] = {}
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls, base: str, queue: str, path: str = "/q/{queue}/client", ready: bool = True
    ) -> Browser:
        """A connected socket, once it has its first JobStates unless `ready` is False."""
        url = base.replace("http://", "ws://", 1) + path.format(queue=queue)
        browser = cls(await connect(url, max_size=None))
        if ready:
            await browser.wait(lambda: browser.of_type("JobStates"), "the first JobStates")
        return browser

    async def _read(self) -> None:
        async for raw in self.ws:
            assert isinstance(raw, str), "the server sends text frames only"
            if raw == "PONG":
                self.pongs += 1
                continue
            frame = orjson.loads(raw)
            self.frames.append(frame)
            if frame["type"] in ("JobStates", "JobStateUpdates"):
                jobs = frame["payload"]["state"]["jobs"]
                assert frame["payload"]["isSubset"] is (frame["type"] == "JobStateUpdates")
                self.jobs = {**self.jobs, **jobs} if frame["payload"]["isSubset"] else dict(jobs)
                for job, view in jobs.items():
                    seen = self._seen.setdefault(job, [])
                    if not seen or seen[-1] != view["state"]:
                        seen.append(view["state"])

    def states(self, job: str) -> list[str]:
        return self._seen.get(job, [])

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [frame["payload"] for frame in self.frames if frame["type"] == kind]

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, (str, bytes)) else orjson.dumps(message).decode())

    async def wait(self, condition: Callable[[], object], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.task.done():
                raise AssertionError(f"the socket closed while waiting for {what}: {self.task}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; jobs {self.jobs}, last {self.frames[-3:]}"
                )
            await asyncio.sleep(0.02)

    async def wait_state(self, job: str, state: str, timeout: float = 15) -> dict[str, Any]:
        await self.wait(lambda: self.jobs.get(job, {}).get("state") == state, f"{job[:8]} {state}", timeout)
        return self.jobs[job]

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await self.task


async def rest(method: str, url: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.request(method, url, **kwargs)
    return response.json()


def definition(command: str) -> dict[str, Any]:
    return {"image": "asman/busybox:latest", "command": command}


async def test_connect_gets_workers_then_the_queue_then_updates(served: Served) -> None:
    queue = "cws-connect"
    worker = FakeWorker(served.url, queue, "w-one", slots=2)
    await worker.connect()
    running = await served.submit(queue, "echo running")
    assigned = await worker.receive_type("assign")
    browser = await Browser.open(served.url, queue, ready=False)
    await browser.wait(lambda: len(browser.frames) >= 2, "the first two frames")

    first, second = browser.frames[:2]
    assert first["type"] == "Workers"
    (listed,) = first["payload"]["workers"]
    assert {key: listed[key] for key in ("id", "cpus", "gpus", "version")} == {
        "id": "w-one",
        "cpus": 2,
        "gpus": 0,
        "version": "test",
    }
    assert isinstance(listed["time"], int)
    assert second["type"] == "JobStates" and second["payload"]["isSubset"] is False
    job = second["payload"]["state"]["jobs"][running]
    assert job["state"] == "Running" and job["worker"] == "w-one" and job["namespaces"] == ["_"]
    assert isinstance(job["queuedTime"], int) and job["time"] >= job["queuedTime"]
    assert "finished" not in job and "reason" not in job and "finishedReason" not in job
    assert (await rest("GET", f"{served.url}/q/{queue}/status"))["clients"] == 1

    # Live: the log line, then Finished; a second worker shows up in Workers.
    await worker.log(running, assigned["attempt"], "hello\n")
    await browser.wait(lambda: browser.of_type("JobStatusPayload"), "the log line")
    assert browser.of_type("JobStatusPayload")[0] == {
        "jobId": running,
        "step": "Running",
        "logs": [["hello\n", 0, False]],
    }
    await worker.finish(running, assigned["attempt"])
    finished = await browser.wait_state(running, "Finished")
    assert finished["finishedReason"] == "Success" and finished["worker"] == "w-one"
    assert browser.states(running) == ["Running", "Finished"]
    other = FakeWorker(served.url, queue, "w-two")
    await other.connect()
    await browser.wait(
        lambda: {w["id"] for w in browser.of_type("Workers")[-1]["workers"]} == {"w-one", "w-two"},
        "the second worker",
    )

    # With the workers gone, Workers says so; a job cancelled over REST is hidden (the "sendable" filter).
    await asyncio.gather(worker.close(), other.close())
    await browser.wait(lambda: browser.of_type("Workers")[-1]["workers"] == [], "no workers")
    waiting = await served.submit(queue, "echo waiting")
    await browser.wait_state(waiting, "Queued")
    await rest("POST", f"{served.url}/q/{queue}/j/{waiting}/cancel?namespace=*")
    await browser.wait(lambda: waiting not in browser.jobs, "the cancelled job to go")
    await browser.close()


async def test_submit_over_the_deprecated_path_with_upstreams_frames(served: Served) -> None:
    queue = "cws-submit"
    worker = FakeWorker(served.url, queue, "w-submit")
    await worker.connect()
    browser = await Browser.open(served.url, queue, "/{queue}/client")
    await browser.send("undefined")  # what upstream's browser sends first
    await browser.send("PING")
    await browser.wait(lambda: browser.pongs == 1, "PONG")

    job_def = definition("sh -c 'sleep 1.1 && ls -a'")
    job = job_id(job_def)
    await browser.send(enqueue_frame(job_def, debug=True))
    assigned = await worker.receive_type("assign")
    assert assigned["jobId"] == job and assigned["definition"] == job_def
    await worker.log(job, assigned["attempt"], LS_LINES)
    await worker.finish(job, assigned["attempt"])
    await browser.wait_state(job, "Finished")
    assert browser.states(job) == ["Queued", "Running", "Finished"]
    assert browser.of_type("JobStatusPayload")[-1]["logs"][0][0] == LS_LINES
    assert browser.pongs == 1, "PONG answers PING only"
    assert not browser.of_type("Error")
    view = await rest("GET", f"{served.url}/q/{queue}/j/{job}")
    assert view["data"]["state"] == "Finished" and view["data"]["definition"] == job_def
    await asyncio.gather(browser.close(), worker.close())


async def test_query_job_answers_the_asker_only(served: Served) -> None:
    queue = "cws-query"
    job = await served.submit(queue, "echo asked")
    asker, other = await Browser.open(served.url, queue), await Browser.open(served.url, queue)
    updates_before = len(other.of_type("JobStateUpdates"))

    await asker.send({"type": "QueryJob", "payload": {"jobId": job}})
    await asker.wait(lambda: asker.of_type("JobStateUpdates"), "the answer")
    answer = asker.of_type("JobStateUpdates")[-1]
    assert answer["isSubset"] is True and answer["state"]["jobs"][job]["state"] == "Queued"
    await asker.send({"type": "QueryJob", "payload": {"jobId": "f" * 64}})
    await asker.wait(lambda: len(asker.of_type("JobStateUpdates")) == 2, "the answer about no job")
    assert asker.of_type("JobStateUpdates")[-1]["state"]["jobs"] == {}
    states_before = len(other.of_type("JobStates"))
    await asker.send({"type": "QueryJobStates"})
    await other.wait(lambda: len(other.of_type("JobStates")) > states_before, "JobStates for everyone")
    assert len(other.of_type("JobStateUpdates")) == updates_before
    await asyncio.gather(asker.close(), other.close())


async def test_namespaces_cancel_one_of_three_then_all(served: Served) -> None:
    queue = "cws-namespaces"
    browser = await Browser.open(served.url, queue)
    job_def = definition("sleep 30")
    job = job_id(job_def)
    for namespace in ("ns-a", "ns-b", "ns-c"):
        await browser.send(enqueue_frame(job_def, namespace))
    await browser.wait(
        lambda: browser.jobs.get(job, {}).get("namespaces") == ["ns-a", "ns-b", "ns-c"], "three namespaces"
    )

    await browser.send(finish_frame(job, namespace="ns-b"))
    await browser.wait(lambda: browser.jobs[job]["namespaces"] == ["ns-a", "ns-c"], "two namespaces left")
    assert browser.jobs[job]["state"] == "Queued", "the job stays while a namespace wants it"
    await browser.send(finish_frame(job, namespace="*"))
    await browser.wait(lambda: job not in browser.jobs, "the job to go")
    view = await rest("GET", f"{served.url}/q/{queue}/j/{job}")
    assert (view["data"]["state"], view["data"]["finishedReason"]) == ("Finished", "Cancelled")
    assert not browser.of_type("Error")
    await browser.close()


async def test_a_newer_job_replaces_older_ones_in_its_namespace(served: Served) -> None:
    queue = "cws-replace"
    browser = await Browser.open(served.url, queue)
    jobs = []
    for index in range(3):
        job_def = definition(f"sleep 60 # {index}")
        jobs.append(job_id(job_def))
        await browser.send(enqueue_frame(job_def, "tab-1"))
        await asyncio.sleep(0.3)
    await browser.wait(lambda: jobs[-1] in browser.jobs, "the last job")
    await browser.wait(lambda: not set(jobs[:-1]) & set(browser.jobs), "the replaced jobs to go")
    assert browser.jobs[jobs[-1]]["state"] == "Queued"
    for replaced in jobs[:-1]:
        view = await rest("GET", f"{served.url}/q/{queue}/j/{replaced}")
        assert view["data"]["finishedReason"] == "JobReplacedByClient"
    await browser.close()


async def test_a_submitted_id_must_match_its_definition(served: Served) -> None:
    queue = "cws-poison"
    browser = await Browser.open(served.url, queue)
    job_def = definition("echo poison")
    frame = enqueue_frame(job_def)
    frame["payload"]["job"] = frame["payload"]["value"]["enqueued"]["id"] = "0" * 64
    await browser.send(frame)
    await browser.wait(lambda: browser.of_type("Error"), "the refusal")
    error = browser.of_type("Error")[0]
    assert error["jobId"] == "0" * 64 and "does not match the definition" in error["message"]
    for job in ("0" * 64, job_id(job_def)):
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{served.url}/q/{queue}/j/{job}")).status_code == 404
    await browser.close()


async def test_finished_jobs_ignore_a_cancel_and_a_delete_drops_the_result(served: Served) -> None:
    queue = "cws-finished"
    worker = FakeWorker(served.url, queue, "w-finished")
    await worker.connect()
    browser = await Browser.open(served.url, queue)
    job_def = definition("echo done")
    job = job_id(job_def)
    await browser.send(enqueue_frame(job_def))
    assigned = await worker.receive_type("assign")
    await worker.finish(job, assigned["attempt"])
    await browser.wait_state(job, "Finished")

    await browser.send(finish_frame(job))  # upstream's browser: no namespace
    updates = len(browser.of_type("JobStateUpdates"))
    await browser.send({"type": "QueryJob", "payload": {"jobId": job}})
    await browser.wait(lambda: len(browser.of_type("JobStateUpdates")) > updates, "the answer")
    assert browser.of_type("JobStateUpdates")[-1]["state"]["jobs"][job]["finishedReason"] == "Success"
    assert not browser.of_type("Error")
    assert (await rest("GET", f"{served.url}/j/{job}/result.json"))["data"] is not None

    await browser.send(finish_frame(job, "Deleted", "_"))
    await browser.wait(lambda: job not in browser.jobs, "the deleted job to go")
    assert (await rest("GET", f"{served.url}/j/{job}/result.json"))["data"] is None
    await asyncio.gather(browser.close(), worker.close())


async def test_garbage_never_breaks_the_socket(served: Served) -> None:
    queue = "cws-garbage"
    browser = await Browser.open(served.url, queue)
    garbage: list[str | bytes | dict[str, Any]] = [
        b"\x00\x01binary",
        "",
        "hello",
        "{not json",
        "[1, 2]",
        "null",
        '{"type": 5}',
        {"type": "Unknown", "payload": {}},
        {"type": "StateChange"},
        {"type": "StateChange", "payload": "x"},
        {"type": "StateChange", "payload": {"state": "Queued", "value": {"enqueued": "x"}}},
        {"type": "StateChange", "payload": {"state": "Queued", "value": {"enqueued": {"definition": 3}}}},
        {"type": "StateChange", "payload": {"state": "Running", "job": "x", "value": {"worker": "me"}}},
        {"type": "StateChange", "payload": {"state": "Finished", "job": ["x"], "value": {}}},
        {
            "type": "StateChange",
            "payload": {"state": "Finished", "job": "x" * 64, "value": {"reason": "Success"}},
        },
        {
            "type": "StateChange",
            "payload": {"state": "Finished", "job": "nope", "value": {"reason": "Cancelled"}},
        },
        {"type": "QueryJob", "payload": {"jobId": 12}},
        {"type": "QueryJob", "payload": {"jobId": "../../etc"}},
        {"type": "QueryJob"},
        '{"type": "StateChange", "payload": {"state": "Queued", "value": ' + "[" * 5000 + "]" * 5000 + "}}",
        '{"padding": "' + "x" * (2 * MAX_FRAME) + '"}',
    ]
    for message in garbage:
        await browser.send(message)
    await browser.send("PING")
    await browser.wait(lambda: browser.pongs == 1, "PONG after the garbage")
    errors = browser.of_type("Error")
    assert any("at most" in error["message"] for error in errors), errors
    assert all(set(error) <= {"error", "message", "jobId"} for error in errors)

    job_def = definition("echo still fine")
    await browser.send(enqueue_frame(job_def))
    await browser.wait_state(job_id(job_def), "Queued")
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{served.url}/healthz")).text == "OK"
    await browser.close()


async def test_a_bad_queue_name_is_refused(served: Served) -> None:
    with pytest.raises(InvalidStatus):
        await Browser.open(served.url, "q" * 200)


@pytest.mark.docker
async def test_a_real_container_over_the_socket(stack: Stack) -> None:
    """Upstream's item 21 with a real worker and container: exactly Queued, Running, Finished; then item 1's
    `ls -a` over the deprecated path, its logs joined from result.json."""
    browser = await Browser.open(stack.url, stack.queue)
    job_def = {"image": stack.image, "command": "sh -c 'sleep 3 && echo text-R'"}
    job = job_id(job_def)
    await browser.send(enqueue_frame(job_def, secrets.token_hex(4)))
    finished = await browser.wait_state(job, "Finished", timeout=60)
    assert browser.states(job) == ["Queued", "Running", "Finished"]
    assert finished["finishedReason"] == "Success" and finished["worker"] == stack.workers[0].worker_id
    live = [line[0] for payload in browser.of_type("JobStatusPayload") if payload["jobId"] == job
            for line in payload["logs"]]  # fmt: skip
    assert "".join(live).strip() == "text-R"
    result = (await rest("GET", f"{stack.url}/j/{job}/result.json"))["data"]
    assert result["finished"]["result"]["logs"][0][0] == "text-R\n"  # upstream: logs[0][0].trim()
    await browser.close()


@pytest.fixture
def two_replicas(tmp_path: Path, postgres_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    servers = [
        start_server(
            tmp_path / f"replica-{name}", {"ASMAN_DATABASE_URL": postgres_url, "ASMAN_REPLICA_ID": name}
        )
        for name in ("a", "b")
    ]
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop(signal.SIGKILL)


async def test_a_client_on_one_replica_sees_a_worker_on_another(
    two_replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_replicas
    queue = "cws-replicas"
    browser = await Browser.open(first.url, queue)
    worker = FakeWorker(second.url, queue, "w-far")
    await worker.connect()
    await browser.wait(
        lambda: any(w["id"] == "w-far" for w in (browser.of_type("Workers") or [{}])[-1].get("workers", [])),
        "the worker on the other replica",
    )

    job_def = definition("echo far away")
    job = job_id(job_def)
    await browser.send(enqueue_frame(job_def))
    assigned = await worker.receive_type("assign", timeout=15)
    assert assigned["jobId"] == job
    await browser.wait_state(job, "Running")
    await worker.log(job, assigned["attempt"], "far away\n")
    await browser.wait(lambda: browser.of_type("JobStatusPayload"), "the log line from the other replica")
    await worker.finish(job, assigned["attempt"])
    finished = await browser.wait_state(job, "Finished")
    assert finished["finishedReason"] == "Success" and finished["worker"] == "w-far"
    assert browser.states(job) == ["Queued", "Running", "Finished"]
    assert browser.of_type("JobStatusPayload")[0]["logs"][0][0] == "far away\n"
    await asyncio.gather(browser.close(), worker.close())


async def test_a_client_that_stops_reading_is_dropped_and_holds_up_no_one(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_ws, "OUTBOX_FRAMES", 20)
    queue = "cws-slow"
    job = await served.submit(queue, "echo chatty")
    fast = await Browser.open(served.url, queue)
    # The library stops reading after one frame nobody took (max_queue=1), and a small fixed receive buffer
    # (no autotuning, which here grows to 32 MB) and no compression make the server's writes block soon after.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.setblocking(False)
    address = httpx.URL(served.url)
    await asyncio.get_running_loop().sock_connect(sock, (address.host, address.port))
    slow = await connect(
        f"ws://{address.host}:{address.port}/q/{queue}/client", sock=sock, max_queue=1, compression=None
    )
    await asyncio.sleep(0.5)  # the slow one gets live frames once it has had its first JobStates
    line = "x" * 60_000
    for index in range(400):  # ~24 MB
        await served.notifier.publish(LogsAppended(queue, job, 1, "run", index, [[line, index, False]]))
        if index % 20 == 0:
            await asyncio.sleep(0)  # let the writers run, as the notifier's real sources do
    await fast.wait(lambda: len(fast.of_type("JobStatusPayload")) == 400, "every log frame", timeout=60)
    deadline = time.monotonic() + 20
    while await served.clients(queue) != 1:
        assert time.monotonic() < deadline, "the slow client was never dropped"
        await asyncio.sleep(0.1)
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(5):
            async for _ in slow:
                pass
    await fast.close()
