"""What can go wrong talking to an Asman server, as exceptions whose messages say what to do next.

Every exception derives from `asman.core.errors.AsmanError`, the project's one error base:

    AsmanError
    ├── ServerUnreachable   no answer from the server (after retries)
    ├── ApiError            the server answered with an error envelope {error, message}
    │   ├── InvalidJob      the server refused the definition (400, 422, 413)
    │   └── JobNotFound     no such job in that queue (404)
    ├── InvalidJob          (also raised locally: a file to upload is missing)
    ├── JobFailed           the job finished but did not succeed; `.result` says how
    ├── WaitTimeout         the job did not finish in time (also a `TimeoutError`)
    └── DownloadFailed      an output could not be fetched or did not match its hash
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asman.core.errors import AsmanError

if TYPE_CHECKING:
    from asman.client._models import JobResult

__all__ = [
    "ApiError",
    "AsmanError",
    "DownloadFailed",
    "InvalidJob",
    "JobFailed",
    "JobNotFound",
    "ServerUnreachable",
    "WaitTimeout",
]

START_HINT = (
    "start one with `make run` or `asman worker --mode local` (server and local worker), or `asman server`;"
    " or choose another with --api / API_SERVER_ADDRESS / Client(url)"
)


class ServerUnreachable(AsmanError):
    code = "server_unreachable"
    status_code = 0

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot reach the Asman server at {url} ({cause}): {START_HINT}")
        self.url = url
        self.cause = cause


class ApiError(AsmanError):
    """The server answered with an error status; `status_code` and `code` come from the answer."""

    def __init__(self, message: str, status_code: int, code: str = "error") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class InvalidJob(ApiError):
    """The job definition (or a file it names) is not acceptable; the message says which part and why."""

    def __init__(self, message: str, status_code: int = 400, code: str = "invalid_job") -> None:
        super().__init__(message, status_code, code)


class JobNotFound(ApiError):
    def __init__(self, message: str, status_code: int = 404, code: str = "not_found") -> None:
        super().__init__(message, status_code, code)


class JobFailed(AsmanError):
    """The job finished without success: an infrastructure `Error`, `TimedOut`, `Cancelled`... or, when asked
    to check, a non-zero exit code. The full result is in `.result`."""

    code = "job_failed"

    def __init__(self, message: str, result: JobResult) -> None:
        super().__init__(message)
        self.result = result


class WaitTimeout(AsmanError, TimeoutError):
    code = "wait_timeout"

    def __init__(self, message: str) -> None:
        AsmanError.__init__(self, message)


class DownloadFailed(AsmanError):
    code = "download_failed"
