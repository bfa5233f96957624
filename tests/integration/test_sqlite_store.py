"""The SQLite store's own machinery: group commit, the checkpointer, and the cost of a claim in a big store.

The queue behaviour itself is covered by test_store_contract.py (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asman.core.errors import BackendUnavailable
from asman.core.states import FinishedReason
from asman.store import open_store
from asman.store.sqlite import SqliteStore

T0 = 1_700_000_000_000
EXPIRES = T0 + 86_400_000


def jid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "store.sqlite3")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_concurrent_operations_commit_together_and_each_is_answered(store: SqliteStore) -> None:
    outcomes = await asyncio.gather(
        *(
            store.submit("q", jid(f"j{i}"), {"image": "a", "command": f"echo {i}"}, "_", T0 + i, EXPIRES)
            for i in range(200)
        )
    )
    assert [o.job.job_id for o in outcomes] == [jid(f"j{i}") for i in range(200)]
    assert await store.counts("q") == {"Queued": 200}
    claimed = await asyncio.gather(*(store.claim("q", f"w{i}", 10, 0, EXPIRES, T0) for i in range(20)))
    assert sorted(a.job_id for batch in claimed for a in batch) == sorted(jid(f"j{i}") for i in range(200))


async def test_a_failing_operation_in_a_batch_rolls_back_only_itself(store: SqliteStore) -> None:
    def insert_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES ('doomed', '{}', 0, 1)"
        )
        raise ValueError("this operation fails")

    async def submit(i: int) -> Any:
        return await store.submit("q", jid(f"k{i}"), {"image": "a"}, "_", T0, EXPIRES)

    results = await asyncio.gather(submit(0), store._run(insert_then_fail), submit(1), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert await store.get_definition("doomed") is None
    assert await store.counts("q") == {"Queued": 2}


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3")
    await store.open()
    pending = asyncio.gather(
        *(store.submit("q", jid(f"c{i}"), {"image": "a"}, "_", T0, EXPIRES) for i in range(20))
    )
    await store.close()
    assert len(await pending) == 20  # queued before the close: all answered
    with pytest.raises(BackendUnavailable):
        await store.counts("q")
    wal = tmp_path / "store.sqlite3-wal"
    assert not await asyncio.to_thread(wal.exists)  # the last connection out checkpointed it


async def test_a_claim_costs_the_same_however_many_jobs_are_stored(store: SqliteStore) -> None:
    """A claim once looked up the definition with a subquery SQLite ran as a scan of every stored job."""

    def fill(conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES (?, '{}', 0, ?)",
            ((jid(f"old{i}"), EXPIRES) for i in range(20_000)),
        )

    await store._run(fill)
    last = "f" * 64  # sorts after every stored id: a scan in key order would have to pass all of them
    await store.submit("q", last, {"image": "a", "command": "new"}, "_", T0, EXPIRES)
    steps = 0

    def count_steps(conn: sqlite3.Connection) -> None:
        def tick() -> int:
            nonlocal steps
            steps += 1
            return 0

        conn.set_progress_handler(tick, 100)

    await store._run(count_steps)
    [assignment] = await store.claim("q", "w", 1, 0, EXPIRES, T0)
    await store._run(lambda conn: conn.set_progress_handler(None, 0))
    assert assignment.definition == {"image": "a", "command": "new"}
    assert steps < 50, f"{steps * 100} SQLite VM steps for one claim: is something scanning all stored jobs?"
    await store.finish("q", last, assignment.attempt, FinishedReason.SUCCESS, {}, T0, EXPIRES)


@pytest.mark.parametrize(("query", "pragma"), [("", 1), ("?synchronous=normal", 1), ("?synchronous=full", 2)])
async def test_the_url_chooses_how_commits_reach_the_disk(tmp_path: Path, query: str, pragma: int) -> None:
    """NORMAL (1) survives a killed process; FULL (2) syncs every commit, for power loss too."""
    chosen = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}{query}")
    await chosen.open()
    try:
        assert isinstance(chosen, SqliteStore)
        assert chosen._conn is not None
        assert chosen._conn.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        await chosen.close()


def test_an_unknown_sqlite_option_is_refused_with_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\?synchronous=full"):
        open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}?synchronus=full")
