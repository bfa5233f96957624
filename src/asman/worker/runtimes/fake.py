"""`FakeRuntime`: the container runtime without an engine, for fast tests of everything above it.

No container runs: each `run` plays the `Script` registered for the container's job id or its command (output
lines, files it writes into its writable mounts, an exit code, a run that lasts until it is stopped or times out).
The fake keeps what it was asked for the test to inspect (every `ContainerSpec` with the files its mounts held
when it started, pulls, builds) and answers `stop`, timeouts and a lost engine the way `DockerRuntime` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shlex
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asman.core.definition import BuildSpec
from asman.worker.images import credentials_allowed, registry_of
from asman.worker.network import JOB_NETWORK, NO_NETWORK, network_create_arguments
from asman.worker.runtimes.base import (
    BuildError,
    BuildOptions,
    BuildTimedOut,
    ContainerSpec,
    ImageError,
    LogSink,
    Mount,
    NetworkError,
    RunOutcome,
    RuntimeUnavailable,
)
from asman.worker.runtimes.context import ensure_base_images


@dataclass(frozen=True)
class Script:
    """What one container does: writes, prints, lasts `seconds` (or until stopped, with `hang`), exits."""

    exit_code: int = 0
    stdout: tuple[str, ...] = ()
    stderr: tuple[str, ...] = ()
    # Files written by their path inside the container (e.g. "/outputs/a.txt"); links likewise, to a target.
    writes: Mapping[str, bytes] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    hang: bool = False
    oom_killed: bool = False
    # The engine refuses to start the container (Docker does so for a missing executable without an init).
    start_error: str | None = None
    # The engine goes away while the container runs.
    engine_lost: bool = False


@dataclass(frozen=True)
class FakeRun:
    spec: ContainerSpec
    # Every file under the container's mounts when it started, by its path inside the container.
    files: dict[str, bytes]


class FakeRuntime:
    """A `ContainerRuntime` over dicts. `time_scale` shrinks the clock: at 0.01 a 1 s timeout passes in 10 ms."""

    def __init__(
        self, images: Iterable[str] = (), *, registry: Iterable[str] = (), time_scale: float = 1.0
    ) -> None:
        self.images: set[str] = set(images)
        # What a pull can fetch; pulling anything else fails as an unknown image does.
        self.registry: set[str] = set(registry)
        self.scripts: dict[str, Script] = {}
        self.default_script = Script()
        # A build whose inline dockerfile (or else context URL) is a key here fails with that message, or
        # lasts that many seconds (stopped with `BuildTimedOut` at its options' timeout).
        self.build_failures: dict[str, str] = {}
        self.build_seconds: dict[str, float] = {}
        self.runs: list[FakeRun] = []
        self.pulls: list[str] = []
        self.builds: list[tuple[BuildSpec, str]] = []
        self.build_options: list[BuildOptions] = []
        # The registries each pull would have sent the worker's credentials to (None: anonymous).
        self.pull_credentials: list[str | None] = []
        # Containers `cleanup` finds, as a crashed worker leaves them.
        self.leftovers: set[str] = set()
        # The engine's networks; `ensure_network` adds the worker's own with what DockerRuntime would ask for.
        self.networks: dict[str, dict[str, Any]] = {NO_NETWORK: {}, "host": {}}
        self.created_networks: list[str] = []
        self.available = True
        self.closed = False
        self.time_scale = time_scale
        self._running: dict[str, asyncio.Event] = {}
        self._cancel_requested: set[str] = set()

    def on(self, key: str, script: Script) -> None:
        """Containers of job `key`, or running the command `key` (entrypoint and command, as shlex.join
        writes them), play `script`; any other plays `default_script`."""
        self.scripts[key] = script

    @property
    def specs(self) -> list[ContainerSpec]:
        return [run.spec for run in self.runs]

    def _script_for(self, spec: ContainerSpec) -> Script:
        command = shlex.join([*(spec.entrypoint or []), *(spec.command or [])])
        job = spec.labels.get("io.asman.job", "")
        return self.scripts.get(job) or self.scripts.get(command) or self.default_script

    def _answer(self) -> None:
        if not self.available:
            raise RuntimeUnavailable("no container engine answers (the fake engine is down)")

    async def check(self) -> None:
        self._answer()

    async def close(self) -> None:
        self.closed = True

    # -- images -----------------------------------------------------------------------------------------------

    async def has_image(self, image: str) -> bool:
        self._answer()
        return image in self.images

    async def ensure_image(self, image: str, credential_registries: tuple[str, ...] = ()) -> None:
        self._answer()
        if image in self.images:
            return
        self.pulls.append(image)
        registry = registry_of(image)
        self.pull_credentials.append(
            registry if credentials_allowed(registry, credential_registries) else None
        )
        if image not in self.registry:
            raise ImageError.not_pulled(image, f"pull access denied for {image}, repository does not exist")
        self.images.add(image)

    async def build_image(
        self, build: BuildSpec, tag: str, on_log: LogSink, options: BuildOptions = BuildOptions()
    ) -> str:
        self._answer()
        self.builds.append((build, tag))
        self.build_options.append(options)
        if build.context and options.context_archive is None:
            raise BuildError("the build context was not downloaded")
        if build.dockerfile is not None:  # a context archive here is no real one: only inline files are read
            await ensure_base_images(self, build.dockerfile, build, options)
        key = build.dockerfile or build.context or ""
        lasts = self.build_seconds.get(key, 0.0)
        if options.timeout_s is not None and lasts > options.timeout_s:
            await asyncio.sleep(options.timeout_s * self.time_scale)
            raise BuildTimedOut(f"the image build ran past the job's time limit of {options.timeout_s:g}s")
        await asyncio.sleep(lasts * self.time_scale)
        now = int(time.time() * 1000)
        failure = self.build_failures.get(key)
        if failure is not None:
            on_log(failure, now, True)
            raise BuildError(f"the image build failed: {failure}")
        image_id = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
        # The lines Docker's builder ends with, so tests read the same log from either runtime.
        on_log(f"Successfully built {image_id[7:19]}", now, False)
        on_log(f"Successfully tagged {tag}", now, False)
        self.images.add(tag)
        return image_id

    # -- networks and containers ------------------------------------------------------------------------------

    async def ensure_network(self, name: str) -> None:
        self._answer()
        if name in self.networks:
            return
        if name != JOB_NETWORK:
            raise NetworkError.missing(name, "the fake engine")
        self.created_networks.append(name)
        self.networks[name] = network_create_arguments(name)

    async def run(self, spec: ContainerSpec, on_log: LogSink) -> RunOutcome:
        self._answer()
        self.runs.append(FakeRun(spec, await asyncio.to_thread(_snapshot, spec.mounts)))
        try:
            if spec.image not in self.images:
                return RunOutcome(exit_code=None, error=f"image {spec.image!r} is not on this worker")
            if spec.network not in self.networks:
                return RunOutcome(
                    exit_code=None, error=f"could not create the container: network {spec.network} not found"
                )
            if spec.name in self._cancel_requested:
                return RunOutcome(exit_code=None, cancelled=True)
            script = self._script_for(spec)
            if script.start_error is not None:
                return RunOutcome(
                    exit_code=None, error=f"the container could not start: {script.start_error}"
                )
            stopped = self._running[spec.name] = asyncio.Event()
            started = time.monotonic()
            refused = await asyncio.to_thread(_write, spec.mounts, script)
            now = int(time.time() * 1000)
            for is_stderr, lines in ((False, script.stdout), (True, (*script.stderr, *refused))):
                for line in lines:
                    # As a program writes them, and as the Docker runtime hands them on: newline included.
                    on_log(line if line.endswith("\n") else line + "\n", now, is_stderr)
            if script.engine_lost:
                self.available = False
                self._answer()
            lasts = None if script.hang else script.seconds
            limits = [limit for limit in (lasts, spec.timeout_s) if limit is not None]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), min(limits) * self.time_scale if limits else None)
            duration_ms = int((time.monotonic() - started) / self.time_scale * 1000)
            if spec.name in self._cancel_requested:
                return RunOutcome(exit_code=None, cancelled=True, duration_ms=duration_ms)
            if lasts is None or (spec.timeout_s is not None and lasts > spec.timeout_s):
                return RunOutcome(exit_code=None, timed_out=True, duration_ms=duration_ms)
            return RunOutcome(
                exit_code=script.exit_code, oom_killed=script.oom_killed, duration_ms=duration_ms
            )
        finally:
            self._running.pop(spec.name, None)
            self._cancel_requested.discard(spec.name)

    async def stop(self, container_name: str) -> None:
        # Marked first, as in DockerRuntime: a stop before the container starts keeps it from running.
        self._cancel_requested.add(container_name)
        running = self._running.get(container_name)
        if running is not None:
            running.set()

    async def cleanup(self, prefix: str) -> int:
        self._answer()
        removed = {name for name in self.leftovers if name.startswith(prefix)}
        self.leftovers -= removed
        return len(removed)


def _host_path(mounts: Iterable[Mount], path: str) -> tuple[Path, bool] | None:
    """Where a path inside the container lies on the host, and whether its mount is read-only."""
    best: tuple[str, str, bool] | None = None
    for host, inside, read_only in mounts:
        if (path == inside or path.startswith(inside.rstrip("/") + "/")) and (
            best is None or len(inside) > len(best[1])
        ):
            best = (host, inside, read_only)
    if best is None:
        return None
    host, inside, read_only = best
    return Path(host) / path[len(inside) :].lstrip("/"), read_only


def _snapshot(mounts: Iterable[Mount]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for host, inside, _ in mounts:
        root = Path(host)
        if root.is_file():
            files[inside] = root.read_bytes()
            continue
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    files[f"{inside.rstrip('/')}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return files


def _write(mounts: list[Mount], script: Script) -> list[str]:
    """Carry out the script's writes; return the error lines of those a read-only mount refuses. A path outside
    every mount lands in the container's own file system, which goes with it."""
    refused: list[str] = []
    entries: list[tuple[str, bytes | str]] = [*script.writes.items(), *script.links.items()]
    for path, content in entries:
        target = _host_path(mounts, path)
        if target is None:
            continue
        host, read_only = target
        if read_only:
            refused.append(f"{path}: Read-only file system")
            continue
        host.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            host.write_bytes(content)
        else:
            host.symlink_to(content)
    return refused
