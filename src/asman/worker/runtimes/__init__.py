"""Container runtimes: one small `ContainerRuntime` protocol, the Docker Engine implementation and a fake."""

from asman.worker.runtimes.base import (
    MANAGED_LABEL,
    BuildError,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerSpec,
    ImageError,
    LogSink,
    Mount,
    RunOutcome,
    RuntimeUnavailable,
)
from asman.worker.runtimes.docker import DockerRuntime
from asman.worker.runtimes.fake import FakeRuntime, Script

__all__ = [
    "MANAGED_LABEL",
    "BuildError",
    "ContainerRuntime",
    "ContainerRuntimeError",
    "ContainerSpec",
    "DockerRuntime",
    "FakeRuntime",
    "ImageError",
    "LogSink",
    "Mount",
    "RunOutcome",
    "RuntimeUnavailable",
    "Script",
]
