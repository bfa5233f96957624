"""Batch submit throughput: distinct jobs/s enqueued through `POST /q/{queue}/batch`, on SQLite and on
PostgreSQL.

The bodies (batches of distinct jobs, as a sweep sends them) are built before the clock starts; two client
threads keep one batch in flight while the other's answer is read, so the server is never idle waiting for the
client. A job counts once its batch's answer says it is Queued: the answer comes after the commit, so every job
counted is durable.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.bench_lifecycle import postgres_url
from bench.common import Section, asman_server, cpu_seconds, run_id, scaled

SQLITE_TARGET = 50_000
POSTGRES_TARGET = 20_000
BATCH = 10_000
CLIENTS = 2


def bodies(tag: str, batches: int) -> list[bytes]:
    return [
        orjson.dumps(
            [
                {"definition": {"image": "asman/busybox:latest", "command": f"echo {tag}-{n}-{i}"}}
                for i in range(BATCH)
            ]
        )
        for n in range(batches)
    ]


def measure(url: str, pid: int, batches: int) -> dict[str, float]:
    """Jobs/s enqueued over `batches` batches of distinct jobs (after one warm-up batch), and per CPU second
    of the server process `pid` (the figure a busy machine moves least)."""
    tag = run_id()
    queue = f"batch-{tag}"
    warm, *timed = bodies(tag, batches + 1)
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=120) as client:
        client.post(f"{url}/q/warm-{tag}/batch", content=warm, headers=headers).raise_for_status()

    def post(body: bytes) -> tuple[float, int]:
        with httpx.Client(timeout=120) as client:
            started = time.perf_counter()
            response = client.post(f"{url}/q/{queue}/batch", content=body, headers=headers)
            seconds = time.perf_counter() - started
        response.raise_for_status()
        queued = sum(1 for answer in orjson.loads(response.content) if answer.get("state") == "Queued")
        return seconds, queued

    started, cpu = time.perf_counter(), cpu_seconds(pid)
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(post, timed))
    seconds, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    queued = sum(n for _, n in answers)
    if queued != batches * BATCH:
        raise RuntimeError(f"only {queued} of {batches * BATCH} jobs were answered Queued")
    return {
        "jobs_per_s": queued / seconds,
        "per_cpu_s": queued / cpu if cpu > 0 else float("nan"),
        "batch_ms": 1000 * min(s for s, _ in answers),
    }


def run() -> Section:
    section = Section("batch")
    batches = scaled(20, 5)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    with asman_server(work / "sqlite") as server:
        sqlite = measure(server.url, server.process.pid, batches)
    section.add(
        "batch submit, SQLite",
        sqlite["jobs_per_s"],
        "jobs/s",
        f">= {SQLITE_TARGET:,}/s",
        sqlite["jobs_per_s"] >= SQLITE_TARGET,
        note=f"{batches} batches of {BATCH:,} distinct jobs; fastest batch {sqlite['batch_ms']:.0f} ms;"
        f" {sqlite['per_cpu_s']:,.0f} jobs per server CPU second",
    )
    try:
        with postgres_url() as url:
            if url is None:
                raise LookupError("no PostgreSQL")
            with asman_server(work / "postgres", {"ASMAN_DATABASE_URL": url}) as server:
                postgres = measure(server.url, server.process.pid, batches)
        section.add(
            "batch submit, PostgreSQL",
            postgres["jobs_per_s"],
            "jobs/s",
            f">= {POSTGRES_TARGET:,}/s",
            postgres["jobs_per_s"] >= POSTGRES_TARGET,
            note=f"fastest batch {postgres['batch_ms']:.0f} ms; {postgres['per_cpu_s']:,.0f} jobs per Asman CPU"
            " second (PostgreSQL's own not counted); private PostgreSQL 15 with fsync=off",
        )
    except Exception as exc:
        section.notes.append(f"PostgreSQL skipped: {str(exc).splitlines()[0][:200]}")
    section.notes.append(
        f"{CLIENTS} client threads posting prepared JSON arrays to one server process; every job counted was"
        " answered Queued, after its batch's commit."
    )
    return section
