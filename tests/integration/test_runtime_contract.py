"""One contract for every ContainerRuntime: the Docker engine and the FakeRuntime answer runs, stops, timeouts
and images alike, so the tests that use the fake say something about the real thing. The fake is handed the
`Script` that plays what the real command does."""

from __future__ import annotations

import asyncio
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from asman.core.definition import BuildSpec
from asman.worker.runtimes import (
    BuildError,
    BuildOptions,
    BuildTimedOut,
    ContainerRuntime,
    ContainerSpec,
    DockerRuntime,
    FakeRuntime,
    ImageError,
    RunOutcome,
    Script,
)
from tests.support.jobs import Lines


@dataclass
class Engine:
    runtime: ContainerRuntime
    image: str
    # The containers by that name the engine still holds (a run must leave none behind).
    containers: Callable[[str], list[Any]]

    def spec(self, command: list[str], script: Script, **fields: Any) -> ContainerSpec:
        if isinstance(self.runtime, FakeRuntime):
            self.runtime.on(shlex.join(command), script)
        name = f"asman-test-{uuid.uuid4().hex[:12]}"
        return ContainerSpec(image=self.image, name=name, command=command, **fields)

    async def run(self, spec: ContainerSpec, lines: Lines | None = None) -> RunOutcome:
        return await self.runtime.run(spec, lines if lines is not None else Lines())


@pytest.fixture(params=["fake", pytest.param("docker", marks=pytest.mark.docker)])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    if request.param == "fake":
        fake = FakeRuntime(["asman/busybox:latest"])
        yield Engine(fake, "asman/busybox:latest", lambda name: [])
        return
    host: str = request.getfixturevalue("docker_host")
    client: docker.DockerClient = request.getfixturevalue("docker_client")
    runtime = DockerRuntime(host)
    try:
        yield Engine(
            runtime,
            request.getfixturevalue("test_image"),
            lambda name: list(client.containers.list(all=True, sparse=True, filters={"name": name})),
        )
    finally:
        await runtime.close()


async def test_stdout_and_stderr_stream_apart(engine: Engine) -> None:
    lines = Lines()
    before = int(time.time() * 1000) - 1000
    spec = engine.spec(
        ["sh", "-c", "echo out1; echo err1 >&2; echo out2"], Script(stdout=("out1", "out2"), stderr=("err1",))
    )
    outcome = await engine.run(spec, lines)
    assert outcome.exit_code == 0 and not outcome.timed_out and not outcome.cancelled
    assert lines.stdout() == ["out1", "out2"]
    assert lines.stderr() == ["err1"]
    assert all(before <= epoch_ms <= before + 60_000 for _, epoch_ms, _ in lines.lines)
    assert engine.containers(spec.name) == []


async def test_nonzero_exit_is_reported(engine: Engine) -> None:
    outcome = await engine.run(engine.spec(["sh", "-c", "exit 3"], Script(exit_code=3)))
    assert outcome.exit_code == 3 and outcome.error is None


async def test_timeout_kills_and_removes_the_container(engine: Engine) -> None:
    spec = engine.spec(["sleep", "30"], Script(seconds=30), timeout_s=1.0)
    started = time.monotonic()
    outcome = await engine.run(spec)
    assert outcome.timed_out and not outcome.cancelled and outcome.exit_code is None
    assert time.monotonic() - started < 25  # killed, not run to the end of its 30 s
    assert engine.containers(spec.name) == []


async def test_stop_cancels_a_running_container(engine: Engine) -> None:
    lines = Lines()
    spec = engine.spec(["sh", "-c", "echo ready; sleep 30"], Script(stdout=("ready",), hang=True))
    running = asyncio.create_task(engine.run(spec, lines))
    async with asyncio.timeout(10):
        while "ready" not in lines.stdout():
            await asyncio.sleep(0.02)
    await engine.runtime.stop(spec.name)
    outcome = await asyncio.wait_for(running, 15)
    assert outcome.cancelled and not outcome.timed_out and outcome.exit_code is None
    assert engine.containers(spec.name) == []


async def test_stop_before_start_prevents_the_run(engine: Engine) -> None:
    spec = engine.spec(["sleep", "30"], Script(hang=True))
    await engine.runtime.stop(spec.name)
    outcome = await asyncio.wait_for(engine.run(spec), 15)
    assert outcome.cancelled


async def test_a_stop_is_forgotten_once_its_run_ends(engine: Engine) -> None:
    spec = engine.spec(["true"], Script())
    await engine.runtime.stop(spec.name)
    assert (await engine.run(spec)).cancelled
    assert (await engine.run(spec)).exit_code == 0, "a new attempt by the same name runs"


async def test_missing_image_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(
        ImageError, match=r"'asman-test/does-not-exist:1' is not on this worker and could not be pulled"
    ):
        await engine.runtime.ensure_image("asman-test/does-not-exist:1")
    outcome = await engine.run(
        ContainerSpec(image="asman-test/does-not-exist:1", name=f"asman-test-{uuid.uuid4().hex[:12]}")
    )
    assert (
        outcome.exit_code is None
        and outcome.error == "image 'asman-test/does-not-exist:1' is not on this worker"
    )


async def test_present_image_needs_no_pull(engine: Engine) -> None:
    await engine.runtime.ensure_image(engine.image)
    assert await engine.runtime.has_image(engine.image)
    assert not await engine.runtime.has_image("asman-test/absent:1")


async def test_a_build_is_stopped_at_its_timeout(engine: Engine) -> None:
    dockerfile = f"FROM {engine.image}\nRUN sleep 30 # {uuid.uuid4().hex}\n"
    if isinstance(engine.runtime, FakeRuntime):
        engine.runtime.build_seconds[dockerfile] = 30
    started = time.monotonic()
    with pytest.raises(BuildTimedOut):
        await engine.runtime.build_image(
            BuildSpec(dockerfile=dockerfile),
            f"asman-test/slow-{uuid.uuid4().hex[:8]}",
            Lines(),
            BuildOptions(timeout_s=1.5),
        )
    assert time.monotonic() - started < 6


async def test_a_build_context_must_have_been_downloaded(engine: Engine) -> None:
    with pytest.raises(BuildError, match="the build context was not downloaded"):
        await engine.runtime.build_image(
            BuildSpec(context="https://files.example/ctx.tar.gz"), "asman-test/ctx", Lines()
        )
