"""Container runtimes: one small `ContainerRuntime` protocol, and the Docker Engine implementation."""

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

__all__ = [
    "MANAGED_LABEL",
    "BuildError",
    "ContainerRuntime",
    "ContainerRuntimeError",
    "ContainerSpec",
    "DockerRuntime",
    "ImageError",
    "LogSink",
    "Mount",
    "RunOutcome",
    "RuntimeUnavailable",
]
