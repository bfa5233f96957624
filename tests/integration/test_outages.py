"""Outages under load, in a scale-out deployment: two API replicas sharing PostgreSQL and S3, clients submitting
jobs, reading them and moving blobs through both, and protocol-level workers running the jobs. Each test breaks
one thing while the load runs: PostgreSQL restarted, S3 down for 30 s, one replica killed with SIGKILL.

What must hold, every time: each answer is a success or a 503 in the error envelope with a Retry-After (never
another 5xx, never a request left hanging); every job acknowledged with a 2xx finishes; every blob acknowledged
is there; and both replicas (the survivor, for the kill) serve again once the fault is over, without a restart.

PostgreSQL and S3 are private to this module (they are stopped and started here, which would disturb every other
test of the session), with a fresh database and bucket per test.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.failover_worker import FailoverWorker
from tests.support.server import ServerProcess, start_server
from tests.support.services import PostgresServer, S3Server, running_postgres, start_seaweedfs

CLIENT_TIMEOUT = 10.0  # an answer slower than this counts as a hang
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def own_s3() -> Iterator[S3Server]:
    # A single master elects itself after this timeout when it starts again: the default 10 s would stretch the
    # outage; much shorter, and a starved master under load steps down and stalls requests.
    server = start_seaweedfs("-master.electionTimeout=3s")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, own_postgres: PostgresServer, own_s3: S3Server
) -> Iterator[list[ServerProcess]]:
    """Two replicas for the whole module (each test has a queue of its own): starting them is slow."""
    tmp_path = tmp_path_factory.mktemp("replicas")
    database = own_postgres.create_database()
    bucket = own_s3.create_bucket()
    env = {
        "ASMAN_DATABASE_URL": own_postgres.url(database),
        "ASMAN_BLOB_URL": own_s3.url(bucket, "blobs"),
        **own_s3.env,
    }
    with ThreadPoolExecutor(2) as pool:
        futures = [
            # Patient: two servers starting at once on a busy 2-core machine.
            pool.submit(
                start_server, tmp_path / f"replica{n}", {**env, "ASMAN_REPLICA_ID": f"replica-{n}"}, None, 90
            )
            for n in (1, 2)
        ]
        servers = [future.result() for future in futures]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop(signal.SIGKILL)
        own_postgres.drop_database(database)
        own_s3.drop_bucket(bucket)


@dataclass
class Load:
    """Clients behind a load balancer over `urls`: a replica that refuses connections is skipped (a balancer's
    health check), every answer is sorted into what is allowed and what is not."""

    urls: list[str]
    queue: str
    answers: Counter[str] = field(default_factory=Counter)  # "<kind> <status>" -> count
    bad: list[str] = field(default_factory=list)  # 5xx but 503, wrong envelope, hangs
    accepted: list[str] = field(default_factory=list)  # job ids answered with a 2xx
    blobs: list[str] = field(default_factory=list)  # blob keys answered with a 2xx
    unavailable_messages: set[str] = field(default_factory=set)
    slowest: float = 0.0  # seconds, of any answer
    _turn: Iterator[int] = field(default_factory=itertools.count)

    @property
    def ok(self) -> int:
        return sum(n for key, n in self.answers.items() if key.split()[1].startswith(("2", "3")))

    @property
    def unavailable(self) -> int:
        return sum(n for key, n in self.answers.items() if key.endswith(" 503"))

    async def call(self, client: httpx.AsyncClient, kind: str, method: str, path: str, **kw: Any) -> Any:
        """One request through the balancer: the response, or None when no replica answered."""
        first = next(self._turn)
        for offset in range(len(self.urls)):
            url = self.urls[(first + offset) % len(self.urls)]
            started = time.monotonic()
            try:
                response = await client.request(method, url + path, **kw)
            except httpx.TimeoutException:
                self.bad.append(f"{kind}: no answer in {time.monotonic() - started:.1f} s from {url}")
                return None
            except httpx.TransportError:
                self.answers[f"{kind} refused"] += 1  # the replica is gone: the balancer tries the next
                continue
            self.slowest = max(self.slowest, time.monotonic() - started)
            self._judge(kind, response)
            return response
        return None

    def _judge(self, kind: str, response: httpx.Response) -> None:
        status = response.status_code
        self.answers[f"{kind} {status}"] += 1
        if status == 503:
            body = response.json()
            if set(body) != {"error", "message"} or body["error"] != "backend_unavailable":
                self.bad.append(f"{kind}: 503 without the error envelope: {body}")
            elif not response.headers.get("retry-after", "").isdigit():
                self.bad.append(f"{kind}: 503 without Retry-After: {body}")
            else:
                self.unavailable_messages.add(body["message"])
        elif status >= 500:
            self.bad.append(f"{kind}: {status} {response.text[:300]}")

    async def submitter(self, name: str, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            for n in itertools.count():
                if stop.is_set():
                    return
                body = {"definition": {"image": "asman/busybox", "command": f"echo {name}-{n}"}}
                response = await self.call(client, "submit", "POST", f"/q/{self.queue}", json=body)
                if response is not None and response.status_code == 200:
                    self.accepted.append(response.json()["jobId"])
                await asyncio.sleep(0.1)

    async def reader(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                if self.accepted:
                    await self.call(client, "read", "GET", f"/q/{self.queue}/j/{self.accepted[-1]}")
                await self.call(client, "status", "GET", f"/q/{self.queue}/status")
                if self.blobs:
                    await self.call(client, "blob-get", "GET", f"/f/{self.blobs[-1]}")
                await asyncio.sleep(0.05)

    async def uploader(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                data = os.urandom(2048)
                key = hashlib.sha256(data).hexdigest()
                response = await self.call(client, "blob-put", "PUT", f"/f/{key}", content=data)
                if response is not None and response.status_code in (200, 201):
                    self.blobs.append(key)
                await asyncio.sleep(0.1)

    def summary(self) -> str:
        return ", ".join(f"{key}: {n}" for key, n in sorted(self.answers.items()))


@dataclass
class Running:
    load: Load
    workers: list[FailoverWorker]
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]


async def start_load(servers: list[ServerProcess], queue: str) -> Running:
    urls = [server.url for server in servers]
    load = Load(urls, queue)
    stop = asyncio.Event()
    # Each worker prefers another replica, so both serve worker sockets.
    workers = [FailoverWorker(urls[n:] + urls[:n], f"w-{n}", queue, slots=4, run_seconds=0.2) for n in (0, 1)]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    tasks += [asyncio.create_task(load.submitter(f"c{n}", stop)) for n in range(3)]
    tasks += [asyncio.create_task(load.reader(stop)), asyncio.create_task(load.uploader(stop))]
    await wait_until(lambda: len(load.accepted) >= 20 and len(load.blobs) >= 3, 30, "the load to get going")
    return Running(load, workers, stop, tasks)


async def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def finish_load(running: Running, servers: list[ServerProcess], after_s: float) -> Load:
    """Keep the load on `after_s` seconds past the fault, stop it, then check that nothing acknowledged was
    lost: every accepted job finishes (Success), every accepted blob is there."""
    load = running.load
    before = load.ok
    await asyncio.sleep(after_s)
    assert load.ok > before + 20, f"the service did not come back after the fault: {load.summary()}"
    running.stop.set()
    await asyncio.gather(*running.tasks[len(running.workers) :])
    alive = [server for server in servers if server.process.poll() is None]
    try:
        async with httpx.AsyncClient(timeout=30, base_url=alive[0].url) as client:
            deadline = time.monotonic() + 90
            while True:
                states = await _states(client, load.queue)
                waiting = [job for job in load.accepted if states.get(job, {}).get("state") != "Finished"]
                if not waiting:
                    break
                if time.monotonic() > deadline:
                    missing = [job for job in waiting if job not in states]
                    raise AssertionError(
                        f"{len(waiting)} acknowledged jobs never finished ({len(missing)} not even stored):"
                        f" {[states.get(job) for job in waiting[:5]]}\n{_logs(servers)}"
                    )
                await asyncio.sleep(0.5)
            for key in load.blobs:
                exists = await client.get(f"/f/{key}/exists")
                assert exists.status_code == 200, f"acknowledged blob {key} is gone: {exists.text}"
            for server in alive:  # each surviving replica answers without having been restarted
                fresh = await client.post(
                    f"{server.url}/q/{load.queue}", json={"definition": {"image": "x", "command": "after"}}
                )
                assert fresh.status_code == 200, fresh.text
    finally:
        for task in running.tasks[: len(running.workers)]:
            task.cancel()
    reasons = Counter(states[job].get("finishedReason") for job in load.accepted)
    assert set(reasons) <= {"Success", None}, reasons
    assert not load.bad, f"{len(load.bad)} bad answers, e.g. {load.bad[:5]}\n{load.summary()}"
    assert all(server.process.poll() is None for server in alive)
    print(
        f"\n{len(load.accepted)} jobs and {len(load.blobs)} blobs acknowledged, all kept; slowest answer"
        f" {load.slowest:.1f} s; {load.summary()}"
    )
    for message in sorted(load.unavailable_messages)[:3]:
        print(f"  503: {message}")
    return load


async def _states(client: httpx.AsyncClient, queue: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/q/{queue}", params=params)).json()
        found.update(page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            return found


def _logs(servers: list[ServerProcess]) -> str:
    return "\n".join(f"--- {server.url}\n{server.log()[-3000:]}" for server in servers)


async def test_postgres_restarted_under_load(
    replicas: list[ServerProcess], own_postgres: PostgresServer
) -> None:
    running = await start_load(replicas, "pg")
    await asyncio.sleep(2)
    await asyncio.to_thread(own_postgres.stop)
    down = time.monotonic()
    await asyncio.sleep(3)  # an outage long enough for every client and worker to notice
    await asyncio.to_thread(own_postgres.start)
    print(f"\nPostgreSQL was down {time.monotonic() - down:.1f} s")
    load = await finish_load(running, replicas, after_s=8)
    assert load.unavailable > 0, f"the outage never showed: {load.summary()}"


async def test_s3_down_for_30_seconds_under_load(replicas: list[ServerProcess], own_s3: S3Server) -> None:
    running = await start_load(replicas, "s3")
    await asyncio.sleep(2)
    await asyncio.to_thread(own_s3.stop)
    load = running.load
    submitted = len(load.accepted)
    down = time.monotonic()
    await asyncio.sleep(30)
    assert len(load.accepted) > submitted + 50, "jobs are still taken while S3 is down"
    await asyncio.to_thread(own_s3.start)
    print(f"\nS3 was down {time.monotonic() - down:.1f} s")
    await finish_load(running, replicas, after_s=5)
    assert load.answers["blob-put 503"] > 0 and load.answers["blob-get 503"] > 0, load.summary()


async def test_one_replica_killed_under_load(replicas: list[ServerProcess]) -> None:
    running = await start_load(replicas, "kill")
    await wait_until(
        lambda: all(worker.connections >= 1 for worker in running.workers), 10, "both workers to connect"
    )
    await asyncio.sleep(2)
    replicas[1].stop(signal.SIGKILL)
    load = await finish_load(running, replicas, after_s=6)
    assert load.answers["submit refused"] > 0 or load.answers["status refused"] > 0, load.summary()
    assert all(worker.connections >= 2 for worker in running.workers[1:]), (
        "the worker on the dead replica failed over"
    )
