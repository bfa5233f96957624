"""Watchers: 10,000 concurrent Server-Sent-Events clients on one server, and how fast a state change reaches them.

Two client processes hold 5,000 connections each to `GET /q/<queue>/events`. Then, one at a time, a job is
submitted to that queue: its `Queued` state is an event every one of the 10,000 clients must receive. The
fan-out latency of a change is the time from the submit until a client has the event (CLOCK_MONOTONIC, shared
by all processes): p50 over clients, and until the last client. Server RSS is read with all clients connected.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from bench.common import (
    Agent,
    Section,
    agents,
    asman_server,
    median,
    percentile,
    rss_mb,
    run_id,
    scaled,
    submit_body,
)

# Issue 18: 10,000 watchers on one process, the last of them told within 250 ms, in 250 MB.
RSS_TARGET_MB = 250
FANOUT_TARGET_MS = 250


def run() -> Section:
    section = Section("watchers")
    clients = scaled(10_000, 10_000)
    processes = 2
    changes = scaled(10, 4)
    work = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    log = work / "agents.log"
    # Every watcher comes from 127.0.0.1: one client address, so its cap on open streams is lifted.
    with asman_server(work / "data", {"ASMAN_MAX_STREAMS_PER_CLIENT": "0"}) as server:
        queue = f"watch-{run_id()}"
        idle_rss, _ = rss_mb(server.process.pid)
        watchers = [
            Agent(["watchers", server.url, f"/q/{queue}/events", str(clients // processes)], log=log)
            for _ in range(processes)
        ]
        with agents(*watchers):
            ready = [watcher.read(300) for watcher in watchers]
            connected = sum(r["connected"] for r in ready)
            failed = sum(r["failed"] for r in ready)
            connect_s = max(r["seconds"] for r in ready)
            rss, _ = rss_mb(server.process.pid)
            starts: dict[str, float] = {}
            with httpx.Client(timeout=30) as client:
                for index in range(changes):
                    time.sleep(0.5)
                    began = time.monotonic()
                    answer = client.post(
                        f"{server.url}/q/{queue}",
                        content=submit_body(f"echo watch-{index}"),
                        headers={"content-type": "application/json"},
                    ).json()
                    starts[f"{answer['jobId']}:Queued"] = began
                time.sleep(2.0)
            seen: dict[str, list[float]] = {}
            for watcher in watchers:
                watcher.tell("report")
                for key, times in watcher.read_key("seen", 60).items():
                    seen.setdefault(key, []).extend(times)
                watcher.tell("quit")
        _, peak = rss_mb(server.process.pid)
    p50s, lasts, delivered = [], [], []
    for key, began in starts.items():
        times = [(t - began) * 1000 for t in seen.get(key, [])]
        delivered.append(len(times))
        if times:
            p50s.append(percentile(times, 50))
            lasts.append(max(times))
    section.add(
        "clients connected",
        connected,
        "clients",
        f"= {clients:,}",
        connected == clients,
        note=f"{failed} failed; all connected in {connect_s:.1f} s",
    )
    section.add(
        "events delivered to every client",
        min(delivered) if delivered else 0,
        "clients",
        f"= {connected:,}",
        bool(delivered) and min(delivered) == connected,
    )
    section.add("fan-out, submit -> half the clients (median over changes)", median(p50s), "ms")
    last = median(lasts)
    section.add(
        "fan-out, submit -> last client (median over changes)",
        last,
        "ms",
        f"<= {FANOUT_TARGET_MS} ms",
        last <= FANOUT_TARGET_MS,
    )
    section.add("fan-out, submit -> last client (worst change)", max(lasts) if lasts else float("nan"), "ms")
    section.add(
        f"server RSS with {connected:,} watchers",
        rss,
        "MB",
        f"<= {RSS_TARGET_MB} MB",
        rss <= RSS_TARGET_MB,
        note=f"{idle_rss:.0f} MB before they connected; peak {peak:.0f} MB",
    )
    section.notes.append(
        f"{processes} client processes x {clients // processes:,} connections to /q/<queue>/events; {changes} state "
        "changes 0.5 s apart; ulimit -n is raised by scripts/bench.sh."
    )
    return section
