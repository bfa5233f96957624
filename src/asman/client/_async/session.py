"""`AsyncSession`: the connection to one server that a client and its queue and job handles share. Requests are
retried on connection errors and busy answers, error answers raise typed exceptions, streams are opened once
(their callers reconnect), and blobs are uploaded unless the server has them already."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from asman.client._base import (
    RETRYABLE_ERRORS,
    RequestKind,
    Retry,
    default_timeout,
    error_from_response,
    normalize_url,
    retry_pause,
    unreachable,
    user_agent,
)
from asman.client._datarefs import Upload
from asman.core.names import blob_upload_headers


class AsyncSession:
    """An httpx client bound to the server's address, with the retry policy of the client that owns it."""

    def __init__(
        self,
        url: str | None,
        *,
        timeout: float | httpx.Timeout,
        retries: int,
        transport: httpx.AsyncBaseTransport | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.url = normalize_url(url)
        self.retry = Retry(attempts=max(0, retries))
        self.http = httpx.AsyncClient(
            base_url=self.url,
            timeout=default_timeout(timeout),
            transport=transport,
            headers={"User-Agent": user_agent(), **(headers or {})},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(
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
                response = await self.http.request(
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

    async def json(self, method: str, path: str, *, kind: RequestKind = "other", **kwargs: Any) -> Any:
        """The decoded body of `send`'s answer."""
        response = await self.send(method, path, kind=kind, **kwargs)
        return response.json()

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        read_timeout: float | None,
        *,
        follow_redirects: bool = False,
        kind: RequestKind = "job",
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (one try: callers reconnect); error answers raise typed exceptions."""
        timeout = (
            self.http.timeout
            if read_timeout is None
            else httpx.Timeout(self.http.timeout.connect or 5.0, read=read_timeout)
        )
        async with self.http.stream(
            "GET", url, timeout=timeout, follow_redirects=follow_redirects, headers=headers
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_from_response(response, kind)
            yield response

    async def upload(self, upload: Upload) -> None:
        """Put content at /f/<sha256> unless the server already has it."""
        exists = await self.send("GET", f"/f/{upload.key}/exists", expect=(404,))
        if exists.status_code == 200:
            return
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(upload.size),
            **blob_upload_headers(upload.key),
        }
        response = await self.send("PUT", f"/f/{upload.key}", content=upload.async_chunks, headers=headers)
        if response.status_code in (307, 308):  # the blob store wants the bytes directly (a presigned URL)
            await self.send("PUT", response.headers["location"], content=upload.async_chunks, headers=headers)
