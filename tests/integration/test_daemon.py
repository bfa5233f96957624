"""The worker daemon in-process, on the FakeRuntime, against the real server in the test's event loop: its
connection, result delivery, graceful stop and supervision of its side tasks. No Docker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from asman.worker.daemon import WorkerDaemon, WorkerFailed, WorkerSettings
from asman.worker.network import JOB_NETWORK
from asman.worker.runtimes import FakeRuntime, NetworkError, Script
from tests.support.server import Served, run_of

QUEUE = "daemon"
Start = Callable[[WorkerDaemon], asyncio.Task[None]]


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime(["x"])


def daemon_of(served: Served, fake: FakeRuntime, tmp_path: Path, **fields: Any) -> WorkerDaemon:
    settings = WorkerSettings(
        api_url=served.url, queue=QUEUE, data_dir=tmp_path / "worker", **{"network": "none", **fields}
    )
    return WorkerDaemon(settings, fake)


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Runs a daemon as a task; a daemon the test left running is stopped afterwards."""
    started: list[tuple[WorkerDaemon, asyncio.Task[None]]] = []

    def run(daemon: WorkerDaemon) -> asyncio.Task[None]:
        started.append((daemon, asyncio.create_task(daemon.run(), name="daemon")))
        return started[-1][1]

    yield run
    for daemon, task in started:
        if not task.done():
            daemon.request_stop()
        await asyncio.wait({task}, timeout=15)


async def with_a_running_job(
    served: Served, fake: FakeRuntime, daemon: WorkerDaemon, start: Start, command: str
) -> tuple[asyncio.Task[None], str]:
    """Starts `daemon` and submits `command`; returns the daemon's task and the job id once its container runs."""
    running = start(daemon)
    job_id = await served.submit(QUEUE, command)
    async with asyncio.timeout(10):
        while not fake.runs:
            await asyncio.sleep(0.02)
    return running, job_id


async def workers(served: Served) -> list[str]:
    async with httpx.AsyncClient() as client:
        status = (await client.get(f"{served.url}/q/{QUEUE}/status")).json()
    return [worker["id"] for worker in status["workers"]]


async def test_a_job_runs_and_its_result_reaches_the_server(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    fake.on("hello", Script(stdout=("hi",), writes={"/outputs/a.txt": b"a"}))
    start(daemon_of(served, fake, tmp_path))
    job_id = await served.submit(QUEUE, "hello")
    job = await served.wait_finished(QUEUE, job_id)
    assert job["finishedReason"] == "Success", job
    assert run_of(job)["outputs"] == {"a.txt": {"type": "base64", "value": "YQ=="}}
    assert [line[0] for line in run_of(job)["logs"]] == ["hi\n"]  # as the program wrote it


async def test_a_graceful_stop_delivers_the_results_of_jobs_that_finish_in_time(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    fake.on("work", Script(stdout=("working",), seconds=0.5))
    daemon = daemon_of(served, fake, tmp_path, grace_seconds=10.0)
    running, job_id = await with_a_running_job(served, fake, daemon, start, "work")
    daemon.request_stop()
    daemon.request_stop()  # a second signal changes nothing
    await asyncio.wait_for(running, 15)
    job = await served.job(QUEUE, job_id)
    assert job["state"] == "Finished" and job["finishedReason"] == "Success", job


async def test_a_job_past_the_grace_period_is_handed_back(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    fake.on("forever", Script(hang=True))
    daemon = daemon_of(served, fake, tmp_path, grace_seconds=0.2)
    running, job_id = await with_a_running_job(served, fake, daemon, start, "forever")
    daemon.request_stop()
    await asyncio.wait_for(running, 15)
    assert (await served.job(QUEUE, job_id))["state"] == "Queued"


async def test_a_failing_side_task_stops_the_worker(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    daemon = daemon_of(served, fake, tmp_path)

    async def broken_flusher() -> None:
        await daemon.connected.wait()
        raise RuntimeError("flusher bug")

    daemon._flush_logs_loop = broken_flusher  # type: ignore[method-assign]
    running = start(daemon)
    with pytest.raises(WorkerFailed, match="flusher bug"):
        await asyncio.wait_for(running, 15)
    async with asyncio.timeout(5):
        while daemon.settings.worker_id in await workers(served):
            await asyncio.sleep(0.05)


async def test_jobs_run_on_the_workers_own_network_by_default(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    # The fake records the network it would create; no engine is asked for one.
    start(daemon_of(served, fake, tmp_path, network=JOB_NETWORK))
    job_id = await served.submit(QUEUE, "true")
    assert (await served.wait_finished(QUEUE, job_id))["finishedReason"] == "Success"
    assert fake.created_networks == [JOB_NETWORK]
    [spec] = fake.specs
    assert spec.network == JOB_NETWORK
    assert spec.env["JOB_URL_PREFIX"] == f"{served.url}/j/{job_id}"


async def test_a_worker_refuses_to_start_on_a_network_that_does_not_exist(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    with pytest.raises(NetworkError, match="'lab-net' does not exist"):
        await asyncio.wait_for(start(daemon_of(served, fake, tmp_path, network="lab-net")), 10)
    assert fake.created_networks == []


async def test_log_lines_reach_the_server_exactly_once_across_a_dropped_connection(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    """Lines flushed while the connection is down, or lost in flight when it drops, are sent again after the
    worker registers again, from where the server's log goes on: each stored once, in order, the last one too."""
    lines = [f"line {n}\n" for n in range(3000)]
    fake.on("chatty", Script(stdout=tuple(lines), seconds=1.5))
    daemon = daemon_of(served, fake, tmp_path)
    buffer_log = daemon.buffer_log
    dropped: list[object] = []

    def drop_midway(job: str, attempt: int, step: str, line: list[Any]) -> None:
        if line[0] in ("line 1000\n", "line 2000\n") and daemon._ws is not None:
            dropped.append(daemon._ws)
            daemon._ws.transport.abort()  # dropped with whatever it had in flight; later flushes fail
        buffer_log(job, attempt, step, line)

    daemon.buffer_log = drop_midway  # type: ignore[method-assign,assignment]
    _, job_id = await with_a_running_job(served, fake, daemon, start, "chatty")
    job = await served.wait_finished(QUEUE, job_id, timeout=20)
    assert job["finishedReason"] == "Success", job
    assert dropped
    stored: list[str] = []
    async with httpx.AsyncClient() as client:
        while True:
            page = await client.get(
                f"{served.url}/q/{QUEUE}/j/{job_id}/run-logs.json", params={"since": len(stored)}
            )
            if not page.json()["data"]:
                break
            stored += [line[0] for line in page.json()["data"]]
    assert stored == lines


async def test_the_servers_redirect_to_an_internal_service_is_not_followed(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    """The attack: job A names an internal URL as its input; job B names A's input through the queue server,
    which answers with a redirect there. The worker trusts its server's URLs, but not where they redirect."""
    hits: list[str] = []

    class Secret(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"secret")

        def log_message(self, format: str, *args: object) -> None:
            pass

    internal = ThreadingHTTPServer(("127.0.0.1", 0), Secret)
    thread = threading.Thread(target=internal.serve_forever, daemon=True)
    thread.start()
    try:
        secret_url = f"http://127.0.0.1:{internal.server_address[1]}/admin"
        start(daemon_of(served, fake, tmp_path))
        async with httpx.AsyncClient(base_url=served.url) as client:

            async def submit(inputs: dict[str, Any]) -> str:
                answer = await client.post(
                    f"/q/{QUEUE}", json={"definition": {"image": "x", "command": "true", "inputs": inputs}}
                )
                answer.raise_for_status()
                return str(answer.json()["jobId"])

            planted = await submit({"x": {"type": "url", "value": secret_url}})
            redirect = await client.get(f"/j/{planted}/inputs/x")
            assert redirect.status_code == 302 and redirect.headers["location"] == secret_url
            stolen = await submit({"stolen": {"type": "url", "value": f"{served.url}/j/{planted}/inputs/x"}})
        job = await served.wait_finished(QUEUE, stolen)
        assert job["finishedReason"] == "Error"
        assert "internal address" in run_of(job)["error"]
        await served.wait_finished(QUEUE, planted)
        assert hits == [], "the internal service was reached"
        assert fake.runs == []
    finally:
        internal.shutdown()
        internal.server_close()
        thread.join()


async def test_results_ready_while_a_send_is_under_way_go_together_in_one_frame(
    served: Served, fake: FakeRuntime, tmp_path: Path, start: Start
) -> None:
    """A result goes at once; those that come while it is being sent follow in one `finishedMany` frame."""
    fake.on("first", Script(stdout=("1",)))
    for name in ("second", "third"):
        fake.on(name, Script(stdout=(name,), seconds=0.5))
    daemon = daemon_of(served, fake, tmp_path, slots=3)
    send = daemon._send
    sent: list[tuple[str, int]] = []
    in_flight = asyncio.Event()

    async def slow_first_result(message: dict[str, Any]) -> bool:
        if message["type"] in ("finished", "finishedMany"):
            sent.append((message["type"], len(message.get("results", [message]))))
            if len(sent) == 1:
                await in_flight.wait()  # the first result's send takes until the others are ready
        return await send(message)

    daemon._send = slow_first_result  # type: ignore[method-assign]
    start(daemon)
    ids = [await served.submit(QUEUE, name) for name in ("first", "second", "third")]
    async with asyncio.timeout(10):
        while len(daemon._ready) < 2:
            await asyncio.sleep(0.02)
    in_flight.set()
    for job_id in ids:
        job = await served.wait_finished(QUEUE, job_id)
        assert job["finishedReason"] == "Success", job
    assert sent == [("finished", 1), ("finishedMany", 2)]
    logs = [[line[0] for line in run_of(await served.job(QUEUE, job_id))["logs"]] for job_id in ids]
    assert logs == [["1\n"], ["second\n"], ["third\n"]]
