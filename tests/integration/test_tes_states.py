"""TES states a task passes through as its worker reports, driven step by step by a protocol-level worker
against a real server: QUEUED, INITIALIZING, RUNNING, CANCELING, CANCELED."""

from __future__ import annotations

import asyncio

import httpx

from asman.tes.mapping import EXECUTOR_NOTE, STOPPED_NOTE
from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess

QUEUE = "tes-states"


def _state(server: ServerProcess, task_id: str) -> str:
    response = httpx.get(f"{server.url}/q/{QUEUE}/ga4gh/tes/v1/tasks/{task_id}", timeout=10)
    response.raise_for_status()
    state: str = response.json()["state"]
    return state


def _listed(server: ServerProcess, task_id: str) -> str:
    response = httpx.get(f"{server.url}/q/{QUEUE}/ga4gh/tes/v1/tasks", timeout=10)
    [state] = [task["state"] for task in response.json()["tasks"] if task["id"] == task_id]
    return str(state)


async def test_a_task_goes_through_every_state_its_worker_reports(live_server: ServerProcess) -> None:
    task = {"executors": [{"image": "asman/busybox:latest", "command": ["sleep", "300"]}]}
    created = httpx.post(f"{live_server.url}/q/{QUEUE}/ga4gh/tes/v1/tasks", json=task, timeout=10)
    task_id = created.json()["id"]
    assert _state(live_server, task_id) == "QUEUED"
    # Cancelled before any worker had it: nothing to stop, CANCELED at once.
    other = httpx.post(f"{live_server.url}/q/{QUEUE}/ga4gh/tes/v1/tasks", json=task, timeout=10).json()["id"]
    httpx.post(f"{live_server.url}/q/{QUEUE}/ga4gh/tes/v1/tasks/{other}:cancel", timeout=10)
    assert _state(live_server, other) == "CANCELED"
    worker = FakeWorker(live_server.url, QUEUE, "w1")
    await worker.connect()
    try:
        assigned = await worker.receive_type("assign")
        assert assigned["jobId"] == task_id
        running = [{"jobId": task_id, "attempt": 1}]
        # Assigned: inputs and images are being fetched, no executor has started.
        assert _state(live_server, task_id) == _listed(live_server, task_id) == "INITIALIZING"
        await worker.log(task_id, 1, f"{EXECUTOR_NOTE} 1 of 1: asman/busybox:latest\n")
        await worker.heartbeat(running)
        assert await _eventually(live_server, task_id, "RUNNING")
        assert _listed(live_server, task_id) == "RUNNING"
        # A cancel ends the job at once, but the container stops only when the worker gets to it.
        httpx.post(f"{live_server.url}/q/{QUEUE}/ga4gh/tes/v1/tasks/{task_id}:cancel", timeout=10)
        await worker.receive_type("cancel")
        assert _state(live_server, task_id) == _listed(live_server, task_id) == "CANCELING"
        await worker.log(task_id, 1, f"{STOPPED_NOTE}\n")
        await worker.finish(task_id, 1, reason="Cancelled")
        assert await _eventually(live_server, task_id, "CANCELED")
        assert _listed(live_server, task_id) == "CANCELED"
    finally:
        await worker.close()


async def _eventually(server: ServerProcess, task_id: str, state: str, timeout: float = 10) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if _state(server, task_id) == state:
            return True
        await asyncio.sleep(0.05)
    return False
