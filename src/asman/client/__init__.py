"""The Python client of an Asman server: `Client` (blocking) and `AsyncClient` (asyncio), over httpx.

from asman import Client
job = Client("http://127.0.0.1:8000").queue("local").submit(image="alpine:3.19", command="echo hello")
print(job.wait().stdout)
"""

from asman.client._async.client import AsyncClient, AsyncJob, AsyncQueue
from asman.client._async.sweep import as_completed as as_completed_async
from asman.client._async.sweep import wait_all as wait_all_async
from asman.client._base import API_ENV, DEFAULT_URL
from asman.client._models import Finished, JobEvent, JobResult, JobStatus, LogLine, LogsWritten, StateChanged
from asman.client._sync.client import Client, Job, Queue
from asman.client._sync.sweep import as_completed, wait_all
from asman.client.errors import (
    ApiError,
    AsmanError,
    DownloadFailed,
    InvalidJob,
    JobFailed,
    JobNotFound,
    ServerUnreachable,
    WaitTimeout,
)

__all__ = [
    "API_ENV",
    "DEFAULT_URL",
    "ApiError",
    "AsmanError",
    "AsyncClient",
    "AsyncJob",
    "AsyncQueue",
    "Client",
    "DownloadFailed",
    "Finished",
    "InvalidJob",
    "Job",
    "JobEvent",
    "JobFailed",
    "JobNotFound",
    "JobResult",
    "JobStatus",
    "LogLine",
    "LogsWritten",
    "Queue",
    "ServerUnreachable",
    "StateChanged",
    "WaitTimeout",
    "as_completed",
    "as_completed_async",
    "wait_all",
    "wait_all_async",
]
