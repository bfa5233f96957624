"""`AsyncClient` and the handles it gives out: `AsyncQueue` (submit, list) and `AsyncJob` (wait, logs, outputs).

    async with AsyncClient("http://127.0.0.1:8000") as client:
        job = await client.queue("local").submit(image="alpine:3.19", command="echo hello")
        result = await job.wait()

The handles share their client's `AsyncSession`; each holds its client only to hand it back (`job.client`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from asman.client._async.session import AsyncSession
from asman.client._base import RETRYABLE_ERRORS, Retry, plan_submission, unreachable
from asman.client._datarefs import PathArg, Upload, decode_inline, fetch_url, output_path
from asman.client._follow import Follow
from asman.client._jobs import (
    HashingBuffer,
    HashingFile,
    JobBase,
    Sink,
    cancel_status,
    checked,
    job_view,
    not_finished,
    output_ref,
    result_from_view,
    status_from_view,
    write_file,
)
from asman.client._models import Finished, JobEvent, JobResult, JobStatus, LogLine, LogsWritten, log_lines
from asman.client._sse import SSEDecoder
from asman.client._sweep import Tracker, batches, entry_error, fill, item_values, light_result
from asman.client.errors import AsmanError, DownloadFailed, InvalidJob, WaitTimeout
from asman.core.names import check_job_id, check_queue
from asman.core.states import JobState

# A queue's stream sends a keep-alive every few seconds: this long without a byte, it is reconnected.
STREAM_SILENCE = 60.0


class AsyncJob(JobBase):
    """A job in a queue, from `queue.submit()` or `client.job(queue, id)`."""

    def __init__(self, session: AsyncSession, queue: str, job_id: str, client: AsyncClient) -> None:
        super().__init__(queue, job_id, session.url)
        self._session = session
        self._client = client

    @property
    def client(self) -> AsyncClient:
        return self._client

    async def info(self) -> dict[str, Any]:
        """Everything the server says about the job: state, times, namespaces, definition and results."""
        return job_view(await self._session.json("GET", self._path(), kind="job"))

    async def status(self) -> JobStatus:
        return status_from_view(await self._session.json("GET", self._path(), kind="job"), self.queue)

    async def result(self) -> JobResult | None:
        """The result of the finished job, or None while it is queued or running (see `wait`)."""
        return result_from_view(await self._session.json("GET", self._path(), kind="job"))

    async def definition(self) -> dict[str, Any]:
        return job_view(await self._session.json("GET", self._path("/definition.json"), kind="job"))

    async def events(self, timeout: float | None = None) -> AsyncGenerator[JobEvent, None]:
        """The job's live events (state changes, new log lines) until `Finished`; reconnects when dropped."""
        follow = Follow(self, timeout, self._session.retry, self._session.url)
        while True:
            read_timeout = follow.read_timeout()
            pause: float | None = None
            try:
                async with self._session.stream(
                    self._path("/stream"), read_timeout, headers=follow.headers()
                ) as response:
                    follow.connected()
                    async for line in response.aiter_lines():
                        for event in follow.feed(line):
                            yield event
                        if follow.finished:
                            return
                        if not follow.keep_reading(read_timeout):
                            break
                    else:  # the server went away, e.g. for a restart
                        pause = follow.dropped(EOFError("the stream ended before the job did"))
            except httpx.ReadTimeout:
                continue  # silent for too long, or the deadline: `read_timeout()` decides
            except RETRYABLE_ERRORS as error:
                pause = follow.dropped(error)
            if pause is not None:
                await asyncio.sleep(pause)

    async def wait(self, timeout: float | None = None, *, check: bool = True) -> JobResult:
        """Wait until the job finishes; return its result.

        With `check` (the default), a job that did not succeed raises `JobFailed`: an infrastructure error,
        a timeout, a cancellation, or a non-zero exit code. `timeout` (seconds) raises `WaitTimeout`."""
        async with contextlib.aclosing(self.events(timeout)) as events:
            async for event in events:
                if isinstance(event, Finished):
                    return checked(self, event.result, check)
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
            since = 0
            while True:  # a page at a time, until the cursor stops moving
                body = await self._session.json(
                    "GET", self._path(f"/{step}-logs.json"), kind="job", params={"since": since}
                )
                page = log_lines(body.get("data") if isinstance(body, dict) else None, step)
                lines += page
                cursor = body.get("nextCursor") if isinstance(body, dict) else None
                if not page or not isinstance(cursor, int) or cursor <= since:
                    break
                since = cursor
        if not lines and (result := await self.result()) is not None:
            lines = result.logs
        for line in lines:
            yield line

    async def download(self, directory: str | os.PathLike[str] = ".") -> list[Path]:
        """Write the finished job's outputs under `directory` (keeping their relative paths); return the paths."""
        result = await self.result()
        if result is None:
            raise not_finished(self, await self.status())
        folder = Path(directory)
        written: list[Path] = []
        for name, ref in sorted(result.outputs.items()):
            target = output_path(folder, name)
            data = decode_inline(name, ref)
            if data is not None:
                await asyncio.to_thread(write_file, target, data)
            else:
                await self._fetch(name, ref, functools.partial(HashingFile, target, ref.get("hash")))
            written.append(target)
        return written

    async def read_output(self, name: str) -> bytes:
        """The content of the finished job's output `name` (its path under /outputs, as in `result().outputs`)."""
        result = await self.result()
        if result is None:
            raise not_finished(self, await self.status())
        ref = output_ref(self, result, name)
        data = decode_inline(name, ref)
        if data is None:
            buffer = await self._fetch(name, ref, functools.partial(HashingBuffer, ref.get("hash")))
            data = bytes(buffer.data)
        return data

    async def _fetch(self, name: str, ref: dict[str, Any], open_sink: Callable[[], Sink]) -> Sink:
        """Stream the output `name` into a fresh sink, again from the start on a dropped connection; the sink
        that received all of it, once its hash is checked."""
        url = fetch_url(self._session.url, ref)
        for delay in self._session.retry.delays():
            sink = await asyncio.to_thread(open_sink)
            try:
                async with self._session.stream(url, None, follow_redirects=True, kind="other") as response:
                    async for chunk in response.aiter_bytes():
                        await asyncio.to_thread(sink.write, chunk)
                await asyncio.to_thread(sink.commit, name)
                return sink
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
        raise AssertionError("unreachable: the last delay is None")  # pragma: no cover

    async def cancel(self, namespace: str | None = None) -> JobStatus:
        """Withdraw this namespace's interest (the default one, `_`); the job stops when nobody wants it."""
        params = {"namespace": namespace} if namespace else None
        body = await self._session.json("POST", self._path("/cancel"), kind="job", params=params)
        return cancel_status(self, body)

    async def copy(self, queue: str) -> AsyncJob:
        """Push the same job to another queue; the returned handle is the job there (same id)."""
        body = await self._session.json("POST", f"/j/{self.id}/copy", kind="job", json={"queue": queue})
        copied = str(body.get("queue") or queue), str(body.get("jobId") or self.id)
        return AsyncJob(self._session, *copied, self._client)

    async def delete(self) -> None:
        """Finish the job as Deleted and drop its stored result: the next submit runs it again."""
        await self._session.send("DELETE", self._path(), kind="job")


class AsyncQueue:
    """A queue on the server: submit jobs to it, list them, see its workers."""

    def __init__(self, session: AsyncSession, name: str, client: AsyncClient) -> None:
        self.name = check_queue(name)
        self._session = session
        self._client = client

    @property
    def url(self) -> str:
        return f"{self._session.url}/q/{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    async def submit(
        self,
        *,
        image: str | None = None,
        command: str | None = None,
        files: Iterable[PathArg] | PathArg | None = None,
        inputs: Mapping[str, bytes | str] | None = None,
        env: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        workdir: str | None = None,
        cpus: float | None = None,
        memory: str | int | None = None,
        gpus: int | None = None,
        max_duration: str | float | None = None,
        namespace: str | None = None,
        definition: Mapping[str, Any] | None = None,
        rerun: bool = False,
    ) -> AsyncJob:
        """Submit a job and return its handle at once (it runs when a worker takes it).

        `files` are local files and folders, seen by the job under /inputs; `inputs` maps more input names to
        their content. `memory` is "4g" or bytes, `max_duration` "20m" or seconds. `definition` is a full job
        definition (as the REST API takes it) that the other arguments complete or override. Submitting the
        same job twice gives the same job: identical jobs run once, and a success is kept and answered again.
        `rerun=True` runs it anew even so: a kept result is dropped and the job queued again (a job still
        queued or running is joined, as its run is a fresh one already)."""
        fields: dict[str, Any] = {
            "image": image,
            "command": command,
            "env": env,
            "entrypoint": entrypoint,
            "workdir": workdir,
            "cpus": cpus,
            "memory": memory,
            "gpus": gpus,
            "max_duration": max_duration,
        }
        session = self._session
        plan = await asyncio.to_thread(
            plan_submission, session.url, definition, namespace, files, inputs, fields
        )
        for upload in plan.uploads:
            await session.upload(upload)
        body = await session.json("POST", f"/q/{self.name}", kind="submit", json=plan.body)
        if rerun and body.get("state") == JobState.FINISHED.value:
            # Only a kept success is answered Finished (a failed run is queued again by the submit itself).
            # Deleting drops it, so the same submit then queues a new run.
            await session.send("DELETE", f"/q/{self.name}/j/{body['jobId']}", kind="job")
            body = await session.json("POST", f"/q/{self.name}", kind="submit", json=plan.body)
        return AsyncJob(session, self.name, str(body["jobId"]), self._client)

    def job(self, job_id: str) -> AsyncJob:
        return AsyncJob(self._session, self.name, check_job_id(job_id), self._client)

    async def submit_many(
        self, definitions: Iterable[Mapping[str, Any]], *, namespace: str | None = None
    ) -> list[AsyncJob]:
        """Submit many jobs with a few requests (`POST /q/<queue>/batch`); their handles, in order.

        Each item is a job definition as `submit(definition=...)` takes it (or `{definition, control}`), with
        inputs inline or by URL: local files are `submit`'s alone. Identical jobs are one job, as always. When
        the server refuses some (an invalid definition), the others are queued all the same and `InvalidJob`
        says which were refused, by their position."""
        session = self._session
        bodies = [plan_submission(session.url, item, namespace, None, None, {}).body for item in definitions]
        answers: list[Any] = []
        pending = deque(batches(bodies))
        while pending:
            batch = pending.popleft()
            try:
                answered = await session.json("POST", f"/q/{self.name}/batch", kind="submit", json=batch)
            except InvalidJob as error:
                if error.status_code != 413 or len(batch) == 1:
                    raise
                # Over this server's limits: the same jobs in two halves.
                pending.extendleft([batch[len(batch) // 2 :], batch[: len(batch) // 2]])
                continue
            if not isinstance(answered, list) or len(answered) != len(batch):
                raise AsmanError(f"the server answered a batch of {len(batch)} jobs with {answered!r:.200}")
            answers += answered
        refused = [why for index, answer in enumerate(answers) if (why := entry_error(index, answer))]
        if refused:
            more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
            raise InvalidJob(
                f"the server refused {len(refused)} of {len(answers)} jobs: " + "; ".join(refused[:5]) + more
            )
        return [AsyncJob(session, self.name, str(answer["jobId"]), self._client) for answer in answers]

    async def map(
        self,
        job: Callable[[Any], Mapping[str, Any]] | Mapping[str, Any],
        items: Iterable[Any],
        *,
        namespace: str | None = None,
    ) -> list[AsyncJob]:
        """One job per item, submitted together (`submit_many`); their handles, in the order of the items.

        `job` makes an item's definition: a function of the item, or a template, a definition whose strings
        have `{name}` placeholders: a mapping item fills them from its keys, any other item fills `{item}`.
        Other braces are left alone."""
        make = job if callable(job) else functools.partial(_from_template, job)
        return await self.submit_many([make(item) for item in items], namespace=namespace)

    async def as_completed(
        self, jobs: Iterable[AsyncJob], timeout: float | None = None
    ) -> AsyncGenerator[AsyncJob, None]:
        """The jobs (of this queue), each once, as they finish: followed over one event stream of the queue
        (`/q/<queue>/events`), whatever their number. A job already finished comes at once. On a dropped or
        lagging stream it reconnects and reads the queue's listing (a request per 1000 finished jobs), never
        one request per job. `timeout` (seconds, for all of them) raises `WaitTimeout`."""
        handles: dict[str, list[AsyncJob]] = {}
        for job in jobs:
            handles.setdefault(self._own(job).id, []).append(job)
        async with contextlib.aclosing(self._finished(handles, timeout)) as finished:
            async for status in finished:
                for job in handles[status.job_id]:
                    yield job

    async def wait_all(
        self, jobs: Iterable[AsyncJob], timeout: float | None = None, *, check: bool = True, full: bool = True
    ) -> list[JobResult]:
        """Wait for every job (of this queue) to finish, following them as `as_completed` does; their results
        in the order of `jobs`. `full=False` reads no result: each is how the job ended (reason, exit code,
        worker, attempt) as the events told it, without logs or outputs. With `check`, a job that did not
        succeed raises `JobFailed` (the first in order, once all have finished)."""
        handles = [self._own(job) for job in jobs]
        statuses: dict[str, JobStatus] = {}
        async with contextlib.aclosing(self._finished({job.id for job in handles}, timeout)) as finished:
            async for status in finished:
                statuses[status.job_id] = status
        results: list[JobResult] = []
        for job in handles:
            found = await job.result() if full else light_result(statuses[job.id])
            if found is None:  # deleted since it finished: how it ended is all there is
                found = light_result(statuses[job.id])
            results.append(checked(job, found, check))
        return results

    def _own(self, job: AsyncJob) -> AsyncJob:
        if job.queue != self.name:
            raise ValueError(f"job {job.id} is in queue {job.queue}, not {self.name}")
        return job

    async def _finished(
        self, job_ids: Iterable[str], timeout: float | None
    ) -> AsyncGenerator[JobStatus, None]:
        """Each of the jobs' final status, once, as it finishes: the queue's `job` events, and on (re)connecting
        its listing of finished jobs, read once the stream is open so that nothing falls between the two."""
        tracker = Tracker(job_ids)
        deadline = None if timeout is None else time.monotonic() + timeout
        delays = self._session.retry.delays()
        while tracker.pending:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeout(
                    f"{len(tracker.pending)} jobs in queue {self.name} had not finished after {timeout} s"
                )
            decoder = SSEDecoder()
            try:
                read_timeout = min(left, STREAM_SILENCE) if left is not None else STREAM_SILENCE
                async with self._session.stream(f"/q/{self.name}/events", read_timeout) as response:
                    async for line in response.aiter_lines():
                        event = decoder.feed(line)
                        if event is None:
                            continue
                        if event.event in ("hello", "resync"):
                            async for data in self._finished_listing():
                                for job_id in tracker.feed(data, self.name):
                                    yield tracker.finished[job_id]
                            delays = self._session.retry.delays()  # connected: a later drop starts afresh
                        elif event.event == "job":
                            for job_id in tracker.feed(json.loads(event.data), self.name):
                                yield tracker.finished[job_id]
                        if not tracker.pending:
                            return
                        if deadline is not None and time.monotonic() >= deadline:
                            break
            except httpx.ReadTimeout:
                continue  # silent past keep-alives, or the deadline: the loop decides
            except RETRYABLE_ERRORS as error:
                delay = next(delays)
                if delay is None:
                    raise unreachable(self._session.url, error) from None
                await asyncio.sleep(delay)

    async def _finished_listing(self) -> AsyncGenerator[dict[str, Any], None]:
        """The queue's finished jobs, a page of 1000 per request."""
        async for status in self.iter_jobs(JobState.FINISHED.value):
            yield status.raw

    async def jobs(self, state: str | None = None, limit: int | None = None) -> list[JobStatus]:
        """The queue's jobs, most recently changed first; `state` filters (Queued, Running, Finished), `limit` caps the count."""
        return [job async for job in self.iter_jobs(state, limit=limit)]

    async def iter_jobs(
        self, state: str | None = None, *, limit: int | None = None
    ) -> AsyncIterator[JobStatus]:
        """The queue's jobs one by one, most recently changed first, fetching the next page as it goes: however
        many there are, only a page (1000) is in memory. `state` filters, `limit` stops after that many."""
        cursor: int | None = None
        count = 0
        while True:
            params: dict[str, Any] = {"limit": min(1000, limit - count) if limit else 1000}
            if cursor is not None:
                params["cursor"] = cursor
            if state:
                params["state"] = state
            body = await self._session.json("GET", f"/q/{self.name}/j", params=params)
            for data in (body.get("data") or {}).values():
                yield JobStatus.from_json(data, self.name)
                count += 1
                if limit and count >= limit:
                    return
            cursor = body.get("nextCursor")
            if cursor is None:
                return

    async def status(self) -> dict[str, Any]:
        """Counts by state, the workers connected (id, slots, running jobs) and the watchers."""
        data: dict[str, Any] = await self._session.json("GET", f"/q/{self.name}/status")
        return data

    async def metrics(self) -> str:
        """The queue's Prometheus metrics, as text."""
        response = await self._session.send("GET", f"/q/{self.name}/metrics")
        return response.text


class AsyncClient:
    """A client of one Asman server. `url` defaults to $API_SERVER_ADDRESS, then http://127.0.0.1:8000.

    Connection errors are retried with exponential backoff (`retries` times) before `ServerUnreachable`.
    `transport` is any httpx transport (tests use a mock or an in-process app)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._session = AsyncSession(
            url, timeout=timeout, retries=retries, transport=transport, headers=headers
        )
        self.url = self._session.url

    @property
    def retry(self) -> Retry:
        return self._session.retry

    @retry.setter
    def retry(self, retry: Retry) -> None:
        self._session.retry = retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def queue(self, name: str) -> AsyncQueue:
        return AsyncQueue(self._session, name, self)

    async def new_queue(self) -> AsyncQueue:
        """A fresh queue with an unguessable name: private for as long as you keep the name to yourself."""
        body = await self._session.json("POST", "/q")
        return self.queue(str(body["queue"]))

    def job(self, queue: str, job_id: str) -> AsyncJob:
        return self.queue(queue).job(job_id)

    async def put_blob(self, data: bytes) -> str:
        """Store `data` on the server as a blob (unless it is there already); returns its key, the sha256 of
        the bytes, which a job input can point at (`{"type": "url", "value": f"{client.url}/f/{key}"}`)."""
        key = hashlib.sha256(data).hexdigest()
        await self._session.upload(Upload(key, key, len(data), data=data))
        return key

    async def read_blob(self, key: str, limit: int | None = None) -> bytes:
        """The blob `key`, or its first `limit` bytes and a few more (enough to tell that it is larger)."""
        data = bytearray()
        async with self._session.stream(f"/f/{key}", None, follow_redirects=True, kind="other") as response:
            async for chunk in response.aiter_bytes():
                data += chunk
                if limit is not None and len(data) > limit:
                    break  # enough to know: the rest is never read
        return bytes(data)

    async def aclose(self) -> None:
        await self._session.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _from_template(template: Mapping[str, Any], item: Any) -> Mapping[str, Any]:
    filled: Mapping[str, Any] = fill(template, item_values(item))
    return filled
