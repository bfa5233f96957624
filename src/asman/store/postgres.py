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
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import orjson

from asman.core.definition import ALL_NAMESPACES, DEFAULT_NAMESPACE
from asman.core.errors import BackendUnavailable
from asman.core.states import FinishedReason, JobState
from asman.store.base import (
    Assignment,
    JobRow,
    Page,
    SubmitOutcome,
    Transition,
    WorkerRow,
    exit_code_of,
    requested_gpus,
)
from asman.store.migrate import migration_scripts

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = Any  # asyncpg.Connection (untyped library)

_QUEUED = JobState.QUEUED.value
_RUNNING = JobState.RUNNING.value
_FINISHED = JobState.FINISHED.value
_SUCCESS = FinishedReason.SUCCESS.value
_ROW_COLUMNS = "queue, job_id, state, reason, attempt, worker, queued_ms, updated_ms, seq, exit_code"
_Q_ROW_COLUMNS = (
    "q.queue, q.job_id, q.state, q.reason, q.attempt, q.worker, q.queued_ms, q.updated_ms, q.seq, q.exit_code"
)
# A job new to its queue: its row (Queued, or Finished at once when a successful result is cached), its
# definition and its namespace, in one round trip. Nothing is written when the queue already has the job.
_SUBMIT_NEW = f"""
WITH cached AS (SELECT exit_code FROM results WHERE job_id = $2 AND reason = $3),
inserted AS (
    INSERT INTO queue_jobs (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms, exit_code)
    SELECT $1, $2,
        CASE WHEN EXISTS (SELECT 1 FROM cached) THEN $4 ELSE $5 END,
        CASE WHEN EXISTS (SELECT 1 FROM cached) THEN $3 END,
        $6, $7, $7, $8, (SELECT exit_code FROM cached)
    ON CONFLICT (queue, job_id) DO NOTHING
    RETURNING {_ROW_COLUMNS}
),
saved AS (
    INSERT INTO jobs (id, definition, created_ms, expires_ms) SELECT job_id, $9, $7, $8 FROM inserted
    ON CONFLICT (id) DO UPDATE SET expires_ms = GREATEST(jobs.expires_ms, excluded.expires_ms)
),
named AS (
    INSERT INTO namespaces (queue, job_id, namespace, added_ms) SELECT queue, job_id, $10, $7 FROM inserted
    ON CONFLICT DO NOTHING
)
SELECT * FROM inserted
"""
# The current attempt's row finished and its result kept, in one round trip; nothing when the attempt is stale.
_FINISH = f"""
WITH finished AS (
    UPDATE queue_jobs SET state = $1, reason = $2, lease_until_ms = NULL, updated_ms = $3, exit_code = $10
    WHERE queue = $4 AND job_id = $5 AND state = $6 AND attempt = $7
    RETURNING {_ROW_COLUMNS}
),
kept AS (
    INSERT INTO results (job_id, reason, result, finished_ms, expires_ms, exit_code)
    SELECT job_id, $2, $8, $3, $9, $10 FROM finished
    ON CONFLICT (job_id) DO UPDATE SET reason = excluded.reason, result = excluded.result,
        finished_ms = excluded.finished_ms, expires_ms = excluded.expires_ms, exit_code = excluded.exit_code
)
SELECT * FROM finished
"""
# Any fixed 64-bit number: the advisory lock every replica takes while it applies migrations.
MIGRATION_LOCK_KEY = 0x6173_6D61_6E5F_6462  # "asman_db"
_RETRIES = 5
_COMPACT_AFTER = 64  # count deltas per queue before counts() folds them

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
)
# Wrong database or credentials: trying again cannot help.
_SETUP_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
)
_RACE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)


def _row(record: Any, namespaces: tuple[str, ...] = ()) -> JobRow:
    return JobRow(
        queue=record["queue"],
        job_id=record["job_id"],
        state=JobState(record["state"]),
        reason=FinishedReason(record["reason"]) if record["reason"] else None,
        attempt=record["attempt"],
        worker=record["worker"],
        queued_ms=record["queued_ms"],
        updated_ms=record["updated_ms"],
        seq=record["seq"],
        namespaces=namespaces,
        exit_code=record["exit_code"],
    )


def _transition(record: Any) -> Transition:
    job = _row(record)
    return Transition(
        job.queue, job.job_id, job.state, job.reason, job.attempt, job.worker, job.updated_ms, job.exit_code
    )


def _affected(status: str) -> int:
    """Rows touched, from a command status such as 'INSERT 0 1' or 'DELETE 3'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def split_url(url: str) -> tuple[str, int, str]:
    """(dsn for asyncpg, pool size, the URL without its password for messages)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    pool_size = 10
    kept = []
    for key, value in query:
        if key == "pool_size":
            pool_size = max(1, int(value))
        else:
            kept.append((key, value))
    dsn = urlunsplit(parts._replace(query=urlencode(kept)))
    host = parts.hostname or "localhost"
    safe = f"{parts.scheme}://{parts.username + '@' if parts.username else ''}{host}:{parts.port or 5432}{parts.path}"
    return dsn, pool_size, safe


async def keep_session(conn: Conn) -> None:
    """The pool's reset of a released connection, minus the default reset query (RESET ALL, UNLISTEN *, ...)
    that costs a round trip per release: pooled connections here change no session state, and the pool still
    ends any open transaction."""


class PostgresStore:
    def __init__(self, url: str) -> None:
        self._dsn, self._pool_size, self._where = split_url(url)
        self._pool: Any = None  # asyncpg.Pool

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        return BackendUnavailable(
            f"PostgreSQL at {self._where} is unavailable ({type(exc).__name__}: {exc}). Check that the server is"
            " running and reachable from this replica, and that ASMAN_DATABASE_URL has the right host, port,"
            " user, password and database."
        )

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run fn in one transaction. Retried from the start when it lost a deadlock or serialization race, and
        when the pooled connection turned out dead before fn ran (the server restarted or cut it): then nothing
        was executed and a fresh connection may try. A connection lost while fn ran is not retried, since its
        commit may or may not have happened: the caller gets BackendUnavailable."""
        pool = self._pool
        if pool is None:
            raise BackendUnavailable("the PostgreSQL store is not open")
        for attempt in range(_RETRIES):
            started = False
            try:
                async with pool.acquire() as conn, conn.transaction():
                    started = True
                    return await fn(conn)
            except _RACE_ERRORS:
                if attempt == _RETRIES - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
            except (
                *_CONNECTION_ERRORS,
                asyncpg.InterfaceError,
                asyncpg.exceptions.InternalClientError,
            ) as exc:
                if not started and attempt < _RETRIES - 1 and not isinstance(exc, _SETUP_ERRORS):
                    # Its idle siblings are likely dead too: have the pool replace them all.
                    log.info("a pooled PostgreSQL connection was dead (%s); retrying on a fresh one", exc)
                    await pool.expire_connections()
                    await asyncio.sleep(0.05 * attempt)
                    continue
                if isinstance(exc, (*_CONNECTION_ERRORS, asyncpg.exceptions.InternalClientError)) or (
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
        except _CONNECTION_ERRORS as exc:
            await self.close()
            raise self._unavailable(exc) from exc

    @staticmethod
    async def _migrate(conn: Conn) -> None:
        # Session-level advisory lock: a replica starting at the same time waits here until the first is done,
        # then finds every migration applied.
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, script in migration_scripts("postgres"):
                if version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(script)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                log.info("applied PostgreSQL migration %04d", version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except _CONNECTION_ERRORS:
                pool.terminate()

    async def ping(self) -> None:
        await self._run(lambda conn: conn.fetchval("SELECT 1"))

    # -- helpers used inside transactions ---------------------------------------------------------------------

    @staticmethod
    async def _namespaces(conn: Conn, queue: str, job_id: str) -> tuple[str, ...]:
        rows = await conn.fetch(
            "SELECT namespace FROM namespaces WHERE queue = $1 AND job_id = $2 ORDER BY added_ms, namespace",
            queue,
            job_id,
        )
        return tuple(row["namespace"] for row in rows)

    @staticmethod
    async def _get(conn: Conn, queue: str, job_id: str, lock: bool = False) -> Any:
        return await conn.fetchrow(
            f"SELECT {_ROW_COLUMNS} FROM queue_jobs WHERE queue = $1 AND job_id = $2"
            + (" FOR UPDATE" if lock else ""),
            queue,
            job_id,
        )

    @staticmethod
    async def _finish_row(conn: Conn, seq: int, reason: FinishedReason, now_ms: int) -> Any:
        return await conn.fetchrow(
            "UPDATE queue_jobs SET state = $1, reason = $2, lease_until_ms = NULL, updated_ms = $3, exit_code = NULL"
            " WHERE seq = $4"
            f" RETURNING {_ROW_COLUMNS}",
            _FINISHED,
            reason.value,
            now_ms,
            seq,
        )

    @staticmethod
    async def _save_definition(
        conn: Conn, job_id: str, definition_text: str, now_ms: int, expires_ms: int
    ) -> None:
        await conn.execute(
            "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id) DO UPDATE SET expires_ms = GREATEST(jobs.expires_ms, excluded.expires_ms)",
            job_id,
            definition_text,
            now_ms,
            expires_ms,
        )

    async def _replace_older(
        self, conn: Conn, queue: str, job_id: str, namespace: str, now_ms: int
    ) -> tuple[list[Transition], list[Transition]]:
        """In a non-default namespace the newest job wins: older unfinished jobs lose this namespace."""
        transitions: list[Transition] = []
        stop: list[Transition] = []
        older = await conn.fetch(
            "SELECT q.seq, q.job_id, q.state FROM namespaces n JOIN queue_jobs q"
            " ON q.queue = n.queue AND q.job_id = n.job_id"
            " WHERE n.queue = $1 AND n.namespace = $2 AND n.job_id <> $3 AND q.state IN ($4, $5)"
            " ORDER BY q.seq FOR UPDATE OF q",
            queue,
            namespace,
            job_id,
            _QUEUED,
            _RUNNING,
        )
        for record in older:
            other_id = record["job_id"]
            await conn.execute(
                "DELETE FROM namespaces WHERE queue = $1 AND job_id = $2 AND namespace = $3",
                queue,
                other_id,
                namespace,
            )
            if await conn.fetchval(
                "SELECT 1 FROM namespaces WHERE queue = $1 AND job_id = $2 LIMIT 1", queue, other_id
            ):
                continue
            row = await self._finish_row(conn, record["seq"], FinishedReason.JOB_REPLACED_BY_CLIENT, now_ms)
            finished = _transition(row)
            transitions.append(finished)
            if record["state"] == _RUNNING:
                stop.append(finished)
        return transitions, stop

    # -- queue verbs ------------------------------------------------------------------------------------------

    async def submit(
        self,
        queue: str,
        job_id: str,
        definition: dict[str, Any],
        namespace: str,
        now_ms: int,
        expires_ms: int,
    ) -> SubmitOutcome:
        definition_text = orjson.dumps(definition).decode()
        gpus = requested_gpus(definition)

        async def _submit(conn: Conn) -> SubmitOutcome:
            transitions: list[Transition] = []
            # The common case, a job new to this queue, in one statement; else the row is there to look at.
            row = await conn.fetchrow(
                _SUBMIT_NEW,
                queue,
                job_id,
                _SUCCESS,
                _FINISHED,
                _QUEUED,
                gpus,
                now_ms,
                expires_ms,
                definition_text,
                namespace,
            )
            if row is not None:
                transitions.append(_transition(row))
                stop: list[Transition] = []
                if namespace != DEFAULT_NAMESPACE:
                    replaced, stop = await self._replace_older(conn, queue, job_id, namespace, now_ms)
                    transitions.extend(replaced)
                return SubmitOutcome(_row(row, (namespace,)), transitions, stop)
            row = await self._get(conn, queue, job_id, lock=True)
            if row is None:  # expired and swept a moment ago: the caller's retry finds it new
                raise asyncpg.exceptions.SerializationError("the job row vanished during submit")
            row = await self._resubmit(conn, row, definition_text, now_ms, expires_ms, transitions)
            added = _affected(
                await conn.execute(
                    "INSERT INTO namespaces (queue, job_id, namespace, added_ms) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT DO NOTHING",
                    queue,
                    job_id,
                    namespace,
                    now_ms,
                )
            )
            stop = []
            # A job new to this namespace, or queued again in it, is its newest job.
            if (added or transitions) and namespace != DEFAULT_NAMESPACE:
                replaced, stop = await self._replace_older(conn, queue, job_id, namespace, now_ms)
                transitions.extend(replaced)
            return SubmitOutcome(_row(row, await self._namespaces(conn, queue, job_id)), transitions, stop)

        return await self._run(_submit)

    async def _resubmit(
        self,
        conn: Conn,
        row: Any,
        definition_text: str,
        now_ms: int,
        expires_ms: int,
        transitions: list[Transition],
    ) -> Any:
        """An existing row: kept when Queued, Running or a cached Success, else queued again. Returns the row."""
        if row["state"] in (_QUEUED, _RUNNING):
            return row
        # A cached success stands only while its result does (a delete in another queue drops it).
        if (
            row["state"] == _FINISHED
            and row["reason"] == _SUCCESS
            and await conn.fetchval("SELECT 1 FROM results WHERE job_id = $1", row["job_id"]) is not None
        ):
            return row
        # The last run failed, was cancelled or deleted: run it again.
        await self._save_definition(conn, row["job_id"], definition_text, now_ms, expires_ms)
        await conn.execute("DELETE FROM results WHERE job_id = $1 AND reason <> $2", row["job_id"], _SUCCESS)
        requeued = await conn.fetchrow(
            "UPDATE queue_jobs SET state = $1, reason = NULL, worker = NULL, lease_until_ms = NULL,"
            " exit_code = NULL, failures = 0, updated_ms = $2, expires_ms = GREATEST(expires_ms, $3) WHERE seq = $4"
            f" RETURNING {_ROW_COLUMNS}",
            _QUEUED,
            now_ms,
            expires_ms,
            row["seq"],
        )
        transitions.append(_transition(requeued))
        return requeued

    async def claim(
        self, queue: str, worker_id: str, limit: int, max_gpus: int, lease_until_ms: int, now_ms: int
    ) -> list[Assignment]:
        async def _claim(conn: Conn) -> list[Assignment]:
            # SKIP LOCKED: a row another replica is claiming right now is passed over, never handed out twice.
            rows = await conn.fetch(
                "WITH picked AS (SELECT seq FROM queue_jobs WHERE queue = $1 AND state = $2 AND gpus <= $3"
                " ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)"
                " UPDATE queue_jobs q SET state = $5, attempt = q.attempt + 1, worker = $6, lease_until_ms = $7,"
                " updated_ms = $8 FROM picked WHERE q.seq = picked.seq"
                " RETURNING q.seq, q.job_id, q.attempt, (SELECT definition FROM jobs WHERE jobs.id = q.job_id)",
                queue,
                _QUEUED,
                max_gpus,
                limit,
                _RUNNING,
                worker_id,
                lease_until_ms,
                now_ms,
            )
            return [
                Assignment(
                    queue, row["job_id"], row["attempt"], orjson.loads(row["definition"] or "{}"), now_ms
                )
                for row in sorted(rows, key=lambda row: int(row["seq"]))
            ]

        if limit <= 0:
            return []
        return await self._run(_claim)

    async def renew(
        self, queue: str, worker_id: str, attempts: list[tuple[str, int]], lease_until_ms: int
    ) -> list[tuple[str, int]]:
        async def _renew(conn: Conn) -> list[tuple[str, int]]:
            rows = await conn.fetch(
                "UPDATE queue_jobs q SET lease_until_ms = $1, worker = $2"
                " FROM unnest($4::text[], $5::int[]) AS a(job_id, attempt)"
                " WHERE q.queue = $3 AND q.job_id = a.job_id AND q.state = $6 AND q.attempt = a.attempt"
                " RETURNING q.job_id, q.attempt",
                lease_until_ms,
                worker_id,
                queue,
                [job for job, _ in attempts],
                [n for _, n in attempts],
                _RUNNING,
            )
            current = {(row["job_id"], row["attempt"]) for row in rows}
            return [pair for pair in attempts if pair not in current]

        if not attempts:
            return []
        return await self._run(_renew)

    async def is_current(self, queue: str, job_id: str, attempt: int) -> bool:
        async def _current(conn: Conn) -> bool:
            found = await conn.fetchval(
                "SELECT 1 FROM queue_jobs WHERE queue = $1 AND job_id = $2 AND state = $3 AND attempt = $4",
                queue,
                job_id,
                _RUNNING,
                attempt,
            )
            return found is not None

        return await self._run(_current)

    async def finish(
        self,
        queue: str,
        job_id: str,
        attempt: int,
        reason: FinishedReason,
        result: dict[str, Any],
        now_ms: int,
        expires_ms: int,
    ) -> Transition | None:
        result_text = orjson.dumps(result).decode()

        async def _finish(conn: Conn) -> Transition | None:
            row = await conn.fetchrow(
                _FINISH,
                _FINISHED,
                reason.value,
                now_ms,
                queue,
                job_id,
                _RUNNING,
                attempt,
                result_text,
                expires_ms,
                exit_code_of(result),
            )
            return _transition(row) if row is not None else None

        return await self._run(_finish)

    async def release(self, queue: str, job_id: str, attempt: int, now_ms: int) -> Transition | None:
        async def _release(conn: Conn) -> Transition | None:
            row = await conn.fetchrow(
                "UPDATE queue_jobs SET state = $1, worker = NULL, lease_until_ms = NULL, updated_ms = $2"
                f" WHERE queue = $3 AND job_id = $4 AND state = $5 AND attempt = $6 RETURNING {_ROW_COLUMNS}",
                _QUEUED,
                now_ms,
                queue,
                job_id,
                _RUNNING,
                attempt,
            )
            return _transition(row) if row else None

        return await self._run(_release)

    async def expire_leases(self, now_ms: int, retry_budget: int) -> list[Transition]:
        async def _expire(conn: Conn) -> list[Transition]:
            # Every replica runs this loop; SKIP LOCKED keeps two of them from requeueing one lease twice.
            rows = await conn.fetch(
                "WITH expired AS (SELECT seq FROM queue_jobs WHERE state = $1 AND lease_until_ms < $2"
                " ORDER BY seq FOR UPDATE SKIP LOCKED)"
                " UPDATE queue_jobs q SET failures = q.failures + 1,"
                " state = CASE WHEN q.failures + 1 >= $3 THEN $4 ELSE $5 END,"
                " reason = CASE WHEN q.failures + 1 >= $3 THEN $6 ELSE q.reason END,"
                " worker = CASE WHEN q.failures + 1 >= $3 THEN q.worker ELSE NULL END,"
                " lease_until_ms = NULL, updated_ms = $2"
                f" FROM expired WHERE q.seq = expired.seq RETURNING {_Q_ROW_COLUMNS}",
                _RUNNING,
                now_ms,
                retry_budget,
                _FINISHED,
                _QUEUED,
                FinishedReason.WORKER_LOST.value,
            )
            return [_transition(row) for row in sorted(rows, key=lambda row: int(row["seq"]))]

        return await self._run(_expire)

    async def cancel(self, queue: str, job_id: str, namespace: str, now_ms: int) -> Transition | None:
        async def _cancel(conn: Conn) -> Transition | None:
            row = await self._get(conn, queue, job_id, lock=True)
            if row is None or row["state"] not in (_QUEUED, _RUNNING):
                return None
            if namespace == ALL_NAMESPACES:
                await conn.execute("DELETE FROM namespaces WHERE queue = $1 AND job_id = $2", queue, job_id)
            else:
                await conn.execute(
                    "DELETE FROM namespaces WHERE queue = $1 AND job_id = $2 AND namespace = $3",
                    queue,
                    job_id,
                    namespace,
                )
            if await self._namespaces(conn, queue, job_id):
                return None
            return _transition(await self._finish_row(conn, row["seq"], FinishedReason.CANCELLED, now_ms))

        return await self._run(_cancel)

    async def delete(self, queue: str, job_id: str, now_ms: int) -> Transition | None:
        async def _delete(conn: Conn) -> Transition | None:
            row = await self._get(conn, queue, job_id, lock=True)
            if row is None:
                return None
            await conn.execute("DELETE FROM namespaces WHERE queue = $1 AND job_id = $2", queue, job_id)
            await conn.execute("DELETE FROM results WHERE job_id = $1", job_id)
            await conn.execute("DELETE FROM logs WHERE job_id = $1", job_id)
            finished = await self._finish_row(conn, row["seq"], FinishedReason.DELETED, now_ms)
            # Report the attempt and worker the job had, so a running container can be stopped.
            return Transition(
                queue,
                job_id,
                JobState.FINISHED,
                FinishedReason.DELETED,
                row["attempt"],
                row["worker"],
                finished["updated_ms"],
            )

        return await self._run(_delete)

    # -- logs -------------------------------------------------------------------------------------------------

    async def append_logs(
        self, job_id: str, attempt: int, step: str, logs: list[list[Any]], expires_ms: int
    ) -> None:
        text = orjson.dumps(logs).decode()
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO logs (job_id, attempt, step, lines, expires_ms) VALUES ($1, $2, $3, $4, $5)",
                job_id,
                attempt,
                step,
                text,
                expires_ms,
            )
        )

    async def read_logs(self, job_id: str, step: str, since: int) -> tuple[list[list[Any]], int]:
        async def _read(conn: Conn) -> tuple[list[list[Any]], int]:
            rows = await conn.fetch(
                "SELECT lines FROM logs WHERE job_id = $1 AND step = $2 AND attempt ="
                " (SELECT MAX(attempt) FROM logs WHERE job_id = $1 AND step = $2) ORDER BY id",
                job_id,
                step,
            )
            lines: list[list[Any]] = [line for row in rows for line in orjson.loads(row["lines"])]
            return lines[since:], len(lines)

        return await self._run(_read)

    # -- reads ------------------------------------------------------------------------------------------------

    async def get_job(self, queue: str, job_id: str) -> JobRow | None:
        async def _get(conn: Conn) -> JobRow | None:
            row = await self._get(conn, queue, job_id)
            return _row(row, await self._namespaces(conn, queue, job_id)) if row else None

        return await self._run(_get)

    async def get_definition(self, job_id: str) -> dict[str, Any] | None:
        text = await self._run(
            lambda conn: conn.fetchval("SELECT definition FROM jobs WHERE id = $1", job_id)
        )
        return orjson.loads(text) if text is not None else None

    async def get_result(self, job_id: str) -> dict[str, Any] | None:
        text = await self._run(
            lambda conn: conn.fetchval("SELECT result FROM results WHERE job_id = $1", job_id)
        )
        return orjson.loads(text) if text is not None else None

    async def list_jobs(self, queue: str, limit: int, cursor: int | None, state: JobState | None) -> Page:
        async def _list(conn: Conn) -> Page:
            where = ["queue = $1"]
            params: list[Any] = [queue]
            if state is not None:
                params.append(state.value)
                where.append(f"state = ${len(params)}")
            if cursor is not None:
                params.append(cursor)
                where.append(f"seq < ${len(params)}")
            params.append(limit + 1)
            rows = await conn.fetch(
                f"SELECT {_ROW_COLUMNS} FROM queue_jobs WHERE {' AND '.join(where)} ORDER BY seq DESC"
                f" LIMIT ${len(params)}",
                *params,
            )
            more = len(rows) > limit
            rows = rows[:limit]
            namespaces: dict[str, list[str]] = {}
            if rows:
                for record in await conn.fetch(
                    "SELECT job_id, namespace FROM namespaces WHERE queue = $1 AND job_id = ANY($2::text[])"
                    " ORDER BY added_ms, namespace",
                    queue,
                    [row["job_id"] for row in rows],
                ):
                    namespaces.setdefault(record["job_id"], []).append(record["namespace"])
            jobs = [_row(row, tuple(namespaces.get(row["job_id"], ()))) for row in rows]
            return Page(jobs, rows[-1]["seq"] if more else None)

        return await self._run(_list)

    async def counts(self, queue: str) -> dict[str, int]:
        async def _counts(conn: Conn) -> dict[str, int]:
            rows = await conn.fetch(
                "SELECT state, SUM(n)::bigint AS n, COUNT(*) AS deltas FROM queue_counts WHERE queue = $1"
                " GROUP BY state",
                queue,
            )
            if sum(row["deltas"] for row in rows) > _COMPACT_AFTER:
                await self._compact_counts(conn, queue)
            return {row["state"]: row["n"] for row in rows if row["n"] > 0}

        return await self._run(_counts)

    @staticmethod
    async def _compact_counts(conn: Conn, queue: str) -> None:
        """Fold a queue's count deltas into one row per state (skipped if another replica is at it)."""
        if not await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('asman.queue_counts:' || $1, 0))", queue
        ):
            return
        await conn.execute(
            "WITH gone AS (DELETE FROM queue_counts WHERE queue = $1 RETURNING state, n)"
            " INSERT INTO queue_counts (queue, state, n) SELECT $1, state, SUM(n) FROM gone GROUP BY state"
            " HAVING SUM(n) <> 0",
            queue,
        )

    # -- workers ----------------------------------------------------------------------------------------------

    async def upsert_worker(self, row: WorkerRow) -> None:
        info = orjson.dumps(row.info).decode()
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO workers (queue, worker_id, replica, info, seen_ms) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (queue, worker_id, replica) DO UPDATE SET info = excluded.info,"
                " seen_ms = excluded.seen_ms",
                row.queue,
                row.worker_id,
                row.replica,
                info,
                row.seen_ms,
            )
        )

    async def remove_worker(self, queue: str, worker_id: str, replica: str) -> None:
        await self._run(
            lambda conn: conn.execute(
                "DELETE FROM workers WHERE queue = $1 AND worker_id = $2 AND replica = $3",
                queue,
                worker_id,
                replica,
            )
        )

    async def list_workers(self, queue: str, seen_after_ms: int) -> list[WorkerRow]:
        rows = await self._run(
            lambda conn: conn.fetch(
                "SELECT queue, worker_id, replica, info, seen_ms FROM workers"
                " WHERE queue = $1 AND seen_ms >= $2 ORDER BY worker_id",
                queue,
                seen_after_ms,
            )
        )
        return [
            WorkerRow(
                row["queue"],
                row["worker_id"],
                row["replica"],
                orjson.loads(row["info"]),
                row["seen_ms"],
            )
            for row in rows
        ]

    async def sweep(self, now_ms: int) -> int:
        async def _sweep(conn: Conn) -> int:
            removed = _affected(
                await conn.execute(
                    "DELETE FROM namespaces n USING queue_jobs q WHERE q.queue = n.queue AND q.job_id = n.job_id"
                    " AND q.expires_ms < $1",
                    now_ms,
                )
            )
            for table in ("queue_jobs", "jobs", "results", "logs"):
                removed += _affected(await conn.execute(f"DELETE FROM {table} WHERE expires_ms < $1", now_ms))
            await conn.execute("DELETE FROM workers WHERE seen_ms < $1", now_ms - 86_400_000)
            for queue in await conn.fetch(
                "SELECT queue FROM queue_counts GROUP BY queue HAVING COUNT(*) > $1", _COMPACT_AFTER // 4
            ):
                await self._compact_counts(conn, queue["queue"])
            return removed

        return await self._run(_sweep)
