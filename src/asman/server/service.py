"""The queue's use cases, and the only writer to the store: submit, cancel, delete and copy for clients; claim,
renew, logs, finish and release for workers; lease expiry, worker registration, webhook deliveries and the
expiry sweep for the server itself. Routes, the worker socket and the hub stay thin and call these; every change the store makes is
published here as a typed event. The clock is injected, so tests can set the time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from asman.blobs import BlobStore
from asman.core.definition import DEFAULT_NAMESPACE, Control, JobDefinition, job_id
from asman.core.errors import InvalidInput, NotFound, ValidationFailed
from asman.core.events import CancelRequested, LogsAppended, StateChanged, WorkersChanged
from asman.core.names import check_job_id, check_queue
from asman.core.states import STOPS_CONTAINER, FinishedReason, IllegalTransition, JobState, Verb, transition
from asman.core.webhooks import Delivery, hooks_of, retry_delay_ms
from asman.events.base import Notifier
from asman.server.attempt_logs import Admitted
from asman.server.views import job_view
from asman.settings import Settings
from asman.store import Store
from asman.store.base import Assignment, JobRow, LogBatch, LogCount, WorkerRow

_DEFINITION_KEYS = {"image", "build", "command"}

# Where a request came in (its base URL), asked for only when needed: building it costs on the hot path.
Origin = Callable[[], str]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def describe_validation(errors: Sequence[Any]) -> str:
    """The first few validation errors of pydantic or FastAPI as `where: what; ...`."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(item) for item in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


class JobService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        blobs: BlobStore,
        notifier: Notifier,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.notifier = notifier
        self.now = clock

    def expires_ms(self, now: int) -> int:
        return now + int(self.settings.ttl_seconds * 1000)

    def lease_until_ms(self, now: int) -> int:
        return now + int(self.settings.lease_seconds * 1000)

    async def publish(self, changes: Sequence[StateChanged], stop: Sequence[StateChanged] = ()) -> None:
        """Publish what the store changed, and tell workers to stop containers of jobs that ended under them."""
        for change in changes:
            await self.notifier.publish(change)
        for change in stop:
            await self.notifier.publish(
                CancelRequested(change.queue, change.job_id, change.attempt, change.worker)
            )

    def parse_submission(self, body: Any) -> tuple[dict[str, Any], Control, str | None]:
        """Accept `{definition, control?, id?}` or a bare definition; return the raw definition for hashing."""
        if not isinstance(body, dict):
            raise InvalidInput(
                'the body must be a JSON object: {"definition": {"image": ..., "command": ...}}'
            )
        if isinstance(body.get("definition"), dict):
            definition, control_raw, claimed = body["definition"], body.get("control"), body.get("id")
        elif _DEFINITION_KEYS & body.keys():
            definition, control_raw, claimed = body, None, None
        else:
            raise InvalidInput(
                'no job definition found: send {"definition": {"image": "alpine", "command": "echo hi"}}'
            )
        try:
            parsed = JobDefinition.model_validate(definition)
            parsed.require_runnable()
            control = Control.model_validate(control_raw or {})
        except ValidationError as exc:
            raise ValidationFailed(f"invalid job definition: {describe_validation(exc.errors())}") from exc
        except ValueError as exc:
            raise ValidationFailed(f"invalid job definition: {exc}") from exc
        files = len(parsed.inputs or {}) + len(parsed.configFiles or {})
        if files > self.settings.max_inputs:
            raise ValidationFailed(
                f"the job has {files} inputs and configFiles, over the limit of {self.settings.max_inputs}:"
                " pack them into an archive"
            )
        if claimed is not None and not isinstance(claimed, str):
            raise InvalidInput("'id' must be a string (or leave it out: the server computes it)")
        return definition, control, claimed

    def public_origin(self, origin: Origin | None = None) -> str:
        """The API's public address: the configured one, else where the request came in."""
        settings = self.settings
        found = settings.public_url or (origin() if origin else "")
        return (found or f"http://{settings.host}:{settings.port}").rstrip("/")

    async def submit(self, queue: str, body: Any, origin: Origin | None = None) -> JobRow:
        """Queue a job (or join it, or answer its kept success). `origin` gives the address the request came in
        on, for the links webhooks carry; it is asked only when there are webhooks."""
        check_queue(queue)
        definition, control, claimed = self.parse_submission(body)
        computed = job_id(definition)
        if claimed and claimed != computed:
            raise InvalidInput(
                f"the submitted id {claimed[:80]} does not match the definition, whose id is {computed}:"
                " leave 'id' out and the server computes it"
            )
        namespace = control.namespace or DEFAULT_NAMESPACE
        now = self.now()
        hooks = None
        if control.callbacks:
            hooks = hooks_of(control, self.public_origin(origin), int(self.settings.webhook_expiry * 1000))
        outcome = await self.store.submit(
            queue, computed, definition, namespace, now, self.expires_ms(now), hooks=hooks
        )
        if outcome.transitions or outcome.stop:
            await self.publish(outcome.transitions, outcome.stop)
        return outcome.job

    async def require_job(self, queue: str, job: str) -> JobRow:
        check_queue(queue)
        check_job_id(job)
        row = await self.store.get_job(queue, job)
        if row is None:
            raise NotFound(f"no job {job} in queue {queue}: submit it with POST /q/{queue}")
        return row

    async def cancel(self, queue: str, job: str, namespace: str) -> JobRow:
        await self.require_job(queue, job)
        await self._end(await self.store.cancel(queue, job, namespace or DEFAULT_NAMESPACE, self.now()))
        return await self.require_job(queue, job)

    async def delete(self, queue: str, job: str) -> JobRow:
        await self.require_job(queue, job)
        await self._end(await self.store.delete(queue, job, self.now()))
        return await self.require_job(queue, job)

    async def _end(self, change: StateChanged | None) -> None:
        if change is not None:
            await self.publish([change], [change] if change.reason in STOPS_CONTAINER else [])

    async def copy(self, job: str, body: Any, origin: Origin | None = None) -> JobRow:
        check_job_id(job)
        if not isinstance(body, dict) or not isinstance(body.get("queue"), str):
            raise InvalidInput('send {"queue": "<target queue>", "control"?: {...}} to copy a job')
        definition = await self.store.get_definition(job)
        if definition is None:
            raise NotFound(f"no job {job}: it was never submitted or has expired")
        return await self.submit(
            body["queue"], {"definition": definition, "control": body.get("control")}, origin
        )

    # -- workers ----------------------------------------------------------------------------------------------

    async def claim(self, queue: str, worker: str, slots: int, gpus: int) -> list[Assignment]:
        """Up to `slots` of the oldest queued jobs that fit `gpus`, each as a new attempt leased to `worker`."""
        now = self.now()
        assignments = await self.store.claim(queue, worker, slots, gpus, self.lease_until_ms(now), now)
        await self.publish([assignment.transition for assignment in assignments])
        return assignments

    async def renew(
        self,
        queue: str,
        worker: str,
        attempts: list[tuple[str, int]],
        tokens: list[str | None] | None = None,
    ) -> list[tuple[str, int]]:
        """Extend the leases of `attempts`; return those that are no longer current, or (with `tokens`, one per
        attempt) whose secret is not the one given."""
        if not attempts:
            return []
        return await self.store.renew(queue, worker, attempts, self.lease_until_ms(self.now()), tokens)

    async def log_counts(self, queue: str, job: str, attempt: int) -> dict[str, LogCount]:
        return await self.store.log_counts(queue, job, attempt)

    async def append_logs(
        self, queue: str, job: str, attempt: int, step: str, admitted: Admitted, before: LogCount
    ) -> bool:
        """Store an attempt's log lines after the `before` counts of `step`, and publish them; False (nothing
        stored) when the counts moved meanwhile."""
        expires = self.expires_ms(self.now())
        batch = LogBatch(queue, job, attempt, step, admitted.text, before, admitted.after, expires)
        if not await self.store.append_logs(batch):
            return False
        await self.notifier.publish(LogsAppended(queue, job, attempt, step, before.lines, admitted.lines))
        return True

    async def finish(
        self, queue: str, job: str, attempt: int, reason: FinishedReason, result: dict[str, Any], token: str
    ) -> StateChanged | None:
        """Record an attempt's outcome; None when the attempt is stale, `token` not its secret, or the reason
        not a worker's to give."""
        try:
            transition(JobState.RUNNING, Verb.FINISH, reason=reason)
        except IllegalTransition:
            return None
        now = self.now()
        change = await self.store.finish(
            queue, job, attempt, reason, result, now, self.expires_ms(now), token
        )
        if change is not None:
            await self.publish([change])
        return change

    async def release(self, queue: str, job: str, attempt: int, token: str) -> StateChanged | None:
        change = await self.store.release(queue, job, attempt, self.now(), token)
        if change is not None:
            await self.publish([change])
        return change

    async def expire_leases(self) -> list[StateChanged]:
        changes = await self.store.expire_leases(self.now(), self.settings.retry_budget)
        await self.publish(changes)
        return changes

    async def register_worker(self, row: WorkerRow, announce: bool = True) -> None:
        await self.store.upsert_worker(row)
        if announce:
            await self.notifier.publish(WorkersChanged(row.queue))

    async def unregister_worker(self, queue: str, worker: str, replica: str) -> None:
        await self.store.remove_worker(queue, worker, replica)
        await self.notifier.publish(WorkersChanged(queue))

    # -- webhooks ---------------------------------------------------------------------------------------------

    async def claim_deliveries(self, limit: int, lease_seconds: float) -> list[Delivery]:
        """Up to `limit` webhook deliveries that are due, each leased to this caller for its next attempt."""
        now = self.now()
        return await self.store.claim_deliveries(now, limit, now + int(lease_seconds * 1000))

    async def delivered(self, delivery: Delivery) -> None:
        await self.store.drop_delivery(delivery.id)

    async def delivery_failed(self, delivery: Delivery, error: str, permanent: bool = False) -> bool:
        """Schedule a failed delivery's next attempt with backoff, or give it up (a permanent failure, the
        attempts spent, or no attempt left before it expires); True when given up."""
        due = self.now() + retry_delay_ms(delivery.attempt)
        if permanent or delivery.attempt >= self.settings.webhook_max_attempts or due >= delivery.expires_ms:
            await self.store.drop_delivery(delivery.id)
            return True
        await self.store.postpone_delivery(delivery.id, delivery.attempt, due, error)
        return False

    async def sweep(self) -> int:
        """Delete what has expired: store rows, then blobs."""
        now = self.now()
        removed = await self.store.sweep(now)
        return removed + await self.blobs.sweep(now - int(self.settings.ttl_seconds * 1000))

    async def job_view(self, row: JobRow) -> dict[str, Any]:
        """The full JSON view of one job in one queue (views.job_view)."""
        return job_view(
            row, await self.store.get_definition(row.job_id), await self.store.get_result(row.job_id)
        )
