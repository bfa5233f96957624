"""The container engine restarts under a running job: the job ends as Error, and the worker carries on."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import run_of, start_server
from tests.support.stack import Stack, start_worker

pytestmark = pytest.mark.docker
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "docker-engine.sh"


def _engine(command: str, folder: str) -> None:
    subprocess.run(["bash", str(SCRIPT), command, folder], check=True, capture_output=True, timeout=120)


@pytest.fixture
def own_engine(docker_host: str) -> Iterator[str]:
    """A second private engine that this test may stop and start without disturbing the others."""
    folder = tempfile.mkdtemp(prefix="ase", dir="/tmp")
    _engine("start", folder)
    try:
        yield folder
    finally:
        _engine("stop", folder)
        subprocess.run(["rm", "-rf", folder], check=False)


def test_engine_restart_mid_job_is_an_error_and_the_worker_recovers(tmp_path: Path, own_engine: str) -> None:
    host = f"unix://{own_engine}/docker.sock"
    server = start_server(tmp_path / "server")
    stack = Stack(server.url, "engine", "asman/busybox:latest", server, host, tmp_path)
    worker = start_worker(server.url, "engine", tmp_path / "worker", host)
    stack.workers.append(worker)
    try:
        job_id = stack.submit({"image": stack.image, "command": "sh -c 'echo started; sleep 30'"})
        stack.wait_state(job_id, "Running")
        time.sleep(1.5)
        _engine("stop", own_engine)
        job = stack.wait_finished(job_id, timeout=60)
        assert job["finishedReason"] == "Error", job
        assert run_of(job)["error"], job
        _engine("start", own_engine)
        follow_up = stack.submit({"image": stack.image, "command": "echo recovered"})
        assert stack.wait_finished(follow_up, timeout=60)["finishedReason"] == "Success"
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop()
        server.stop()
