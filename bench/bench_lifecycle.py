"""Lifecycle throughput: jobs/s from the first submit until every job is finished, Asman against its peers.

Asman: one server, 2 protocol-level workers x 8 slots in one process (they finish each job the moment it is
assigned), a submitter process writing distinct jobs over 16 keep-alive connections, and the queue's status
polled every 20 ms until all jobs are Finished. On SQLite always; on PostgreSQL when tests/support/services.py
can start a private PostgreSQL 15 (else skipped with a note).

Peers, in the same run on the same machine: Celery (prefork x2), RQ (SimpleWorker x2) and Dramatiq (2 x 8
threads), each with a private redis-server, running no-op tasks (bench/peers.py, in bench/.venv-peers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import (
    BENCH,
    PEERS_PYTHON,
    Agent,
    Section,
    agents,
    asman_server,
    cpu_seconds,
    free_port,
    run_id,
    scaled,
    wait_finished,
)

TARGET_JOBS_PER_S = 1000
# Issue 18: the SQLite lifecycle at least level with each of these peers, PostgreSQL's at twice Celery.
SQLITE_VERSUS = {"celery": 1.0, "dramatiq": 1.0}
PG_VS_CELERY = 2.0
CPU_NOTE = "user + system CPU of the server process, all threads (/proc), per finished job: the figure noise moves least"
PEERS = ("celery", "rq", "dramatiq")


def asman_lifecycle(
    data_dir: Path, count: int, log: Path, extra_env: dict[str, str] | None = None
) -> dict[str, float]:
    with asman_server(data_dir, extra_env) as server:
        tag = run_id()
        queue = f"life-{tag}"
        workers = Agent(["workers", server.url, queue, "2", "8", "600"], log=log)
        with agents(workers):
            workers.read(30)
            # Warm up the server (imports, caches, SQLite pages) on another queue first.
            warm = Agent(["submit", server.url, f"warm-{tag}", "300", "16", f"w{tag}"], log=log)
            with agents(warm):
                warm.read(30)
                warm.read(120)
            submitter = Agent(["submit", server.url, queue, str(count), "16", f"l{tag}"], log=log)
            with agents(submitter):
                submitter.read(30)
                cpu_before = cpu_seconds(server.process.pid)
                submitted = submitter.read(600)
                finished = wait_finished(server.url, queue, count, timeout=600)
                cpu_used = cpu_seconds(server.process.pid) - cpu_before
        if finished is None:
            raise RuntimeError(f"not all {count} jobs finished: see {server.log_path}")
        elapsed = finished - submitted["t0"]
        return {
            "jobs_per_s": count / elapsed,
            "submits_per_s": count / (submitted["t1"] - submitted["t0"]),
            "errors": submitted["errors"],
            "seconds": elapsed,
            "cpu_ms_per_job": cpu_used * 1000 / count,
        }


@contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--protected-mode",
            "yes",
        ],
        stdout=(folder / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        import socket

        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def peer_lifecycle(kind: str, count: int, redis_port: int, logdir: Path) -> dict[str, float | str]:
    done = subprocess.run(
        [str(PEERS_PYTHON), str(BENCH / "peers.py"), "run", kind, str(count), str(logdir)],
        env={**os.environ, "BENCH_REDIS_PORT": str(redis_port)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"{kind} failed: {done.stderr[-500:]}"}
    result: dict[str, float | str] = json.loads(lines[-1])
    return result


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A fresh database on a private PostgreSQL, or None (with the reason in the exception text) when absent."""
    try:
        from tests.support.services import start_postgres
    except Exception as exc:  # pragma: no cover - depends on the scale-out work being present
        raise LookupError(f"tests/support/services.py has no start_postgres ({exc})") from exc
    server = start_postgres()
    try:
        yield server.url(server.create_database())
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


def run() -> Section:
    section = Section("lifecycle")
    count = scaled(20_000, 3_000)
    work = Path(tempfile.mkdtemp(prefix="bench-life-"))
    log = work / "agents.log"

    sqlite = asman_lifecycle(work / "sqlite", count, log)
    figures: dict[str, float] = {}

    peer_counts = {"celery": count, "rq": scaled(6_000, 1_500), "dramatiq": count}
    if PEERS_PYTHON.exists() and shutil.which("redis-server"):
        with redis_server(work) as port:
            for kind in PEERS:
                peer = peer_lifecycle(kind, peer_counts[kind], port, work)
                if "error" in peer:
                    section.notes.append(f"{kind}: {peer['error']}")
                else:
                    figures[kind] = float(peer["jobs_per_s"])
    else:
        section.notes.append(
            "peers skipped: bench/.venv-peers or redis-server is missing (scripts/bench.sh makes them)"
        )

    section.target(
        "Asman, SQLite",
        sqlite["jobs_per_s"],
        "jobs/s",
        at_least=TARGET_JOBS_PER_S,
        note=f"{count:,} jobs; submits alone ran at {sqlite['submits_per_s']:,.0f}/s",
    )
    section.add("server CPU per job, SQLite", sqlite["cpu_ms_per_job"], "ms", note=CPU_NOTE)
    for kind, at_least in SQLITE_VERSUS.items():
        if kind in figures:
            section.versus(
                f"Asman SQLite / {kind.capitalize()}",
                sqlite["jobs_per_s"],
                kind.capitalize(),
                figures[kind],
                "jobs/s",
                at_least,
            )

    try:
        with postgres_url() as url:
            assert url is not None
            pg = asman_lifecycle(work / "postgres", count, log, {"ASMAN_DATABASE_URL": url})
        section.add(
            "Asman, PostgreSQL",
            pg["jobs_per_s"],
            "jobs/s",
            note=f"{count:,} jobs; private PostgreSQL 15 with fsync=off (tests/support/services.py)",
        )
        section.add("server CPU per job, PostgreSQL", pg["cpu_ms_per_job"], "ms", note=CPU_NOTE)
        if "celery" in figures:
            section.versus(
                "Asman PostgreSQL / Celery",
                pg["jobs_per_s"],
                "Celery",
                figures["celery"],
                "jobs/s",
                PG_VS_CELERY,
            )
    except Exception as exc:
        section.notes.append(f"PostgreSQL skipped: {str(exc).splitlines()[0][:200]}")

    names = {
        "celery": "Celery 5, prefork x2",
        "rq": "RQ, SimpleWorker x2",
        "dramatiq": "Dramatiq, 2 processes x 8 threads",
    }
    for kind in PEERS:
        if kind in figures:
            section.add(
                f"peer: {names[kind]}",
                figures[kind],
                "jobs/s",
                note=f"{peer_counts[kind]:,} no-op tasks, Redis",
            )
    section.notes.append(
        "Asman: 2 protocol-level workers x 8 slots finish each job as soon as it is assigned (the results of one "
        "`assignMany` frame in one `finishedMany` frame); a separate process "
        "submits distinct jobs over 16 keep-alive connections; the clock runs from the first submit until the "
        "queue's status shows every job Finished. Peers: the same number of no-op tasks enqueued by their own "
        "client library; the clock stops when the last task has run (each bumps a Redis counter)."
    )
    return section
