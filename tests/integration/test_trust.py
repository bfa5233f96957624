"""Result poisoning across queues (issue 17, must-fix 1), tried against a real server: an attacker who knows a
job's definition submits it to their own queue, deletes it there, and answers it with their own worker. The
victim's token-protected queue keeps serving its own workers' outputs, and "identical jobs run once" still holds
inside a trust domain (docs/security.md)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, start_server

JOB = {"image": "alpine:3.19.1", "command": "sha256sum /inputs/data > /outputs/out"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # vault and vault2 share a token, so they share results; mine and bystander are unprotected.
    started = start_server(
        tmp_path / "data", {"ASMAN_WORKER_TOKENS": "vault=s3cret,vault2=s3cret,other=t0ken"}
    )
    yield started
    started.stop()


def output(text: str) -> dict[str, Any]:
    return {"out": {"type": "base64", "value": base64.b64encode(text.encode()).decode()}}


async def run_on(server: ServerProcess, queue: str, text: str, token: str | None = None) -> str:
    """Submit JOB to `queue` and answer it with a worker of that queue whose output is `text`."""
    worker = FakeWorker(server.url, queue, f"worker-{queue}", token=token)
    await worker.connect()
    try:
        job_id: str = httpx.post(f"{server.url}/q/{queue}", json={"definition": JOB}).json()["jobId"]
        assignment = await worker.receive_type("assign")
        assert assignment["jobId"] == job_id
        await worker.finish(job_id, assignment["attempt"], outputs=output(text))
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if (await client.get(f"{server.url}/q/{queue}/j/{job_id}")).json()["data"][
                    "state"
                ] == "Finished":
                    break
                await asyncio.sleep(0.05)
    finally:
        await worker.close()
    return job_id


def served_output(server: ServerProcess, queue: str, job_id: str) -> str | None:
    answer = httpx.get(f"{server.url}/q/{queue}/j/{job_id}/outputs/out")
    return answer.text if answer.status_code == 200 else None


async def test_another_queue_cannot_drop_or_replace_a_protected_queues_result(server: ServerProcess) -> None:
    job_id = await run_on(server, "vault", "good", token="s3cret")
    assert served_output(server, "vault", job_id) == "good"

    # Attack 1: submit the known job to your own queue and DELETE it there.
    assert httpx.post(f"{server.url}/q/mine", json={"definition": JOB}).json()["jobId"] == job_id
    assert httpx.delete(f"{server.url}/q/mine/j/{job_id}").status_code == 200
    assert served_output(server, "vault", job_id) == "good"
    assert httpx.get(f"{server.url}/q/vault/j/{job_id}/result.json").json()["data"]["queue"] == "vault"

    # Attack 2: resubmit it there and answer it with your own worker.
    assert await run_on(server, "mine", "evil") == job_id
    assert served_output(server, "mine", job_id) == "evil"  # the attacker's queue serves its own result
    assert served_output(server, "vault", job_id) == "good"
    view = httpx.get(f"{server.url}/q/vault/j/{job_id}").json()["data"]
    assert (view["results"]["queue"], view["results"]["trust"]) == ("vault", "token")

    # The victim's submit is still a cached success (nothing reruns), and so is one to a queue with its token.
    again = httpx.post(f"{server.url}/q/vault", json={"definition": JOB}).json()
    assert (again["state"], again.get("finishedReason")) == ("Finished", "Success")
    sibling = httpx.post(f"{server.url}/q/vault2", json={"definition": JOB}).json()
    assert sibling["state"] == "Finished" and served_output(server, "vault2", job_id) == "good"
    # No other queue takes the attacker's result: not one with another token, nor an unprotected one.
    for queue in ("other", "bystander"):
        assert httpx.post(f"{server.url}/q/{queue}", json={"definition": JOB}).json()["state"] == "Queued"
        assert httpx.get(f"{server.url}/q/{queue}/j/{job_id}/result.json").json()["data"] is None

    # The global lookup shows the newest result and says which queue made it, and whom it trusted.
    shown = httpx.get(f"{server.url}/j/{job_id}.json").json()["data"]["results"]
    assert (shown["queue"], shown["trust"]) == ("mine", "queue")

    # The victim's own DELETE drops the result it made (which its sibling was served: a domain keeps one
    # result per queue that ran the job), never the attacker's into its place; its next submit runs the job.
    assert httpx.delete(f"{server.url}/q/vault/j/{job_id}").status_code == 200
    assert served_output(server, "vault", job_id) is None and served_output(server, "vault2", job_id) is None
    assert httpx.post(f"{server.url}/q/vault", json={"definition": JOB}).json()["state"] == "Queued"
