"""The worker protocol against a real server process: FIFO assignment, leases, fencing, retry budget,
re-announcement after reconnect, cancel forwarding. Protocol-level workers, so no containers are needed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as websockets_connect
from websockets.exceptions import ConnectionClosed

from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, run_of, sse_events

pytestmark = pytest.mark.all_backends


def submit(server: ServerProcess, queue: str, command: str, **extra: Any) -> str:
    response = httpx.post(
        f"{server.url}/q/{queue}", json={"definition": {"image": "x", "command": command, **extra}}
    )
    response.raise_for_status()
    job_id: str = response.json()["jobId"]
    return job_id


def job(server: ServerProcess, queue: str, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{server.url}/q/{queue}/j/{job_id}").json()["data"]
    return data


async def wait_for(predicate: Any, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_fifo_assignment_and_success(live_server: ServerProcess) -> None:
    ids = [submit(live_server, "fifo", f"echo {i}") for i in range(3)]
    worker = FakeWorker(live_server.url, "fifo", "w1")
    await worker.connect()
    for expected in ids:
        assigned = await worker.receive_type("assign")
        assert assigned["jobId"] == expected and assigned["attempt"] == 1
        assert assigned["definition"]["command"].startswith("echo")
        await worker.log(expected, 1, "hello")
        await worker.finish(expected, 1)
    await wait_for(lambda: job(live_server, "fifo", ids[-1])["state"] == "Finished")
    result = job(live_server, "fifo", ids[0])
    assert result["finishedReason"] == "Success" and result["results"]["worker"] == "w1"
    logs = httpx.get(f"{live_server.url}/q/fifo/j/{ids[0]}/run-logs.json").json()
    assert logs["data"][0][0] == "hello" and logs["isFinal"] is True
    await worker.close()


@pytest.mark.parametrize("assign_many", [False, True])
async def test_several_assignments_share_a_frame_only_for_workers_that_ask(
    live_server: ServerProcess, assign_many: bool
) -> None:
    queue = f"many-{assign_many}".lower()
    ids = [submit(live_server, queue, f"echo {i}") for i in range(4)]
    worker = FakeWorker(live_server.url, queue, "w1", slots=4, assign_many=assign_many)
    await worker.connect()
    assigned = [await worker.receive_type("assign") for _ in ids]
    assert [message["jobId"] for message in assigned] == ids  # oldest first, in one frame or four
    assert worker.frames["assignMany" if assign_many else "assign"] == (1 if assign_many else 4)
    for message in assigned:
        await worker.finish(message["jobId"], message["attempt"])
    await wait_for(lambda: all(job(live_server, queue, i)["state"] == "Finished" for i in ids))
    await worker.close()


@pytest.mark.parametrize("finished_many", [False, True])
async def test_results_share_a_frame_only_from_workers_that_announce_it(
    live_server: ServerProcess, finished_many: bool
) -> None:
    """The same reports, one `finished` each or in one `finishedMany` frame: the good ones are recorded, and a
    stranger's attempt (a wrong token), a stale attempt and a malformed entry each get their own answer
    without failing the others."""
    queue = f"results-{finished_many}".lower()
    ids = [submit(live_server, queue, f"exit {i}") for i in range(3)]
    worker = FakeWorker(live_server.url, queue, "w1", slots=3, assign_many=True, finished_many=finished_many)
    await worker.connect()
    assert worker.registered["finishedMany"] is True  # the server says it takes them
    assigned = [await worker.receive_type("assign") for _ in ids]
    stranger = FakeWorker(live_server.url, queue, "w2")
    await stranger.connect()
    theirs = submit(live_server, queue, "theirs")
    await stranger.receive_type("assign")
    good = [worker.report(m["jobId"], m["attempt"], status=n + 1) for n, m in enumerate(assigned)]
    wrong_token = {**worker.report(theirs, 1), "token": "guessed"}
    stale = worker.report(ids[2], 99)
    malformed = {**worker.report(ids[0], 1), "jobId": "not-a-job"}
    reports = [good[0], wrong_token, good[1], stale, malformed, good[2]]
    if finished_many:
        await worker.finish_many(reports)
    else:
        for report in reports:
            await worker.send({"type": "finished", **report})
    answers = [await worker.receive() for _ in range(3)]
    assert sorted((a["type"], a.get("jobId"), a.get("attempt")) for a in answers) == sorted(
        [("rejected", theirs, 1), ("rejected", ids[2], 99), ("error", None, None)]
    )
    await wait_for(lambda: all(job(live_server, queue, i)["state"] == "Finished" for i in ids))
    assert [run_of(job(live_server, queue, i))["StatusCode"] for i in ids] == [1, 2, 3]
    assert job(live_server, queue, theirs)["state"] == "Running"  # still the stranger's to report
    await stranger.finish(theirs, 1)
    await wait_for(lambda: job(live_server, queue, theirs)["state"] == "Finished")
    await worker.close()
    await stranger.close()


async def test_a_finished_many_frame_from_a_worker_that_did_not_announce_it_is_refused(
    live_server: ServerProcess,
) -> None:
    """Upstream's workers and older Asman ones never send it; one that sends it unannounced is told why and
    none of its results are taken (its attempts stay running, and can still be reported one by one)."""
    job_id = submit(live_server, "unannounced", "x")
    worker = FakeWorker(live_server.url, "unannounced", "w1")
    await worker.connect()
    assigned = await worker.receive_type("assign")
    await worker.finish_many([worker.report(job_id, assigned["attempt"])])
    error = await worker.receive_type("error")
    assert "did not announce it" in error["message"] and "finishedMany" in error["message"]
    await asyncio.sleep(0.3)
    assert job(live_server, "unannounced", job_id)["state"] == "Running"
    await worker.finish(job_id, assigned["attempt"], status=4)
    await wait_for(lambda: job(live_server, "unannounced", job_id)["state"] == "Finished")
    assert run_of(job(live_server, "unannounced", job_id))["StatusCode"] == 4
    await worker.close()


async def test_a_successful_job_is_served_from_cache_without_running(live_server: ServerProcess) -> None:
    worker = FakeWorker(live_server.url, "cache", "w1")
    await worker.connect()
    job_id = submit(live_server, "cache", "echo cached")
    await worker.receive_type("assign")
    await worker.finish(job_id, 1, status=3)
    await wait_for(lambda: job(live_server, "cache", job_id)["state"] == "Finished")
    again = httpx.post(
        f"{live_server.url}/q/cache", json={"definition": {"image": "x", "command": "echo cached"}}
    )
    assert again.json()["state"] == "Finished" and again.json()["finishedReason"] == "Success"
    other_queue = httpx.post(
        f"{live_server.url}/q/elsewhere", json={"definition": {"image": "x", "command": "echo cached"}}
    )
    # Another queue is another trust domain (docs/security.md): it runs the job itself, on its own workers.
    assert other_queue.json()["state"] == "Queued"
    try:
        unexpected = await worker.receive_type("assign", timeout=1)
        raise AssertionError(f"a cached job was assigned again: {unexpected}")
    except TimeoutError:
        pass
    await worker.close()


async def test_expired_lease_requeues_with_next_attempt_and_stale_messages_are_rejected(
    live_server: ServerProcess,
) -> None:
    job_id = submit(live_server, "lease", "sleep")
    lost = FakeWorker(live_server.url, "lease", "lost")
    await lost.connect()
    first = await lost.receive_type("assign")
    assert first["attempt"] == 1
    # Taking no more jobs, the lost worker cannot be handed attempt 2 itself when its lease expires.
    await lost.send({"type": "drain"})
    # The lost worker stops heartbeating; its 3 s lease expires and a second worker gets attempt 2.
    rescuer = FakeWorker(live_server.url, "lease", "rescuer")
    await rescuer.connect()
    second = await rescuer.receive_type("assign", timeout=15)
    assert second["jobId"] == job_id and second["attempt"] == 2
    # The first worker wakes up and reports: the server drops attempt 1 (fencing).
    await lost.log(job_id, 1, "late line")
    await lost.finish(job_id, 1, status=99)
    rejected = await lost.receive_type("rejected")
    assert rejected["attempt"] == 1
    await asyncio.sleep(0.3)
    assert job(live_server, "lease", job_id)["state"] == "Running"
    await rescuer.finish(job_id, 2, status=0)
    await wait_for(lambda: job(live_server, "lease", job_id)["state"] == "Finished")
    final = job(live_server, "lease", job_id)
    assert final["results"]["attempt"] == 2 and run_of(final)["StatusCode"] == 0
    logs = httpx.get(f"{live_server.url}/q/lease/j/{job_id}/run-logs.json").json()["data"]
    assert all(line[0] != "late line" for line in logs)
    await lost.close()
    await rescuer.close()


async def test_retry_budget_ends_in_worker_lost(live_server: ServerProcess) -> None:
    job_id = submit(live_server, "budget", "doomed")
    for attempt in (1, 2, 3):
        worker = FakeWorker(live_server.url, "budget", f"w{attempt}")
        await worker.connect()
        assigned = await worker.receive_type("assign", timeout=15)
        assert assigned["attempt"] == attempt
        await worker.close()  # disconnects and never comes back: the lease expires
    await wait_for(lambda: job(live_server, "budget", job_id)["state"] == "Finished", timeout=20)
    assert job(live_server, "budget", job_id)["finishedReason"] == "WorkerLost"


async def test_heartbeats_keep_a_long_job(live_server: ServerProcess) -> None:
    job_id = submit(live_server, "beat", "long")
    worker = FakeWorker(live_server.url, "beat", "w1")
    await worker.connect()
    assigned = await worker.receive_type("assign")
    for _ in range(12):  # 6 s, twice the lease
        await worker.heartbeat([{"jobId": job_id, "attempt": assigned["attempt"]}])
        await asyncio.sleep(0.5)
    assert job(live_server, "beat", job_id)["attempt"] == 1
    assert job(live_server, "beat", job_id)["state"] == "Running"
    await worker.close()


async def test_a_reconnecting_worker_keeps_its_current_attempt(live_server: ServerProcess) -> None:
    job_id = submit(live_server, "reconnect", "x")
    worker = FakeWorker(live_server.url, "reconnect", "w1")
    await worker.connect()
    assigned = await worker.receive_type("assign")
    await worker.close()
    again = FakeWorker(live_server.url, "reconnect", "w1")
    again.tokens = dict(worker.tokens)  # the same worker process, connecting again: it kept its tokens
    registered = await again.connect(
        running=[{"jobId": job_id, "attempt": assigned["attempt"]}, {"jobId": "f" * 64, "attempt": 7}]
    )
    assert registered["keep"] == [{"jobId": job_id, "attempt": 1, "logs": {}}]
    assert registered["drop"] == [{"jobId": "f" * 64, "attempt": 7}]
    await again.finish(job_id, 1)
    await wait_for(lambda: job(live_server, "reconnect", job_id)["state"] == "Finished")
    assert job(live_server, "reconnect", job_id)["finishedReason"] == "Success"
    await again.close()


async def test_cancel_reaches_the_worker_at_once(live_server: ServerProcess) -> None:
    job_id = submit(live_server, "cancel", "x")
    worker = FakeWorker(live_server.url, "cancel", "w1")
    await worker.connect()
    await worker.receive_type("assign")
    started = asyncio.get_running_loop().time()
    httpx.post(f"{live_server.url}/q/cancel/j/{job_id}/cancel").raise_for_status()
    message = await worker.receive_type("cancel", timeout=10)
    assert message == {"type": "cancel", "jobId": job_id, "attempt": 1}
    # Pushed, not picked up on a later heartbeat or lease check (a loaded machine gets some slack).
    assert asyncio.get_running_loop().time() - started < 5
    assert job(live_server, "cancel", job_id)["finishedReason"] == "Cancelled"
    await worker.close()


async def test_a_cancelled_attempt_keeps_its_slot_and_last_logs_until_the_worker_reports(
    live_server: ServerProcess,
) -> None:
    """Heartbeats between the cancel and the worker's report do not reject the attempt: the worker's closing
    lines are stored, and the slot frees only when it reports."""
    job_id = submit(live_server, "stopping", "x")
    worker = FakeWorker(live_server.url, "stopping", "w1", slots=1)
    await worker.connect()
    await worker.receive_type("assign")
    httpx.post(f"{live_server.url}/q/stopping/j/{job_id}/cancel").raise_for_status()
    await worker.receive_type("cancel", timeout=10)
    waiting = submit(live_server, "stopping", "next")
    for _ in range(3):
        await worker.heartbeat([{"jobId": job_id, "attempt": 1}])
        await asyncio.sleep(0.4)
    await worker.log(job_id, 1, "containers stopped")
    await worker.finish(job_id, 1)
    seen = [await worker.receive()]
    while seen[-1]["type"] != "assign":
        seen.append(await worker.receive())
    assert "rejected" not in [message["type"] for message in seen], seen
    assert seen[-1]["jobId"] == waiting
    lines = httpx.get(f"{live_server.url}/q/stopping/j/{job_id}/run-logs.json").json()["data"]
    assert [line[0].rstrip("\n") for line in lines] == ["containers stopped"]
    assert job(live_server, "stopping", job_id)["finishedReason"] == "Cancelled"
    await worker.close()


async def test_gpu_jobs_only_go_to_workers_with_gpus(live_server: ServerProcess) -> None:
    gpu_job = submit(live_server, "gpu", "train", requirements={"gpus": 2})
    cpu_job = submit(live_server, "gpu", "plain")
    cpu_worker = FakeWorker(live_server.url, "gpu", "cpu-only", slots=2)
    await cpu_worker.connect()
    assert (await cpu_worker.receive_type("assign"))["jobId"] == cpu_job
    gpu_worker = FakeWorker(live_server.url, "gpu", "gpu-box", gpus=2)
    await gpu_worker.connect()
    assert (await gpu_worker.receive_type("assign"))["jobId"] == gpu_job
    await cpu_worker.close()
    await gpu_worker.close()


async def test_status_lists_connected_workers(live_server: ServerProcess) -> None:
    worker = FakeWorker(live_server.url, "status", "w-status", slots=3)
    await worker.connect()
    await wait_for(lambda: httpx.get(f"{live_server.url}/q/status/status").json()["workers"])
    status = httpx.get(f"{live_server.url}/q/status/status").json()
    assert [(w["id"], w["slots"]) for w in status["workers"]] == [("w-status", 3)]
    await worker.close()
    await wait_for(lambda: httpx.get(f"{live_server.url}/q/status/status").json()["workers"] == [])


async def test_sse_stream_delivers_state_logs_and_final(live_server: ServerProcess) -> None:
    job_id = submit(live_server, "sse", "x")
    events: list[tuple[str, Any]] = []

    async def watch() -> None:
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", f"{live_server.url}/q/sse/j/{job_id}/stream") as response,
        ):
            async for pair in sse_events(response):
                events.append(pair)

    watcher = asyncio.create_task(watch())
    await wait_for(lambda: len(events) >= 1)
    worker = FakeWorker(live_server.url, "sse", "w1")
    await worker.connect()
    await worker.receive_type("assign")
    await worker.log(job_id, 1, "streamed line")
    await asyncio.sleep(0.2)
    await worker.finish(job_id, 1)
    await asyncio.wait_for(watcher, 10)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "state" and kinds[-1] == "final"
    assert ("run-log", {"lines": [["streamed line", 0, False]], "cursor": 1}) in events
    assert any(kind == "state" and data.get("state") == "Running" for kind, data in events)
    assert events[-1][1]["results"]["finishedReason"] == "Success"
    # The exit code rides on the Finished state and in listings: no result fetch needed for it.
    assert any(kind == "state" and data.get("exitCode") == 0 for kind, data in events)
    listed = httpx.get(f"{live_server.url}/q/sse").json()["data"]
    assert listed[job_id]["exitCode"] == 0 and listed[job_id]["finishedReason"] == "Success"
    await worker.close()


@pytest.mark.parametrize(
    ("running", "why"),
    [
        (
            [{"jobId": f"{index:064x}", "attempt": 1} for index in range(5_000)],
            "5000 running jobs announced",
        ),
        (
            [{"jobId": f"{index:064x}", "attempt": 1} for index in range(200_000)],
            "over the limit of 1048576",
        ),
        ([{"jobId": "not-an-id", "attempt": 1}], "64 hex digits"),
        ([{"jobId": "a" * 64, "attempt": "1"}], "attempt: <integer>"),
        ({"jobId": "a" * 64}, "must be a list"),
    ],
)
async def test_a_registration_that_announces_nonsense_is_refused_at_once(
    live_server: ServerProcess, running: Any, why: str
) -> None:
    """A worker runs at most one job per slot: a huge announcement (once quadratic to check, freezing the
    server) or malformed items are refused before any store work, with the reason, and the server stays free."""
    worker = FakeWorker(live_server.url, "nonsense", "w-nonsense", slots=2)
    worker.ws = await websockets_connect(worker.socket_url, max_size=None)
    started = asyncio.get_running_loop().time()
    await worker.send({"type": "register", "worker": worker.info, "running": running})
    with pytest.raises(ConnectionClosed) as closed:
        await worker.receive(timeout=10)
    assert (
        closed.value.rcvd is not None and closed.value.rcvd.code == 1007 and why in closed.value.rcvd.reason
    )
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{live_server.url}/healthz", timeout=2)).text == "OK"
    assert asyncio.get_running_loop().time() - started < 5
