"""Container runtimes: one small `ContainerRuntime` protocol, the Docker Engine implementation and a fake."""

from asman.worker.network import JOB_NETWORK, MANAGED_LABEL, NO_NETWORK
from asman.worker.runtimes.base import (
    BuildError,
    BuildOptions,
    BuildTimedOut,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerSpec,
    ImageError,
    LogSink,
    Mount,
    NetworkError,
    RunOutcome,
    RuntimeUnavailable,
)
from asman.worker.runtimes.docker import DockerRuntime
from asman.worker.runtimes.fake import FakeRuntime, Script

__all__ = [
    "JOB_NETWORK",
    "MANAGED_LABEL",
    "NO_NETWORK",
    "BuildError",
    "BuildOptions",
    "BuildTimedOut",
    "ContainerRuntime",
    "ContainerRuntimeError",
    "ContainerSpec",
    "DockerRuntime",
    "FakeRuntime",
    "ImageError",
    "LogSink",
    "Mount",
    "NetworkError",
    "RunOutcome",
    "RuntimeUnavailable",
    "Script",
]
