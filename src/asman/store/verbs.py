"""The store's verbs, written once for SQLite and PostgreSQL.

`SqlStore` holds every verb whose decisions do not depend on the database; each runs as one program (see
`sql.py`) in one transaction. A dialect supplies how programs run (`_execute`) and the few verbs that are truly
its own: claiming and lease expiry (SKIP LOCKED against a single writer), per-queue counts, and the one-statement
fast paths PostgreSQL takes to save round trips.

Webhooks are an outbox: a verb that queues or finishes a job writes the deliveries this causes in its own
transaction (`_keep_hooks`, `_fire_callbacks`), and the server's delivery loop claims and sends them.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson

from asman.core.definition import ALL_NAMESPACES, DEFAULT_NAMESPACE
from asman.core.events import StateChanged
from asman.core.logs import with_newlines
from asman.core.states import STOPS_CONTAINER, UNFINISHED, FinishedReason, JobState, Verb, transition
from asman.core.trust import Trust
from asman.core.webhooks import FINISHED as FINISHED_EVENT
from asman.core.webhooks import QUEUED as QUEUED_EVENT
from asman.core.webhooks import Delivery, Hooks
from asman.store.base import (
    Assignment,
    JobRow,
    LogBatch,
    LogCount,
    Page,
    Report,
    Submission,
    SubmitOutcome,
    WorkerRow,
    exit_code_of,
    requested_gpus,
)
from asman.store.sql import (
    ATTEMPT,
    EXIT_CODE,
    JOB_ID,
    QUEUE,
    REASON,
    SEQ,
    STATE,
    UPDATED,
    WORKER,
    Program,
    ProgramFactory,
    Queries,
    alone,
    count,
    delivery,
    job_row,
    one,
    rows,
    state_changed,
    value,
    worker_row,
)

T = TypeVar("T")

QUEUED = JobState.QUEUED.value
RUNNING = JobState.RUNNING.value
FINISHED = JobState.FINISHED.value
SUCCESS = FinishedReason.SUCCESS.value
# The lowest seq no job has: "no cursor" in a listing.
_NO_CURSOR = 2**62
# Rows per statement of a batch submit: within SQLite's 32,766 parameters at nine a row.
_ROWS_PER_STATEMENT = 1000
# Log batches read for one page of a log.
_PAGE_BATCHES = 8
# Workers unseen this long are forgotten by the sweep.
_WORKER_MEMORY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a submit writes for a job new to its queue."""

    queue: str
    job_id: str
    definition: str  # as JSON text
    gpus: int
    namespace: str
    now_ms: int
    expires_ms: int
    trust: Trust

    def trusted_params(self) -> tuple[Any, ...]:
        """The parameters of the TRUSTED rule (sql.py) for this job's queue."""
        return (self.trust.domain, self.trust.queue)

    def row_params(self) -> tuple[Any, ...]:
        """The queue row's parameters, as both dialects' insert statements take them: Finished at once with
        the kept success's exit code when there is one, else Queued."""
        return (
            self.queue,
            self.job_id,
            FINISHED,
            QUEUED,
            SUCCESS,
            self.gpus,
            self.now_ms,
            self.now_ms,
            self.expires_ms,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finish writes: the attempt's row, and its result."""

    queue: str
    job_id: str
    attempt: int
    reason: FinishedReason
    result: str  # as JSON text
    exit_code: int | None
    now_ms: int
    expires_ms: int
    domain: str  # the trust domain of the queue it was made on
    token: str | None = None

    def update_params(self) -> tuple[Any, ...]:
        """The current attempt's row finished (nothing when the attempt is stale or the token not its own)."""
        reason = self.reason.value
        return (
            FINISHED,
            reason,
            self.now_ms,
            self.exit_code,
            self.queue,
            self.job_id,
            RUNNING,
            self.attempt,
            self.token,
            self.token,
        )

    def result_params(self) -> tuple[Any, ...]:
        reason = self.reason.value
        return (
            self.job_id,
            self.queue,
            self.domain,
            reason,
            self.result,
            self.now_ms,
            self.expires_ms,
            self.exit_code,
        )


def _outcome(report: Report, now_ms: int, expires_ms: int) -> Outcome:
    """What finishing `report` writes; IllegalTransition when its reason is not a worker's to give."""
    transition(JobState.RUNNING, Verb.FINISH, reason=report.reason)
    return Outcome(
        report.queue,
        report.job_id,
        report.attempt,
        report.reason,
        orjson.dumps(report.result).decode(),
        exit_code_of(report.result),
        now_ms,
        expires_ms,
        Trust.of(report.queue, report.domain).domain,
        report.token,
    )


class JobVanished(Exception):
    """The row a verb found gone before it could lock it (swept, or deleted by another replica): the verb is
    run again from the start, and then finds the job new."""


class SqlStore(abc.ABC):
    q: Queries

    @abc.abstractmethod
    async def _execute(self, program: ProgramFactory[T]) -> T:
        """Run a fresh program from `program()` in one transaction and return its value."""

    # -- pieces of programs -----------------------------------------------------------------------------------

    def _namespaces(self, queue: str, job_id: str) -> Program[tuple[str, ...]]:
        found = yield rows(self.q.namespaces_of_job, queue, job_id)
        return tuple(row[0] for row in found)

    def _end(self, seq: int, reason: FinishedReason, now_ms: int) -> Program[Any]:
        row = yield one(self.q.end_job, FINISHED, reason.value, now_ms, seq)
        yield from self._fire_callbacks(row)
        return row

    def _fire_callbacks(self, row: Any) -> Program[None]:
        """The job of `row` just finished: its `finished` callbacks become deliveries, each once."""
        at = row[UPDATED]
        fired = yield count(
            self.q.fire_callbacks,
            FINISHED_EVENT,
            row[REASON],
            row[EXIT_CODE],
            at,
            at,
            at,
            row[QUEUE],
            row[JOB_ID],
        )
        if fired:
            yield count(self.q.drop_callbacks, row[QUEUE], row[JOB_ID])

    def _keep_hooks(
        self, hooks: Hooks, row: Any, queued: bool, namespace: str, now_ms: int, expires_ms: int
    ) -> Program[None]:
        """A submit's webhooks: `queued` is sent when this submit queued the job, `finished` waits for the job to
        finish (a job already finished, a kept success, has nothing left to wait for)."""
        queue, job_id = row[QUEUE], row[JOB_ID]
        if hooks.queued is not None and queued:
            target = hooks.queued
            yield count(
                self.q.add_delivery,
                target.id,
                QUEUED_EVENT,
                queue,
                job_id,
                namespace,
                target.url,
                target.config,
                hooks.origin,
                now_ms,
                now_ms,
                now_ms + hooks.lifetime_ms,
            )
        if hooks.finished is not None and JobState(row[STATE]) in UNFINISHED:
            target = hooks.finished
            yield count(
                self.q.add_callback,
                queue,
                job_id,
                namespace,
                target.url,
                target.id,
                target.config,
                hooks.origin,
                hooks.lifetime_ms,
                expires_ms,  # as long as the queue entry it waits on
            )

    def _trusted_success(self, job_id: str, trust: Trust) -> Program[bool]:
        """Whether a successful result of `job_id` is kept that `trust`'s queue believes (core/trust.py): the
        one rule a submit, and any other verb that answers with a kept success, decides by."""
        found = yield value(self.q.has_trusted_success, job_id, SUCCESS, trust.domain, trust.queue)
        return found is not None

    def _insert_new(self, new: NewJob, standalone: bool = False) -> Program[Any]:
        """A job new to its queue written with its definition and namespace; None when the queue has it.
        `standalone`: the caller needs no transaction with it (where the store writes it in one statement)."""
        row = yield one(self.q.insert_job, *new.row_params(), new.job_id, SUCCESS, *new.trusted_params())
        if row is not None:
            yield count(self.q.save_definition, new.job_id, new.definition, new.now_ms, new.expires_ms)
            yield count(self.q.add_namespace, new.queue, new.job_id, new.namespace, new.now_ms)
        return row

    def _replace_rivals(
        self, queue: str, job_id: str, namespace: str, now_ms: int
    ) -> Program[tuple[list[StateChanged], list[StateChanged]]]:
        """In a non-default namespace the newest job wins: older unfinished jobs lose this namespace, and those
        left with none end as replaced. Returns (transitions, the running ones among them to stop)."""
        transitions: list[StateChanged] = []
        stop: list[StateChanged] = []
        rivals = yield rows(self.q.namespace_rivals, queue, namespace, job_id, QUEUED, RUNNING)
        for seq, other_id, state in rivals:
            yield count(self.q.remove_namespace, queue, other_id, namespace)
            if (yield value(self.q.has_namespace, queue, other_id)) is not None:
                continue
            transition(JobState(state), Verb.REPLACE)
            ended = state_changed((yield from self._end(seq, FinishedReason.JOB_REPLACED_BY_CLIENT, now_ms)))
            transitions.append(ended)
            if state == RUNNING:
                stop.append(ended)
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
        hooks: Hooks | None = None,
        domain: str | None = None,
    ) -> SubmitOutcome:
        text = orjson.dumps(definition).decode()
        gpus = requested_gpus(definition)
        trust = Trust.of(queue, domain)
        return await self._execute(
            lambda: self._submit(
                queue, job_id, text, gpus, namespace, now_ms, expires_ms, hooks, trust, alone=True
            )
        )

    def _submit(
        self,
        queue: str,
        job_id: str,
        text: str,
        gpus: int,
        namespace: str,
        now_ms: int,
        expires_ms: int,
        hooks: Hooks | None,
        trust: Trust,
        alone: bool = False,
    ) -> Program[SubmitOutcome]:
        """One submit's program, for `submit` and for the submits of a batch that take the slow path. `alone`:
        the program is the whole transaction (not one of a batch's)."""

        def program() -> Program[SubmitOutcome]:
            transitions: list[StateChanged] = []
            # Inserting a new job in the default namespace and without webhooks is all a submit does, and an
            # insert that wrote nothing leaves nothing for the rest to share a transaction with.
            row = yield from self._insert_new(
                NewJob(queue, job_id, text, gpus, namespace, now_ms, expires_ms, trust),
                standalone=alone and hooks is None and namespace == DEFAULT_NAMESPACE,
            )
            inserted = row is not None
            if inserted:
                transitions.append(state_changed(row))
            else:
                if hooks is None:
                    settled = yield from self._resubmitted(queue, job_id, namespace, trust)
                    if settled is not None:
                        return settled
                row = yield one(self.q.get_job_locked, queue, job_id)
                if row is None:
                    raise JobVanished(job_id)
                state = JobState(row[STATE])
                kept = (
                    state is JobState.FINISHED
                    and row[REASON] == SUCCESS
                    # A kept success stands only while a result this queue trusts does (it may expire).
                    and (yield from self._trusted_success(job_id, trust))
                )
                if transition(state, Verb.SUBMIT, kept_success=kept)[0] is not state:
                    yield count(self.q.save_definition, job_id, text, now_ms, expires_ms)
                    yield count(self.q.drop_failed_result, job_id, queue, SUCCESS)
                    row = yield one(self.q.requeue, QUEUED, now_ms, expires_ms, row[SEQ])
                    transitions.append(state_changed(row))
            if hooks is not None:
                queued = bool(transitions) and row[STATE] == QUEUED
                yield from self._keep_hooks(hooks, row, queued, namespace, now_ms, expires_ms)
            added = inserted or bool((yield count(self.q.add_namespace, queue, job_id, namespace, now_ms)))
            stop: list[StateChanged] = []
            # A job new to this namespace, or queued again in it, is its newest job.
            if (added or transitions) and namespace != DEFAULT_NAMESPACE:
                replaced, stop = yield from self._replace_rivals(queue, job_id, namespace, now_ms)
                transitions.extend(replaced)
            names = (namespace,) if inserted else (yield from self._namespaces(queue, job_id))
            return SubmitOutcome(job_row(row, names), transitions, stop)

        return program()

    def _resubmitted(
        self, queue: str, job_id: str, namespace: str, trust: Trust
    ) -> Program[SubmitOutcome | None]:
        """A submit without webhooks that changes nothing, answered from one read: the queue has the job in this
        namespace already and a submit leaves its state as it is (queued, running, or a kept success the queue
        still trusts). None when the submit would change something: then the full program decides."""
        row = yield alone(
            one(self.q.submitted_job, namespace, SUCCESS, trust.domain, trust.queue, queue, job_id)
        )
        if row is None or not row[10]:
            return None
        state = JobState(row[STATE])
        kept = state is JobState.FINISHED and row[REASON] == SUCCESS and bool(row[11])
        if transition(state, Verb.SUBMIT, kept_success=kept)[0] is not state:
            return None
        return SubmitOutcome(job_row(row[:10], tuple(orjson.loads(row[12] or "[]"))))

    async def submit_many(
        self, queue: str, subs: Sequence[Submission], now_ms: int, expires_ms: int, domain: str | None = None
    ) -> list[SubmitOutcome]:
        """Many submits to one queue in one transaction, answered in order, each as `submit` would have. Jobs
        new to the queue in the default namespace and without webhooks (a sweep's) are written together; every
        other submit, and every repeat of a job within the batch, runs `submit`'s program after them, in order."""
        trust = Trust.of(queue, domain)
        texts = [orjson.dumps(sub.definition).decode() for sub in subs]
        gpus = [requested_gpus(sub.definition) for sub in subs]
        plain: dict[str, int] = {}  # job id -> the index of its first submit, when that one is plain
        seen: set[str] = set()
        for index, sub in enumerate(subs):
            if sub.job_id not in seen and sub.namespace == DEFAULT_NAMESPACE and sub.hooks is None:
                plain[sub.job_id] = index
            seen.add(sub.job_id)
        fresh = [
            NewJob(queue, job_id, texts[index], gpus[index], DEFAULT_NAMESPACE, now_ms, expires_ms, trust)
            for job_id, index in plain.items()
        ]

        def program() -> Program[list[SubmitOutcome]]:
            inserted = (yield from self._insert_many(fresh)) if fresh else {}
            outcomes: list[SubmitOutcome] = []
            for index, sub in enumerate(subs):
                row = inserted.get(sub.job_id) if plain.get(sub.job_id) == index else None
                if row is not None:
                    outcomes.append(SubmitOutcome(job_row(row, (DEFAULT_NAMESPACE,)), [state_changed(row)]))
                else:
                    outcomes.append(
                        (
                            yield from self._submit(
                                queue,
                                sub.job_id,
                                texts[index],
                                gpus[index],
                                sub.namespace,
                                now_ms,
                                expires_ms,
                                sub.hooks,
                                trust,
                            )
                        )
                    )
            return outcomes

        return await self._execute(program) if subs else []

    def _insert_many(self, fresh: list[NewJob]) -> Program[dict[str, Any]]:
        """Jobs new to their queue (one queue and trust, distinct ids, one namespace) written with their
        definitions and namespace, a few statements per thousand jobs; returns the rows written by job id (the
        queue already had the others)."""
        written: dict[str, Any] = {}
        for chunk in _chunks(fresh):
            sql, ids = self.q.in_list("kept_results", [new.job_id for new in chunk])
            # Several trusted queues may keep one: the highest code, as insert_job takes.
            kept = dict((yield rows(sql, SUCCESS, *chunk[0].trusted_params(), *ids)))
            sql, params = self.q.values(
                "insert_jobs",
                [
                    (
                        new.queue,
                        new.job_id,
                        FINISHED if new.job_id in kept else QUEUED,
                        SUCCESS if new.job_id in kept else None,
                        new.gpus,
                        new.now_ms,
                        new.now_ms,
                        new.expires_ms,
                        kept.get(new.job_id),
                    )
                    for new in chunk
                ],
            )
            written.update((row[JOB_ID], row) for row in (yield rows(sql, *params)))
        # In key order: neighbours in the indexes are written together, twice as fast as in random order.
        news = sorted((new for new in fresh if new.job_id in written), key=lambda new: new.job_id)
        for chunk in _chunks(news):
            sql, params = self.q.values(
                "save_definitions",
                [(new.job_id, new.definition, new.now_ms, new.expires_ms) for new in chunk],
            )
            yield count(sql, *params)
            sql, params = self.q.values(
                "add_namespaces", [(new.queue, new.job_id, new.namespace, new.now_ms) for new in chunk]
            )
            yield count(sql, *params)
        return written

    async def renew(
        self,
        queue: str,
        worker_id: str,
        attempts: list[tuple[str, int]],
        lease_until_ms: int,
        tokens: list[str | None] | None = None,
    ) -> list[tuple[str, int]]:
        checked = tokens if tokens is not None else [None] * len(attempts)

        def program() -> Program[list[tuple[str, int]]]:
            stale = []
            for (job_id, attempt), token in zip(attempts, checked, strict=True):
                changed = yield count(
                    self.q.renew_attempt,
                    lease_until_ms,
                    worker_id,
                    queue,
                    job_id,
                    RUNNING,
                    attempt,
                    token,
                    token,
                )
                if not changed:
                    stale.append((job_id, attempt))
            return stale

        return await self._execute(program) if attempts else []

    async def is_current(self, queue: str, job_id: str, attempt: int) -> bool:
        def program() -> Program[bool]:
            found = yield value(self.q.is_current, queue, job_id, RUNNING, attempt)
            return found is not None

        return await self._execute(program)

    async def finish(
        self,
        queue: str,
        job_id: str,
        attempt: int,
        reason: FinishedReason,
        result: dict[str, Any],
        now_ms: int,
        expires_ms: int,
        *,
        domain: str | None = None,
        token: str | None = None,
    ) -> StateChanged | None:
        report = Report(queue, job_id, attempt, reason, result, domain, token)
        return (await self.finish_many([report], now_ms, expires_ms))[0]

    async def finish_many(
        self, reports: Sequence[Report], now_ms: int, expires_ms: int
    ) -> list[StateChanged | None]:
        outcomes = [_outcome(report, now_ms, expires_ms) for report in reports]

        return await self._execute(lambda: self._finish_all(outcomes)) if outcomes else []

    def _finish_all(self, outcomes: list[Outcome]) -> Program[list[StateChanged | None]]:
        changes = []
        for outcome in outcomes:
            changes.append((yield from self._finish(outcome)))
        return changes

    def _finish(self, outcome: Outcome) -> Program[StateChanged | None]:
        row = yield one(self.q.finish_attempt, *outcome.update_params())
        if row is None:
            return None
        yield count(self.q.keep_result, *outcome.result_params())
        yield from self._fire_callbacks(row)
        return state_changed(row)

    async def release(
        self, queue: str, job_id: str, attempt: int, now_ms: int, token: str | None = None
    ) -> StateChanged | None:
        def program() -> Program[StateChanged | None]:
            row = yield one(
                self.q.release_attempt, QUEUED, now_ms, queue, job_id, RUNNING, attempt, token, token
            )
            return state_changed(row) if row is not None else None

        return await self._execute(program)

    async def cancel(self, queue: str, job_id: str, namespace: str, now_ms: int) -> StateChanged | None:
        def program() -> Program[StateChanged | None]:
            row = yield one(self.q.get_job_locked, queue, job_id)
            if row is None or JobState(row[STATE]) not in UNFINISHED:
                return None
            if namespace == ALL_NAMESPACES:
                yield count(self.q.remove_namespaces, queue, job_id)
            else:
                yield count(self.q.remove_namespace, queue, job_id, namespace)
            if (yield value(self.q.has_namespace, queue, job_id)) is not None:
                return None
            _, reason = transition(JobState(row[STATE]), Verb.CANCEL)
            assert reason in STOPS_CONTAINER
            return state_changed((yield from self._end(row[SEQ], reason, now_ms)))

        return await self._execute(program)

    async def delete(self, queue: str, job_id: str, now_ms: int) -> StateChanged | None:
        def program() -> Program[StateChanged | None]:
            row = yield one(self.q.get_job_locked, queue, job_id)
            if row is None:
                return None
            yield count(self.q.remove_namespaces, queue, job_id)
            # This queue's interest, result and logs only: other queues' stay theirs.
            yield count(self.q.drop_queue_result, job_id, queue)
            yield count(self.q.drop_queue_logs, job_id, queue)
            yield count(self.q.drop_log_counts, job_id, queue)
            _, reason = transition(JobState(row[STATE]), Verb.DELETE)
            assert reason is not None
            ended = yield from self._end(row[SEQ], reason, now_ms)
            # Report the attempt and worker the job had, so a running container can be stopped.
            return StateChanged(queue, job_id, JobState.FINISHED, reason, row[ATTEMPT], row[WORKER], ended[7])

        return await self._execute(program)

    # -- webhooks ---------------------------------------------------------------------------------------------

    async def claim_deliveries(self, now_ms: int, limit: int, lease_until_ms: int) -> list[Delivery]:
        def program() -> Program[list[Delivery]]:
            found = yield rows(self.q.claim_deliveries, now_ms, now_ms, limit, lease_until_ms)
            return [delivery(row) for row in found]

        return await self._execute(program) if limit > 0 else []

    async def drop_delivery(self, delivery_id: str) -> None:
        def program() -> Program[None]:
            yield count(self.q.drop_delivery, delivery_id)

        await self._execute(program)

    async def postpone_delivery(self, delivery_id: str, attempt: int, due_ms: int, error: str) -> bool:
        def program() -> Program[bool]:
            return bool((yield count(self.q.postpone_delivery, due_ms, error[:1000], delivery_id, attempt)))

        return await self._execute(program)

    @abc.abstractmethod
    async def claim(
        self, queue: str, worker_id: str, limit: int, max_gpus: int, lease_until_ms: int, now_ms: int
    ) -> list[Assignment]: ...

    @abc.abstractmethod
    async def expire_leases(self, now_ms: int, retry_budget: int) -> list[StateChanged]: ...

    @abc.abstractmethod
    async def counts(self, queue: str) -> dict[str, int]: ...

    # -- logs -------------------------------------------------------------------------------------------------

    async def append_logs(self, batch: LogBatch) -> bool:
        return await self._execute(lambda: self._append(batch))

    def _append(self, batch: LogBatch) -> Program[bool]:
        before, after = batch.before, batch.after
        moved = yield count(
            self.q.count_logs,
            batch.job_id,
            batch.queue,
            batch.attempt,
            batch.step,
            after.next_seq,
            after.lines - before.lines,
            after.bytes - before.bytes,
            batch.expires_ms,
            before.next_seq,
        )
        if not moved:
            return False
        if after.lines > before.lines:
            yield count(
                self.q.append_logs,
                batch.job_id,
                batch.queue,
                batch.attempt,
                batch.step,
                batch.text,
                batch.expires_ms,
                before.lines,
            )
        return True

    async def log_counts(self, queue: str, job_id: str, attempt: int) -> dict[str, LogCount]:
        def program() -> Program[dict[str, LogCount]]:
            found = yield rows(self.q.log_counts, job_id, queue, attempt)
            return {str(step): LogCount(int(seq), int(lines), int(size)) for step, seq, lines, size in found}

        return await self._execute(program)

    async def read_logs(
        self, job_id: str, step: str, since: int, limit: int = 10_000, queue: str | None = None
    ) -> tuple[list[list[Any]], int]:
        def program() -> Program[tuple[list[list[Any]], int]]:
            latest = yield one(self.q.latest_log, job_id, step, queue, queue)
            if latest is None:
                return [], 0
            where, total = (job_id, step, str(latest[0]), int(latest[1])), int(latest[2])
            if since >= total:
                return [], total
            # A batch holds at most a log message's lines: a few batches make a page.
            found = yield rows(self.q.read_logs, *where, *where, since, _PAGE_BATCHES)
            lines: list[list[Any]] = []
            for text, kept_newlines, first in found:
                batch = orjson.loads(text)
                batch = batch if kept_newlines or step != "run" else with_newlines(batch)
                lines += batch[max(0, since - int(first)) :]
                if len(lines) >= limit:
                    break
            return lines[:limit], total

        return await self._execute(program)

    # -- reads ------------------------------------------------------------------------------------------------

    async def get_job(self, queue: str, job_id: str) -> JobRow | None:
        def program() -> Program[JobRow | None]:
            row = yield one(self.q.get_job, queue, job_id)
            if row is None:
                return None
            return job_row(row, (yield from self._namespaces(queue, job_id)))

        return await self._execute(program)

    async def logged_attempts(self, queue: str, job_ids: list[str], step: str) -> dict[str, int]:
        if not job_ids:
            return {}

        def program() -> Program[dict[str, int]]:
            sql, ids = self.q.in_list("logged_attempts", job_ids)
            return {str(job_id): int(attempt) for job_id, attempt in (yield rows(sql, queue, step, *ids))}

        return await self._execute(program)

    async def get_definition(self, job_id: str) -> dict[str, Any] | None:
        return await self._read_json(self.q.get_definition, job_id)

    async def get_result(self, job_id: str, trust: Trust | None = None) -> dict[str, Any] | None:
        def program() -> Program[dict[str, Any] | None]:
            if trust is None:
                row = yield one(self.q.newest_result, job_id)
            else:
                row = yield one(self.q.trusted_result, job_id, trust.domain, trust.queue, trust.queue)
            if row is None:
                return None
            text, made_on, domain = row
            made = {"queue": made_on} if made_on else {}
            found: dict[str, Any] = {**orjson.loads(text), **made, "domain": domain}
            return found

        return await self._execute(program)

    async def result_reason(self, job_id: str, trust: Trust) -> str | None:
        def program() -> Program[str | None]:
            found = yield value(self.q.result_reason, job_id, trust.domain, trust.queue, trust.queue)
            return str(found) if found is not None else None

        return await self._execute(program)

    async def result_output(self, job_id: str, name: str, trust: Trust) -> dict[str, Any] | None:
        def program() -> Program[dict[str, Any] | None]:
            text = yield value(self.q.result_output, name, job_id, trust.domain, trust.queue, trust.queue)
            found = orjson.loads(text) if text is not None else None
            return found if isinstance(found, dict) else None

        return await self._execute(program)

    async def _read_json(self, sql: str, key: str) -> dict[str, Any] | None:
        def program() -> Program[dict[str, Any] | None]:
            text = yield value(sql, key)
            return orjson.loads(text) if text is not None else None

        return await self._execute(program)

    async def list_jobs(
        self,
        queue: str,
        limit: int,
        cursor: int | None,
        state: JobState | None,
        *,
        records_for: Trust | None = None,
    ) -> Page:
        below = cursor if cursor is not None else _NO_CURSOR

        def program() -> Program[Page]:
            if state is None:
                found = yield rows(self.q.list_jobs, queue, below, limit + 1)
            else:
                found = yield rows(self.q.list_jobs_in_state, queue, state.value, below, limit + 1)
            more = len(found) > limit
            found = found[:limit]
            namespaces: dict[str, list[str]] = {}
            kept: dict[str, dict[str, Any]] = {}
            if found:
                sql, ids = self.q.in_list("namespaces_of_jobs", [row[1] for row in found])
                for job_id, namespace in (yield rows(sql, queue, *ids)):
                    namespaces.setdefault(job_id, []).append(namespace)
                if records_for is not None:
                    sql, ids = self.q.in_list("records_of_jobs", [row[1] for row in found])
                    trusted = (records_for.domain, records_for.queue, records_for.queue)
                    for job_id, definition, result in (yield rows(sql, *trusted, *ids)):
                        kept[job_id] = {
                            "definition": orjson.loads(definition),
                            "result": orjson.loads(result) if result is not None else None,
                        }
            jobs = [
                replace(job_row(row, tuple(namespaces.get(row[1], ()))), **kept.get(row[1], {}))
                for row in found
            ]
            return Page(jobs, found[-1][SEQ] if more else None)

        return await self._execute(program)

    # -- workers ----------------------------------------------------------------------------------------------

    async def upsert_worker(self, row: WorkerRow) -> None:
        info = orjson.dumps(row.info).decode()

        def program() -> Program[None]:
            yield count(self.q.upsert_worker, row.queue, row.worker_id, row.replica, info, row.seen_ms)

        await self._execute(program)

    async def remove_worker(self, queue: str, worker_id: str, replica: str) -> None:
        def program() -> Program[None]:
            yield count(self.q.remove_worker, queue, worker_id, replica)

        await self._execute(program)

    async def list_workers(self, queue: str, seen_after_ms: int) -> list[WorkerRow]:
        def program() -> Program[list[WorkerRow]]:
            found = yield rows(self.q.list_workers, queue, seen_after_ms)
            return [worker_row(row, orjson.loads(row[3])) for row in found]

        return await self._execute(program)

    async def served_queues(self, seen_after_ms: int) -> dict[str, int]:
        def program() -> Program[dict[str, int]]:
            found = yield rows(self.q.served_queues, seen_after_ms)
            return {str(row[0]): int(row[1]) for row in found}

        return await self._execute(program)

    async def sweep(self, now_ms: int) -> int:
        def program() -> Program[int]:
            removed = 0
            for sql in (
                self.q.sweep_namespaces,
                self.q.sweep_queue_jobs,
                self.q.sweep_jobs,
                self.q.sweep_results,
                self.q.sweep_logs,
                self.q.sweep_log_counts,
                self.q.sweep_callbacks,
                self.q.sweep_deliveries,
            ):
                removed += yield count(sql, now_ms)
            yield count(self.q.sweep_workers, now_ms - _WORKER_MEMORY_MS)
            yield from self._after_sweep()
            return removed

        return await self._execute(program)

    def _after_sweep(self) -> Program[None]:
        """A dialect's own housekeeping, in the sweep's transaction."""
        return
        yield


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[start : start + _ROWS_PER_STATEMENT] for start in range(0, len(items), _ROWS_PER_STATEMENT)]
