"""Sweeps through the SDK: `Queue.map` / `submit_many` over the batch endpoint, then `wait_all` and
`as_completed` over one event stream per queue. 100,000 jobs through protocol-level workers, 1,000 through
real containers; every job finishes exactly once, with its own result, answered in order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from asman.client import AsyncClient, Client, as_completed, wait_all
from tests.support.fake_worker import FakeWorker
from tests.support.server import start_server
from tests.support.stack import Stack

SWEEP = 100_000


def echoed(definition: dict[str, Any]) -> dict[str, Any]:
    """A job `echo N` ends with exit code N % 200, and N as its one log line."""
    number = definition["command"].rsplit(" ", 1)[1]
    return {"StatusCode": int(number) % 200, "logs": [[number + "\n", 0, False]]}


async def test_a_100000_job_sweep_through_protocol_workers(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", {"ASMAN_LEASE_SECONDS": "120", "ASMAN_HEARTBEAT_SECONDS": "30"})
    assigned: Counter[str] = Counter()
    workers = [FakeWorker(server.url, "sweep", f"fake-{n}", slots=500) for n in range(4)]
    tasks: list[asyncio.Task[None]] = []
    try:
        for worker in workers:
            await worker.connect()
        tasks = [asyncio.create_task(worker.finish_every_assignment(echoed, assigned)) for worker in workers]
        started = time.monotonic()
        async with AsyncClient(server.url, timeout=120) as client:
            queue = client.queue("sweep")
            template = {"image": "asman/busybox:latest", "command": "echo {item}"}
            jobs = await queue.map(template, range(SWEEP))
            submitted = time.monotonic()
            results = await queue.wait_all(jobs, timeout=600, check=False, full=False)
            followed = time.monotonic()
            assert len({job.id for job in jobs}) == SWEEP
            assert [result.job_id for result in results] == [job.id for job in jobs]
            assert [result.exit_code for result in results] == [n % 200 for n in range(SWEEP)]
            assert {(result.reason.value, result.attempt) for result in results} == {("Success", 1)}
            assert len(assigned) == SWEEP and set(assigned.values()) == {1}  # each ran exactly once
            for n in (0, 1, 4_321, SWEEP - 1):  # and each one's full result is its own
                full = await jobs[n].result()
                assert full is not None and full.stdout == f"{n}\n"
        print(
            f"\n100,000 jobs: submitted in {submitted - started:.1f} s, all finished {followed - started:.1f} s"
        )
    finally:
        for task in tasks:
            task.cancel()
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.close()
        server.stop()


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_a_1000_job_sweep_on_real_containers(bare_stack: Stack) -> None:
    bare_stack.add_worker("--cpus", "32")
    with Client(bare_stack.url, timeout=120) as client:
        queue = client.queue(bare_stack.queue)
        started = time.monotonic()
        jobs = queue.map(
            lambda n: {"image": bare_stack.image, "command": f"sh -c 'echo {n}; exit {n % 3}'"}, range(1000)
        )
        seen = []
        for job in as_completed(jobs, timeout=800):
            seen.append(job.id)
            if len(seen) % 100 == 0:
                print(f"{len(seen)} containers finished after {time.monotonic() - started:.0f} s", flush=True)
        results = wait_all(jobs, timeout=60, check=False)
        print(f"\n1,000 containers: all finished in {time.monotonic() - started:.1f} s")
    assert sorted(seen) == sorted(job.id for job in jobs) and len(set(seen)) == 1000
    assert [result.stdout for result in results] == [f"{n}\n" for n in range(1000)]
    assert [result.exit_code for result in results] == [n % 3 for n in range(1000)]
    assert {result.attempt for result in results} == {1}


def test_submit_many_names_the_refused_and_queues_the_rest(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", {"ASMAN_MAX_BATCH_JOBS": "7"})
    try:
        with Client(server.url) as client:
            queue = client.queue("mixed")
            good: list[dict[str, Any]] = [{"image": "alpine", "command": f"echo {n}"} for n in range(20)]
            jobs = queue.submit_many(good)  # three batches at this server's limit of 7
            assert [job.id for job in jobs] == [job.id for job in queue.submit_many(good)]
            assert len(queue.jobs()) == 20
            with pytest.raises(Exception, match=r"refused 1 of 21 jobs: job 3: invalid job definition"):
                queue.submit_many([*good[:3], {"image": "alpine", "requirements": {"gpus": -1}}, *good[3:]])
    finally:
        server.stop()
