"""Abuse limits through a real server: rate limiting, input counts, log volume, worker tokens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from asman.settings import Settings
from tests.support.fake_worker import FakeWorker
from tests.support.server import in_process, start_server

VECTOR = {"image": "alpine:3.19.1", "command": "echo hello"}


async def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    async with in_process(Settings(data_dir=tmp_path, rate_limit=0.5, rate_burst=5)) as client:
        codes = [(await client.get("/q/demo/status")).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        limited = await client.get("/q/demo/status")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"] == "rate_limited" and "slow down" in limited.json()["message"]
        assert (await client.get("/healthz")).status_code == 200


async def test_too_many_inputs_are_refused(tmp_path: Path) -> None:
    async with in_process(Settings(data_dir=tmp_path, max_inputs=3)) as client:
        inputs = {f"f{i}": {"type": "utf8", "value": "x"} for i in range(4)}
        response = await client.post("/q/demo", json={"definition": {**VECTOR, "inputs": inputs}})
        assert response.status_code == 422 and "archive" in response.json()["message"]


@pytest.fixture
def limited_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_server(
        tmp_path / "data", {"ASMAN_MAX_LOG_BYTES": "100", "ASMAN_WORKER_TOKENS": "locked=s3cret"}
    )
    yield server
    server.stop()


async def test_log_volume_is_truncated_with_a_marker(limited_server) -> None:  # type: ignore[no-untyped-def]
    job_id = httpx.post(f"{limited_server.url}/q/logs", json={"definition": VECTOR}).json()["jobId"]
    worker = FakeWorker(limited_server.url, "logs", "w1")
    await worker.connect()
    await worker.receive_type("assign")
    for i in range(10):
        await worker.log(job_id, 1, f"line {i} " + "x" * 20)
    logs_url = f"{limited_server.url}/q/logs/j/{job_id}/run-logs.json"
    async with httpx.AsyncClient() as client, asyncio.timeout(10):
        while not any("truncated" in line[0] for line in (await client.get(logs_url)).json()["data"]):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the lines sent after the cap must not show up either
    lines = httpx.get(logs_url).json()["data"]
    assert len(lines) < 10
    assert "log truncated" in lines[-1][0]
    assert sum(1 for line in lines if "truncated" in line[0]) == 1
    await worker.close()


async def test_a_queue_with_a_worker_token_refuses_other_workers(limited_server) -> None:  # type: ignore[no-untyped-def]
    intruder = FakeWorker(limited_server.url, "locked", "intruder", token="wrong")
    with pytest.raises((ConnectionClosed, InvalidStatus)):
        await intruder.connect()
    owner = FakeWorker(limited_server.url, "locked", "owner", token="s3cret")
    await owner.connect()
    job_id = httpx.post(f"{limited_server.url}/q/locked", json={"definition": VECTOR}).json()["jobId"]
    assert (await owner.receive_type("assign"))["jobId"] == job_id
    await owner.close()
    open_queue = FakeWorker(limited_server.url, "open", "anyone")
    await open_queue.connect()
    await open_queue.close()
