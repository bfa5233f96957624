"""`Client`: the blocking Python client of an Asman server, and its `Queue` handles.

from asman import Client
job = Client("http://127.0.0.1:8000").queue("local").submit(image="alpine:3.19", command="echo hello")
print(job.wait().stdout)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
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
from asman.client._job import Job
from asman.client._models import JobStatus
from asman.core.names import blob_upload_headers, check_job_id, check_queue


class Queue:
    """A queue on the server: submit jobs to it, list them, see its workers."""

    def __init__(self, client: Client, name: str) -> None:
        self.name = check_queue(name)
        self._client = client

    @property
    def url(self) -> str:
        return f"{self._client.url}/q/{self.name}"

    def __repr__(self) -> str:
        return f"Queue({self.url!r})"

    def submit(
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
    ) -> Job:
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
        plan = plan_submission(client.url, definition, namespace, client._file_args(files), inputs, fields)
        for upload in plan.uploads:
            client._upload(upload)
        body = client._send("POST", f"/q/{self.name}", kind="submit", json=plan.body).json()
        return Job(client, self.name, str(body["jobId"]))

    def job(self, job_id: str) -> Job:
        return Job(self._client, self.name, check_job_id(job_id))

    def jobs(self, state: str | None = None, limit: int | None = None) -> list[JobStatus]:
        """The queue's jobs, most recently changed first; `state` filters (Queued, Running, Finished), `limit` caps the count."""
        return list(self._iter_jobs(state, limit))

    def _iter_jobs(self, state: str | None, limit: int | None) -> Iterator[JobStatus]:
        cursor: int | None = None
        count = 0
        while True:
            params: dict[str, Any] = {"limit": min(1000, limit - count) if limit else 1000}
            if cursor is not None:
                params["cursor"] = cursor
            if state:
                params["state"] = state
            body = self._client._send("GET", f"/q/{self.name}/j", params=params).json()
            for data in (body.get("data") or {}).values():
                yield JobStatus.from_json(data, self.name)
                count += 1
                if limit and count >= limit:
                    return
            cursor = body.get("nextCursor")
            if cursor is None:
                return

    def status(self) -> dict[str, Any]:
        """Counts by state, the workers connected (id, slots, running jobs) and the watchers."""
        data: dict[str, Any] = self._client._send("GET", f"/q/{self.name}/status").json()
        return data

    def metrics(self) -> str:
        """The queue's Prometheus metrics, as text."""
        return self._client._send("GET", f"/q/{self.name}/metrics").text


class Client(BaseClient):
    """A blocking client of one Asman server. `url` defaults to $API_SERVER_ADDRESS, then http://127.0.0.1:8000.

    Connection errors are retried with exponential backoff (`retries` times) before `ServerUnreachable`.
    `transport` is any httpx transport (tests use a mock or an in-process app)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(url, retries=retries)
        self._http = httpx.Client(
            base_url=self.url,
            timeout=default_timeout(timeout),
            transport=transport,
            headers={"User-Agent": user_agent(), **(headers or {})},
        )

    def queue(self, name: str) -> Queue:
        return Queue(self, name)

    def new_queue(self) -> Queue:
        """A fresh queue with an unguessable name: private for as long as you keep the name to yourself."""
        return Queue(self, str(self._send("POST", "/q").json()["queue"]))

    def job(self, queue: str, job_id: str) -> Job:
        return self.queue(queue).job(job_id)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing for Queue and Job ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind = "other",
        expect: tuple[int, ...] = (),
        content: Callable[[], Iterable[bytes]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, retried on connection errors and 429/502/503/504; error answers raise typed exceptions."""
        for delay in self.retry.delays():
            try:
                response = self._http.request(method, path, content=content() if content else None, **kwargs)
            except RETRYABLE_ERRORS as error:
                if delay is None:
                    raise unreachable(self.url, error) from None
                time.sleep(delay)
                continue
            except httpx.TimeoutException as error:
                raise unreachable(self.url, error) from None
            pause = retry_pause(response, delay) if delay is not None else None
            if pause is not None:
                time.sleep(pause)
                continue
            if response.status_code >= 400 and response.status_code not in expect:
                raise error_from_response(response, kind)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _stream(
        self,
        url: str,
        read_timeout: float | None,
        *,
        follow_redirects: bool = False,
        kind: RequestKind = "job",
    ) -> Iterator[httpx.Response]:
        """A streamed GET (one try: callers reconnect); error answers raise typed exceptions."""
        timeout = (
            self._http.timeout
            if read_timeout is None
            else httpx.Timeout(self._http.timeout.connect or 5.0, read=read_timeout)
        )
        with self._http.stream("GET", url, timeout=timeout, follow_redirects=follow_redirects) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response, kind)
            yield response

    def _upload(self, upload: Upload) -> None:
        """Put content at /f/<sha256> unless the server already has it."""
        if self._send("GET", f"/f/{upload.key}/exists", expect=(404,)).status_code == 200:
            return
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(upload.size),
            **blob_upload_headers(upload.key),
        }
        response = self._send("PUT", f"/f/{upload.key}", content=upload.chunks, headers=headers)
        if response.status_code in (307, 308):  # the blob store wants the bytes directly (a presigned URL)
            self._send("PUT", response.headers["location"], content=upload.chunks, headers=headers)
