"""Who a client is and how much it may hold (trusted proxies, the bounded bucket table, the stream cap), and\nwhat an error may tell it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from asman.core.errors import BackendUnavailable
from asman.server.http import error_response, private_strings
from asman.server.limits import StreamCap, TokenBuckets, TooManyStreams, TrustedProxies
from asman.settings import Settings, parse_networks


def scope(peer: str, *forwarded: str) -> dict[str, object]:
    return {"client": (peer, 5000), "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    nobody = TrustedProxies()
    assert nobody.client(scope("203.0.113.5", "1.2.3.4")) == "203.0.113.5"
    proxies = TrustedProxies(parse_networks("10.0.0.0/8, 192.0.2.7"))
    assert proxies.client(scope("203.0.113.5", "1.2.3.4")) == "203.0.113.5", "the peer is no proxy"
    # The right-most hop no trusted proxy wrote is the client; what it claimed further left is ignored.
    assert proxies.client(scope("10.1.1.1", "1.2.3.4, 203.0.113.9, 192.0.2.7")) == "203.0.113.9"
    assert proxies.client(scope("10.1.1.1", "1.2.3.4", "203.0.113.9")) == "203.0.113.9", "headers in order"
    assert proxies.client(scope("10.1.1.1", "10.2.2.2")) == "10.2.2.2", "only proxies: the left-most"
    assert proxies.client(scope("10.1.1.1")) == "10.1.1.1"
    assert proxies.client(scope("10.1.1.1", "junk, ")) == "junk", "garbage is nobody's proxy"


def test_the_bucket_table_is_bounded() -> None:
    buckets = TokenBuckets(rate=1, burst=1, max_clients=100)
    for index in range(10_000):
        buckets.allow(f"198.51.{index // 256}.{index % 256}", 0.0)
    assert len(buckets) == 100
    assert buckets.allow("198.51.39.15", 0.0) > 0, "a recent client is still remembered"


def test_streams_per_client_are_capped() -> None:
    cap = StreamCap(2)
    cap.admit("a")
    cap.admit("a")
    cap.admit("b")
    with pytest.raises(TooManyStreams):
        cap.admit("a")
    cap.release("a")
    cap.admit("a")
    StreamCap(0).admit("a")  # 0: no cap


def test_error_messages_do_not_show_the_servers_paths(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "secret-home", database_url="postgresql://asman:pw@db.internal/asman"
    )
    private = private_strings(settings)
    sqlite = BackendUnavailable(
        f"SQLite at {tmp_path}/secret-home/asman.sqlite3 failed: disk I/O error. Check free disk space"
    )
    answer = error_response(sqlite, private)
    message = orjson.loads(answer.body)["message"]
    assert message.startswith(
        "SQLite at <data folder>/asman.sqlite3 failed: disk I/O error. Check free disk space"
    )
    assert message.endswith("retry in 2 s.") and answer.headers["retry-after"] == "2"
    postgres = BackendUnavailable("PostgreSQL at postgresql://asman:pw@db.internal/asman is unavailable")
    assert "pw@" not in orjson.loads(error_response(postgres, private).body)["message"]
