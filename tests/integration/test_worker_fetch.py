"""The worker's fetches against real HTTP servers on 127.0.0.1: one plays the worker's queue server (its own
URLs are always fetched), another an internal service a job must never reach through it."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from asman.worker.fetch import MAX_REDIRECTS, Fetcher, FetchFailed, TooLarge

BLOB = b"bytes in the object store"
BLOB_KEY = hashlib.sha256(BLOB).hexdigest()


@dataclass
class Site:
    url: str
    hits: list[str] = field(default_factory=list)


def serve(answer: Callable[[str], tuple[int, dict[str, str], bytes]]) -> Iterator[Site]:
    site = Site("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits.append(self.path)
            status, headers, body = answer(self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def internal() -> Iterator[Site]:
    """A service on loopback that only the machine itself should see."""
    bodies = {"/secret": b"the admin password", "/object": BLOB}
    yield from serve(lambda path: (200, {}, bodies[path]) if path in bodies else (404, {}, b""))


@pytest.fixture
def server(internal: Site) -> Iterator[Site]:
    """The queue server: a job's url input answers as a redirect to it, a blob as a redirect to the store."""

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/j/attacker/inputs/x":  # what /j/<id>/inputs/<name> answers for a url input
            return 302, {"Location": f"{internal.url}/secret"}, b""
        if path == f"/f/{BLOB_KEY}":  # a blob in S3: a redirect to a presigned URL
            return 302, {"Location": f"{internal.url}/object"}, b""
        if path == "/loop":
            return 302, {"Location": "/loop"}, b""
        if path == "/big":
            return 200, {}, bytes(5000)
        return 404, {}, b""

    yield from serve(answer)


async def download(server: Site, url: str, allow_private: bool = False, limit: int = 10_000) -> bytes:
    sink = io.BytesIO()
    async with httpx.AsyncClient(trust_env=False) as client:
        await Fetcher(client, server.url, allow_private=allow_private).download(url, sink, limit)
    return sink.getvalue()


async def test_the_servers_redirect_to_an_internal_service_is_refused(server: Site, internal: Site) -> None:
    with pytest.raises(FetchFailed, match="internal address"):
        await download(server, f"{server.url}/j/attacker/inputs/x")
    assert internal.hits == [], "the internal service must not be reached at all"


async def test_the_servers_redirect_for_its_own_blob_is_followed(server: Site, internal: Site) -> None:
    assert await download(server, f"{server.url}/f/{BLOB_KEY}") == BLOB
    assert internal.hits == ["/object"]


async def test_an_internal_url_is_refused_unless_the_worker_allows_it(server: Site, internal: Site) -> None:
    with pytest.raises(FetchFailed, match="internal address"):
        await download(server, f"{internal.url}/secret")
    assert internal.hits == []
    assert await download(server, f"{server.url}/j/attacker/inputs/x", allow_private=True) == (
        b"the admin password"
    )


async def test_redirect_loops_and_oversized_bodies_stop(server: Site) -> None:
    with pytest.raises(FetchFailed, match=f"more than {MAX_REDIRECTS} redirects"):
        await download(server, f"{server.url}/loop")
    assert server.hits.count("/loop") == MAX_REDIRECTS + 1
    with pytest.raises(TooLarge):
        await download(server, f"{server.url}/big", limit=4096)
    with pytest.raises(FetchFailed, match="HTTP 404") as missing:
        await download(server, f"{server.url}/nothing")
    assert missing.value.status == 404
