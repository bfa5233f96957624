"""Container overhead: a busybox `echo` job through server + real worker vs the same `docker run` done directly.

A private Docker engine (scripts/docker-engine.sh, in a short temp folder; no bridge, network none) runs both.
Asman: submit a job with a fresh command (so nothing is cached), poll the job every 10 ms until Finished; the
worker (`asman worker --network none`) stages /inputs and /outputs, runs the hardened container, streams the
logs and reports the result. Direct: `docker run --rm --network none asman/busybox:latest echo ...` through
the Docker CLI. The two alternate, after one warm-up each; the figure is the ratio of the medians.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import ROOT, Section, asman_server, median, run_id, scaled

TARGET_RATIO = 1.15
IMAGE = "asman/busybox:latest"
ENGINE = ROOT / "scripts" / "docker-engine.sh"


def _docker_cli() -> str:
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (shutil.which("docker") or "docker")


def _asman_job(client: httpx.Client, url: str, queue: str, command: str, timeout: float = 120) -> float:
    began = time.monotonic()
    answer = client.post(f"{url}/q/{queue}", json={"definition": {"image": IMAGE, "command": command}}).json()
    job_id = answer["jobId"]
    deadline = began + timeout
    while time.monotonic() < deadline:
        job = client.get(f"{url}/q/{queue}/j/{job_id}").json()["data"]
        if job["state"] == "Finished":
            elapsed = time.monotonic() - began
            if job.get("finishedReason") != "Success" or job.get("exitCode") != 0:
                raise RuntimeError(f"the benchmark job failed: {job}")
            return elapsed
        time.sleep(0.01)
    raise TimeoutError(f"job {job_id} did not finish in {timeout} s")


def _direct(sock: str, command: str) -> float:
    began = time.monotonic()
    subprocess.run(
        [_docker_cli(), "-H", f"unix://{sock}", "run", "--rm", "--network", "none", IMAGE, *command.split()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.monotonic() - began


def run() -> Section:
    section = Section("container")
    if shutil.which("dockerd") is None and not ENGINE.exists():
        section.skipped = "no dockerd (scripts/docker-engine.sh installs docker.io)"
        return section
    rounds = scaled(12, 4)
    folder = Path(tempfile.mkdtemp(prefix="asb", dir="/tmp"))
    started = subprocess.run(
        [str(ENGINE), "start", str(folder)], capture_output=True, text=True, timeout=300, check=False
    )
    if started.returncode != 0:
        section.skipped = (
            f"the private Docker engine did not start: {started.stderr.strip().splitlines()[-1:]}"
        )
        return section
    sock = str(folder / "docker.sock")
    work = Path(tempfile.mkdtemp(prefix="bench-container-"))
    asman_times: list[float] = []
    direct_times: list[float] = []
    try:
        from tests.support.stack import start_worker

        with asman_server(work / "server") as server:
            queue = f"ctr-{run_id()}"
            worker = start_worker(server.url, queue, work / "worker", f"unix://{sock}")
            try:
                tag = run_id()
                with httpx.Client(timeout=30) as client:
                    _asman_job(client, server.url, queue, f"echo warm-{tag}")
                    _direct(sock, f"echo warm-{tag}")
                    for index in range(rounds):
                        asman_times.append(_asman_job(client, server.url, queue, f"echo bench-{tag}-{index}"))
                        direct_times.append(_direct(sock, f"echo bench-{tag}-{index}"))
            finally:
                worker.stop()
    finally:
        subprocess.run([str(ENGINE), "stop", str(folder)], capture_output=True, timeout=90, check=False)
        shutil.rmtree(folder, ignore_errors=True)
    through, direct = median(asman_times) * 1000, median(direct_times) * 1000
    ratio = through / direct
    section.add("Asman job, submit -> Finished (median)", through, "ms")
    section.add("docker run --rm --network none (median)", direct, "ms")
    section.add("overhead ratio", ratio, "x", f"<= {TARGET_RATIO:.2f}x", ratio <= TARGET_RATIO)
    section.notes.append(
        f"{rounds} alternating rounds after a warm-up; private dockerd, image {IMAGE}; the Asman time is seen by "
        "a client polling the job every 10 ms, so it includes up to 10 ms of polling delay."
    )
    return section
