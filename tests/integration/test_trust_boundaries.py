"""The HTTP layer under attack (issue 17): spoofed client addresses, floods of sockets and streams, slow-loris
connections, and web pages of other origins. Each test makes the attack and shows it does no harm."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from asman.settings import Settings
from tests.support.server import ServerProcess, in_process, start_server

VECTOR = {"image": "alpine:3.19.1", "command": "echo guarded"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `asman server` with tight limits, and web pages of one origin allowed. It believes the
    X-Forwarded-For of 127.0.0.1, so each test is a client of its own (`as_client`)."""
    server = start_server(
        tmp_path_factory.mktemp("guarded") / "data",
        {
            "ASMAN_TRUSTED_PROXIES": "127.0.0.1",
            "ASMAN_RATE_LIMIT": "0.2",
            "ASMAN_RATE_BURST": "6",
            "ASMAN_MAX_STREAMS_PER_CLIENT": "2",
            "ASMAN_HEADER_TIMEOUT": "1s",
            "ASMAN_CORS_ORIGINS": "https://metapage.io",
        },
    )
    yield server
    server.stop()


def as_client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


# -- client addresses ---------------------------------------------------------------------------------------


async def test_a_spoofed_forwarded_for_does_not_escape_the_rate_limit(tmp_path: Path) -> None:
    async with in_process(Settings(data_dir=tmp_path, rate_limit=0.1, rate_burst=3)) as client:
        codes = [
            (await client.get("/q/spoof/status", headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
            for i in range(10)
        ]
    assert codes == [200] * 3 + [429] * 7, "each made-up address must not get a bucket of its own"


async def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, rate_limit=0.1, rate_burst=2, trusted_proxies="127.0.0.0/8, 10.0.0.0/8"
    )
    async with in_process(settings) as client:

        async def status(forwarded: str) -> int:
            return (await client.get("/q/proxied/status", headers={"X-Forwarded-For": forwarded})).status_code

        # The client claims an address of its own left of what the proxies saw: it is still 203.0.113.9.
        first = [await status(f"198.51.100.{i}, 203.0.113.9, 10.0.0.2") for i in range(4)]
        assert first == [200, 200, 429, 429]
        assert await status("203.0.113.10, 10.0.0.2") == 200, "another real client has its own bucket"


# -- sockets and streams ------------------------------------------------------------------------------------


async def test_websocket_connects_are_rate_limited(guarded: ServerProcess) -> None:
    url = guarded.url.replace("http://", "ws://")
    refused = 0
    for index in range(10):
        try:
            socket_url = f"{url}/q/flood/{'worker' if index % 2 else 'client'}"
            async with connect(socket_url, additional_headers=as_client("192.0.2.1")):
                pass
        except InvalidStatus as error:
            assert error.response.status_code == 429
            assert b"rate_limited" in error.response.body
            refused += 1
    assert refused >= 4, "sockets draw from the client's rate as requests do"


async def test_event_streams_per_client_are_capped(guarded: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=guarded.url, timeout=10, headers=as_client("192.0.2.2")) as client:
        async with client.stream("GET", "/q/cap/events") as one, client.stream("GET", "/q/cap/events") as two:
            assert one.status_code == two.status_code == 200
            third = await client.get("/q/cap/events")
            assert third.status_code == 429
            body = third.json()
            assert body["error"] == "too_many_streams"
            assert (
                "ASMAN_MAX_STREAMS_PER_CLIENT" in body["message"] and "/q/<queue>/events" in body["message"]
            )
        # Streams that end give their slots back.
        async with asyncio.timeout(10):
            while True:
                async with client.stream("GET", "/q/cap/events") as again:
                    if again.status_code == 200:
                        break
                await asyncio.sleep(0.2)


def _trickle(port: int, partial: bytes, seconds: float) -> float:
    """Send `partial`, then one more header byte every 0.2 s; the seconds until the server hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds + 5) as sock:
        began = time.monotonic()
        sock.sendall(partial)
        sock.settimeout(0.2)
        while time.monotonic() - began < seconds:
            try:
                if sock.recv(65536) == b"":
                    return time.monotonic() - began
            except TimeoutError:
                pass
            except ConnectionResetError:
                return time.monotonic() - began
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - began
    return float("inf")


def test_slow_loris_connections_are_closed(guarded: ServerProcess) -> None:
    port = int(guarded.url.rsplit(":", 1)[1])
    # Headers that never end, a byte at a time: the connection is closed after the 1 s deadline.
    assert _trickle(port, b"GET /healthz HTTP/1.1\r\nHost: asman\r\nX-Slow: ", 6) < 3
    # The same after a first request on a kept-alive connection: the deadline starts again.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: asman\r\n\r\n")
        answer = b""
        while not answer.endswith(b"OK"):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: asman\r\nX-Slow: a")
        sock.settimeout(5)
        assert sock.recv(65536) == b""
        assert time.monotonic() - began < 3
    # A client that sends its request at an ordinary pace is served.
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200


# -- web pages of other origins -----------------------------------------------------------------------------


async def test_a_foreign_web_page_cannot_drive_a_restricted_server(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cors_origins="https://metapage.io")
    body = '{"definition": {"image": "alpine:3.19.1", "command": "echo drive-by"}}'
    async with in_process(settings) as client:
        # What a page can send without asking first: a "simple" POST, text/plain.
        evil = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
        refused = await client.post("/q/local", content=body, headers=evil)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden_origin"
        assert "ASMAN_CORS_ORIGINS" in refused.json()["message"]
        assert (await client.get("/q/local/status")).json()["counts"].get("queued", 0) == 0
        preflight = await client.options(
            "/q/local", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers
        read = await client.get("/q/local/status", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in read.headers, "the page cannot read the answer"

        # The metapage host, the server's own web client and scripts without a browser still work.
        allowed = await client.post("/q/local", content=body, headers={"Origin": "https://metapage.io"})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://metapage.io"
        own = await client.post("/q/local", content=body, headers={"Origin": "http://asman.test"})
        assert own.status_code == 200
        assert (await client.post("/q/local", content=body)).status_code == 200
        # Public files stay readable from anywhere: metapages import the vendored library and the metaframe.
        for path in ("/static/vendor/metapage-1.10.10.js", "/metaframe.json"):
            answer = await client.get(path, headers={"Origin": "https://evil.example"})
            assert answer.headers["access-control-allow-origin"] == "*", path


async def test_a_foreign_web_page_cannot_open_a_socket(guarded: ServerProcess) -> None:
    url = guarded.url.replace("http://", "ws://")
    with pytest.raises(InvalidStatus) as refused:
        evil = connect(
            f"{url}/q/local/client",
            origin=Origin("https://evil.example"),
            additional_headers=as_client("192.0.2.3"),
        )
        async with evil:
            pass
    assert refused.value.response.status_code == 403
    metapage = connect(
        f"{url}/q/local/client",
        origin=Origin("https://metapage.io"),
        additional_headers=as_client("192.0.2.3"),
    )
    async with metapage as allowed:
        assert await asyncio.wait_for(allowed.recv(), 10)


async def test_web_pages_carry_security_headers_and_the_docs_come_from_this_server(tmp_path: Path) -> None:
    async with in_process(Settings(data_dir=tmp_path, cors_origins="https://metapage.io")) as client:
        for path in ("/", "/docs", "/q/demo"):
            page = await client.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
            policy = page.headers["content-security-policy"]
            assert "script-src 'self';" in policy and "object-src 'none'" in policy
            # Embeddable by the metapages that may use it (and itself), nobody else.
            assert policy.endswith("frame-ancestors 'self' https://metapage.io")
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["referrer-policy"] == "no-referrer"
        docs = (await client.get("/docs")).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs)
        assert sources and all(source.startswith("/") for source in sources), sources
        for source in sources:
            asset = await client.get(source)
            assert asset.status_code == 200, source
            if source.startswith("/static/"):
                assert asset.headers["x-content-type-options"] == "nosniff", source
    async with in_process(Settings(data_dir=tmp_path)) as client:
        policy = (await client.get("/")).headers["content-security-policy"]
        assert policy.endswith("frame-ancestors *"), "any metapage may embed the client of an open server"


async def test_namespaces_are_bounded(tmp_path: Path) -> None:
    async with in_process(Settings(data_dir=tmp_path)) as client:
        huge = "n" * 100_000
        submitted = await client.post("/q/ns", json={"definition": VECTOR, "control": {"namespace": huge}})
        assert submitted.status_code == 422 and "namespace" in submitted.json()["message"]
        fine = await client.post("/q/ns", json={"definition": VECTOR, "control": {"namespace": "n" * 256}})
        job_id = fine.json()["jobId"]
        cancel = await client.post(f"/q/ns/j/{job_id}/cancel", params={"namespace": "n" * 5000})
        assert cancel.status_code == 400 and "at most 256" in cancel.json()["message"]
        assert (await client.get(f"/q/ns/j/{job_id}/namespaces.json")).json()["data"] == ["n" * 256]
