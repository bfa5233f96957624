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
import secrets
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from asman.core.definition import DEFAULT_NAMESPACE
from asman.core.errors import BackendUnavailable
from asman.core.events import StateChanged
from asman.core.states import JobState, Verb, transition
from asman.core.trust import Trust
from asman.core.webhooks import Hooks
from asman.store import migrate
from asman.store.base import Assignment, Submission, SubmitOutcome
from asman.store.sql import Program, ProgramFactory, Queries, state_changed
from asman.store.verbs import QUEUED, RUNNING, SqlStore

T = TypeVar("T")

log = logging.getLogger(__name__)

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
# How many recently submitted job ids the reader's fast path knows (about 100 bytes each).
_SUBMITTED_KEPT = 65_536


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


class SqliteStore(SqlStore):
    def __init__(self, path: Path, synchronous: str = "normal") -> None:
        self.q = Queries("sqlite")
        self._path = path
        # NORMAL in WAL mode: a commit survives the process being killed, and a power loss may lose the last
        # commits (never corrupts). FULL syncs the log on every commit: power-loss durable, slower.
        self._synchronous = "FULL" if synchronous == "full" else "NORMAL"
        self._conn: sqlite3.Connection | None = None
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._wal = Path(f"{path}-wal")
        self._wal_pages = 0  # as the checkpointer last saw it
        self._checkpointer_failed = False
        self._stop_checkpoints = threading.Event()
        # Read on the caller's thread (the event loop): a submit that changes nothing is answered from one
        # indexed read without waiting for the writer (WAL readers never wait for it), as the minimal reference
        # answers its repeats. Opened on first use, after migrations; the lock guards it from other loops.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        # Job ids submitted here lately: only those are looked for by the reader first. A read that finds no
        # job costs ~10 us on the event loop (more while the writer commits: the reader's cache starts over),
        # a fifth of a new job's submit; a job missing from here only takes the writer's path, as before.
        self._submitted: set[str] = set()

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
                    self._execute_batch(batch)
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

    def _execute_batch(self, batch: list[_Work]) -> None:
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
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        conn.execute(migrate.CREATE_LEDGER)
        for migration in migrate.plan("sqlite", _applied(conn)).pending:
            conn.executescript(
                f"BEGIN;\n{migration.sql}\nINSERT INTO schema_migrations VALUES ({migration.version});\nCOMMIT;"
            )
            log.info("applied SQLite migration %04d %s", migration.version, migration.name)
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

    async def submit(
        self,
        queue: str,
        job_id: str,
        definition: dict[str, Any],
        namespace: str,
        now_ms: int,
        expires_ms: int,
        hooks: Hooks | None = None,
        domain: str | None = None,
    ) -> SubmitOutcome:
        settled = self._settled(queue, job_id, namespace, Trust.of(queue, domain)) if hooks is None else None
        if settled is not None:
            return settled
        outcome = await super().submit(
            queue, job_id, definition, namespace, now_ms, expires_ms, hooks, domain
        )
        self._remember([job_id])
        return outcome

    async def submit_many(
        self, queue: str, subs: Sequence[Submission], now_ms: int, expires_ms: int, domain: str | None = None
    ) -> list[SubmitOutcome]:
        settled: dict[int, SubmitOutcome] = {}
        # In the default namespace a submit changes no other job, so those that change nothing answer as if
        # they ran before the rest of the batch (elsewhere a newer job may take a namespace from an older one).
        if all(sub.namespace == DEFAULT_NAMESPACE and sub.hooks is None for sub in subs):
            trust = Trust.of(queue, domain)
            for index, sub in enumerate(subs):
                outcome = self._settled(queue, sub.job_id, sub.namespace, trust)
                if outcome is not None:
                    settled[index] = outcome
        rest = [sub for index, sub in enumerate(subs) if index not in settled]
        written = iter(await super().submit_many(queue, rest, now_ms, expires_ms, domain) if rest else [])
        self._remember([sub.job_id for sub in rest])
        return [settled[index] if index in settled else next(written) for index in range(len(subs))]

    def _settled(self, queue: str, job_id: str, namespace: str, trust: Trust) -> SubmitOutcome | None:
        """A submit without webhooks of a job submitted here lately, answered by the reader when it changes
        nothing (`_resubmitted`); None when the writer must decide."""
        if job_id not in self._submitted:
            return None
        return self._read_now(lambda: self._resubmitted(queue, job_id, namespace, trust))

    def _remember(self, job_ids: list[str]) -> None:
        if len(self._submitted) + len(job_ids) > _SUBMITTED_KEPT:
            self._submitted.clear()
        self._submitted.update(job_ids[-_SUBMITTED_KEPT:])

    def _read_now(self, program: ProgramFactory[T | None]) -> T | None:
        """A read-only program run at once on the caller's thread; None when it had nothing to answer, or the
        store is not open, or SQLite could not read without waiting (the writer answers then)."""
        if self._thread is None or self._checkpointer is None:  # not open, or still opening
            return None
        with self._reader_lock:
            try:
                if self._reader is None:
                    self._reader = self._open_reader()
                return _drive(self._reader, program())
            except sqlite3.Error as exc:  # busy, or a fault the writer will report properly
                log.debug("SQLite read of %s failed (%s); the writer answers", self._path, exc)
                return None

    def _open_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            f"{self._path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute("PRAGMA query_only=1")
        conn.execute("PRAGMA busy_timeout=0")  # never block the event loop: the writer answers instead
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB // 4}")
        return conn

    async def close(self) -> None:
        with self._reader_lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()  # before the writer's: the last connection out checkpoints the log and removes it
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

    # -- how programs run -------------------------------------------------------------------------------------

    async def _execute(self, program: ProgramFactory[T]) -> T:
        return await self._run(lambda conn: _drive(conn, program()))

    # -- this dialect's own verbs -----------------------------------------------------------------------------

    async def claim(
        self, queue: str, worker_id: str, limit: int, max_gpus: int, lease_until_ms: int, now_ms: int
    ) -> list[Assignment]:
        # The single writer thread makes pick-then-update atomic: no row locks needed.
        def _claim(conn: sqlite3.Connection) -> list[Assignment]:
            picked = conn.execute(self.q.claimable, (queue, QUEUED, max_gpus, limit)).fetchall()
            assignments = []
            for (seq,) in picked:
                token = secrets.token_urlsafe(16)
                job_id, attempt = conn.execute(
                    self.q.claim_row, (RUNNING, worker_id, lease_until_ms, now_ms, token, seq)
                ).fetchone()
                # A separate lookup by key: a correlated subquery in RETURNING makes SQLite scan all of `jobs`.
                found = conn.execute(self.q.get_definition, (job_id,)).fetchone()
                definition = orjson.loads(found[0]) if found else {}
                assignments.append(Assignment(queue, job_id, attempt, definition, now_ms, worker_id, token))
            return assignments

        return await self._run(_claim) if limit > 0 else []

    async def expire_leases(self, now_ms: int, retry_budget: int) -> list[StateChanged]:
        def _expire(conn: sqlite3.Connection) -> list[StateChanged]:
            changes = []
            for seq, failures in conn.execute(self.q.expired_leases, (RUNNING, now_ms)).fetchall():
                state, reason = transition(
                    JobState.RUNNING, Verb.EXPIRE, budget_spent=failures + 1 >= retry_budget
                )
                if reason is None:
                    row = conn.execute(self.q.requeue_lease, (state.value, now_ms, seq)).fetchone()
                else:  # the worker is kept, for the record
                    conn.execute(self.q.count_failure, (seq,))
                    row = _drive(conn, self._end(seq, reason, now_ms))
                changes.append(state_changed(row))
            return changes

        return await self._run(_expire)

    async def counts(self, queue: str) -> dict[str, int]:
        found = await self._run(lambda conn: conn.execute(self.q.counts, (queue,)).fetchall())
        return {state: n for state, n in found if n > 0}


def _drive(conn: sqlite3.Connection, program: Program[T]) -> T:
    """Run a program's queries on a connection: the writer thread's, in the transaction already open, or the
    event loop's reader."""
    answer: Any = None
    try:
        while True:
            query = program.send(answer)
            cursor = conn.execute(query.sql, query.params)
            if query.mode == "one":
                answer = cursor.fetchone()
                cursor.close()  # resets the statement, which would otherwise hold its read snapshot open
            elif query.mode == "all":
                answer = cursor.fetchall()
            elif query.mode == "value":
                found = cursor.fetchone()
                cursor.close()
                answer = found[0] if found is not None else None
            else:
                answer = cursor.rowcount
    except StopIteration as done:
        result: T = done.value
        return result


def _applied(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute(migrate.READ_LEDGER)]


def applied_migrations(path: Path) -> list[int]:
    """The migrations applied to the database at `path`, read without changing it (none if there is none)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone() is None:
            return []
        return _applied(conn)
    finally:
        conn.close()
