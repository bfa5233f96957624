"""The queue store: one interface for queue membership, job records, states, namespaces, results, logs, leases
and attempts. SQLite (embedded) and PostgreSQL (scale-out) implement it; callers never see SQL.

Rows become domain objects here, at the boundary: `JobRow`, `Assignment`, `WorkerRow`; every state change a verb
makes comes back as a `StateChanged` event for the service to publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from asman.core.definition import DEFAULT_NAMESPACE
from asman.core.events import StateChanged
from asman.core.states import FinishedReason, JobState
from asman.core.trust import Trust
from asman.core.webhooks import Delivery, Hooks


def requested_gpus(definition: dict[str, Any]) -> int:
    """The GPUs a job definition asks for (`requirements.gpus`), 0 when it asks for none."""
    requirements = definition.get("requirements")
    gpus = requirements.get("gpus") if isinstance(requirements, dict) else None
    return int(gpus) if isinstance(gpus, (int, float)) else 0


def exit_code_of(result: dict[str, Any]) -> int | None:
    """A result's container exit code (`StatusCode`), if it has one."""
    code = result.get("StatusCode")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


@dataclass(frozen=True, slots=True)
class JobRow:
    queue: str
    job_id: str
    state: JobState
    reason: FinishedReason | None
    attempt: int
    worker: str | None
    queued_ms: int
    updated_ms: int
    seq: int
    namespaces: tuple[str, ...] = ()
    definition: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    # The container's exit code, once finished with one (a non-zero exit is still a Success).
    exit_code: int | None = None

    def summary(self) -> dict[str, Any]:
        """The JSON shape of a job in listings and events (upstream's InMemoryDockerJob, extended)."""
        data = StateChanged(
            self.queue,
            self.job_id,
            self.state,
            self.reason,
            self.attempt,
            self.worker,
            self.updated_ms,
            self.exit_code,
        ).summary()
        data["queuedTime"] = self.queued_ms
        if self.namespaces:
            data["namespaces"] = list(self.namespaces)
        return data


@dataclass(frozen=True, slots=True)
class Submission:
    """One job of a batch submit, as the store takes it: already validated, its id computed."""

    job_id: str
    definition: dict[str, Any]
    namespace: str = DEFAULT_NAMESPACE
    hooks: Hooks | None = None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    job: JobRow
    transitions: list[StateChanged] = field(default_factory=list)
    # Running attempts that lost their last namespace to a newer job and must be stopped on their worker.
    stop: list[StateChanged] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Assignment:
    queue: str
    job_id: str
    attempt: int
    definition: dict[str, Any]
    time_ms: int
    worker: str
    # The attempt's secret: every later message about it must carry it (or come from the connection it went to).
    token: str = ""

    @property
    def transition(self) -> StateChanged:
        return StateChanged(
            self.queue, self.job_id, JobState.RUNNING, None, self.attempt, self.worker, self.time_ms
        )


@dataclass(frozen=True, slots=True)
class WorkerRow:
    queue: str
    worker_id: str
    replica: str
    info: dict[str, Any]
    seen_ms: int


@dataclass(frozen=True, slots=True)
class LogCount:
    """What one attempt's log of one step holds: the worker's count of lines sent (the next sequence number it
    will use), the lines stored and their serialized size."""

    next_seq: int = 0
    lines: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class LogBatch:
    """Lines to store for one attempt's step (as JSON text), and the counts they move it from and to."""

    queue: str
    job_id: str
    attempt: int
    step: str
    text: str
    before: LogCount
    after: LogCount
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Report:
    """One attempt's outcome for `finish_many`: its result kept as made on `queue` in trust `domain` (None: the
    queue's own), fenced by `token` (None: the caller has bound the attempt already)."""

    queue: str
    job_id: str
    attempt: int
    reason: FinishedReason
    result: dict[str, Any]
    domain: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    jobs: list[JobRow]
    next_cursor: int | None


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

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
        """Queue a job, or add a namespace to it, or answer a kept success the queue trusts: one made in its trust
        `domain` (core/trust.py; by default the queue's own). `hooks` are written in the same transaction: a
        `queued` delivery when this submit queued the job, a `finished` callback while the job is unfinished.
        Every verb that finishes a job turns its callbacks into deliveries, in its transaction."""
        ...

    async def submit_many(
        self, queue: str, subs: Sequence[Submission], now_ms: int, expires_ms: int, domain: str | None = None
    ) -> list[SubmitOutcome]:
        """Many submits to one queue (of trust domain `domain`, as `submit`), committed together before the
        answer: each answered, in order, as `submit` would have answered it."""
        ...

    async def claim(
        self, queue: str, worker_id: str, limit: int, max_gpus: int, lease_until_ms: int, now_ms: int
    ) -> list[Assignment]: ...

    async def renew(
        self,
        queue: str,
        worker_id: str,
        attempts: list[tuple[str, int]],
        lease_until_ms: int,
        tokens: list[str | None] | None = None,
    ) -> list[tuple[str, int]]:
        """Extend leases; return the (job_id, attempt) pairs that are no longer current, or whose token (one per
        attempt in `tokens`; None: not checked) is not theirs."""
        ...

    async def is_current(self, queue: str, job_id: str, attempt: int) -> bool: ...

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
        """Record an attempt's outcome, its result kept as made on `queue` in trust `domain` (by default the
        queue's own); None when the attempt is stale (fencing) or `token` is not its secret (None: the caller
        has bound the attempt already)."""
        ...

    async def finish_many(
        self, reports: Sequence[Report], now_ms: int, expires_ms: int
    ) -> list[StateChanged | None]:
        """`finish` for each report, in order, in one transaction: one answer per report. Each is fenced and
        checked on its own, as `finish` does; an error fails them all (nothing is written)."""
        ...

    async def release(
        self, queue: str, job_id: str, attempt: int, now_ms: int, token: str | None = None
    ) -> StateChanged | None: ...

    async def expire_leases(self, now_ms: int, retry_budget: int) -> list[StateChanged]: ...

    async def cancel(self, queue: str, job_id: str, namespace: str, now_ms: int) -> StateChanged | None:
        """Remove one namespace's interest; finish the job as Cancelled when none is left."""
        ...

    async def delete(self, queue: str, job_id: str, now_ms: int) -> StateChanged | None:
        """Finish the job in `queue` as Deleted and drop the result made on `queue`; never another queue's."""
        ...

    async def append_logs(self, batch: LogBatch) -> bool:
        """Store a batch of log lines and move its attempt's counts; False (nothing stored) when the counts are
        no longer `batch.before`."""
        ...

    async def log_counts(self, queue: str, job_id: str, attempt: int) -> dict[str, LogCount]:
        """Each step's log counts of one attempt (steps with no lines are missing)."""
        ...

    async def read_logs(
        self, job_id: str, step: str, since: int, limit: int = 10_000, queue: str | None = None
    ) -> tuple[list[list[Any]], int]:
        """Up to `limit` lines of the latest attempt's log of `step` (in `queue`, or in any queue) from line
        `since`, and how many lines that log holds."""
        ...

    async def get_job(self, queue: str, job_id: str) -> JobRow | None: ...

    async def logged_attempts(self, queue: str, job_ids: list[str], step: str) -> dict[str, int]:
        """For each of the jobs that has log lines of `step` in `queue`, the latest attempt that logged them."""
        ...

    async def get_definition(self, job_id: str) -> dict[str, Any] | None: ...

    async def get_result(self, job_id: str, trust: Trust | None = None) -> dict[str, Any] | None:
        """The result `trust`'s queue serves (its own, else the newest its domain made), or with no `trust` the
        newest of all. The stored result, with `queue` (where it was made, when known) and `domain` (its makers'
        trust domain; '' for one kept before domains existed) from the store."""
        ...

    async def result_reason(self, job_id: str, trust: Trust) -> str | None:
        """The finished reason of the result `trust`'s queue is served (as `get_result`), without reading it."""
        ...

    async def result_output(self, job_id: str, name: str, trust: Trust) -> dict[str, Any] | None:
        """One output's DataRef from the result `trust`'s queue is served (as `get_result`), without reading the
        rest of it."""
        ...

    async def list_jobs(
        self,
        queue: str,
        limit: int,
        cursor: int | None,
        state: JobState | None,
        *,
        records_for: Trust | None = None,
    ) -> Page:
        """A page of the queue's jobs, newest first; with `records_for` (the reader), each row carries its
        definition and the result that reader is served too (read in the same transaction)."""
        ...

    async def counts(self, queue: str) -> dict[str, int]: ...

    async def upsert_worker(self, row: WorkerRow) -> None: ...

    async def remove_worker(self, queue: str, worker_id: str, replica: str) -> None: ...

    async def list_workers(self, queue: str, seen_after_ms: int) -> list[WorkerRow]: ...

    async def served_queues(self, seen_after_ms: int) -> dict[str, int]:
        """Every queue with a worker seen since `seen_after_ms`, and how many distinct workers it has."""
        ...

    async def claim_deliveries(self, now_ms: int, limit: int, lease_until_ms: int) -> list[Delivery]:
        """Up to `limit` webhook deliveries due and not expired, oldest first, each as its next attempt leased
        until `lease_until_ms`: no other caller gets them meanwhile, on any replica."""
        ...

    async def drop_delivery(self, delivery_id: str) -> None:
        """A delivery is done with: delivered, or given up."""
        ...

    async def postpone_delivery(self, delivery_id: str, attempt: int, due_ms: int, error: str) -> bool:
        """Attempt `attempt` failed: the next may start at `due_ms`. False when that attempt no longer holds the
        delivery (its lease ran out and another sender took it)."""
        ...

    async def sweep(self, now_ms: int) -> int:
        """Delete everything whose expiry has passed; return how many rows went."""
        ...
