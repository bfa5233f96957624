"""PostgresNotifier: every replica's subscribers see every event exactly once, whoever published it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from asman.core.errors import BackendUnavailable
from asman.core.events import Event, Resync, WorkersChanged
from asman.events import postgres as postgres_events
from asman.events.postgres import MAX_PAYLOAD, PostgresNotifier, encode
from tests.support.events import logs, state


@pytest.fixture
async def pair(postgres_url: str) -> AsyncIterator[tuple[PostgresNotifier, PostgresNotifier]]:
    first, second = PostgresNotifier(postgres_url), PostgresNotifier(postgres_url)
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@pytest.fixture
def patient_echoes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A publish whose echo never comes would now wait a minute: the tests below would time out."""
    monkeypatch.setattr(postgres_events, "ECHO_TIMEOUT", 60.0)


def collect(notifier: PostgresNotifier) -> list[Event]:
    seen: list[Event] = []
    notifier.subscribe(seen.append)
    return seen


async def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_two_replicas_see_each_others_events_once(
    pair: tuple[PostgresNotifier, PostgresNotifier],
) -> None:
    first, second = pair
    seen_first, seen_second = collect(first), collect(second)
    one = state("q", "a" * 64)
    two = logs("q", "b" * 64, [["héllo ✓", 1, False]])
    await first.publish(one)
    await second.publish(two)
    await wait_for(lambda: len(seen_first) >= 2 and len(seen_second) >= 2)
    await asyncio.sleep(0.3)  # nothing more (no local copy besides the echo) may arrive
    assert seen_first == [one, two]
    assert seen_second == [one, two]


async def test_publish_returns_after_local_subscribers_had_the_event(
    pair: tuple[PostgresNotifier, PostgresNotifier], patient_echoes: None
) -> None:
    first, _ = pair
    seen = collect(first)
    for index in range(20):
        event = state("q", "f" * 64, attempt=index)
        await first.publish(event)
        assert seen[-1] == event  # no wait needed: the echo came back before publish returned
    big = logs("q", "f" * 64, [["y" * 100, 1, False]] * 300)
    await first.publish(big)
    assert seen[-1] == big and len(seen) == 21


async def test_concurrent_publishes_go_out_together_in_publish_order(
    pair: tuple[PostgresNotifier, PostgresNotifier], patient_echoes: None
) -> None:
    first, second = pair
    seen_first, seen_second = collect(first), collect(second)
    events: list[Event] = [state("q", f"{index:064x}", attempt=index) for index in range(300)]
    big = logs("q", "b" * 64, [["z" * 100, 1, False]] * 300)  # fragments, mid-batch
    events.insert(150, big)
    # Each publish returns after its own echo.
    await asyncio.wait_for(asyncio.gather(*(first.publish(event) for event in events)), 20)
    assert seen_first == events
    await wait_for(lambda: len(seen_second) >= len(events))
    assert seen_second == events


async def test_publish_many_returns_after_local_subscribers_had_every_event(
    pair: tuple[PostgresNotifier, PostgresNotifier], patient_echoes: None
) -> None:
    first, second = pair
    seen_first, seen_second = collect(first), collect(second)
    many: list[Event] = [state("q", f"{index:064x}", attempt=index) for index in range(2000)]
    many.insert(1000, logs("q", "c" * 64, [["w" * 100, 1, False]] * 300))  # fragments, mid-batch
    alone = state("q", "d" * 64)
    await first.publish_many([])
    # One future and one echo for the batch; a publish beside it still waits for its own.
    await asyncio.wait_for(asyncio.gather(first.publish_many(many), first.publish(alone)), 20)
    assert seen_first == [*many, alone]
    await wait_for(lambda: len(seen_second) >= len(many) + 1)
    assert seen_second == [*many, alone]


async def test_identical_events_published_together_do_not_wait_for_a_folded_echo(
    pair: tuple[PostgresNotifier, PostgresNotifier], patient_echoes: None
) -> None:
    first, _ = pair
    seen = collect(first)
    same = WorkersChanged("q")
    # PostgreSQL delivers identical notifications of one transaction once: all five publishers must go on.
    await asyncio.wait_for(asyncio.gather(*(first.publish(same) for _ in range(5))), 20)
    assert same in seen


async def test_events_from_one_publisher_keep_their_order(
    pair: tuple[PostgresNotifier, PostgresNotifier],
) -> None:
    first, second = pair
    seen = collect(second)
    events = [state("q", f"{index:064x}", attempt=index) for index in range(200)]
    for event in events:
        await first.publish(event)
    await wait_for(lambda: len(seen) >= 200)
    assert seen == events


async def test_large_events_are_fragmented_and_reassembled(
    pair: tuple[PostgresNotifier, PostgresNotifier],
) -> None:
    first, second = pair
    seen_first, seen_second = collect(first), collect(second)
    lines = [[f"line {index} " + "x" * 200 + " ✓", index, index % 2 == 0] for index in range(500)]
    big = logs("q", "c" * 64, lines)
    payloads = encode(big)
    assert len(payloads) > 10 and all(len(payload.encode()) < 8000 for payload in payloads)
    small = state("q", "c" * 64, "Running")
    assert len(encode(small)) == 1 and len(encode(small)[0]) <= MAX_PAYLOAD
    await first.publish(big)
    await first.publish(small)
    await wait_for(lambda: len(seen_first) >= 2 and len(seen_second) >= 2)
    await asyncio.sleep(0.2)
    assert seen_first == [big, small]
    assert seen_second == [big, small]


async def test_unsubscribe_and_a_failing_listener(pair: tuple[PostgresNotifier, PostgresNotifier]) -> None:
    first, _ = pair
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    first.subscribe(broken)
    unsubscribe = first.subscribe(seen.append)
    await first.publish(WorkersChanged("q"))
    await wait_for(lambda: len(seen) == 1)
    unsubscribe()
    await first.publish(WorkersChanged("q"))
    await asyncio.sleep(0.3)
    assert len(seen) == 1


async def cut_connections(postgres_url: str, where: str = "true") -> int:
    admin = await asyncpg.connect(postgres_url)
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE datname = current_database() AND pid <> pg_backend_pid() AND ({where})"
        )
        return killed
    finally:
        await admin.close()


async def test_reconnects_after_the_listen_connection_drops(
    pair: tuple[PostgresNotifier, PostgresNotifier], postgres_url: str
) -> None:
    first, second = pair
    seen = collect(second)
    # A LISTEN connection's last query is its LISTEN, or the supervisor's ping once one ran.
    assert await cut_connections(postgres_url, "query LIKE 'LISTEN%' OR query = 'SELECT 1'") == 2
    # The server's goodbye wakes the supervisor at once: no wait for the next ping.
    await wait_for(lambda: second.reconnects >= 1 and first.reconnects >= 1, timeout=15)
    event = state("q", "d" * 64, "Finished", reason="Success")
    await first.publish(event)
    await wait_for(lambda: event in seen)
    await asyncio.sleep(0.2)
    assert seen.count(event) == 1


async def test_publishing_survives_cut_pool_connections(
    pair: tuple[PostgresNotifier, PostgresNotifier], postgres_url: str
) -> None:
    first, second = pair
    seen = collect(second)
    assert await cut_connections(postgres_url) >= 4  # both LISTEN and both publishing pools
    await wait_for(lambda: second.reconnects >= 1, timeout=15)
    events = [state("q", "e" * 64, attempt=index) for index in range(3)]
    for event in events:
        await first.publish(event)  # the dead pooled connection is replaced, not reported
    await wait_for(lambda: len(seen) >= 4)
    # Events of the gap may be lost, so the reconnected replica tells its own listeners to catch up first.
    assert seen == [Resync(), *events]


async def test_unreachable_server_is_backend_unavailable() -> None:
    from tests.support.server import free_port

    notifier = PostgresNotifier(f"postgresql://asman@127.0.0.1:{free_port()}/nowhere")
    with pytest.raises(BackendUnavailable, match="ASMAN_DATABASE_URL"):
        await notifier.open()
    with pytest.raises(BackendUnavailable):
        await notifier.publish(WorkersChanged("q"))
