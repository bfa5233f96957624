"""Attacks on the worker protocol through a real server, each of which once did harm (issue 17): a stranger's
worker finishing, logging for, taking over or releasing someone else's attempt; logs past the cap, duplicated
or lost across a reconnect; a result too large to take; malformed fields; a flood of messages. Protocol-level
workers, so no containers are needed; one server for the module (each test has queues of its own)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, start_server

MAX_LOG_BYTES = 4000
LIMITS = {
    "ASMAN_MAX_LOG_BYTES": str(MAX_LOG_BYTES),
    "ASMAN_MAX_RESULT_BYTES": "200k",
    "ASMAN_MAX_OUTPUTS": "100",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = start_server(tmp_path_factory.mktemp("attacks") / "data", LIMITS)
    yield started
    started.stop()


def submit(server: ServerProcess, queue: str, command: str = "") -> str:
    # A command of its own: the same job in another queue would be served its kept success.
    definition = {"image": "x", "command": command or f"run {queue}"}
    response = httpx.post(f"{server.url}/q/{queue}", json={"definition": definition})
    response.raise_for_status()
    job_id: str = response.json()["jobId"]
    return job_id


def job(server: ServerProcess, queue: str, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{server.url}/q/{queue}/j/{job_id}").json()["data"]
    return data


def all_logs(server: ServerProcess, queue: str, job_id: str) -> list[list[Any]]:
    """Every run-log line, read a page at a time as clients do."""
    lines: list[list[Any]] = []
    while True:
        page = httpx.get(
            f"{server.url}/q/{queue}/j/{job_id}/run-logs.json", params={"since": len(lines)}
        ).json()
        lines += page["data"]
        if not page["data"]:
            return lines


async def until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_stranger_on_the_queue_cannot_touch_an_attempt_it_does_not_hold(
    server: ServerProcess,
) -> None:
    job_id = submit(server, "bound")
    owner = FakeWorker(server.url, "bound", "owner")
    await owner.connect()
    attempt = (await owner.receive_type("assign"))["attempt"]
    assert job(server, "bound", job_id)["attempt"] == attempt  # the attempt number is public
    thief = FakeWorker(server.url, "bound", "thief")
    registered = await thief.connect(running=[{"jobId": job_id, "attempt": attempt, "token": "guessed"}])
    assert registered["keep"] == [] and registered["drop"] == [{"jobId": job_id, "attempt": attempt}]
    for token in (None, "guessed"):
        thief.tokens[(job_id, attempt)] = token  # type: ignore[assignment]
        await thief.log(job_id, attempt, "planted line")
        assert (await thief.receive_type("rejected"))["jobId"] == job_id
        await thief.finish(job_id, attempt, status=66, outputs={"out": {"type": "utf8", "value": "evil"}})
        assert (await thief.receive_type("rejected"))["jobId"] == job_id
        await thief.release(job_id, attempt)
        assert (await thief.receive_type("rejected"))["jobId"] == job_id
    await asyncio.sleep(0.3)
    view = job(server, "bound", job_id)
    assert (view["state"], view["worker"], view["attempt"]) == ("Running", "owner", attempt)
    assert all_logs(server, "bound", job_id) == []
    # The owner's messages still count, with the token or without it (it holds the attempt on this connection).
    await owner.send({"type": "log", "jobId": job_id, "attempt": attempt, "logs": [["mine\n", 1, False]]})
    await owner.finish(job_id, attempt, status=0)
    await until(lambda: job(server, "bound", job_id)["state"] == "Finished")
    view = job(server, "bound", job_id)
    assert view["results"]["worker"] == "owner" and view["results"]["finished"]["result"]["StatusCode"] == 0
    assert all_logs(server, "bound", job_id) == [["mine\n", 1, False]]
    await owner.close()
    await thief.close()


async def test_the_log_cap_holds_against_empty_lines_extra_fields_and_reconnects(
    server: ServerProcess,
) -> None:
    job_id = submit(server, "cap")
    worker = FakeWorker(server.url, "cap", "w")
    await worker.connect()
    attempt = (await worker.receive_type("assign"))["attempt"]
    for round_ in range(4):  # once counted per connection: each reconnect started a fresh budget
        await worker.logs(job_id, attempt, [["", 0, False]] * 200)
        await worker.logs(job_id, attempt, [["x", 0, "padding" * 50]] * 20)
        await worker.close()
        await worker.connect(running=[{"jobId": job_id, "attempt": attempt}])
        assert worker.registered["keep"], f"round {round_}: the attempt was not kept"
    await worker.heartbeat([])
    lines = all_logs(server, "cap", job_id)
    stored = sum(len(orjson.dumps(line)) for line in lines)
    assert stored <= MAX_LOG_BYTES
    assert "log truncated" in lines[-1][0] and sum("truncated" in str(line[0]) for line in lines) == 1
    await worker.close()


async def test_every_line_is_stored_once_in_order_across_a_forced_reconnect(server: ServerProcess) -> None:
    job_id = submit(server, "once")
    worker = FakeWorker(server.url, "once", "w")
    await worker.connect()
    attempt = (await worker.receive_type("assign"))["attempt"]
    lines = [[f"{n}\n", n, False] for n in range(60)]
    for first in range(0, 30, 5):
        await worker.logs(job_id, attempt, lines[first : first + 5])
    assert worker.ws is not None
    worker.ws.transport.abort()  # dropped with messages in flight
    registered = await worker.connect(running=[{"jobId": job_id, "attempt": attempt}])
    [kept] = registered["keep"]
    position = kept["logs"].get("run", 0)
    assert position <= 30
    # The worker sends again from well before where the server says its log goes on, then the rest.
    for first in range(max(0, position - 10), 60, 5):
        await worker.logs(job_id, attempt, lines[first : first + 5], seq=first)
    await worker.logs(job_id, attempt, lines[20:25], seq=20)  # and an old batch, late
    await worker.finish(job_id, attempt)
    await until(lambda: job(server, "once", job_id)["state"] == "Finished")
    assert all_logs(server, "once", job_id) == lines
    await worker.close()


async def test_a_result_over_the_caps_fails_the_job_with_the_reason(server: ServerProcess) -> None:
    worker = FakeWorker(server.url, "big", "w")
    await worker.connect()
    many, large = submit(server, "big", "many"), submit(server, "big", "large")
    outputs = {f"out/{n}.txt": {"type": "utf8", "value": ""} for n in range(101)}
    for job_id, sent in ((many, outputs), (large, {"blob": {"type": "utf8", "value": "x" * 300_000}})):
        attempt = (await worker.receive_type("assign"))["attempt"]
        await worker.finish(job_id, attempt, outputs=sent)
        error = await worker.receive_type("error")
        assert error["jobId"] == job_id
    for job_id, why in ((many, "ASMAN_MAX_OUTPUTS"), (large, "ASMAN_MAX_RESULT_BYTES")):
        await until(lambda job_id=job_id: job(server, "big", job_id)["state"] == "Finished")
        view = job(server, "big", job_id)
        assert view["finishedReason"] == "Error" and view["attempt"] == 1  # failed once, not rerun
        assert why in view["results"]["finished"]["result"]["error"]
    await worker.heartbeat([])  # the connection is still there
    await worker.close()


async def test_a_result_over_the_cap_in_a_finished_many_frame_fails_alone(server: ServerProcess) -> None:
    """A frame may be as large as its results may be together: one result over the cap ends its attempt as an
    Error, as a `finished` over it would, and the others are recorded. A frame over 16 MiB is refused whole."""
    worker = FakeWorker(server.url, "big-many", "w", slots=2, assign_many=True, finished_many=True)
    await worker.connect()
    large, small = submit(server, "big-many", "large"), submit(server, "big-many", "small")
    attempts = {m["jobId"]: m["attempt"] for m in [await worker.receive_type("assign") for _ in range(2)]}
    huge = {"blob": {"type": "utf8", "value": "x" * 17 * 1024**2}}
    await worker.finish_many(
        [worker.report(large, attempts[large], outputs=huge), worker.report(small, attempts[small])]
    )
    refused = await worker.receive_type("error")
    assert "over the limit of 16777216" in refused["message"] and "jobId" not in refused
    await asyncio.sleep(0.3)
    assert job(server, "big-many", large)["state"] == job(server, "big-many", small)["state"] == "Running"
    big = {"blob": {"type": "utf8", "value": "x" * 300_000}}
    await worker.finish_many(
        [worker.report(large, attempts[large], outputs=big), worker.report(small, attempts[small], status=5)]
    )
    error = await worker.receive_type("error")
    assert error["jobId"] == large and "ASMAN_MAX_RESULT_BYTES" in error["message"]
    await until(
        lambda: (
            job(server, "big-many", small)["state"] == job(server, "big-many", large)["state"] == "Finished"
        )
    )
    failed = job(server, "big-many", large)
    assert failed["finishedReason"] == "Error" and failed["attempt"] == 1
    assert "ASMAN_MAX_RESULT_BYTES" in failed["results"]["finished"]["result"]["error"]
    done = job(server, "big-many", small)
    assert done["finishedReason"] == "Success" and done["results"]["finished"]["result"]["StatusCode"] == 5
    await worker.close()


async def test_malformed_fields_get_an_error_and_one_line_each(server: ServerProcess) -> None:
    job_id = submit(server, "malformed")
    worker = FakeWorker(server.url, "malformed", "w-malformed")
    await worker.connect()
    attempt = (await worker.receive_type("assign"))["attempt"]
    bad: list[dict[str, Any]] = [
        {"type": "log", "jobId": job_id, "attempt": None, "logs": []},
        {"type": "log", "jobId": job_id, "attempt": [1], "logs": []},
        {"type": "log", "jobId": job_id, "attempt": attempt, "logs": 5},
        {"type": "log", "jobId": job_id, "attempt": attempt, "logs": [{"a": 1}]},
        {"type": "log", "jobId": job_id, "attempt": attempt, "seq": "x", "logs": []},
        {"type": "log", "jobId": job_id, "attempt": attempt, "seq": 2**70, "logs": [["x", 1, False]]},
        {"type": "finished", "jobId": job_id, "attempt": 2**64, "result": {}},
        {"type": "finished", "jobId": 7, "attempt": attempt},
        {"type": "release", "jobId": job_id, "attempt": "1"},
        {"type": "nonsense"},
        {"type": "log", "jobId": job_id, "attempt": attempt, "token": ["x"], "logs": []},
    ]
    assert worker.ws is not None
    for message in bad:
        await worker.ws.send(json.dumps(message))  # json: orjson refuses integers past 64 bits
        answer = await worker.receive_type("error")
        assert answer["message"]
    # A malformed result from the worker that holds the attempt ends it as an Error that says so.
    await worker.send({"type": "finished", "jobId": job_id, "attempt": attempt, "result": {"reason": "Nope"}})
    await worker.receive_type("error")
    await until(lambda: job(server, "malformed", job_id)["state"] == "Finished")
    assert "malformed result" in job(server, "malformed", job_id)["results"]["finished"]["result"]["error"]
    log = server.log()
    assert "Traceback" not in log
    assert log.count("worker w-malformed sent a bad message") == 5
    await worker.close()


async def test_healthz_answers_while_a_worker_floods_messages(server: ServerProcess) -> None:
    job_id = submit(server, "flood")
    worker = FakeWorker(server.url, "flood", "w")
    await worker.connect()
    attempt = (await worker.receive_type("assign"))["attempt"]
    sent = 0

    async def flood() -> None:
        nonlocal sent
        assert worker.ws is not None
        token = worker.token(job_id, attempt)
        about = {"jobId": job_id, "attempt": attempt, "token": token}
        # Encoded once, so the flood costs this process little and the server much.
        messages = [
            orjson.dumps({"type": "log", **about, "logs": [[f"line {n}\n", n, False] for n in range(200)]}),
            orjson.dumps({"type": "heartbeat", "running": [about] * 5000}),
            orjson.dumps(
                {"type": "log", **about, "logs": [["x" * 500_000, 0, False]]}
            ),  # past the cap: dropped
        ]
        while True:
            for message in messages:
                await worker.ws.send(message)
                sent += 1
            await asyncio.sleep(0)

    async def healthz_latencies() -> list[float]:
        latencies = []
        async with httpx.AsyncClient() as client:
            for _ in range(15):
                started = time.monotonic()
                assert (await client.get(f"{server.url}/healthz", timeout=5)).text == "OK"
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.1)
        return sorted(latencies)

    idle = await healthz_latencies()
    flooding = asyncio.create_task(flood())
    await asyncio.sleep(0.5)
    flooded = await healthz_latencies()
    flooding.cancel()  # its sends wait: the server paces this connection, so the socket is full
    print(f"healthz, median: {idle[7]:.3f} s idle, {flooded[7]:.3f} s under a flood of {sent} messages")
    assert sent > 100
    # Within 200 ms, or (on a machine loaded by other work) not much slower than when idle.
    assert flooded[7] < max(0.2, 3 * idle[7]), (idle, flooded)
    assert worker.ws is not None
    worker.ws.transport.abort()  # no close handshake behind the flood
