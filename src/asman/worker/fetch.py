"""Fetching a URL for a job without letting the job aim the worker at its own network (SSRF).

Every hop is checked, the first and each redirect alike: its host is resolved once, refused if any address is
internal (unless the worker allows private URLs), and the connection goes to an address that was checked, with
the name kept in the Host header and TLS SNI, so a second DNS answer (rebinding) is never used. URLs on the
worker's own queue server are always fetched, and a redirect that server gives for one of its blobs
(`/f/<key>`, to its object store) is followed: the server chose that address, not the job (and the bytes of a
`/f/<sha256>` must hash to the key). Any other redirect the server gives (`/j/<id>/inputs/x` goes to whatever URL that job
named) is checked like any URL. Bodies are streamed to a file, counted against a cap, and hashed on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from asman.core.errors import AsmanError, InvalidInput
from asman.core.names import blob_key_in_url
from asman.core.urls import first_internal, http_target

MAX_REDIRECTS = 5
CHUNK_BYTES = 256 * 1024

# resolve(host, port): the addresses a name has, each as text; one call per hop.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class FetchFailed(AsmanError):
    """The URL could not be fetched; `status` is the HTTP status when the server answered with an error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TooLarge(FetchFailed):
    """The body is longer than the cap it was fetched under."""


async def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchFailed(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class _Hop:
    url: httpx.URL
    host: str
    addresses: list[str]
    on_server: bool


class Fetcher:
    """GETs for jobs under one policy: `server_url` is the worker's queue server; `allow_private` lets jobs
    fetch from internal addresses too (a worker on a trusted network)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        server_url: str,
        *,
        allow_private: bool = False,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._client = client
        self._server = urlsplit(server_url.rstrip("/"))
        self._allow_private = allow_private
        self._resolve = resolve

    async def download(self, url: str, sink: BinaryIO, limit: int) -> str:
        """Stream the body at `url` into `sink`, at most `limit` bytes; returns its sha256 hex digest."""
        trusted = False
        for _ in range(MAX_REDIRECTS + 1):
            hop = await self._check(url, trusted)
            async with self._open(hop) as response:
                if response.is_redirect and "location" in response.headers:
                    # Only the server's own blob answer may send us somewhere unchecked: its object store, for
                    # any key (upstream's clients upload under keys of their own); content keys are hash-checked.
                    trusted = hop.on_server and blob_key_in_url(url) is not None
                    url = str(httpx.URL(url).join(response.headers["location"]))
                    continue
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code}", response.status_code)
                return await _save(response, sink, limit)
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")

    async def _check(self, url: str, trusted: bool) -> _Hop:
        try:
            scheme, host, port = http_target(url)
        except InvalidInput as error:
            raise FetchFailed(error.message) from None
        addresses = await self._resolve(host, port)
        if not addresses:
            raise FetchFailed(f"cannot resolve {host}")
        on_server = await self._server_addresses(url, scheme, host, port, addresses)
        if on_server:
            addresses = on_server
        elif not trusted and not self._allow_private:
            internal = first_internal(addresses)
            if internal is not None:
                raise FetchFailed(
                    f"refusing to fetch {url[:200]!r}: it points to an internal address ({internal});"
                    " a worker started with --allow-private-urls may fetch it"
                )
        return _Hop(httpx.URL(url), host, addresses, bool(on_server))

    async def _server_addresses(
        self, url: str, scheme: str, host: str, port: int, addresses: list[str]
    ) -> list[str]:
        """The addresses to use when `url` is on the worker's queue server (same scheme, port and path prefix,
        and the same name or an address the server's name has too); empty when it is not."""
        server = self._server
        server_port = server.port or (443 if server.scheme == "https" else 80)
        path = urlsplit(url).path
        if scheme != server.scheme or port != server_port or not server.hostname:
            return []
        if not path.startswith(server.path.rstrip("/") + "/"):
            return []
        if host.lower() == server.hostname.lower():
            return addresses
        try:
            known = set(await self._resolve(server.hostname, server_port))
        except FetchFailed:
            return []
        return [address for address in addresses if address in known]

    @contextlib.asynccontextmanager
    async def _open(self, hop: _Hop) -> AsyncIterator[httpx.Response]:
        """A streamed GET to the first checked address that answers; the name goes in Host and SNI."""
        headers = {"Host": hop.url.netloc.decode("ascii")}
        extensions = {"sni_hostname": hop.host} if hop.url.scheme == "https" else {}
        unreachable: Exception | None = None
        for address in hop.addresses:
            request = self._client.build_request(
                "GET", hop.url.copy_with(host=address), headers=headers, extensions=extensions
            )
            try:
                response = await self._client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as error:
                unreachable = error
                continue
            except httpx.HTTPError as error:
                raise FetchFailed(f"{type(error).__name__}: {error}") from None
            try:
                yield response
            finally:
                await response.aclose()
            return
        raise FetchFailed(f"cannot connect to {hop.host}: {unreachable}")


async def _save(response: httpx.Response, sink: BinaryIO, limit: int) -> str:
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"larger than the cap of {limit} bytes")
            digest.update(chunk)
            sink.write(chunk)
    except httpx.HTTPError as error:
        raise FetchFailed(f"the download broke off: {type(error).__name__}: {error}") from None
    return digest.hexdigest()
