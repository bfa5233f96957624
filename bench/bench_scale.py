"""Scale: what 1,000,000 stored jobs cost against an empty queue: submit and dispatch latency, a list page, RSS.

Setup writes the jobs straight into the SQLite file the server created (its own schema and migrations): one
queue holding 1,000,000 jobs finished with Success, each with its definition, result and namespace, as a
month of use would leave them. The count triggers are dropped during the bulk insert and the counts written
once, then the triggers are put back exactly as they were. The same measurements then run against that file
and against an empty one: sequential distinct submits (HTTP answer), submit -> assignment with one
protocol-level worker, and `GET /q/<queue>?limit=100` (the newest page, 100 rows in both cases).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from asman.core.trust import own_domain
from bench.common import (
    Agent,
    RawHTTP,
    Section,
    agents,
    asman_server,
    percentile,
    rss_mb,
    run_id,
    scaled,
    submit_body,
)

TARGET_RATIO = 1.5
RSS_TARGET_MB = 200
QUEUE = "scale"


def populate(db: Path, count: int, queue: str = QUEUE) -> float:
    """Bulk-insert `count` finished jobs into the server's SQLite file; returns the seconds it took."""
    began = time.monotonic()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'queue_jobs'"
    ).fetchall()
    now = int(time.time() * 1000)
    expires = now + 30 * 86_400_000
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    ids = sorted(hashlib.sha256(f"stored-{i}".encode()).hexdigest() for i in range(count))
    conn.executemany(
        "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
        (
            (job, f'{{"image":"asman/busybox:latest","command":"echo stored-{i}"}}', now - count + i, expires)
            for i, job in enumerate(ids)
        ),
    )
    conn.executemany(
        "INSERT INTO queue_jobs (queue, job_id, state, reason, attempt, worker, queued_ms, updated_ms, expires_ms,"
        " exit_code) VALUES (?, ?, 'Finished', 'Success', 1, 'bench-worker', ?, ?, ?, 0)",
        ((queue, job, now - count + i, now - count + i + 5, expires) for i, job in enumerate(ids)),
    )
    conn.executemany(
        "INSERT INTO namespaces (queue, job_id, namespace, added_ms) VALUES (?, ?, '_', ?)",
        ((queue, job, now - count + i) for i, job in enumerate(ids)),
    )
    result = (
        '{"reason":"Success","StatusCode":0,"logs":[["stored\\n",0]],"duration":5,"isTimedOut":false,'
        '"outputs":{},"worker":"bench-worker","attempt":1,"time":0}'
    )
    # Kept by the queue's own workers, in its own trust domain (core/trust.py), as a server would keep them.
    conn.executemany(
        "INSERT INTO results (job_id, queue, domain, reason, result, finished_ms, expires_ms, exit_code)"
        " VALUES (?, ?, ?, 'Success', ?, ?, ?, 0)",
        ((job, queue, own_domain(queue), result, now - count + i + 5, expires) for i, job in enumerate(ids)),
    )
    conn.execute(
        "INSERT INTO queue_counts (queue, state, n) VALUES (?, 'Finished', ?)"
        " ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n",
        (queue, count),
    )
    for _, sql in triggers:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return time.monotonic() - began


async def _latencies(url: str, tag: str, submits: int, lists: int) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    client = RawHTTP(host, int(port))
    await client.connect()
    out: dict[str, Any] = {"submit": [], "list": []}
    for index in range(submits):
        raw = client.encode("POST", f"/q/{QUEUE}", submit_body(f"echo scale-{tag}-{index}"))
        began = time.monotonic()
        status, _ = await client.send_raw(raw)
        out["submit"].append((time.monotonic() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"submit answered {status}")
    for _ in range(lists):
        began = time.monotonic()
        status, body = await client.request("GET", f"/q/{QUEUE}?limit=100")
        out["list"].append((time.monotonic() - began) * 1000)
        if status != 200 or body.count(b'"jobId"') != 100:
            raise RuntimeError(f"list answered {status} with {body.count(b'jobId')} jobs")
    await client.close()
    return out


def measure(data_dir: Path, log: Path, submits: int, probes: int) -> dict[str, Any]:
    with asman_server(data_dir) as server:
        tag = run_id()
        # Let the start-up expiry sweep and the first page reads pass before the clock starts.
        time.sleep(2)
        for count, name in ((30, f"warm{tag}"), (probes, tag)):
            probe = Agent(["probe", server.url, QUEUE, str(count), name], log=log)
            with agents(probe):
                probe.read(30)
                dispatch = [v * 1000 for v in probe.read_key("latencies", 300)]
        # Probes leave nothing queued; the submits below stay Queued (no worker), which is why they come last.
        figures = asyncio.run(_latencies(server.url, tag, submits, 200))
        figures["dispatch"] = dispatch
        figures["rss"], figures["peak"] = rss_mb(server.process.pid)
    return figures


def run() -> Section:
    section = Section("scale")
    count = scaled(1_000_000, 200_000)
    submits, probes = scaled(400, 150), scaled(300, 100)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    log = work / "agents.log"
    empty = measure(work / "empty", log, submits, probes)
    with asman_server(work / "full"):
        pass  # creates the schema
    seconds = populate(work / "full" / "asman.sqlite3", count)
    size_mb = (work / "full" / "asman.sqlite3").stat().st_size / 2**20
    full = measure(work / "full", log, submits, probes)
    for key, label in (
        ("submit", "submit answered"),
        ("dispatch", "submit -> assigned"),
        ("list", "list page (100)"),
    ):
        for pct in (50, 99):
            before, after = percentile(empty[key], pct), percentile(full[key], pct)
            ratio = after / before
            met = ratio <= TARGET_RATIO if pct == 50 else None
            section.add(
                f"{label} p{pct}: {count:,} stored / empty",
                ratio,
                "x",
                f"<= {TARGET_RATIO}x" if met is not None else "",
                met,
                note=f"{before:.2f} ms -> {after:.2f} ms",
            )
    section.add(
        f"server RSS, {count:,} stored",
        full["rss"],
        "MB",
        f"<= {RSS_TARGET_MB} MB",
        full["rss"] <= RSS_TARGET_MB,
        note=f"peak {full['peak']:.0f} MB; empty store {empty['rss']:.0f} MB",
    )
    section.notes.append(
        f"{count:,} finished jobs bulk-inserted in {seconds:.0f} s ({size_mb:,.0f} MB SQLite file). Targets are "
        f"on the medians (p50); p99 is shown for context. {submits} sequential submits, {probes} dispatch probes, "
        "200 list requests per case."
    )
    return section
