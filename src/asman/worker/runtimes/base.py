"""The container runtime behind one small interface: images in, a run's outcome out.

A runtime knows nothing about jobs, queues or the server: `asman.worker.run` turns a job into a `ContainerSpec`
and a `RunOutcome` back into a result. Log lines reach the caller through a plain callable that may be called
from any thread; batching them is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from asman.core.definition import BuildSpec
from asman.core.errors import AsmanError, BackendUnavailable
from asman.worker.network import JOB_NETWORK, NO_NETWORK

# on_log(text, epoch_ms, is_stderr): called as output is written, possibly from a worker thread.
LogSink = Callable[[str, int, bool], None]

DEFAULT_USER = "1000:1000"
DEFAULT_PIDS_LIMIT = 512


class RuntimeUnavailable(BackendUnavailable):
    """No container engine answers (the daemon is down, or DOCKER_HOST points nowhere)."""


class ContainerRuntimeError(AsmanError):
    """A failure of the runtime that is about the job's own image, not the engine."""


class ImageError(ContainerRuntimeError):
    """The image cannot be had: not present and the pull failed."""

    @classmethod
    def not_pulled(cls, image: str, reason: str | None) -> ImageError:
        return cls(
            f"image {image!r} is not on this worker and could not be pulled: {reason or 'unknown error'}. "
            "Check the image name and tag, and that the worker can reach its registry."
        )


class BuildError(ContainerRuntimeError):
    """The build context could not be fetched, or the build itself failed."""


class BuildTimedOut(BuildError):
    """The build ran to its deadline and was stopped."""


class NetworkError(ContainerRuntimeError):
    """The job network is missing and not the worker's own to create, or could not be created."""

    @classmethod
    def missing(cls, name: str, where: str) -> NetworkError:
        return cls(
            f"the job network {name!r} does not exist on the engine at {where}. Create it, or leave --network "
            f"unset for the worker's own network ({JOB_NETWORK}), or use --network {NO_NETWORK}."
        )


class Mount(NamedTuple):
    """A bind mount; a plain (host_path, container_path, read_only) tuple works as well."""

    host_path: str
    container_path: str
    read_only: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """One container to run to completion. Sizes are bytes, durations seconds."""

    image: str
    name: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    mounts: list[Mount] = field(default_factory=list)
    cpus: float | None = None
    memory: int | None = None
    gpus: list[str] | None = None
    shm_size: int | None = None
    timeout_s: float | None = None
    network: str = NO_NETWORK
    labels: dict[str, str] = field(default_factory=dict)
    user: str = DEFAULT_USER
    pids_limit: int = DEFAULT_PIDS_LIMIT


@dataclass(frozen=True)
class BuildOptions:
    """What a build may use: the job's limits and network, and the context archive the worker downloaded.

    The engine runs each build step in a container of its own making, as root with its default capabilities;
    these options are what the build API lets a client bound (no pids limit is offered there).
    """

    network: str = NO_NETWORK
    memory: int | None = None
    cpus: float | None = None
    shm_size: int | None = None
    # Past this many seconds the build is stopped and `BuildTimedOut` raised.
    timeout_s: float | None = None
    # The downloaded archive (tar or zip) of the build's `context` URL; None for an inline Dockerfile alone.
    context_archive: Path | None = None
    # Registries the worker's credentials may be sent to; a build pulling from any other gets none.
    credential_registries: tuple[str, ...] = ()
    # Base images (FROM, COPY --from) missing on the engine are pulled first, under the same rules as a job's
    # image: refused from a registry at an internal address unless this allows it.
    allow_private_registries: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. `exit_code` is None when the container never ran or its status is unknown."""

    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    error: str | None = None
    duration_ms: int = 0
    oom_killed: bool = False


class ContainerRuntime(Protocol):
    async def check(self) -> None:
        """Raise `RuntimeUnavailable` unless the engine answers."""
        ...

    async def ensure_image(self, image: str, credential_registries: tuple[str, ...] = ()) -> None:
        """Make `image` present locally, pulling it once if absent (with the worker's registry credentials
        only if its registry is one of `credential_registries`); `ImageError` if it cannot be had."""
        ...

    async def has_image(self, image: str) -> bool:
        """Whether `image` (a name:tag or an id) is present locally. Never pulls."""
        ...

    async def build_image(
        self, build: BuildSpec, tag: str, on_log: LogSink, options: BuildOptions = BuildOptions()
    ) -> str:
        """Build `build` into an image tagged `tag` within `options`, streaming the build output; returns the
        image id. `BuildError` when the context is unusable or the build fails, `BuildTimedOut` when it ran to
        `options.timeout_s`."""
        ...

    async def ensure_network(self, name: str) -> None:
        """Make the job network `name` usable: `none` needs nothing; `JOB_NETWORK` is created once (with
        `network_create_arguments`) if the engine lacks it; any other must exist, else `NetworkError`."""
        ...

    async def run(self, spec: ContainerSpec, on_log: LogSink) -> RunOutcome:
        """Run a container to its end (exit, timeout or `stop`), stream its output, then remove it."""
        ...

    async def stop(self, container_name: str) -> None:
        """Kill the named container if it is running; its `run` reports `cancelled=True`."""
        ...

    async def cleanup(self, prefix: str) -> int:
        """Remove this runtime's containers whose name starts with `prefix` (leftovers of a crash)."""
        ...

    async def close(self) -> None: ...
