"""Job handles: `Job` (blocking) and `AsyncJob` (asyncio), one job in one queue.

Waiting and following logs ride the job's Server-Sent Events stream (`GET /q/<queue>/j/<id>/stream`), not
polling. The stream replays the job's state and logs on every connection, so a dropped connection is simply
reopened; `_Watch` drops the lines already seen, and the handle backs off between failed reconnections."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from asman.client._base import RETRYABLE_ERRORS, Retry, unreachable
from asman.client._datarefs import decode_inline, fetch_url, output_path
from asman.client._models import (
    Finished,
    JobEvent,
    JobResult,
    JobStatus,
    LogLine,
    LogsWritten,
    StateChanged,
    Step,
    log_lines,
)
from asman.client._sse import ServerSentEvent, SSEDecoder
from asman.client.errors import AsmanError, DownloadFailed, JobFailed, WaitTimeout
from asman.core.states import JobState

if TYPE_CHECKING:
    from asman.client._async_client import AsyncClient
    from asman.client._client import Client

# The server sends a keep-alive every 15 s: three missed ones mean the connection is dead.
STREAM_READ_TIMEOUT = 45.0
KEEPALIVE_SECONDS = 15.0
# Once a stream has worked, a drop is most likely a server restart: keep reconnecting for about a minute.
RECONNECT = Retry(attempts=15, first_delay=0.25, max_delay=5.0)
# A stream open this long has worked: its drop starts a fresh reconnection budget (one that keeps ending at
# once uses the budget up instead of reconnecting forever).
STABLE_SECONDS = 5.0


class _Watch:
    """Turns a job's SSE events into `JobEvent`s, across reconnections, without repeating log lines."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.seen: dict[str, int] = {"run": 0, "build": 0}
        self.position: dict[str, int] = {"run": 0, "build": 0}
        self.result: JobResult | None = None
        self.connections = 0

    def connected(self) -> None:
        # Each connection replays the logs from the first line.
        self.position = {"run": 0, "build": 0}
        self.connections += 1

    def feed(self, event: ServerSentEvent) -> list[JobEvent]:
        try:
            data = json.loads(event.data) if event.data else None
        except ValueError:
            return []
        if event.event == "state" and isinstance(data, dict):
            return [StateChanged(JobStatus.from_json(data, self.queue))]
        if event.event in ("run-log", "build-log"):
            step: Step = "run" if event.event == "run-log" else "build"
            lines = log_lines(data, step)
            start = self.position[step]
            self.position[step] = start + len(lines)
            fresh = lines[max(0, self.seen[step] - start) :]
            self.seen[step] = max(self.seen[step], self.position[step])
            return [LogsWritten(fresh)] if fresh else []
        if event.event == "final" and isinstance(data, dict):
            self.result = JobResult.from_view(data)
            events: list[JobEvent] = [StateChanged(JobStatus.from_json(data, self.queue))]
            if not self.seen["run"] and self.result.logs:
                # Logs no longer stored on their own (expired, or a cached result): the result still has them.
                events.append(LogsWritten(self.result.logs))
            events.append(Finished(self.result))
            return events
        return []


class _Deadline:
    def __init__(self, timeout: float | None, job: _JobBase) -> None:
        self.at = None if timeout is None else time.monotonic() + timeout
        self.timeout = timeout
        self.job = job

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def check(self) -> None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise WaitTimeout(
                f"job {self.job.id} in queue {self.job.queue} did not finish within {self.timeout:g} s;"
                f" it goes on: wait again, or cancel it ({self.job.url})"
            )

    def read_timeout(self) -> float:
        """How long one read may block: short enough to notice the deadline, long enough for keep-alives."""
        self.check()
        remaining = self.remaining()
        return STREAM_READ_TIMEOUT if remaining is None else max(0.05, min(STREAM_READ_TIMEOUT, remaining))

    def should_reconnect(self, read_timeout: float) -> bool:
        """Near the deadline, reopen the stream with a read timeout that ends at the deadline."""
        remaining = self.remaining()
        return remaining is not None and remaining < KEEPALIVE_SECONDS and read_timeout > remaining + 0.5


def _failure(job: _JobBase, result: JobResult) -> JobFailed:
    message = f"job {job.id} in queue {job.queue} {result.describe()}"
    tail = [line.text for line in result.logs if line.step == "run"][-5:]
    if tail:
        message += "; its last log lines:\n    " + "\n    ".join(tail) + "\n"
    message += f"; the full result is in the exception's .result, and at {job.url}"
    return JobFailed(message, result)


def _check(job: _JobBase, result: JobResult, check: bool) -> JobResult:
    if check and not result.ok:
        raise _failure(job, result)
    return result


def _not_finished(job: _JobBase, status: JobStatus) -> AsmanError:
    return AsmanError(f"job {job.id} is {status.state}, not finished: wait for it first (job.wait())")


class _JobBase:
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
        return isinstance(other, _JobBase) and type(other) is type(self) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)


def _view(body: Any) -> dict[str, Any]:
    view = body.get("data") if isinstance(body, dict) else None
    return view if isinstance(view, dict) else {}


def _status_from_view(body: Any, queue: str) -> JobStatus:
    return JobStatus.from_json(_view(body), queue)


def _result_from_view(body: Any) -> JobResult | None:
    view = _view(body)
    return JobResult.from_view(view) if view.get("state") == JobState.FINISHED.value else None


def _cancel_status(job: _JobBase, body: Any) -> JobStatus:
    data = body if isinstance(body, dict) else {}
    return JobStatus.from_json({"jobId": job.id, "queue": job.queue, **data}, job.queue)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class _HashingFile:
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
        if self.expected and self.digest.hexdigest() != self.expected:
            self.temp.unlink(missing_ok=True)
            raise DownloadFailed(
                f"output {name!r} does not match its hash {self.expected}: the download was corrupted or the blob"
                " changed; download it again"
            )
        self.temp.replace(self.target)

    def discard(self) -> None:
        self.file.close()
        self.temp.unlink(missing_ok=True)


class Job(_JobBase):
    """A job in a queue, from `Queue.submit()` or `Client.job(queue, id)`. Blocking calls."""

    def __init__(self, client: Client, queue: str, job_id: str) -> None:
        super().__init__(queue, job_id, client.url)
        self._client = client

    @property
    def client(self) -> Client:
        return self._client

    def info(self) -> dict[str, Any]:
        """Everything the server says about the job: state, times, namespaces, definition and results."""
        return _view(self._client._send("GET", self._path(), kind="job").json())

    def status(self) -> JobStatus:
        return _status_from_view(self._client._send("GET", self._path(), kind="job").json(), self.queue)

    def result(self) -> JobResult | None:
        """The result of the finished job, or None while it is queued or running (see `wait`)."""
        return _result_from_view(self._client._send("GET", self._path(), kind="job").json())

    def definition(self) -> dict[str, Any]:
        data = self._client._send("GET", self._path("/definition.json"), kind="job").json().get("data")
        return data if isinstance(data, dict) else {}

    def events(self, timeout: float | None = None) -> Iterator[JobEvent]:
        """The job's live events (state changes, new log lines) until `Finished`; reconnects when dropped."""
        client = self._client
        deadline = _Deadline(timeout, self)
        watch = _Watch(self.queue)
        delays = client.retry.delays()
        while True:
            read_timeout = deadline.read_timeout()
            dropped: Exception | None = None
            try:
                with client._stream(self._path("/stream"), read_timeout) as response:
                    opened, stable = time.monotonic(), False
                    if not watch.connections:
                        delays = RECONNECT.delays()  # it worked once: a drop now is likely a server restart
                    watch.connected()
                    decoder = SSEDecoder()
                    for line in response.iter_lines():
                        if not stable and time.monotonic() - opened > STABLE_SECONDS:
                            stable, delays = True, RECONNECT.delays()  # a stream that lasted: a fresh budget
                        event = decoder.feed(line)
                        for job_event in watch.feed(event) if event else []:
                            yield job_event
                            if isinstance(job_event, Finished):
                                return
                        deadline.check()
                        if deadline.should_reconnect(read_timeout):
                            break
                    else:
                        dropped = EOFError("the stream ended before the job did")  # e.g. a server restart
            except httpx.ReadTimeout:
                continue  # silent for too long, or the deadline: the loop's first line decides
            except RETRYABLE_ERRORS as error:
                dropped = error
            if dropped is not None:
                delay = next(delays)
                if delay is None:
                    raise unreachable(client.url, dropped) from None
                remaining = deadline.remaining()
                time.sleep(delay if remaining is None else max(0.0, min(delay, remaining)))

    def wait(self, timeout: float | None = None, *, check: bool = True) -> JobResult:
        """Block until the job finishes; return its result.

        With `check` (the default), a job that did not succeed raises `JobFailed`: an infrastructure error,
        a timeout, a cancellation, or a non-zero exit code. `timeout` (seconds) raises `WaitTimeout`."""
        for event in self.events(timeout):
            if isinstance(event, Finished):
                return _check(self, event.result, check)
        raise AsmanError(f"the event stream of job {self.id} ended without a result")  # pragma: no cover

    def logs(self, follow: bool = True) -> Iterator[LogLine]:
        """The job's log lines: live until the job finishes (`follow=True`), or those written so far."""
        if follow:
            for event in self.events():
                if isinstance(event, LogsWritten):
                    yield from event.lines
            return
        lines: list[LogLine] = []
        for step in ("build", "run"):
            body = self._client._send("GET", self._path(f"/{step}-logs.json"), kind="job").json()
            lines += log_lines(body.get("data") if isinstance(body, dict) else None, step)
        if not lines and (result := self.result()) is not None:
            lines = result.logs
        yield from lines

    def download(self, directory: str | os.PathLike[str] = ".") -> list[Path]:
        """Write the finished job's outputs under `directory` (keeping their relative paths); return the paths."""
        result = self.result()
        if result is None:
            raise _not_finished(self, self.status())
        folder = Path(directory)
        written: list[Path] = []
        for name, ref in sorted(result.outputs.items()):
            target = output_path(folder, name)
            data = decode_inline(name, ref)
            if data is not None:
                _write_file(target, data)
            else:
                self._fetch(name, ref, target)
            written.append(target)
        return written

    def _fetch(self, name: str, ref: dict[str, Any], target: Path) -> None:
        client = self._client
        url = fetch_url(client.url, ref)
        for delay in client.retry.delays():
            sink = _HashingFile(target, ref.get("hash"))
            try:
                with client._stream(url, None, follow_redirects=True, kind="other") as response:
                    for chunk in response.iter_bytes():
                        sink.write(chunk)
                sink.commit(name)
                return
            except RETRYABLE_ERRORS as error:
                sink.discard()
                if delay is None:
                    raise DownloadFailed(
                        f"output {name!r} could not be downloaded from {url}: {error}"
                    ) from None
                time.sleep(delay)
            except BaseException:
                sink.discard()
                raise

    def cancel(self, namespace: str | None = None) -> JobStatus:
        """Withdraw this namespace's interest (the default one, `_`); the job stops when nobody wants it."""
        params = {"namespace": namespace} if namespace else None
        body = self._client._send("POST", self._path("/cancel"), kind="job", params=params).json()
        return _cancel_status(self, body)

    def copy(self, queue: str) -> Job:
        """Push the same job to another queue; the returned handle is the job there (same id)."""
        body = self._client._send("POST", f"/j/{self.id}/copy", kind="job", json={"queue": queue}).json()
        return Job(self._client, str(body.get("queue") or queue), str(body.get("jobId") or self.id))

    def delete(self) -> None:
        """Finish the job as Deleted and drop its stored result: the next submit runs it again."""
        self._client._send("DELETE", self._path(), kind="job")


class AsyncJob(_JobBase):
    """A job in a queue, from `AsyncQueue.submit()` or `AsyncClient.job(queue, id)`. Awaitable calls."""

    def __init__(self, client: AsyncClient, queue: str, job_id: str) -> None:
        super().__init__(queue, job_id, client.url)
        self._client = client

    @property
    def client(self) -> AsyncClient:
        return self._client

    async def info(self) -> dict[str, Any]:
        """Everything the server says about the job: state, times, namespaces, definition and results."""
        return _view((await self._client._send("GET", self._path(), kind="job")).json())

    async def status(self) -> JobStatus:
        return _status_from_view(
            (await self._client._send("GET", self._path(), kind="job")).json(), self.queue
        )

    async def result(self) -> JobResult | None:
        """The result of the finished job, or None while it is queued or running (see `wait`)."""
        return _result_from_view((await self._client._send("GET", self._path(), kind="job")).json())

    async def definition(self) -> dict[str, Any]:
        data = (
            (await self._client._send("GET", self._path("/definition.json"), kind="job")).json().get("data")
        )
        return data if isinstance(data, dict) else {}

    async def events(self, timeout: float | None = None) -> AsyncGenerator[JobEvent, None]:
        """The job's live events (state changes, new log lines) until `Finished`; reconnects when dropped."""
        client = self._client
        deadline = _Deadline(timeout, self)
        watch = _Watch(self.queue)
        delays = client.retry.delays()
        while True:
            read_timeout = deadline.read_timeout()
            dropped: Exception | None = None
            try:
                async with client._stream(self._path("/stream"), read_timeout) as response:
                    opened, stable = time.monotonic(), False
                    if not watch.connections:
                        delays = RECONNECT.delays()  # it worked once: a drop now is likely a server restart
                    watch.connected()
                    decoder = SSEDecoder()
                    async for line in response.aiter_lines():
                        if not stable and time.monotonic() - opened > STABLE_SECONDS:
                            stable, delays = True, RECONNECT.delays()  # a stream that lasted: a fresh budget
                        event = decoder.feed(line)
                        for job_event in watch.feed(event) if event else []:
                            yield job_event
                            if isinstance(job_event, Finished):
                                return
                        deadline.check()
                        if deadline.should_reconnect(read_timeout):
                            break
                    else:
                        dropped = EOFError("the stream ended before the job did")  # e.g. a server restart
            except httpx.ReadTimeout:
                continue  # silent for too long, or the deadline: the loop's first line decides
            except RETRYABLE_ERRORS as error:
                dropped = error
            if dropped is not None:
                delay = next(delays)
                if delay is None:
                    raise unreachable(client.url, dropped) from None
                remaining = deadline.remaining()
                await asyncio.sleep(delay if remaining is None else max(0.0, min(delay, remaining)))

    async def wait(self, timeout: float | None = None, *, check: bool = True) -> JobResult:
        """Wait until the job finishes; return its result (see `Job.wait`)."""
        async with contextlib.aclosing(self.events(timeout)) as events:
            async for event in events:
                if isinstance(event, Finished):
                    return _check(self, event.result, check)
        raise AsmanError(f"the event stream of job {self.id} ended without a result")  # pragma: no cover

    async def logs(self, follow: bool = True) -> AsyncIterator[LogLine]:
        """The job's log lines: live until the job finishes (`follow=True`), or those written so far."""
        if follow:
            async with contextlib.aclosing(self.events()) as events:
                async for event in events:
                    if isinstance(event, LogsWritten):
                        for line in event.lines:
                            yield line
            return
        lines: list[LogLine] = []
        for step in ("build", "run"):
            body = (await self._client._send("GET", self._path(f"/{step}-logs.json"), kind="job")).json()
            lines += log_lines(body.get("data") if isinstance(body, dict) else None, step)
        if not lines and (result := await self.result()) is not None:
            lines = result.logs
        for line in lines:
            yield line

    async def download(self, directory: str | os.PathLike[str] = ".") -> list[Path]:
        """Write the finished job's outputs under `directory` (keeping their relative paths); return the paths."""
        result = await self.result()
        if result is None:
            raise _not_finished(self, await self.status())
        folder = Path(directory)
        written: list[Path] = []
        for name, ref in sorted(result.outputs.items()):
            target = output_path(folder, name)
            data = decode_inline(name, ref)
            if data is not None:
                await asyncio.to_thread(_write_file, target, data)
            else:
                await self._fetch(name, ref, target)
            written.append(target)
        return written

    async def _fetch(self, name: str, ref: dict[str, Any], target: Path) -> None:
        client = self._client
        url = fetch_url(client.url, ref)
        for delay in client.retry.delays():
            sink = await asyncio.to_thread(_HashingFile, target, ref.get("hash"))
            try:
                async with client._stream(url, None, follow_redirects=True, kind="other") as response:
                    async for chunk in response.aiter_bytes():
                        await asyncio.to_thread(sink.write, chunk)
                await asyncio.to_thread(sink.commit, name)
                return
            except RETRYABLE_ERRORS as error:
                sink.discard()
                if delay is None:
                    raise DownloadFailed(
                        f"output {name!r} could not be downloaded from {url}: {error}"
                    ) from None
                await asyncio.sleep(delay)
            except BaseException:
                sink.discard()
                raise

    async def cancel(self, namespace: str | None = None) -> JobStatus:
        """Withdraw this namespace's interest (the default one, `_`); the job stops when nobody wants it."""
        params = {"namespace": namespace} if namespace else None
        body = (await self._client._send("POST", self._path("/cancel"), kind="job", params=params)).json()
        return _cancel_status(self, body)

    async def copy(self, queue: str) -> AsyncJob:
        """Push the same job to another queue; the returned handle is the job there (same id)."""
        body = (
            await self._client._send("POST", f"/j/{self.id}/copy", kind="job", json={"queue": queue})
        ).json()
        return AsyncJob(self._client, str(body.get("queue") or queue), str(body.get("jobId") or self.id))

    async def delete(self) -> None:
        """Finish the job as Deleted and drop its stored result: the next submit runs it again."""
        await self._client._send("DELETE", self._path(), kind="job")
