"""The Python SDK against the app in-process (httpx over ASGI), a real server subprocess driven by a fake
worker, and a real stack running containers (docker). The examples of docs/python.md are executed here."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from asman import (
    AsmanError,
    AsyncClient,
    AsyncJob,
    Client,
    DownloadFailed,
    InvalidJob,
    JobFailed,
    JobNotFound,
    ServerUnreachable,
    WaitTimeout,
)
from asman.client import Finished, LogsWritten, StateChanged
from asman.client._base import Retry
from asman.client._datarefs import Upload
from asman.core.states import FinishedReason, JobState
from asman.server.service import JobService, now_ms
from asman.store.base import Report
from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, free_port, start_server
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "asman/busybox:latest"


# -- in-process: the app through httpx.ASGITransport ----------------------------------------------------------


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def sdk(app_client: httpx.AsyncClient) -> AsyncIterator[tuple[AsyncClient, CountingTransport, Any]]:
    app = app_client.app  # type: ignore[attr-defined]
    transport = CountingTransport(httpx.ASGITransport(app=app))
    async with AsyncClient("http://asman.test", transport=transport) as client:
        yield client, transport, app


async def finish_in_store(service: JobService, queue: str, job_id: str, result: dict[str, Any]) -> None:
    """Play a worker at the store level: claim the job, then report its result."""
    now = now_ms()
    [assignment] = await service.store.claim(queue, "w-test", 1, 0, now + 60_000, now)
    assert assignment.job_id == job_id
    stored = {
        "StatusCode": 0,
        "logs": [],
        "outputs": {},
        "duration": 5,
        "isTimedOut": False,
        "worker": "w-test",
        "attempt": assignment.attempt,
        "time": now,
        **result,
    }
    reason = FinishedReason(stored["reason"])
    report = Report(queue, job_id, assignment.attempt, reason, stored, token=assignment.token)
    [change] = await service.finish_many([report])
    assert change is not None and not isinstance(change, Exception)


async def test_submit_status_list_and_cancel(sdk: tuple[AsyncClient, CountingTransport, Any]) -> None:
    client, _, _ = sdk
    queue = client.queue("inproc")
    job = await queue.submit(
        image=IMAGE, command="echo hi", env={"A": "1"}, cpus=0.5, memory="64m", max_duration="1m"
    )
    again = await queue.submit(
        image=IMAGE, command="echo hi", env={"A": "1"}, cpus=0.5, memory="64m", max_duration="1m"
    )
    assert again == job  # a job is its definition
    status = await job.status()
    assert (status.state, status.reason, status.namespaces) == (JobState.QUEUED, None, ("_",))
    assert await job.result() is None
    assert (await job.definition())["requirements"] == {"cpus": 0.5, "memory": "64m"}
    assert [listed.job_id for listed in await queue.jobs()] == [job.id]
    assert await queue.jobs(state="Running") == []
    assert (await queue.status())["counts"] == {"Queued": 1}
    assert "queue_length" in await queue.metrics()

    cancelled = await job.cancel()
    assert (cancelled.state, cancelled.reason) == (JobState.FINISHED, FinishedReason.CANCELLED)
    with pytest.raises(JobFailed, match="was cancelled") as failure:
        await job.wait()
    assert failure.value.result.reason is FinishedReason.CANCELLED
    assert (await job.wait(check=False)).reason is FinishedReason.CANCELLED
    assert [line async for line in job.logs(follow=False)] == []


async def test_namespaces_keep_a_job_until_nobody_wants_it(
    sdk: tuple[AsyncClient, CountingTransport, Any],
) -> None:
    client, _, _ = sdk
    queue = client.queue("ns")
    job = await queue.submit(image=IMAGE, command="sleep 1", namespace="alice")
    await queue.submit(image=IMAGE, command="sleep 1", namespace="bob")
    assert (await job.cancel("alice")).state is JobState.QUEUED
    assert (await job.cancel("bob")).reason is FinishedReason.CANCELLED


async def test_large_inputs_are_uploaded_once(
    sdk: tuple[AsyncClient, CountingTransport, Any], tmp_path: Path
) -> None:
    client, transport, _ = sdk
    data = os.urandom(5000)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "note.txt").write_text("small")
    key = hashlib.sha256(data).hexdigest()
    job = await client.queue("up").submit(image=IMAGE, files=[tmp_path / "data.bin", tmp_path / "note.txt"])
    assert ("PUT", f"/f/{key}") in transport.requests
    inputs = (await job.definition())["inputs"]
    assert inputs == {
        "data.bin": {"type": "url", "value": f"http://asman.test/f/{key}", "hash": key},
        "note.txt": {"type": "utf8", "value": "small"},
    }
    stored = await client._session.http.get(f"/f/{key}")
    assert stored.content == data
    transport.requests.clear()
    await client.queue("up").submit(image=IMAGE, command="other", files=[tmp_path / "data.bin"])
    assert [method for method, _ in transport.requests] == ["GET", "POST"]


async def test_wait_result_and_download_of_a_finished_job(
    sdk: tuple[AsyncClient, CountingTransport, Any], tmp_path: Path
) -> None:
    client, _, app = sdk
    blob = b"large output " * 100
    key = hashlib.sha256(blob).hexdigest()
    await client._session.upload(Upload("o", key, len(blob), data=blob))
    job = await client.queue("done").submit(image=IMAGE, command="make outputs")
    with pytest.raises(AsmanError, match="not finished: wait for it first"):
        await job.read_output("small.txt")
    await finish_in_store(
        app.state.service,
        "done",
        job.id,
        {
            "reason": "Success",
            "logs": [["out", 1, False], ["err", 2, True]],
            "outputs": {
                "small.txt": {"type": "base64", "value": base64.b64encode(b"tiny").decode()},
                "deep/large.bin": {"type": "url", "value": f"http://asman.test/f/{key}", "hash": key},
            },
        },
    )
    result = await job.wait(timeout=5)
    assert (result.ok, result.exit_code, result.stdout, result.stderr) == (True, 0, "out\n", "err\n")
    assert [line.text async for line in job.logs()] == ["out", "err"]
    saved = await job.download(tmp_path / "out")
    assert saved == [tmp_path / "out" / "deep" / "large.bin", tmp_path / "out" / "small.txt"]
    assert (tmp_path / "out" / "small.txt").read_bytes() == b"tiny"
    assert (tmp_path / "out" / "deep" / "large.bin").read_bytes() == blob
    # One output in memory, inline or a blob, without writing a file.
    assert await job.read_output("small.txt") == b"tiny"
    assert await job.read_output("deep/large.bin") == blob
    with pytest.raises(
        AsmanError, match=re.escape("no output 'nope'; its outputs: 'deep/large.bin', 'small.txt'")
    ):
        await job.read_output("nope")
    events = [event async for event in job.events()]
    assert isinstance(events[0], StateChanged)
    assert isinstance(events[-1], Finished)
    assert events[-1].result.outputs.keys() == {"small.txt", "deep/large.bin"}


async def test_iter_jobs_pages_by_itself(
    sdk: tuple[AsyncClient, CountingTransport, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, transport, _ = sdk
    queue = client.queue("many")
    submitted = {(await queue.submit(image=IMAGE, command=f"echo {n}")).id for n in range(5)}
    transport.requests.clear()
    assert {job.job_id async for job in queue.iter_jobs()} == submitted
    assert transport.requests == [("GET", "/q/many/j")]
    assert [job async for job in queue.iter_jobs(state="Running")] == []
    assert len([job async for job in queue.iter_jobs(limit=3)]) == 3

    # Pages of 2: the iterator follows the cursor until the server has no more.
    real = client._session.json

    async def small_pages(method: str, path: str, **kwargs: Any) -> Any:
        if path == "/q/many/j":
            kwargs["params"] = {**kwargs["params"], "limit": 2}
        return await real(method, path, **kwargs)

    monkeypatch.setattr(client._session, "json", small_pages)
    transport.requests.clear()
    listed = [job.job_id async for job in queue.iter_jobs()]
    assert sorted(listed) == sorted(submitted) and len(listed) == 5
    assert len(transport.requests) == 3


async def test_rerun_drops_a_kept_success_and_queues_a_new_run(
    sdk: tuple[AsyncClient, CountingTransport, Any],
) -> None:
    client, transport, app = sdk
    queue = client.queue("again")
    job = await queue.submit(image=IMAGE, command="date")
    transport.requests.clear()
    assert await queue.submit(image=IMAGE, command="date", rerun=True) == job
    # Queued: joined, not restarted.
    assert transport.requests == [("POST", "/q/again")]
    assert (await job.status()).state is JobState.QUEUED
    await finish_in_store(app.state.service, "again", job.id, {"reason": "Success"})
    assert (await queue.submit(image=IMAGE, command="date")).id == job.id
    assert (await job.status()).state is JobState.FINISHED  # the kept success, answered again

    transport.requests.clear()
    rerun = await queue.submit(image=IMAGE, command="date", rerun=True)
    assert rerun == job
    assert transport.requests == [
        ("POST", "/q/again"),
        ("DELETE", f"/q/again/j/{job.id}"),
        ("POST", "/q/again"),
    ]
    assert (await job.status()).state is JobState.QUEUED
    assert await job.result() is None
    await finish_in_store(app.state.service, "again", job.id, {"reason": "Success", "StatusCode": 7})
    assert (await job.wait(check=False)).exit_code == 7


async def test_a_corrupted_output_is_not_kept(
    sdk: tuple[AsyncClient, CountingTransport, Any], tmp_path: Path
) -> None:
    client, _, app = sdk
    blob = b"x" * 300
    key = hashlib.sha256(blob).hexdigest()
    await client._session.http.put(f"/f/{key}", content=blob)
    job = await client.queue("bad").submit(image=IMAGE, command="x")
    await finish_in_store(
        app.state.service,
        "bad",
        job.id,
        {
            "reason": "Success",
            "outputs": {"lie.bin": {"type": "url", "value": f"http://asman.test/f/{key}", "hash": "0" * 64}},
        },
    )
    with pytest.raises(DownloadFailed, match="does not match its hash"):
        await job.download(tmp_path / "out")
    with pytest.raises(DownloadFailed, match="does not match its hash"):
        await job.read_output("lie.bin")
    assert not await asyncio.to_thread((tmp_path / "out" / "lie.bin").exists)


async def test_failures_raise_with_the_result(sdk: tuple[AsyncClient, CountingTransport, Any]) -> None:
    client, _, app = sdk
    job = await client.queue("fail").submit(image=IMAGE, command="exit 3")
    await finish_in_store(
        app.state.service,
        "fail",
        job.id,
        {"reason": "Success", "StatusCode": 3, "logs": [["something broke", 1, True]]},
    )
    with pytest.raises(
        JobFailed, match=r"exited with code 3; its last log lines:\n    something broke"
    ) as failure:
        await job.wait()
    assert failure.value.result.exit_code == 3
    assert (await job.wait(check=False)).exit_code == 3

    broken = await client.queue("fail").submit(image="missing:1", command="x")
    await finish_in_store(
        app.state.service,
        "fail",
        broken.id,
        {"reason": "Error", "StatusCode": None, "error": "image missing:1 could not be pulled"},
    )
    with pytest.raises(JobFailed, match="failed: image missing:1 could not be pulled"):
        await broken.wait()


async def test_copy_and_delete(sdk: tuple[AsyncClient, CountingTransport, Any]) -> None:
    client, _, _ = sdk
    job = await client.queue("a").submit(image=IMAGE, command="echo copy")
    copied = await job.copy("b")
    assert isinstance(copied, AsyncJob)
    assert (copied.queue, copied.id) == ("b", job.id)
    assert (await copied.status()).state is JobState.QUEUED
    await copied.delete()
    assert (await copied.status()).reason is FinishedReason.DELETED
    fresh = await client.new_queue()
    assert len(fresh.name) >= 22


async def test_error_paths(sdk: tuple[AsyncClient, CountingTransport, Any], tmp_path: Path) -> None:
    client, _, _ = sdk
    with pytest.raises(JobNotFound, match=r"no job 0{64} in queue q"):
        await client.job("q", "0" * 64).status()
    with pytest.raises(JobNotFound):
        await client.job("q", "0" * 64).wait(timeout=5)
    with pytest.raises(InvalidJob, match=r"requirements\.cpus"):
        await client.queue("q").submit(image=IMAGE, cpus=-1)
    with pytest.raises(InvalidJob, match="no such file or folder"):
        await client.queue("q").submit(image=IMAGE, files=[tmp_path / "missing.txt"])
    with pytest.raises(InvalidJob, match="needs an image"):
        await client.queue("q").submit(command="echo")


# -- a real server, driven by a fake worker -------------------------------------------------------------------


async def run_fake_job(
    url: str, queue: str, lines: list[list[Any]], result: dict[str, Any], pause: float = 0.05
) -> None:
    """Take the next job of `queue`, write `lines` one by one, then report `result`."""
    worker = FakeWorker(url, queue, f"fake-{queue}")
    await worker.connect()
    try:
        assigned = await worker.receive_type("assign", timeout=20)
        job_id, attempt = assigned["jobId"], assigned["attempt"]
        for line in lines:
            await asyncio.sleep(pause)
            await worker.send(
                {"type": "log", "jobId": job_id, "attempt": attempt, "step": "run", "logs": [line]}
            )
        await asyncio.sleep(pause)
        await worker.send(
            {
                "type": "finished",
                "jobId": job_id,
                "attempt": attempt,
                "result": {"reason": "Success", "StatusCode": 0, "logs": lines, "outputs": {}, **result},
            }
        )
        await asyncio.sleep(0.2)
    finally:
        await worker.close()


@contextlib.contextmanager
def in_thread(target: Any) -> Iterator[dict[str, Any]]:
    """Run a blocking call in a thread; the dict gets its `value` or `error`."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = target()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield outcome
    thread.join(60)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]


async def test_sync_logs_follow_a_running_job_live(live_server: ServerProcess, tmp_path: Path) -> None:
    client = Client(live_server.url)
    job = client.queue("live").submit(image=IMAGE, command="talk", inputs={"in.txt": "hello"})
    lines = [["one", 1, False], ["warn", 2, True], ["two", 3, False]]
    seen: list[tuple[str, bool, float]] = []

    def follow() -> None:
        for line in job.logs():
            seen.append((line.text, line.stderr, time.monotonic()))

    with in_thread(follow):
        await run_fake_job(
            live_server.url,
            "live",
            lines,
            {"outputs": {"out/greeting.txt": {"type": "utf8", "value": "hi there"}}},
            pause=0.8,
        )
    assert [(text, stderr) for text, stderr, _ in seen] == [("one", False), ("warn", True), ("two", False)]
    # Written 1.6 s apart: delivered as written, not all at the end (with slack for a loaded machine).
    assert seen[-1][2] - seen[0][2] > 0.8
    result = job.wait(timeout=5)
    assert result.ok and result.worker == "fake-live"
    assert job.download(tmp_path) == [tmp_path / "out" / "greeting.txt"]
    assert (tmp_path / "out" / "greeting.txt").read_text() == "hi there"
    assert [line.text for line in job.logs(follow=False)] == ["one", "warn", "two"]
    client.close()


async def test_async_wait_while_a_worker_runs_the_job(live_server: ServerProcess) -> None:
    async with AsyncClient(live_server.url) as client:
        job = await client.queue("async").submit(image=IMAGE, command="x")
        seen: list[str] = []

        async def watch() -> None:
            async for event in job.events(timeout=20):
                if isinstance(event, StateChanged):
                    seen.append(event.status.state.value)
                elif isinstance(event, LogsWritten):
                    seen.extend(line.text for line in event.lines)

        watching = asyncio.create_task(watch())
        while not seen:  # the stream's first snapshot shows the job still Queued
            assert not watching.done(), watching
            await asyncio.sleep(0.02)
        await run_fake_job(live_server.url, "async", [["a", 1, False]], {"StatusCode": 4})
        await watching
        assert seen[0] == "Queued" and "Running" in seen and "a" in seen and seen[-1] == "Finished"
        with pytest.raises(JobFailed, match="exited with code 4"):
            await job.wait(timeout=5)


def test_wait_timeout_is_on_time(live_server: ServerProcess) -> None:
    job = Client(live_server.url).queue("slow").submit(image=IMAGE, command="never runs")
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"did not finish within 1\.5 s"):
        job.wait(timeout=1.5)
    assert 1.4 < time.monotonic() - started < 15


def test_an_unreachable_server_is_reported_with_what_to_do() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", retries=1)
    with pytest.raises(
        ServerUnreachable, match=r"cannot reach the Asman server at http://127\.0\.0\.1:\d+.*make run"
    ):
        client.queue("q").submit(image=IMAGE)


async def test_wait_reconnects_when_the_server_restarts(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path / "data", port=port)
    try:
        client = Client(server.url)
        client.retry = Retry(attempts=2, first_delay=0.1)
        job = client.queue("restart").submit(image=IMAGE, command="x")
        with in_thread(lambda: job.wait(timeout=60)) as outcome:
            async with httpx.AsyncClient() as http, asyncio.timeout(30):
                while (await http.get(f"{server.url}/q/restart/status")).json()["clients"] < 1:
                    await asyncio.sleep(0.05)  # until the stream is open
            server.stop(signal.SIGTERM)
            await asyncio.sleep(0.5)
            server = start_server(tmp_path / "data", port=port)
            await run_fake_job(server.url, "restart", [["after restart\n", 1, False]], {})
        assert outcome["value"].stdout == "after restart\n"
    finally:
        server.stop()


# -- real containers ------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_a_real_job_copies_a_file_and_streams_its_logs(stack: Stack, tmp_path: Path) -> None:
    readme = ROOT / "README.md"
    with Client(stack.url) as client:
        job = client.queue(stack.queue).submit(
            image=stack.image,
            files=[readme],
            command="sh -c 'cat /inputs/README.md > /outputs/readme-copied.md; echo copied; echo careful >&2'",
        )
        lines = [(line.text, line.stderr) for line in job.logs()]
        result = job.wait(timeout=60)
        assert result.ok, result
        assert sorted(lines) == [("careful", True), ("copied", False)]
        job.download(tmp_path)
    assert (tmp_path / "readme-copied.md").read_bytes() == readme.read_bytes()


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.mark.docker
def test_the_python_docs_run(
    bare_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every ```python block of docs/python.md, in order, in one namespace, against a worker on `local`."""
    bare_stack.queue = "local"
    bare_stack.add_worker()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASMAN_API_URL", bare_stack.url)
    blocks = python_blocks(ROOT / "docs" / "python.md")
    assert len(blocks) >= 7
    namespace: dict[str, Any] = {"__name__": "docs"}
    for number, block in enumerate(blocks, 1):
        code = block.replace("http://127.0.0.1:8000", bare_stack.url)
        try:
            exec(compile(code, f"docs/python.md block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"docs/python.md block {number} failed: {error!r}\n{block}") from error
        printed = capsys.readouterr().out
        # Each `print(...)  # expected` comment is what the line prints.
        for expected in re.findall(r"print\(.*\)\s+# (.+)$", block, flags=re.M):
            expected = expected.replace("000…000", "0" * 64).replace("http://127.0.0.1:8000", bare_stack.url)
            assert expected in printed, (number, expected, printed)
    assert (tmp_path / "results" / "count.txt").read_text().strip() == "3"
    shutil.rmtree(tmp_path / "results")
