"""Three API replicas sharing PostgreSQL and S3, as in a scale-out deployment.

Submissions and SSE watchers talk to replica 1, protocol-level fake workers to replica 3 (replica 2 is their
fallback), so every job crosses replicas twice: its Queued event must reach replica 3's dispatcher through
LISTEN/NOTIFY, and its Running/log/Finished events must come back to replica 1's watchers. One replica is
then killed with SIGKILL in the middle of a run: no job may be lost.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.failover_worker import FailoverWorker
from tests.support.server import ServerProcess, run_of, sse_events, start_server
from tests.support.services import S3Server

QUEUE = "multi"
pytestmark = pytest.mark.timeout(240)


@dataclass
class Watch:
    """One SSE client on `/q/<queue>/j/<id>/stream`: every event, in order."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def states(self) -> list[str]:
        return [data["state"] for name, data in self.events if name == "state"]

    @property
    def final(self) -> dict[str, Any] | None:
        return next((data for name, data in self.events if name == "final"), None)


async def watch(client: httpx.AsyncClient, base: str, job: str, into: Watch, ready: asyncio.Event) -> None:
    async with client.stream("GET", f"{base}/q/{QUEUE}/j/{job}/stream", timeout=None) as response:
        assert response.status_code == 200
        async for name, data in sse_events(response):
            into.events.append((name, data))
            if name == "state" and len(into.events) == 1:
                ready.set()
            if name == "final":
                return


def job_body(name: str) -> dict[str, Any]:
    return {"definition": {"image": "asman/busybox:latest", "command": f"echo {name}"}}


async def submit_and_watch(
    client: httpx.AsyncClient, base: str, names: list[str]
) -> tuple[dict[str, Watch], list[asyncio.Task[None]]]:
    watches: dict[str, Watch] = {}
    tasks = []
    for name in names:
        response = await client.post(f"{base}/q/{QUEUE}", json=job_body(name))
        assert response.status_code == 200, response.text
        job = response.json()["jobId"]
        watches[job] = Watch()
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(watch(client, base, job, watches[job], ready)))
        await asyncio.wait_for(ready.wait(), 10)
    return watches, tasks


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_url: str, s3_url: str, s3_server: S3Server
) -> Iterator[list[ServerProcess]]:
    env = {
        "ASMAN_DATABASE_URL": postgres_url,
        "ASMAN_BLOB_URL": s3_url,
        "ASMAN_LEASE_SECONDS": "3",
        "ASMAN_HEARTBEAT_SECONDS": "0.5",
        **s3_server.env,
    }
    # Start all three at once: their migrations must not race.
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(
                start_server, tmp_path / f"replica{index}", {**env, "ASMAN_REPLICA_ID": f"replica-{index}"}
            )
            for index in (1, 2, 3)
        ]
        servers = []
        errors = []
        for future in futures:
            try:
                servers.append(future.result())
            except Exception as exc:
                errors.append(exc)
    try:
        if errors:
            raise errors[0]
        yield servers
    finally:
        for server in servers:
            server.stop(signal.SIGKILL)


def describe(servers: list[ServerProcess]) -> str:
    return "\n".join(f"--- {server.url}\n{server.log()[-3000:]}" for server in servers)


async def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_three_replicas_share_queue_events_and_blobs(replicas: list[ServerProcess]) -> None:
    first, second, third = replicas
    async with httpx.AsyncClient(timeout=30) as client:
        # Blobs: uploaded through one replica, found and served (redirect to S3) by another.
        data = os.urandom(4096)
        key = hashlib.sha256(data).hexdigest()
        checksum = {"x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(key)).decode()}
        put = await client.put(f"{first.url}/f/{key}", content=data, headers=checksum, follow_redirects=False)
        assert put.status_code == 307, put.text  # a client that sends the checksum goes straight to S3
        assert (await client.get(f"{second.url}/f/{key}/exists")).status_code == 404
        stored = await client.put(
            f"{first.url}/f/{key}", content=data, headers=checksum, follow_redirects=True
        )
        assert stored.status_code == 200, stored.text
        # One that cannot (curl -L, a browser's fetch) puts its bytes through the server, which hashes them.
        plain = os.urandom(1000)
        through = await client.put(
            f"{first.url}/f/{hashlib.sha256(plain).hexdigest()}", content=plain, follow_redirects=True
        )
        assert through.status_code == 201, through.text
        wrong = await client.put(f"{first.url}/f/{'0' * 64}", content=plain, follow_redirects=True)
        assert wrong.status_code == 400 and "hashes to" in wrong.json()["message"]
        assert (await client.get(f"{second.url}/f/{key}/exists")).json() == {"exists": True}
        fetched = await client.get(f"{third.url}/f/{key}", follow_redirects=True)
        assert fetched.status_code == 200 and fetched.content == data

        # Jobs: all submitted and watched on replica 1 before any worker exists, so every watcher must see
        # the whole life of its job: Queued (the snapshot), Running, the log, Finished, final.
        names = [f"job-{index}" for index in range(16)]
        watches, watchers = await submit_and_watch(client, first.url, names)
        workers = [
            FailoverWorker([third.url, second.url], f"fake-{index}", QUEUE, slots=2) for index in range(3)
        ]
        runners = [asyncio.create_task(worker.run()) for worker in workers]
        try:
            await asyncio.wait_for(asyncio.gather(*watchers), 60)
        except TimeoutError:
            raise AssertionError(f"not every watcher saw its job finish\n{describe(replicas)}") from None
        finally:
            for runner in runners:
                runner.cancel()
        assigned = [pair for worker in workers for pair in worker.assigned]
        assert sorted(job for job, _ in assigned) == sorted(watches), "every job runs exactly once"
        assert {attempt for _, attempt in assigned} == {1}
        assert sum(len(worker.assigned) > 0 for worker in workers) >= 2, "work spreads over the workers"
        for job, seen in watches.items():
            assert seen.states == ["Queued", "Running", "Finished"], (job, seen.events)
            logs = [data for name, data in seen.events if name == "run-log"]
            assert len(logs) == 1 and logs[0]["lines"][0][0].startswith("echo job-"), seen.events
            final = seen.final
            assert final is not None and final["state"] == "Finished" and final["finishedReason"] == "Success"
            assert run_of(final)["StatusCode"] == 0 and final["results"]["attempt"] == 1
        status = (await client.get(f"{second.url}/q/{QUEUE}/status")).json()
        assert status["counts"] == {"Finished": len(names)}
        metrics = (await client.get(f"{third.url}/q/{QUEUE}/metrics")).text
        assert f'queue_length{{queue="{QUEUE}"}} 0.0' in metrics
        # A resubmission on any replica is served from the shared cache.
        again = await client.post(f"{second.url}/q/{QUEUE}", json=job_body("job-0"))
        assert again.json()["state"] == "Finished"


async def test_killing_a_replica_mid_run_loses_no_job(replicas: list[ServerProcess]) -> None:
    first, second, third = replicas
    async with httpx.AsyncClient(timeout=30) as client:
        names = [f"slow-{index}" for index in range(10)]
        watches, watchers = await submit_and_watch(client, first.url, names)
        workers = [
            FailoverWorker([third.url, second.url], f"fake-{index}", QUEUE, slots=2, run_seconds=2.0)
            for index in range(2)
        ]
        runners = [asyncio.create_task(worker.run()) for worker in workers]
        try:
            await wait_until(lambda: sum(len(w.running) for w in workers) == 4, 20, "four jobs running")
            await asyncio.sleep(0.5)  # mid-run: logs sent, results not yet
            third.stop(signal.SIGKILL)  # the replica every worker is connected to
            await wait_until(lambda: all(w.connections >= 2 for w in workers), 20, "workers to fail over")
            try:
                await asyncio.wait_for(asyncio.gather(*watchers), 120)
            except TimeoutError:
                lost = [job for job, seen in watches.items() if seen.final is None]
                raise AssertionError(f"jobs never finished: {lost}\n{describe(replicas)}") from None
            # The dead replica could not remove its worker rows: status drops them once they go unseen.
            deadline = time.monotonic() + 20
            while True:
                status = (await client.get(f"{first.url}/q/{QUEUE}/status")).json()
                if {worker["replica"] for worker in status["workers"]} == {"replica-2"}:
                    break
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.5)
            assert sorted(worker["id"] for worker in status["workers"]) == ["fake-0", "fake-1"]
        finally:
            for runner in runners:
                runner.cancel()
        for job, seen in watches.items():
            final = seen.final
            assert final is not None and final["finishedReason"] == "Success", (job, seen.events)
            assert seen.states[-1] == "Finished"
            # Whatever the failover did, the stored result is the one of the attempt that counted.
            assert final["results"]["attempt"] == final["attempt"]
        finishes = [job for worker in workers for job, _ in worker.finished]
        assert set(finishes) == set(watches)
        status = (await client.get(f"{second.url}/q/{QUEUE}/status")).json()
        assert status["counts"] == {"Finished": len(names)}
