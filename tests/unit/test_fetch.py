"""The worker's fetch policy where names must resolve to public addresses: a resolver stands in for DNS and
httpx's MockTransport for the internet (neither can be reached here); it records where each request went."""

from __future__ import annotations

import io

import httpx
import pytest

from asman.worker.fetch import Fetcher, FetchFailed

SERVER = "http://127.0.0.1:8000"


class Dns:
    """Answers from a script per name, one answer per lookup (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        script = self.answers[host]
        return script.pop(0) if len(script) > 1 else script[0]


class Internet:
    """Each request as the transport saw it: the address connected to, the Host header, the TLS name."""

    def __init__(self, pages: dict[str, httpx.Response]) -> None:
        self.pages = pages
        self.requests: list[tuple[str, str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            (request.url.host, request.headers["host"], request.extensions.get("sni_hostname"))
        )
        return self.pages.get(request.headers["host"] + request.url.path, httpx.Response(404))


def fetcher(internet: Internet, dns: Dns, allow_private: bool = False) -> Fetcher:
    client = httpx.AsyncClient(transport=httpx.MockTransport(internet))
    return Fetcher(client, SERVER, allow_private=allow_private, resolve=dns)


async def test_a_rebinding_name_is_resolved_once_and_the_checked_address_used() -> None:
    # A rebinding name answers a public address to the check, then loopback to whoever asks next.
    dns = Dns({"rebind.example": [["8.8.8.8"], ["127.0.0.1"]]})
    internet = Internet({"rebind.example/data": httpx.Response(200, content=b"public bytes")})
    sink = io.BytesIO()
    await fetcher(internet, dns).download("http://rebind.example/data", sink, 1000)
    assert sink.getvalue() == b"public bytes"
    assert dns.lookups == ["rebind.example"]
    assert internet.requests == [("8.8.8.8", "rebind.example", None)]


async def test_https_keeps_the_name_for_tls() -> None:
    dns = Dns({"files.example": [["8.8.4.4"]]})
    internet = Internet({"files.example/x": httpx.Response(200, content=b"x")})
    await fetcher(internet, dns).download("https://files.example/x", io.BytesIO(), 10)
    assert internet.requests == [("8.8.4.4", "files.example", "files.example")]


@pytest.mark.parametrize(
    "internal",
    ["127.0.0.1", "10.0.0.7", "100.64.0.1", "169.254.169.254", "::1", "2002:7f00:1::1", "64:ff9b::a00:1"],
)
async def test_a_public_page_cannot_redirect_to_an_internal_address(internal: str) -> None:
    dns = Dns({"public.example": [["8.8.8.8"]], "inside.example": [[internal]]})
    internet = Internet(
        {"public.example/go": httpx.Response(302, headers={"Location": "http://inside.example/admin"})}
    )
    with pytest.raises(FetchFailed, match="internal address"):
        await fetcher(internet, dns).download("http://public.example/go", io.BytesIO(), 1000)
    assert [host for host, _, _ in internet.requests] == ["8.8.8.8"]


async def test_a_name_with_any_internal_address_is_refused() -> None:
    dns = Dns({"mixed.example": [["8.8.8.8", "192.168.1.1"]]})
    internet = Internet({})
    with pytest.raises(FetchFailed, match=r"internal address \(192\.168\.1\.1\)"):
        await fetcher(internet, dns).download("http://mixed.example/", io.BytesIO(), 10)
    assert internet.requests == []


async def test_another_name_for_the_servers_address_is_pinned_to_that_address() -> None:
    # evil.example answers both the server's address and another: only the server's is used.
    dns = Dns({"evil.example": [["10.9.9.9", "127.0.0.1"]], "127.0.0.1": [["127.0.0.1"]]})
    internet = Internet({"evil.example:8000/f/abc": httpx.Response(200, content=b"ok")})
    await fetcher(internet, dns).download("http://evil.example:8000/f/abc", io.BytesIO(), 10)
    assert [host for host, _, _ in internet.requests] == ["127.0.0.1"]
