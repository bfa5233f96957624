"""What `Job` and `AsyncJob` share: a job's identity, the server's job views read into statuses and results,
the messages of a failed or unfinished job, and the output file that checks its hash. No network."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from asman.client._models import JobResult, JobStatus
from asman.client.errors import AsmanError, DownloadFailed, JobFailed
from asman.core.states import JobState


class JobBase:
    """One job in one queue, known by its id: equal handles name the same job on the same server."""

    def __init__(self, queue: str, job_id: str, api_url: str) -> None:
        self.queue = queue
        self.id = job_id
        self._api_url = api_url

    @property
    def url(self) -> str:
        """The job's address: JSON for scripts, the job page in a browser."""
        return f"{self._api_url}/q/{self.queue}/j/{self.id}"

    def _path(self, suffix: str = "") -> str:
        return f"/q/{self.queue}/j/{self.id}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queue={self.queue!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobBase) and type(other) is type(self) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)


def job_view(body: Any) -> dict[str, Any]:
    """The `data` object of a job endpoint's answer."""
    view = body.get("data") if isinstance(body, dict) else None
    return view if isinstance(view, dict) else {}


def status_from_view(body: Any, queue: str) -> JobStatus:
    return JobStatus.from_json(job_view(body), queue)


def result_from_view(body: Any) -> JobResult | None:
    view = job_view(body)
    return JobResult.from_view(view) if view.get("state") == JobState.FINISHED.value else None


def cancel_status(job: JobBase, body: Any) -> JobStatus:
    data = body if isinstance(body, dict) else {}
    return JobStatus.from_json({"jobId": job.id, "queue": job.queue, **data}, job.queue)


def checked(job: JobBase, result: JobResult, check: bool) -> JobResult:
    """The result, or with `check`, JobFailed for a job that did not succeed."""
    if not check or result.ok:
        return result
    message = f"job {job.id} in queue {job.queue} {result.describe()}"
    tail = [line.text for line in result.logs if line.step == "run"][-5:]
    if tail:
        message += "; its last log lines:\n    " + "\n    ".join(tail) + "\n"
    message += f"; the full result is in the exception's .result, and at {job.url}"
    raise JobFailed(message, result)


def not_finished(job: JobBase, status: JobStatus) -> AsmanError:
    return AsmanError(f"job {job.id} is {status.state}, not finished: wait for it first (job.wait())")


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class HashingFile:
    """A temporary file beside the target that becomes the target only if the bytes match the expected hash."""

    def __init__(self, target: Path, expected: str | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".asman-", dir=target.parent)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.temp = Path(name)
        self.target = target
        self.expected = expected
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.file.write(chunk)

    def commit(self, name: str) -> None:
        self.file.close()
        try:
            check_hash(name, self.expected, self.digest)
        except DownloadFailed:
            self.temp.unlink(missing_ok=True)
            raise
        self.temp.replace(self.target)

    def discard(self) -> None:
        self.file.close()
        self.temp.unlink(missing_ok=True)


class HashingBuffer:
    """The bytes of an output in memory, the same way: given out only if they match the expected hash."""

    def __init__(self, expected: str | None) -> None:
        self.data = bytearray()
        self.expected = expected
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.data += chunk

    def commit(self, name: str) -> None:
        check_hash(name, self.expected, self.digest)

    def discard(self) -> None:
        self.data.clear()


# Where an output's bytes go while they download: a file beside its target, or memory.
Sink = TypeVar("Sink", HashingFile, HashingBuffer)


def check_hash(name: str, expected: str | None, digest: Any) -> None:
    if expected and digest.hexdigest() != expected:
        raise DownloadFailed(
            f"output {name!r} does not match its hash {expected}: the download was corrupted or the blob"
            " changed; download it again"
        )


def output_ref(job: JobBase, result: JobResult, name: str) -> dict[str, Any]:
    """The DataRef of the output `name`, or an error that lists the outputs there are."""
    ref = result.outputs.get(name)
    if ref is None:
        there = ", ".join(repr(output) for output in sorted(result.outputs)) or "none"
        raise AsmanError(f"job {job.id} has no output {name!r}; its outputs: {there}")
    return ref
