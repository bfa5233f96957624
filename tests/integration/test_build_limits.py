"""Image builds on a real Docker engine hold to the job's limits: its time limit (the build counts against it
and is stopped at the deadline, its step's container gone), its network and its memory; and the images they
build from are never pulled from an internal registry."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest

from asman.core.definition import BuildSpec
from asman.core.protocol import STEP_BUILD
from asman.core.states import FinishedReason
from asman.worker.runtimes import BuildError, BuildOptions, DockerRuntime
from tests.support.archives import tar_gz
from tests.support.jobs import Lines, Runner, stdout

pytestmark = pytest.mark.docker


def build_of(test_image: str, *steps: str) -> dict[str, object]:
    # A unique line keeps an earlier run's image (the engine may be a shared one) from standing in for a build.
    lines = [f"FROM {test_image}", f"ENV ASMAN_TEST_RUN={uuid.uuid4().hex}", *steps]
    return {"image": None, "build": {"dockerfile": "\n".join(lines) + "\n"}}


async def test_a_build_past_max_duration_is_stopped_at_the_deadline(
    runner: Runner, test_image: str, docker_client: docker.DockerClient
) -> None:
    before = {container.id for container in docker_client.containers.list(all=True, sparse=True)}
    started = time.monotonic()
    result = await runner.run(
        {**build_of(test_image, "RUN echo building; sleep 60"), "command": "true", "maxDuration": "3s"},
        max_job_duration_s=600,
    )
    took = time.monotonic() - started
    assert result.reason is FinishedReason.TIMED_OUT and result.isTimedOut, result
    assert result.error is not None and "image build ran past the job's time limit of 3s" in result.error
    assert took < 8, f"the build went on {took:.1f}s after its 3s limit"
    assert "building" in runner.io.step(STEP_BUILD)
    # The engine cancels the build when its connection closes, and removes the step's container.
    for _ in range(50):
        left = [
            container
            for container in docker_client.containers.list(all=True, sparse=True)
            if container.id not in before
        ]
        if not left:
            break
        await asyncio.sleep(0.1)
    assert left == []


async def test_the_build_time_counts_against_the_run(runner: Runner, test_image: str) -> None:
    result = await runner.run(
        {**build_of(test_image, "RUN sleep 2"), "command": "sleep 3", "maxDuration": "4s"},
        max_job_duration_s=600,
    )
    assert result.reason is FinishedReason.TIMED_OUT, result
    assert result.duration is not None and result.duration < 3000, "the run got only what the build left"


async def test_a_build_has_the_jobs_network_and_memory(runner: Runner, test_image: str) -> None:
    steps = (
        "RUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /interfaces",
        "RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /memory",
    )
    result = await runner.run(
        {
            **build_of(test_image, *steps),
            "command": "cat /interfaces /memory",
            "requirements": {"memory": "48m"},
        }
    )
    assert result.reason is FinishedReason.SUCCESS, result
    assert stdout(result) == ["lo", str(48 * 1024**2)], "network none: loopback only; the job's memory"


async def test_a_build_over_its_memory_is_killed(runner: Runner, test_image: str) -> None:
    # The shell holds what it substitutes in memory: 200 MiB cannot fit in 32 MiB.
    result = await runner.run(
        {
            **build_of(test_image, "RUN x=\"$(head -c 200m /dev/zero | tr '\\0' a)\"; echo ${#x}"),
            "command": "true",
            "requirements": {"memory": "32m"},
        }
    )
    assert result.reason is FinishedReason.ERROR, result
    assert result.error is not None and result.error.startswith("the image build failed"), result.error


@pytest.fixture
def registry() -> Iterator[tuple[str, list[str]]]:
    """A 'registry' on loopback that records every request the engine would make to it."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_a_build_from_an_internal_registry_never_reaches_it(
    runtime: DockerRuntime, runner: Runner, tmp_path: Path, registry: tuple[str, list[str]]
) -> None:
    address, hits = registry
    inline = await runner.run({"image": None, "build": {"dockerfile": f"FROM {address}/base:1\n"}})
    assert inline.reason is FinishedReason.ERROR
    assert inline.error is not None and f"registry {address} is at an internal address" in inline.error
    archive = tmp_path / "context.tar.gz"
    archive.write_bytes(tar_gz({"Dockerfile": f"ARG R={address}\nFROM $R/base:1\n"}))
    with pytest.raises(BuildError, match="is at an internal address"):
        await runtime.build_image(
            BuildSpec(context="https://files.example/context.tar.gz"),
            f"asman-test/refused-{uuid.uuid4().hex[:8]}",
            Lines(),
            BuildOptions(context_archive=archive),
        )
    assert hits == [], "the engine contacted the internal registry"
