"""PostgreSQL store: the scale-out backend, shared by any number of API replicas.

Same tables and the same semantics as the SQLite store (`sqlite.py` is the reference; one contract suite runs
against both). What differs is concurrency: SQLite has one writer at a time, here many replicas write at once.

- Claims and lease expiry pick rows with `FOR UPDATE SKIP LOCKED`, so two replicas never hand one job to two
  workers and never requeue one expired lease twice.
- Every verb that reads a row and then decides locks it first (`SELECT ... FOR UPDATE`); a new job row is
  inserted with `ON CONFLICT DO NOTHING` and re-read locked when another replica inserted it first.
- Per-queue counts are appended as deltas by a trigger (no hot counter row, so no lock waits) and folded now
  and then (see the migration).
- A transaction that still loses a deadlock or serialization race is retried from the start.
- Migrations are applied under a PostgreSQL advisory lock, so replicas that start together do not race.

URL: `postgresql://user:password@host:5432/database` (libpq form, as asyncpg reads it), plus optional
`pool_size=N` (connections per replica, default 10).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import orjson

from asman.core.errors import BackendUnavailable
from asman.core.events import StateChanged
from asman.core.states import FinishedReason, JobState, Verb, transition
from asman.core.webhooks import FINISHED as FINISHED_EVENT
from asman.pg import CONNECTION_ERRORS, SETUP_ERRORS, Conn, keep_session, split_url
from asman.store import migrate
from asman.store.base import Assignment, LogBatch
from asman.store.sql import (
    EXIT_CODE,
    JOB_ID,
    QUEUE,
    REASON,
    STATE,
    UPDATED,
    Program,
    ProgramFactory,
    Queries,
    Query,
    alone,
    count,
    one,
    rows,
    state_changed,
    value,
)
from asman.store.verbs import FINISHED, QUEUED, RUNNING, SUCCESS, JobVanished, NewJob, Outcome, SqlStore

log = logging.getLogger(__name__)

T = TypeVar("T")

# Any fixed 64-bit number: the advisory lock every replica takes while it applies migrations.
MIGRATION_LOCK_KEY = 0x6173_6D61_6E5F_6462  # "asman_db"
_RETRIES = 5
_COMPACT_AFTER = 64  # count deltas per queue before counts() folds them

_RACE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    JobVanished,
)


def _unavailable(where: str, exc: BaseException) -> BackendUnavailable:
    return BackendUnavailable(
        f"PostgreSQL at {where} is unavailable ({type(exc).__name__}: {exc}). Check that the server is"
        " running and reachable from this replica, and that ASMAN_DATABASE_URL has the right host, port,"
        " user, password and database."
    )


def _affected(status: str) -> int:
    """Rows touched, from a command status such as 'INSERT 0 1' or 'DELETE 3'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def _answer(conn: Conn, query: Query) -> Any:
    if query.mode == "one":
        return await conn.fetchrow(query.sql, *query.params)
    if query.mode == "all":
        return await conn.fetch(query.sql, *query.params)
    if query.mode == "value":
        return await conn.fetchval(query.sql, *query.params)
    return _affected(await conn.execute(query.sql, *query.params))


async def _drive(conn: Conn, program: Program[T], started: Callable[[], None]) -> T:
    """Run a program's queries on a pooled connection in one transaction, opened after its standalone leading
    statements (see `Query.standalone`) when the program goes on past them. Each statement of READ COMMITTED
    sees what was committed before it began, so their running alone changes nothing the others could see.
    `started` is called once something that may change data has been sent (a failure before it ran nothing)."""
    try:
        query = program.send(None)
        while query.standalone:
            started()
            query = program.send(await _answer(conn, query))
    except StopIteration as done:
        answer: T = done.value
        return answer
    async with conn.transaction():
        started()
        try:
            while True:
                query = program.send(await _answer(conn, query))
        except StopIteration as done:  # caught inside, so the transaction commits
            result: T = done.value
    return result


class PostgresStore(SqlStore):
    def __init__(self, url: str) -> None:
        self.q = Queries("postgres")
        self._dsn, self._pool_size, self._where = split_url(url)
        self._pool: Any = None  # asyncpg.Pool

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        return _unavailable(self._where, exc)

    async def _run(self, fn: Callable[[Conn, Callable[[], None]], Awaitable[T]]) -> T:
        """Run fn on a pooled connection; fn opens its transaction (`_drive`) and says when it has started
        writing. Retried from the start when it lost a deadlock or serialization race, and when the pooled
        connection turned out dead before fn started (the server restarted or cut it): then nothing was executed
        and a fresh connection may try. A connection lost once fn started is not retried, since its commit may
        or may not have happened: the caller gets BackendUnavailable."""
        pool = self._pool
        if pool is None:
            raise BackendUnavailable("the PostgreSQL store is not open")
        for attempt in range(_RETRIES):
            started = False

            def start() -> None:
                nonlocal started
                started = True

            try:
                async with pool.acquire() as conn:
                    return await fn(conn, start)
            except _RACE_ERRORS:
                if attempt == _RETRIES - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
            except (
                *CONNECTION_ERRORS,
                asyncpg.InterfaceError,
                asyncpg.exceptions.InternalClientError,
            ) as exc:
                if not started and attempt < _RETRIES - 1 and not isinstance(exc, SETUP_ERRORS):
                    # Its idle siblings are likely dead too: have the pool replace them all.
                    log.info("a pooled PostgreSQL connection was dead (%s); retrying on a fresh one", exc)
                    await pool.expire_connections()
                    await asyncio.sleep(0.05 * attempt)
                    continue
                if isinstance(exc, (*CONNECTION_ERRORS, asyncpg.exceptions.InternalClientError)) or (
                    "closed" in str(exc) or "connection" in str(exc)
                ):
                    raise self._unavailable(exc) from exc
                raise
        raise AssertionError("unreachable")

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=10,
                command_timeout=60,
                reset=keep_session,
            )
            async with self._pool.acquire() as conn:
                await self._migrate(conn)
        except CONNECTION_ERRORS as exc:
            await self.close()
            raise self._unavailable(exc) from exc

    @staticmethod
    async def _migrate(conn: Conn) -> None:
        # Session-level advisory lock: a replica starting at the same time waits here until the first is done,
        # then finds every migration applied.
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(migrate.CREATE_LEDGER)
            for migration in migrate.plan("postgres", await _applied(conn)).pending:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", migration.version
                    )
                log.info("applied PostgreSQL migration %04d %s", migration.version, migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except CONNECTION_ERRORS:
                pool.terminate()

    async def ping(self) -> None:
        await self._run(lambda conn, _: conn.fetchval("SELECT 1"))

    # -- how programs run -------------------------------------------------------------------------------------

    async def _execute(self, program: ProgramFactory[T]) -> T:
        return await self._run(lambda conn, started: _drive(conn, program(), started))

    # -- one-statement fast paths -----------------------------------------------------------------------------

    def _insert_new(self, new: NewJob, standalone: bool = False) -> Program[Any]:
        row = yield alone(
            one(
                self.q.insert_job_in_full,
                new.job_id,
                SUCCESS,
                *new.trusted_params(),
                *new.row_params(),
                new.definition,
                new.expires_ms,
                new.namespace,
            ),
            standalone,
        )
        return row

    def _insert_many(self, fresh: list[NewJob]) -> Program[dict[str, Any]]:
        first = fresh[0]  # one queue, namespace and time for all
        found = yield rows(
            self.q.insert_jobs_in_full,
            [new.job_id for new in fresh],
            [new.definition for new in fresh],
            [new.gpus for new in fresh],
            first.queue,
            QUEUED,
            FINISHED,
            SUCCESS,
            first.now_ms,
            first.now_ms,
            first.expires_ms,
            SUCCESS,
            *first.trusted_params(),
            first.expires_ms,
            first.namespace,
        )
        return {row[JOB_ID]: row for row in found}

    def _finish(self, outcome: Outcome) -> Program[StateChanged | None]:
        row = yield one(
            self.q.finish_attempt_in_full,
            *outcome.update_params(),
            outcome.domain,
            outcome.result,
            outcome.expires_ms,
        )
        if row is None:
            return None
        # A statement of its own, not one more part of the one above: that one's snapshot predates the row lock
        # it may have waited for, so it could miss a callback the submit holding that lock just added.
        yield from self._fire_callbacks(row)
        return state_changed(row)

    def _finish_all(self, outcomes: list[Outcome]) -> Program[list[StateChanged | None]]:
        if len(outcomes) < 2 or len({(o.queue, o.job_id) for o in outcomes}) < len(outcomes):
            return (yield from super()._finish_all(outcomes))
        first = outcomes[0]  # the time and expiry are the batch's
        found = yield rows(
            self.q.finish_attempts_in_full,
            [o.queue for o in outcomes],
            [o.job_id for o in outcomes],
            [o.attempt for o in outcomes],
            [o.token for o in outcomes],
            [o.reason.value for o in outcomes],
            [o.exit_code for o in outcomes],
            [o.domain for o in outcomes],
            [o.result for o in outcomes],
            FINISHED,
            first.now_ms,
            RUNNING,
            first.expires_ms,
        )
        by_job = {(row[QUEUE], row[JOB_ID]): row for row in found}
        ended = [by_job.get((o.queue, o.job_id)) for o in outcomes]
        done = [row for row in ended if row is not None]
        if done:
            # After the update, as in `_finish`: this statement's snapshot sees callbacks added meanwhile.
            yield count(
                self.q.fire_callbacks_of,
                [row[QUEUE] for row in done],
                [row[JOB_ID] for row in done],
                [row[REASON] for row in done],
                [row[EXIT_CODE] for row in done],
                [row[UPDATED] for row in done],
                FINISHED_EVENT,
            )
        return [state_changed(row) if row is not None else None for row in ended]

    def _append(self, batch: LogBatch) -> Program[bool]:
        before, after = batch.before, batch.after
        where = (batch.job_id, batch.queue, batch.attempt, batch.step)
        moved = yield value(
            self.q.append_logs_in_full,
            *where,
            after.next_seq,
            after.lines - before.lines,
            after.bytes - before.bytes,
            batch.expires_ms,
            before.next_seq,
            *where,
            batch.text,
            batch.expires_ms,
            before.lines,
            after.lines - before.lines,
        )
        return bool(moved)

    async def renew(
        self,
        queue: str,
        worker_id: str,
        attempts: list[tuple[str, int]],
        lease_until_ms: int,
        tokens: list[str | None] | None = None,
    ) -> list[tuple[str, int]]:
        def program() -> Program[list[tuple[str, int]]]:
            found = yield rows(
                self.q.renew_attempts,
                lease_until_ms,
                worker_id,
                [job for job, _ in attempts],
                [n for _, n in attempts],
                tokens if tokens is not None else [None] * len(attempts),
                queue,
                RUNNING,
            )
            current = {(row[0], row[1]) for row in found}
            return [pair for pair in attempts if pair not in current]

        return await self._execute(program) if attempts else []

    # -- this dialect's own verbs -----------------------------------------------------------------------------

    async def claim(
        self, queue: str, worker_id: str, limit: int, max_gpus: int, lease_until_ms: int, now_ms: int
    ) -> list[Assignment]:
        def program() -> Program[list[Assignment]]:
            # SKIP LOCKED: a row another replica is claiming right now is passed over, never handed out twice.
            found = yield alone(
                rows(
                    self.q.claim_jobs,
                    queue,
                    QUEUED,
                    max_gpus,
                    limit,
                    RUNNING,
                    worker_id,
                    lease_until_ms,
                    now_ms,
                )
            )
            return [
                Assignment(queue, row[1], row[2], orjson.loads(row[3] or "{}"), now_ms, worker_id, row[4])
                for row in sorted(found, key=lambda row: int(row[0]))
            ]

        return await self._execute(program) if limit > 0 else []

    async def expire_leases(self, now_ms: int, retry_budget: int) -> list[StateChanged]:
        spent, _ = transition(JobState.RUNNING, Verb.EXPIRE, budget_spent=True)
        again, _ = transition(JobState.RUNNING, Verb.EXPIRE, budget_spent=False)

        def program() -> Program[list[StateChanged]]:
            # Every replica runs this loop; SKIP LOCKED keeps two of them from requeueing one lease twice.
            found = yield rows(
                self.q.expire_leases,
                RUNNING,
                now_ms,
                retry_budget,
                spent.value,
                again.value,
                FinishedReason.WORKER_LOST.value,
            )
            changes = []
            for row in sorted(found, key=lambda row: int(row[0])):
                if row[1 + STATE] == FINISHED:  # the retry budget is spent
                    yield from self._fire_callbacks(row[1:])
                changes.append(state_changed(row[1:]))
            return changes

        return await self._execute(program)

    async def counts(self, queue: str) -> dict[str, int]:
        def program() -> Program[dict[str, int]]:
            found = yield rows(self.q.count_deltas, queue)
            if sum(row[2] for row in found) > _COMPACT_AFTER:
                yield from self._compact_counts(queue)
            return {row[0]: row[1] for row in found if row[1] > 0}

        return await self._execute(program)

    def _compact_counts(self, queue: str) -> Program[None]:
        """Fold a queue's count deltas into one row per state (skipped if another replica is at it)."""
        if (yield value(self.q.lock_counts, queue)):
            yield count(self.q.fold_counts, queue)

    def _after_sweep(self) -> Program[None]:
        for (queue,) in (yield rows(self.q.crowded_counts, _COMPACT_AFTER // 4)):
            yield from self._compact_counts(queue)


async def _applied(conn: Conn) -> list[int]:
    return [row["version"] for row in await conn.fetch(migrate.READ_LEDGER)]


async def applied_migrations(url: str) -> list[int]:
    """The migrations applied to the database at `url`, read without changing it (none on an empty database)."""
    dsn, _, safe = split_url(url)
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except CONNECTION_ERRORS as exc:
        raise _unavailable(safe, exc) from exc
    try:
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            return []
        return await _applied(conn)
    finally:
        await conn.close()
