"""Dispatch latency: submit -> worker assignment, p50/p99, idle and under load.

A probe process holds one protocol-level worker and one keep-alive HTTP connection. It writes a submit, waits
until its worker receives the assignment, finishes the job and goes on. The time covers the whole path a user
waits through: HTTP parse, validation, the store's submit transaction, the event, the dispatcher's claim and
the WebSocket message. Under load, another process submits a steady stream of distinct jobs to a second queue
on the same server, which two workers (8 slots each) complete at once.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Agent, Section, agents, asman_server, percentile, run_id, scaled

P50_TARGET_MS = 3.0
IDLE_P50_TARGET_MS = 1.0  # issue 18: an idle server assigns within a millisecond
P99_TARGET_MS = 10.0
LOAD_RATE = 500  # submits per second in the background


def _probe(url: str, queue: str, count: int, tag: str, log: Path) -> tuple[list[float], list[float]]:
    probe = Agent(["probe", url, queue, str(count), tag], log=log)
    with agents(probe):
        probe.read(30)
        latencies = probe.read_key("latencies", 180)
    return [v * 1000 for v in latencies], [v * 1000 for v in probe.last["submit"]]


def run() -> Section:
    section = Section("dispatch")
    count = scaled(1000, 150)
    work = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    log = work / "agents.log"
    with asman_server(work / "data") as server:
        tag = run_id()
        _probe(server.url, f"warm-{tag}", 30, f"w{tag}", log)
        idle, idle_submit = _probe(server.url, f"probe-{tag}", count, f"i{tag}", log)
        load_queue = f"load-{tag}"
        seconds = count * 0.012 + 10
        workers = Agent(["workers", server.url, load_queue, "2", "8", str(seconds + 30)], log=log)
        pacer = Agent(["pace", server.url, load_queue, str(LOAD_RATE), str(seconds + 5), f"l{tag}"], log=log)
        with agents(workers, pacer):
            workers.read(30)
            pacer.read(30)
            time.sleep(1.0)
            loaded, loaded_submit = _probe(server.url, f"probe2-{tag}", count, f"l{tag}", log)
            pacer.stop()
    for label, sample, submit_sample in (
        ("idle", idle, idle_submit),
        (f"under load ({LOAD_RATE} submits/s)", loaded, loaded_submit),
    ):
        p50, p99 = percentile(sample, 50), percentile(sample, 99)
        section.target(
            f"{label}: p50", p50, "ms", at_most=IDLE_P50_TARGET_MS if label == "idle" else P50_TARGET_MS
        )
        section.target(f"{label}: p99", p99, "ms", at_most=P99_TARGET_MS)
        section.add(
            f"{label}: submit answered, p50",
            percentile(submit_sample, 50),
            "ms",
            note="the HTTP answer alone; assignment follows it",
        )
    section.notes.append(
        f"{count} probes per case, one at a time, 5 ms apart; time from writing the submit to the worker holding "
        f"the assignment. Under load: {LOAD_RATE} distinct submits/s to another queue of the same server, "
        "completed by 2 protocol-level workers x 8 slots."
    )
    return section
