"""Submit throughput: distinct jobs/s and cache-hit submits/s, with wrk as the load generator.

wrk (Debian's, C, one thread, 32 keep-alive connections, as in SPEC section 7) costs far less CPU than the
server it drives, so on 2 cores the server keeps most of a core for itself. Distinct: every request carries a
new command (bench/lua/submit_distinct.lua), so every submit stores a new job. Cache hit: the same job, whose
run already finished with Success, again and again (bench/lua/submit_same.lua): the server answers from the
store. Same-run peers: SPEC section 7's reference endpoints (bench/reference_server.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import (
    BENCH,
    ROOT,
    Agent,
    Section,
    agents,
    asman_server,
    cpu_seconds,
    free_port,
    run_id,
    scaled,
    submit_body,
)

DISTINCT_TARGET = 2000
CACHED_TARGET = 5000
CONNECTIONS = 32
# Issue 18: both kinds of submit at least this fraction of the plain Starlette reference's rate, same run.
VERSUS_REFERENCE = 0.8
CPU_NOTE = "user + system CPU of the server process (/proc) over the run, per answered submit"


def wrk(url: str, script: str, seconds: float, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(BENCH / "lua" / script),
            url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    if done.returncode != 0 or rate is None:
        raise RuntimeError(f"wrk failed: {out}\n{done.stderr[-2000:]}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rate": float(rate.group(1)),
        "requests": float(total.group(1)) if total else 0.0,
        "non2xx": float(bad.group(1)) if bad else 0.0,
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan"),
        "stderr_lines": float(
            len([line for line in done.stderr.splitlines() if "unexpected status" in line])
        ),
    }


def _finish_one(url: str, queue: str, body: bytes, log: Path) -> None:
    """Submit one job and let a protocol-level worker finish it with Success, so later submits hit the cache."""
    workers = Agent(["workers", url, queue, "1", "1", "60"], log=log)
    with agents(workers):
        workers.read(30)
        httpx.post(f"{url}/q/{queue}", content=body, headers={"content-type": "application/json"}, timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.post(
                f"{url}/q/{queue}", content=body, headers={"content-type": "application/json"}, timeout=10
            ).json()
            if answer.get("state") == "Finished":
                return
            time.sleep(0.05)
    raise RuntimeError("the cache-hit job never finished")


def measure_asman(url: str, pid: int, seconds: float, log: Path) -> tuple[dict[str, float], dict[str, float]]:
    tag = run_id()
    queue = f"submit-{tag}"
    wrk(f"{url}/q/warm-{tag}", "submit_distinct.lua", 2, {"WRK_RUN": f"w{tag}"})
    before = cpu_seconds(pid)
    distinct = wrk(f"{url}/q/{queue}", "submit_distinct.lua", seconds, {"WRK_RUN": tag})
    distinct["cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / max(1.0, distinct["requests"])
    body = submit_body(f"echo cached-{tag}")
    _finish_one(url, f"cache-{tag}", body, log)
    before = cpu_seconds(pid)
    cached = wrk(f"{url}/q/cache-{tag}", "submit_same.lua", seconds, {"WRK_BODY": body.decode()})
    cached["cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / max(1.0, cached["requests"])
    return distinct, cached


def measure_reference(kind: str, folder: Path, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reference_server", kind, str(port), str(folder / f"{kind}.sqlite3")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(folder / f"{kind}.log").open("ab"),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{url}/q/x", content=submit_body("echo ready"), timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        tag = run_id()
        wrk(f"{url}/q/warm", "submit_distinct.lua", 2, {"WRK_RUN": f"w{tag}"})
        distinct = wrk(f"{url}/q/bench", "submit_distinct.lua", seconds, {"WRK_RUN": tag})
        cached = wrk(
            f"{url}/q/bench", "submit_same.lua", seconds, {"WRK_BODY": submit_body("echo same").decode()}
        )
        return distinct, cached
    finally:
        process.terminate()
        process.wait(10)


def run() -> Section:
    section = Section("submit")
    if shutil.which("wrk") is None:
        section.skipped = "wrk is not installed (apt-get install wrk; scripts/bench.sh does it)"
        return section
    seconds = scaled(15, 4)
    work = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    with asman_server(work / "data") as server:
        distinct, cached = measure_asman(server.url, server.process.pid, seconds, work / "agents.log")
    section.target(
        "distinct jobs",
        distinct["rate"],
        "submits/s",
        at_least=DISTINCT_TARGET,
        note=f"p50 {distinct['p50_ms']:.1f} ms at {CONNECTIONS} connections",
    )
    section.target(
        "cache hits",
        cached["rate"],
        "submits/s",
        at_least=CACHED_TARGET,
        note=f"p50 {cached['p50_ms']:.1f} ms",
    )
    for label, figures in (("distinct", distinct), ("cache hits", cached)):
        if figures.get("cpu_us"):
            section.add(f"server CPU per submit, {label}", figures["cpu_us"] / 1000, "ms", note=CPU_NOTE)
    for figures in (distinct, cached):
        if figures["non2xx"] or figures["stderr_lines"]:
            section.notes.append(f"{figures['non2xx']:.0f} answers were not 200: see the server log")
    for kind, label in (("fastapi", "FastAPI async + pydantic"), ("starlette", "plain Starlette + orjson")):
        try:
            ref_distinct, ref_cached = measure_reference(kind, work, seconds)
        except Exception as exc:
            section.notes.append(f"reference {kind} failed: {exc}")
            continue
        section.add(f"peer: SPEC s.7 {label}, distinct", ref_distinct["rate"], "submits/s")
        section.add(f"peer: SPEC s.7 {label}, repeated", ref_cached["rate"], "submits/s")
        if kind == "starlette":
            section.versus(
                "Asman distinct / plain Starlette reference",
                distinct["rate"],
                "reference",
                ref_distinct["rate"],
                "submits/s",
                VERSUS_REFERENCE,
            )
            section.versus(
                "Asman cache hits / plain Starlette reference",
                cached["rate"],
                "reference",
                ref_cached["rate"],
                "submits/s",
                VERSUS_REFERENCE,
            )
    section.notes.append(
        f"wrk -t1 -c{CONNECTIONS} -d{seconds}s against one server process. The references do a fraction of "
        "Asman's work (one INSERT, no validation, no queue state, no events): they bound what the framework "
        "and SQLite allow on this machine today."
    )
    return section
