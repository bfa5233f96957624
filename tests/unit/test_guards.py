"""Abuse guards that need no server: the rate limiter's buckets and the SSRF check."""

from __future__ import annotations

import pytest

from asman.core.errors import InvalidInput
from asman.core.urls import check_fetchable, is_internal
from asman.server.limits import TokenBuckets


def test_bucket_allows_a_burst_then_limits_then_refills() -> None:
    limiter = TokenBuckets(rate=10, burst=5)
    assert [limiter.allow("a", 100.0) for _ in range(5)] == [0.0] * 5
    wait = limiter.allow("a", 100.0)
    assert 0 < wait <= 0.1
    assert limiter.allow("b", 100.0) == 0.0  # another client has its own bucket
    assert limiter.allow("a", 100.2) == 0.0  # 0.2 s refills two tokens


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:9000/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",  # CGNAT
        "http://[2002:7f00:1::1]/",  # 6to4 carrying 127.0.0.1
        "http://[2002:a00:1::]/",  # 6to4 carrying 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[::ffff:192.168.0.1]/",  # IPv4-mapped
    ],
)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="internal address"):
        check_fetchable(url)


@pytest.mark.parametrize(
    ("address", "internal"),
    [("2002:808:808::1", False), ("64:ff9b::808:808", False), ("::ffff:8.8.8.8", False), ("8.8.8.8", False)],
)
def test_addresses_carrying_a_public_ipv4_one_are_public(address: str, internal: bool) -> None:
    assert is_internal(address) is internal


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x", "http:///nohost"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="only http"):
        check_fetchable(url)


def test_trusted_prefix_and_the_override() -> None:
    check_fetchable("http://127.0.0.1:8000/f/abc", trusted_prefixes=("http://127.0.0.1:8000",))
    check_fetchable("http://127.0.0.1:9999/x", allow_private=True)
    check_fetchable("http://localhost:8000/f/abc", trusted_prefixes=("http://127.0.0.1:8000",))
    with pytest.raises(InvalidInput):
        check_fetchable("http://127.0.0.1:8000.evil/f/abc", trusted_prefixes=("http://127.0.0.1:8000",))
    with pytest.raises(InvalidInput):
        check_fetchable("http://localhost:8001/f/abc", trusted_prefixes=("http://127.0.0.1:8000",))
