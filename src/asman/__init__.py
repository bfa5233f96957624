"""Asman: public compute queues for everyone.

    from asman import Client
    job = Client("http://127.0.0.1:8000").queue("local").submit(image="alpine:3.19", command="echo hello")
    print(job.wait().stdout)

`import asman` stays cheap: the client (and httpx) load on first use of one of its names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asman._version import __version__

__all__ = [
    "ApiError",
    "AsmanError",
    "AsyncClient",
    "AsyncJob",
    "AsyncQueue",
    "Client",
    "DownloadFailed",
    "InvalidJob",
    "Job",
    "JobFailed",
    "JobNotFound",
    "JobResult",
    "JobStatus",
    "LogLine",
    "Queue",
    "ServerUnreachable",
    "WaitTimeout",
    "__version__",
    "as_completed",
    "wait_all",
]

if TYPE_CHECKING:
    from asman.client import (
        ApiError,
        AsyncClient,
        AsyncJob,
        AsyncQueue,
        Client,
        DownloadFailed,
        InvalidJob,
        Job,
        JobFailed,
        JobNotFound,
        JobResult,
        JobStatus,
        LogLine,
        Queue,
        ServerUnreachable,
        WaitTimeout,
        as_completed,
        wait_all,
    )
    from asman.core.errors import AsmanError


def __getattr__(name: str) -> Any:
    if name == "AsmanError":
        from asman.core.errors import AsmanError

        return AsmanError
    if name in __all__:
        import asman.client

        return getattr(asman.client, name)
    raise AttributeError(f"module 'asman' has no attribute {name!r}")
