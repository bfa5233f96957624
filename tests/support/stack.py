"""A running stack: a real server subprocess and real worker subprocesses with a real Docker engine."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, start_server


@dataclass
class WorkerProcess:
    worker_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, wait: float = 40) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(
    api_url: str,
    queue: str,
    data_dir: Path,
    docker_host: str,
    *extra: str,
    worker_id: str | None = None,
    wait_connected: bool = True,
) -> WorkerProcess:
    worker_id = worker_id or f"w-{secrets.token_hex(3)}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"worker-{worker_id}.log"
    env = {**os.environ, "DOCKER_HOST": docker_host}
    args = [
        sys.executable,
        "-m",
        "asman.cli",
        "worker",
        queue,
        "--api-address",
        api_url,
        "--data-directory",
        str(data_dir),
        "--id",
        worker_id,
        "--network",
        "none",
        *extra,
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = WorkerProcess(worker_id, process, log_path)
    if wait_connected:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{worker.log()}")
            status = httpx.get(f"{api_url}/q/{queue}/status", timeout=5).json()
            if any(w["id"] == worker_id for w in status["workers"]):
                return worker
            time.sleep(0.1)
        worker.stop(signal.SIGKILL)
        raise RuntimeError(f"worker did not connect in 30 s:\n{worker.log()}")
    return worker


@dataclass
class Stack:
    url: str
    queue: str
    image: str
    server: ServerProcess
    docker_host: str
    root: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def add_worker(self, *extra: str, worker_id: str | None = None) -> WorkerProcess:
        worker = start_worker(
            self.url,
            self.queue,
            self.root / f"worker-{len(self.workers)}",
            self.docker_host,
            *extra,
            worker_id=worker_id,
        )
        self.workers.append(worker)
        return worker

    def submit(self, definition: dict[str, object], queue: str | None = None) -> str:
        response = httpx.post(
            f"{self.url}/q/{queue or self.queue}", json={"definition": definition}, timeout=10
        )
        response.raise_for_status()
        job_id: str = response.json()["jobId"]
        return job_id

    def job(self, job_id: str, queue: str | None = None) -> dict[str, object]:
        data: dict[str, object] = httpx.get(
            f"{self.url}/q/{queue or self.queue}/j/{job_id}", timeout=10
        ).json()["data"]
        return data

    def wait_finished(self, job_id: str, timeout: float = 60, queue: str | None = None) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id, queue)
            if job["state"] == "Finished":
                return job
            time.sleep(0.1)
        logs = "\n".join(worker.log()[-3000:] for worker in self.workers)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s: {self.job(job_id, queue)}\n{logs}")

    def wait_state(self, job_id: str, state: str, timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["state"] == state:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never became {state}: {self.job(job_id)}")


@pytest.fixture
def bare_stack(tmp_path: Path, docker_host: str, test_image: str, backend: dict[str, str]) -> Iterator[Stack]:
    """A server and no worker yet: tests add their own with add_worker()."""
    server = start_server(tmp_path / "server-data", backend)
    stack = Stack(server.url, f"test-{secrets.token_hex(4)}", test_image, server, docker_host, tmp_path)
    try:
        yield stack
    finally:
        for worker in stack.workers:
            worker.stop(signal.SIGKILL)
        server.stop()


@pytest.fixture
def stack(bare_stack: Stack) -> Stack:
    """A server with one worker (1 slot, network none) connected to `stack.queue`."""
    bare_stack.add_worker()
    return bare_stack
