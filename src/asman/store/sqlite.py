"""SQLite store: the embedded default. WAL mode, one connection owned by one thread.

SQLite allows one writer at a time, so every operation runs as a short transaction on a single dedicated
thread: the event loop never blocks on the database, and claims need no row locks (the PostgreSQL store
uses FOR UPDATE SKIP LOCKED for the same guarantee).

Group commit: operations that queue up while the thread is busy run together, in one transaction with a
savepoint each, and are answered together. One commit and one wake-up of the event loop then serve a whole
burst of submits, claims and results. Each operation still sees the effects of the ones before it, fails
alone (its savepoint is rolled back) and is answered only once its effects are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")

log = logging.getLogger(__name__)

_QUEUED = JobState.QUEUED.value
_RUNNING = JobState.RUNNING.value
_FINISHED = JobState.FINISHED.value
_SUCCESS = FinishedReason.SUCCESS.value
_ROW_COLUMNS = "queue, job_id, state, reason, attempt, worker, queued_ms, updated_ms, seq, exit_code"
# At most this many queued operations share one transaction.
_MAX_BATCH = 64
# Pages of SQLite's cache (negative: KiB): enough for the hot index pages of a store with millions of jobs.
_CACHE_KIB = 32 * 1024
# The write-ahead log is copied back into the database by a checkpointer thread of its own, a few times a
# second while there are writes (SQLite's automatic checkpoint would do it, fsync included, inside some
# unlucky commit every 1000 pages).
_CHECKPOINT_POLL_S = 0.25
# The log starts over only when a write finds all of it copied: under a write load that never pauses the
# checkpointer never quite catches up, so past this many pages the writer finishes the checkpoint itself.
_WAL_LIMIT_PAGES = 16_384


def _row(values: tuple[Any, ...], namespaces: tuple[str, ...] = ()) -> JobRow:
    queue, job_id, state, reason, attempt, worker, queued_ms, updated_ms, seq, exit_code = values
    return JobRow(
        queue=queue,
        job_id=job_id,
        state=JobState(state),
        reason=FinishedReason(reason) if reason else None,
        attempt=attempt,
        worker=worker,
        queued_ms=queued_ms,
        updated_ms=updated_ms,
        seq=seq,
        namespaces=namespaces,
        exit_code=exit_code,
    )


class _Work:
    """One operation for the store's thread: `fn(conn)`, answered through `future` on `loop`."""

    __slots__ = ("fn", "future", "in_transaction", "loop", "outcome", "succeeded")

    def __init__(
        self, fn: Callable[[Any], Any], loop: asyncio.AbstractEventLoop, in_transaction: bool = True
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.in_transaction = in_transaction
        self.outcome: Any = None
        self.succeeded = False


def _answer(batch: list[_Work]) -> None:
    """Runs on the event loop: hand every operation of a batch its result or its error."""
    for work in batch:
        if work.future.done():  # the caller was cancelled meanwhile
            continue
        if work.succeeded:
            work.future.set_result(work.outcome)
        else:
            work.future.set_exception(work.outcome)


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._wal = Path(f"{path}-wal")
        self._wal_pages = 0  # as the checkpointer last saw it
        self._checkpointer_failed = False
        self._stop_checkpoints = threading.Event()

    # -- plumbing ---------------------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[Any], T], in_transaction: bool = True) -> T:
        """Run `fn(connection)` on the store's thread: in a transaction, or as is (open and close)."""
        if self._thread is None:
            raise BackendUnavailable("the SQLite store is not open")
        work = _Work(fn, asyncio.get_running_loop(), in_transaction)
        self._work.put(work)
        result: T = await work.future
        return result

    def _serve(self) -> None:
        """The store's thread: take every operation waiting, run them as one batch, answer them together."""
        while True:
            first = self._work.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._work.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            batch = [work for work in batch if not work.future.cancelled()]
            if batch:
                try:
                    self._execute(batch)
                    self._bound_wal()
                except BaseException as exc:  # never let the store's only thread die: answer with the error
                    log.exception("the SQLite store's thread failed on a batch")
                    for work in batch:
                        if not work.succeeded and work.outcome is None:
                            work.outcome = exc
                loops: dict[asyncio.AbstractEventLoop, list[_Work]] = {}
                for work in batch:
                    loops.setdefault(work.loop, []).append(work)
                for loop, answered in loops.items():
                    # RuntimeError: that event loop is closed, so nobody is waiting any more.
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(_answer, answered)
            if stop:
                return

    def _execute(self, batch: list[_Work]) -> None:
        if len(batch) > 1 and all(work.in_transaction for work in batch):
            try:
                self._group(batch)
                return
            except sqlite3.Error:
                # The database itself failed (disk full, I/O error...): nothing of the batch was committed.
                # Run each operation on its own so each gets exactly the answer it would have had alone.
                pass
        for work in batch:
            try:
                work.outcome = self._transaction(work.fn) if work.in_transaction else work.fn(self._conn)
                work.succeeded = True
            except BaseException as exc:
                work.outcome = exc

    def _bound_wal(self) -> None:
        if self._checkpointer_failed and self._conn is not None:
            self._checkpointer_failed = False
            self._conn.execute("PRAGMA wal_autocheckpoint=1000")  # back to SQLite's own checkpoints
            return
        if self._wal_pages < _WAL_LIMIT_PAGES or self._conn is None:
            return
        self._wal_pages = 0
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.debug("SQLite checkpoint of %s failed: %s", self._path, exc)

    def _group(self, batch: list[_Work]) -> None:
        """Run a batch in one transaction, each operation inside its own savepoint; one commit for all."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for work in batch:
                conn.execute("SAVEPOINT op")
                try:
                    work.outcome = work.fn(conn)
                    work.succeeded = True
                except sqlite3.OperationalError:
                    raise
                except BaseException as exc:
                    conn.execute("ROLLBACK TO op")
                    work.outcome, work.succeeded = exc, False
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except BaseException:
            for work in batch:
                work.outcome, work.succeeded = None, False
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BackendUnavailable("the SQLite store is not open")
        return self._conn

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(
                f"SQLite at {self._path} failed: {exc}. Check free disk space and permissions."
            ) from exc

    def _open_sync(self, _: object = None) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, script in migration_scripts("sqlite"):
            if version in applied:
                continue
            conn.executescript(
                f"BEGIN;\n{script}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;"
            )
        self._conn = conn

    def _checkpoints(self) -> None:
        """Copy the write-ahead log back into the database file while it grows, off the writer's thread.

        PASSIVE checkpoints never block the writer; the writer starts the log over once all of it is copied."""
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning(
                "no checkpointer for %s (%s): SQLite checkpoints inside commits instead", self._path, exc
            )
            self._checkpointer_failed = True
            return
        last_write = 0
        try:
            while not self._stop_checkpoints.wait(_CHECKPOINT_POLL_S):
                try:
                    written = self._wal.stat().st_mtime_ns
                    if written == last_write:
                        continue
                    last_write = written
                    _, pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self._wal_pages = max(0, pages)
                except (OSError, sqlite3.Error) as exc:  # the writer reports real trouble; try again later
                    log.debug("SQLite checkpoint of %s failed: %s", self._path, exc)
        finally:
            conn.close()

    async def open(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="asman-sqlite", daemon=True)
            self._thread.start()
        try:
            await self._run(self._open_sync, in_transaction=False)
        except BaseException:
            await self.close()
            raise
        if self._checkpointer is None:
            self._stop_checkpoints.clear()
            self._checkpointer = threading.Thread(
                target=self._checkpoints, name="asman-sqlite-wal", daemon=True
            )
            self._checkpointer.start()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            self._stop_checkpoints.set()
            await loop.run_in_executor(None, checkpointer.join)
        thread = self._thread
        if thread is None:
            return

        def _close(_: object) -> None:
            if self._conn is not None:
                self._conn.close()  # the last connection out checkpoints the log and removes it
                self._conn = None

        if self._conn is not None:
            await self._run(_close, in_transaction=False)
        self._thread = None
        self._work.put(None)
        await loop.run_in_executor(None, thread.join)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    # -- helpers used inside transactions ---------------------------------------------------------------------

    @staticmethod
    def _namespaces(conn: sqlite3.Connection, queue: str, job_id: str) -> tuple[str, ...]:
        rows = conn.execute(
            "SELECT namespace FROM namespaces WHERE queue = ? AND job_id = ? ORDER BY added_ms",
            (queue, job_id),
        ).fetchall()
        return tuple(row[0] for row in rows)

    @staticmethod
    def _get(conn: sqlite3.Connection, queue: str, job_id: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = conn.execute(
            f"SELECT {_ROW_COLUMNS} FROM queue_jobs WHERE queue = ? AND job_id = ?", (queue, job_id)
        ).fetchone()
        return row

    @staticmethod
    def _finish_row(
        conn: sqlite3.Connection, seq: int, reason: FinishedReason, now_ms: int
    ) -> tuple[Any, ...]:
        row: tuple[Any, ...] = conn.execute(
            "UPDATE queue_jobs SET state = ?, reason = ?, lease_until_ms = NULL, updated_ms = ?, exit_code = NULL"
            f" WHERE seq = ? RETURNING {_ROW_COLUMNS}",
            (_FINISHED, reason.value, now_ms, seq),
        ).fetchone()
        return row

    @staticmethod
    def _transition(row: tuple[Any, ...]) -> Transition:
        job = _row(row)
        return Transition(
            job.queue,
            job.job_id,
            job.state,
            job.reason,
            job.attempt,
            job.worker,
            job.updated_ms,
            job.exit_code,
        )

    def _replace_older(
        self, conn: sqlite3.Connection, queue: str, job_id: str, namespace: str, now_ms: int
    ) -> tuple[list[Transition], list[Transition]]:
        """In a non-default namespace the newest job wins: older unfinished jobs lose this namespace."""
        transitions: list[Transition] = []
        stop: list[Transition] = []
        older = conn.execute(
            "SELECT q.seq, q.job_id, q.state FROM namespaces n JOIN queue_jobs q"
            " ON q.queue = n.queue AND q.job_id = n.job_id"
            " WHERE n.queue = ? AND n.namespace = ? AND n.job_id <> ? AND q.state IN (?, ?)",
            (queue, namespace, job_id, _QUEUED, _RUNNING),
        ).fetchall()
        for seq, other_id, state in older:
            conn.execute(
                "DELETE FROM namespaces WHERE queue = ? AND job_id = ? AND namespace = ?",
                (queue, other_id, namespace),
            )
            if conn.execute(
                "SELECT 1 FROM namespaces WHERE queue = ? AND job_id = ? LIMIT 1", (queue, other_id)
            ).fetchone():
                continue
            finished = self._transition(
                self._finish_row(conn, seq, FinishedReason.JOB_REPLACED_BY_CLIENT, now_ms)
            )
            transitions.append(finished)
            if state == _RUNNING:
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

        def _submit(conn: sqlite3.Connection) -> SubmitOutcome:
            row = self._get(conn, queue, job_id)
            transitions: list[Transition] = []
            # A cached success stands only while its result does (a delete in another queue drops it).
            keeps = row is not None and (
                row[2] in (_QUEUED, _RUNNING)
                or (
                    row[2] == _FINISHED
                    and row[3] == _SUCCESS
                    and conn.execute("SELECT 1 FROM results WHERE job_id = ?", (job_id,)).fetchone()
                    is not None
                )
            )
            if row is None:
                conn.execute(
                    "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET expires_ms = MAX(expires_ms, excluded.expires_ms)",
                    (job_id, definition_text, now_ms, expires_ms),
                )
                cached = conn.execute(
                    "SELECT reason, exit_code FROM results WHERE job_id = ?", (job_id,)
                ).fetchone()
                state, reason, exit_code = (
                    (_FINISHED, _SUCCESS, cached[1])
                    if cached and cached[0] == _SUCCESS
                    else (_QUEUED, None, None)
                )
                row = conn.execute(
                    "INSERT INTO queue_jobs"
                    " (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms, exit_code)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_ROW_COLUMNS}",
                    (queue, job_id, state, reason, gpus, now_ms, now_ms, expires_ms, exit_code),
                ).fetchone()
                transitions.append(self._transition(row))
            elif not keeps:
                # The last run failed, was cancelled or deleted: run it again.
                conn.execute(
                    "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET expires_ms = MAX(expires_ms, excluded.expires_ms)",
                    (job_id, definition_text, now_ms, expires_ms),
                )
                conn.execute("DELETE FROM results WHERE job_id = ? AND reason <> ?", (job_id, _SUCCESS))
                row = conn.execute(
                    "UPDATE queue_jobs SET state = ?, reason = NULL, worker = NULL, lease_until_ms = NULL,"
                    " exit_code = NULL, failures = 0, updated_ms = ?, expires_ms = MAX(expires_ms, ?) WHERE seq = ?"
                    f" RETURNING {_ROW_COLUMNS}",
                    (_QUEUED, now_ms, expires_ms, row[8]),
                ).fetchone()
                transitions.append(self._transition(row))
            added = conn.execute(
                "INSERT OR IGNORE INTO namespaces (queue, job_id, namespace, added_ms) VALUES (?, ?, ?, ?)",
                (queue, job_id, namespace, now_ms),
            ).rowcount
            stop: list[Transition] = []
            # A job new to this namespace, or queued again in it, is its newest job.
            if (added or transitions) and namespace != DEFAULT_NAMESPACE:
                replaced, stop = self._replace_older(conn, queue, job_id, namespace, now_ms)
                transitions.extend(replaced)
            assert row is not None
            return SubmitOutcome(_row(row, self._namespaces(conn, queue, job_id)), transitions, stop)

        return await self._run(_submit)

    async def claim(
        self, queue: str, worker_id: str, limit: int, max_gpus: int, lease_until_ms: int, now_ms: int
    ) -> list[Assignment]:
        def _claim(conn: sqlite3.Connection) -> list[Assignment]:
            picked = conn.execute(
                "SELECT seq FROM queue_jobs WHERE queue = ? AND state = ? AND gpus <= ? ORDER BY seq LIMIT ?",
                (queue, _QUEUED, max_gpus, limit),
            ).fetchall()
            assignments = []
            for (seq,) in picked:
                job_id, attempt = conn.execute(
                    "UPDATE queue_jobs SET state = ?, attempt = attempt + 1, worker = ?, lease_until_ms = ?,"
                    " updated_ms = ? WHERE seq = ? RETURNING job_id, attempt",
                    (_RUNNING, worker_id, lease_until_ms, now_ms, seq),
                ).fetchone()
                # A separate lookup by key: a correlated subquery in RETURNING makes SQLite scan all of `jobs`.
                found = conn.execute("SELECT definition FROM jobs WHERE id = ?", (job_id,)).fetchone()
                definition = found[0] if found else None
                assignments.append(
                    Assignment(queue, job_id, attempt, orjson.loads(definition or "{}"), now_ms)
                )
            return assignments

        return await self._run(_claim)

    async def renew(
        self, queue: str, worker_id: str, attempts: list[tuple[str, int]], lease_until_ms: int
    ) -> list[tuple[str, int]]:
        def _renew(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            stale = []
            for job_id, attempt in attempts:
                updated = conn.execute(
                    "UPDATE queue_jobs SET lease_until_ms = ?, worker = ? WHERE queue = ? AND job_id = ?"
                    " AND state = ? AND attempt = ?",
                    (lease_until_ms, worker_id, queue, job_id, _RUNNING, attempt),
                ).rowcount
                if not updated:
                    stale.append((job_id, attempt))
            return stale

        return await self._run(_renew)

    async def is_current(self, queue: str, job_id: str, attempt: int) -> bool:
        def _current(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "SELECT 1 FROM queue_jobs WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ?",
                    (queue, job_id, _RUNNING, attempt),
                ).fetchone()
                is not None
            )

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
        exit_code = exit_code_of(result)

        def _finish(conn: sqlite3.Connection) -> Transition | None:
            row = conn.execute(
                "UPDATE queue_jobs SET state = ?, reason = ?, lease_until_ms = NULL, updated_ms = ?, exit_code = ?"
                f" WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ? RETURNING {_ROW_COLUMNS}",
                (_FINISHED, reason.value, now_ms, exit_code, queue, job_id, _RUNNING, attempt),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "INSERT INTO results (job_id, reason, result, finished_ms, expires_ms, exit_code)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id) DO UPDATE SET reason = excluded.reason, result = excluded.result,"
                " finished_ms = excluded.finished_ms, expires_ms = excluded.expires_ms, exit_code = excluded.exit_code",
                (job_id, reason.value, orjson.dumps(result).decode(), now_ms, expires_ms, exit_code),
            )
            return self._transition(row)

        return await self._run(_finish)

    async def release(self, queue: str, job_id: str, attempt: int, now_ms: int) -> Transition | None:
        def _release(conn: sqlite3.Connection) -> Transition | None:
            row = conn.execute(
                "UPDATE queue_jobs SET state = ?, worker = NULL, lease_until_ms = NULL, updated_ms = ?"
                f" WHERE queue = ? AND job_id = ? AND state = ? AND attempt = ? RETURNING {_ROW_COLUMNS}",
                (_QUEUED, now_ms, queue, job_id, _RUNNING, attempt),
            ).fetchone()
            return self._transition(row) if row else None

        return await self._run(_release)

    async def expire_leases(self, now_ms: int, retry_budget: int) -> list[Transition]:
        def _expire(conn: sqlite3.Connection) -> list[Transition]:
            expired = conn.execute(
                "SELECT seq, failures FROM queue_jobs WHERE state = ? AND lease_until_ms < ?",
                (_RUNNING, now_ms),
            ).fetchall()
            transitions = []
            for seq, failures in expired:
                if failures + 1 >= retry_budget:
                    conn.execute("UPDATE queue_jobs SET failures = failures + 1 WHERE seq = ?", (seq,))
                    row = self._finish_row(conn, seq, FinishedReason.WORKER_LOST, now_ms)
                else:
                    row = conn.execute(
                        "UPDATE queue_jobs SET state = ?, failures = failures + 1, worker = NULL,"
                        f" lease_until_ms = NULL, updated_ms = ? WHERE seq = ? RETURNING {_ROW_COLUMNS}",
                        (_QUEUED, now_ms, seq),
                    ).fetchone()
                transitions.append(self._transition(row))
            return transitions

        return await self._run(_expire)

    async def cancel(self, queue: str, job_id: str, namespace: str, now_ms: int) -> Transition | None:
        def _cancel(conn: sqlite3.Connection) -> Transition | None:
            row = self._get(conn, queue, job_id)
            if row is None or row[2] not in (_QUEUED, _RUNNING):
                return None
            if namespace == ALL_NAMESPACES:
                conn.execute("DELETE FROM namespaces WHERE queue = ? AND job_id = ?", (queue, job_id))
            else:
                conn.execute(
                    "DELETE FROM namespaces WHERE queue = ? AND job_id = ? AND namespace = ?",
                    (queue, job_id, namespace),
                )
            if self._namespaces(conn, queue, job_id):
                return None
            return self._transition(self._finish_row(conn, row[8], FinishedReason.CANCELLED, now_ms))

        return await self._run(_cancel)

    async def delete(self, queue: str, job_id: str, now_ms: int) -> Transition | None:
        def _delete(conn: sqlite3.Connection) -> Transition | None:
            row = self._get(conn, queue, job_id)
            if row is None:
                return None
            conn.execute("DELETE FROM namespaces WHERE queue = ? AND job_id = ?", (queue, job_id))
            conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM logs WHERE job_id = ?", (job_id,))
            finished = self._finish_row(conn, row[8], FinishedReason.DELETED, now_ms)
            # Report the attempt and worker the job had, so a running container can be stopped.
            return Transition(
                queue, job_id, JobState.FINISHED, FinishedReason.DELETED, row[4], row[5], finished[7]
            )

        return await self._run(_delete)

    # -- logs -------------------------------------------------------------------------------------------------

    async def append_logs(
        self, job_id: str, attempt: int, step: str, logs: list[list[Any]], expires_ms: int
    ) -> None:
        text = orjson.dumps(logs).decode()
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO logs (job_id, attempt, step, lines, expires_ms) VALUES (?, ?, ?, ?, ?)",
                (job_id, attempt, step, text, expires_ms),
            )
        )

    async def read_logs(self, job_id: str, step: str, since: int) -> tuple[list[list[Any]], int]:
        def _read(conn: sqlite3.Connection) -> tuple[list[list[Any]], int]:
            rows = conn.execute(
                "SELECT lines FROM logs WHERE job_id = ? AND step = ? AND attempt ="
                " (SELECT MAX(attempt) FROM logs WHERE job_id = ? AND step = ?) ORDER BY id",
                (job_id, step, job_id, step),
            ).fetchall()
            lines: list[list[Any]] = [line for (text,) in rows for line in orjson.loads(text)]
            return lines[since:], len(lines)

        return await self._run(_read)

    # -- reads ------------------------------------------------------------------------------------------------

    async def get_job(self, queue: str, job_id: str) -> JobRow | None:
        def _get(conn: sqlite3.Connection) -> JobRow | None:
            row = self._get(conn, queue, job_id)
            return _row(row, self._namespaces(conn, queue, job_id)) if row else None

        return await self._run(_get)

    async def get_definition(self, job_id: str) -> dict[str, Any] | None:
        row = await self._run(
            lambda conn: conn.execute("SELECT definition FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        return orjson.loads(row[0]) if row else None

    async def get_result(self, job_id: str) -> dict[str, Any] | None:
        row = await self._run(
            lambda conn: conn.execute("SELECT result FROM results WHERE job_id = ?", (job_id,)).fetchone()
        )
        return orjson.loads(row[0]) if row else None

    async def list_jobs(self, queue: str, limit: int, cursor: int | None, state: JobState | None) -> Page:
        def _list(conn: sqlite3.Connection) -> Page:
            where = ["queue = ?"]
            params: list[Any] = [queue]
            if state is not None:
                where.append("state = ?")
                params.append(state.value)
            if cursor is not None:
                where.append("seq < ?")
                params.append(cursor)
            rows = conn.execute(
                f"SELECT {_ROW_COLUMNS} FROM queue_jobs WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            namespaces: dict[str, list[str]] = {}
            if rows:
                marks = ",".join("?" * len(rows))
                for job_id, namespace in conn.execute(
                    f"SELECT job_id, namespace FROM namespaces WHERE queue = ? AND job_id IN ({marks})",
                    (queue, *(row[1] for row in rows)),
                ):
                    namespaces.setdefault(job_id, []).append(namespace)
            jobs = [_row(row, tuple(namespaces.get(row[1], ()))) for row in rows]
            return Page(jobs, rows[-1][8] if more else None)

        return await self._run(_list)

    async def counts(self, queue: str) -> dict[str, int]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT state, n FROM queue_counts WHERE queue = ?", (queue,)
            ).fetchall()
        )
        return {state: n for state, n in rows if n > 0}

    # -- workers ----------------------------------------------------------------------------------------------

    async def upsert_worker(self, row: WorkerRow) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO workers (queue, worker_id, replica, info, seen_ms) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (queue, worker_id, replica) DO UPDATE SET info = excluded.info,"
                " seen_ms = excluded.seen_ms",
                (row.queue, row.worker_id, row.replica, orjson.dumps(row.info).decode(), row.seen_ms),
            )
        )

    async def remove_worker(self, queue: str, worker_id: str, replica: str) -> None:
        await self._run(
            lambda conn: conn.execute(
                "DELETE FROM workers WHERE queue = ? AND worker_id = ? AND replica = ?",
                (queue, worker_id, replica),
            )
        )

    async def list_workers(self, queue: str, seen_after_ms: int) -> list[WorkerRow]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT queue, worker_id, replica, info, seen_ms FROM workers"
                " WHERE queue = ? AND seen_ms >= ? ORDER BY worker_id",
                (queue, seen_after_ms),
            ).fetchall()
        )
        return [
            WorkerRow(queue, worker_id, replica, orjson.loads(info), seen)
            for queue, worker_id, replica, info, seen in rows
        ]

    async def sweep(self, now_ms: int) -> int:
        def _sweep(conn: sqlite3.Connection) -> int:
            # Driven by the expiry index, so a store of millions of live jobs is not scanned every sweep.
            removed = conn.execute(
                "DELETE FROM namespaces WHERE (queue, job_id) IN"
                " (SELECT queue, job_id FROM queue_jobs WHERE expires_ms < ?)",
                (now_ms,),
            ).rowcount
            for table in ("queue_jobs", "jobs", "results", "logs"):
                removed += conn.execute(f"DELETE FROM {table} WHERE expires_ms < ?", (now_ms,)).rowcount
            conn.execute("DELETE FROM workers WHERE seen_ms < ?", (now_ms - 86_400_000,))
            return removed

        return await self._run(_sweep)
