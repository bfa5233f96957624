"""`AsyncClient`: the asyncio twin of `Client`, and its `AsyncQueue` handles. Same API, awaited.

from asman import AsyncClient
async with AsyncClient("http://127.0.0.1:8000") as client:
    job = await client.queue("local").submit(image="alpine:3.19", command="echo hello")
    print((await job.wait()).stdout)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from asman.client._base import (
    RETRYABLE_ERRORS,
    BaseClient,
    RequestKind,
    default_timeout,
    error_from_response,
    plan_submission,
    retry_pause,
    unreachable,
    user_agent,
)
from asman.client._datarefs import PathArg, Upload
from asman.client._job import AsyncJob
from asman.client._models import JobStatus
from asman.core.names import blob_upload_headers, check_job_id, check_queue


class AsyncQueue:
    """A queue on the server: submit jobs to it, list them, see its workers."""

    def __init__(self, client: AsyncClient, name: str) -> None:
        self.name = check_queue(name)
        self._client = client

    @property
    def url(self) -> str:
        return f"{self._client.url}/q/{self.name}"

    def __repr__(self) -> str:
        return f"AsyncQueue({self.url!r})"

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
    ) -> AsyncJob:
        """Submit a job and return its handle at once (it runs when a worker takes it).

        `files` are local files and folders, seen by the job under /inputs; `inputs` maps more input names to
        their content. `memory` is "4g" or bytes, `max_duration` "20m" or seconds. `definition` is a full job
        definition (as the REST API takes it) that the other arguments complete or override. Submitting the
        same job twice gives the same job: identical jobs run once."""
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
        client = self._client
        plan = await asyncio.to_thread(
            plan_submission, client.url, definition, namespace, client._file_args(files), inputs, fields
        )
        for upload in plan.uploads:
            await client._upload(upload)
        body = (await client._send("POST", f"/q/{self.name}", kind="submit", json=plan.body)).json()
        return AsyncJob(client, self.name, str(body["jobId"]))

    def job(self, job_id: str) -> AsyncJob:
        return AsyncJob(self._client, self.name, check_job_id(job_id))

    async def jobs(self, state: str | None = None, limit: int | None = None) -> list[JobStatus]:
        """The queue's jobs, most recently changed first; `state` filters (Queued, Running, Finished), `limit` caps the count."""
        return [job async for job in self._iter_jobs(state, limit)]

    async def _iter_jobs(self, state: str | None, limit: int | None) -> AsyncIterator[JobStatus]:
        cursor: int | None = None
        count = 0
        while True:
            params: dict[str, Any] = {"limit": min(1000, limit - count) if limit else 1000}
            if cursor is not None:
                params["cursor"] = cursor
            if state:
                params["state"] = state
            body = (await self._client._send("GET", f"/q/{self.name}/j", params=params)).json()
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
        data: dict[str, Any] = (await self._client._send("GET", f"/q/{self.name}/status")).json()
        return data

    async def metrics(self) -> str:
        """The queue's Prometheus metrics, as text."""
        return (await self._client._send("GET", f"/q/{self.name}/metrics")).text


class AsyncClient(BaseClient):
    """An asyncio client of one Asman server. `url` defaults to $API_SERVER_ADDRESS, then http://127.0.0.1:8000.

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
        super().__init__(url, retries=retries)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=default_timeout(timeout),
            transport=transport,
            headers={"User-Agent": user_agent(), **(headers or {})},
        )

    def queue(self, name: str) -> AsyncQueue:
        return AsyncQueue(self, name)

    async def new_queue(self) -> AsyncQueue:
        """A fresh queue with an unguessable name: private for as long as you keep the name to yourself."""
        return AsyncQueue(self, str((await self._send("POST", "/q")).json()["queue"]))

    def job(self, queue: str, job_id: str) -> AsyncJob:
        return self.queue(queue).job(job_id)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- plumbing for Queue and Job ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind = "other",
        expect: tuple[int, ...] = (),
        content: Callable[[], AsyncIterable[bytes]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, retried on connection errors and 429/502/503/504; error answers raise typed exceptions."""
        for delay in self.retry.delays():
            try:
                response = await self._http.request(
                    method, path, content=content() if content else None, **kwargs
                )
            except RETRYABLE_ERRORS as error:
                if delay is None:
                    raise unreachable(self.url, error) from None
                await asyncio.sleep(delay)
                continue
            except httpx.TimeoutException as error:
                raise unreachable(self.url, error) from None
            pause = retry_pause(response, delay) if delay is not None else None
            if pause is not None:
                await asyncio.sleep(pause)
                continue
            if response.status_code >= 400 and response.status_code not in expect:
                raise error_from_response(response, kind)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def _stream(
        self,
        url: str,
        read_timeout: float | None,
        *,
        follow_redirects: bool = False,
        kind: RequestKind = "job",
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (one try: callers reconnect); error answers raise typed exceptions."""
        timeout = (
            self._http.timeout
            if read_timeout is None
            else httpx.Timeout(self._http.timeout.connect or 5.0, read=read_timeout)
        )
        async with self._http.stream(
            "GET", url, timeout=timeout, follow_redirects=follow_redirects
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_from_response(response, kind)
            yield response

    async def _upload(self, upload: Upload) -> None:
        """Put content at /f/<sha256> unless the server already has it."""
        if (await self._send("GET", f"/f/{upload.key}/exists", expect=(404,))).status_code == 200:
            return
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(upload.size),
            **blob_upload_headers(upload.key),
        }
        response = await self._send("PUT", f"/f/{upload.key}", content=upload.async_chunks, headers=headers)
        if response.status_code in (307, 308):  # the blob store wants the bytes directly (a presigned URL)
            await self._send(
                "PUT", response.headers["location"], content=upload.async_chunks, headers=headers
            )
