"""The queue's use cases, and the only writer to the store: submit, cancel, delete and copy for clients; claim,
renew, logs, finish and release for workers; lease expiry, worker registration, webhook deliveries and the
expiry sweep for the server itself. Routes, the worker socket and the hub stay thin and call these; every change the store makes is
published here as a typed event. The clock is injected, so tests can set the time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from asman.blobs import BlobStore
from asman.core.definition import (
    DEFAULT_NAMESPACE,
    Control,
    JobDefinition,
    job_id,
    plainly_valid,
    settled,
)
from asman.core.errors import AsmanError, InvalidInput, NotFound, TooLarge, ValidationFailed
from asman.core.events import CancelRequested, LogsAppended, StateChanged, WorkersChanged
from asman.core.names import blob_key_in_url, check_blob_key, check_job_id, check_namespace, check_queue
from asman.core.states import STOPS_CONTAINER, IllegalTransition, JobState, Verb, transition
from asman.core.trust import Trust, trust_domain
from asman.core.webhooks import Delivery, hooks_of, retry_delay_ms
from asman.events.base import Notifier
from asman.server.attempt_logs import Admitted
from asman.server.batcher import Batcher
from asman.server.views import job_view
from asman.settings import Settings
from asman.store import Store
from asman.store.base import (
    Assignment,
    JobRow,
    LogBatch,
    LogCount,
    Report,
    Submission,
    SubmitOutcome,
    WorkerRow,
)

_DEFINITION_KEYS = {"image", "build", "command"}
# Blobs checked at once when a job or result keeps them, and at most how many one job or result keeps (each is
# a look-up, and an S3 one is a request: a result naming a million blobs must not hold its worker's socket).
_BLOB_TOUCHES_AT_ONCE = 16
_MOST_BLOBS_KEPT = 1000
# Plain submits written together at most (a store call), and queues whose submits are followed at once.
_MOST_SUBMITS_TOGETHER = 256
_MOST_SUBMIT_BATCHERS = 1024


def blob_keys(refs: Any) -> set[str]:
    """The keys of the blobs on this server that DataRefs `{name: ref}` name (`/f/<key>` URLs, `key` refs)."""
    keys: set[str] = set()
    if not isinstance(refs, dict):
        return keys
    for ref in refs.values():
        if not isinstance(ref, dict) or not isinstance(ref.get("value"), str):
            continue
        key = ref["value"] if ref.get("type") == "key" else None
        if ref.get("type") == "url":
            key = blob_key_in_url(ref["value"])
        if key is not None:
            with contextlib.suppress(InvalidInput):  # not a name a blob can have here
                keys.add(check_blob_key(key))
    return keys


def _input_blobs(definition: dict[str, Any]) -> set[str]:
    return blob_keys(definition.get("inputs")) | blob_keys(definition.get("configFiles"))


@dataclasses.dataclass(frozen=True, slots=True)
class ServedOutput:
    ref: dict[str, Any] | None  # None: the result has no output of that name


# A submit without control: read only, shared by every such submit.
_NO_CONTROL = Control()

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
        self._domains: dict[str, str] = {}
        self._finishes = Batcher(self._finish_many)
        # Plain submits (no webhooks, the default namespace) to one queue that arrive while the store is busy
        # with earlier ones are written together, as a batch submit writes its jobs: a few statements and one
        # hand-off for all instead of each. By queue and trust domain, as `submit_many` takes them.
        self._plain_submits: dict[tuple[str, str], Batcher[Submission, SubmitOutcome]] = {}

    def trust(self, queue: str) -> Trust:
        """Whose results `queue` believes (core/trust.py), from its worker token and ASMAN_SHARE_PUBLIC_RESULTS:
        every verb that keeps, serves or answers with a result asks this."""
        domain = self._domains.get(queue)
        if domain is None:
            settings = self.settings
            domain = trust_domain(queue, settings.worker_token(queue), settings.share_public_results)
            if len(self._domains) < 10_000:  # settings do not change; bound the cache against queue floods
                self._domains[queue] = domain
        return Trust(queue, domain)

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
        if not control_raw and plainly_valid(definition):  # what a sweep sends, checked without pydantic
            control = _NO_CONTROL
        else:
            try:
                JobDefinition.model_validate(definition).require_runnable()
                control = Control.model_validate(control_raw or {})
            except ValidationError as exc:
                raise ValidationFailed(
                    f"invalid job definition: {describe_validation(exc.errors())}"
                ) from exc
            except ValueError as exc:
                raise ValidationFailed(f"invalid job definition: {exc}") from exc
        # The model keeps every entry of both (names are strings), so the raw dicts count the same.
        files = len(definition.get("inputs") or {}) + len(definition.get("configFiles") or {})
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
        sub = self.submission(body, origin)
        domain = self.trust(queue).domain
        if sub.hooks is None and sub.namespace == DEFAULT_NAMESPACE:
            [answer] = await self._plain_batcher(queue, domain).many([sub])
            if isinstance(answer, Exception):
                raise answer
            outcome = answer
        else:
            now = self.now()
            outcome = await self.store.submit(
                queue,
                sub.job_id,
                sub.definition,
                sub.namespace,
                now,
                self.expires_ms(now),
                hooks=sub.hooks,
                domain=domain,
            )
        if outcome.transitions or outcome.stop:
            await self.publish(outcome.transitions, outcome.stop)
        # Its inputs must outlive the job: kept as long as the job is, from now.
        await self.keep_blobs(_input_blobs(sub.definition))
        return outcome.job

    def _plain_batcher(self, queue: str, domain: str) -> Batcher[Submission, SubmitOutcome]:
        key = (queue, domain)
        batcher = self._plain_submits.get(key)
        if batcher is None:
            if len(self._plain_submits) >= _MOST_SUBMIT_BATCHERS:  # bounded against queue floods
                self._plain_submits = {pair: one for pair, one in self._plain_submits.items() if one.busy}
            batcher = self._plain_submits[key] = Batcher(
                lambda subs: self._submit_plain(queue, domain, subs), most=_MOST_SUBMITS_TOGETHER
            )
        return batcher

    async def _submit_plain(self, queue: str, domain: str, subs: list[Submission]) -> list[SubmitOutcome]:
        now = self.now()
        if len(subs) > 1:
            return await self.store.submit_many(queue, subs, now, self.expires_ms(now), domain=domain)
        # Alone, the single verb: on PostgreSQL one statement without a transaction.
        sub = subs[0]
        return [
            await self.store.submit(
                queue, sub.job_id, sub.definition, sub.namespace, now, self.expires_ms(now), domain=domain
            )
        ]

    def submission(self, body: Any, origin: Origin | None = None) -> Submission:
        """A submit's body validated, its id computed (and checked against the one it claims), its webhooks
        prepared: what the store takes."""
        definition, control, claimed = self.parse_submission(body)
        computed = job_id(definition)
        if claimed and claimed != computed:
            raise InvalidInput(
                f"the submitted id {claimed[:80]} does not match the definition, whose id is {computed}:"
                " leave 'id' out and the server computes it"
            )
        hooks = None
        if control.callbacks:
            hooks = hooks_of(control, self.public_origin(origin), int(self.settings.webhook_expiry * 1000))
        # What runs depends only on what the id covers (core/definition.py `settled`).
        return Submission(computed, settled(definition), control.namespace or DEFAULT_NAMESPACE, hooks)

    async def submit_many(
        self, queue: str, bodies: Sequence[Any], origin: Origin | None = None
    ) -> list[JobRow | AsmanError]:
        """Many submits to one queue, each answered as `submit` would (or with its own error: a bad entry
        fails alone), all committed before the answer, their events published as single submits publish
        theirs."""
        check_queue(queue)
        if len(bodies) > self.settings.max_batch_jobs:
            raise TooLarge(
                f"the batch has {len(bodies)} jobs, over the limit of {self.settings.max_batch_jobs}:"
                " send it in several batches"
            )
        errors: dict[int, AsmanError] = {}
        subs: list[Submission] = []
        for index, body in enumerate(bodies):
            try:
                if isinstance(body, AsmanError):  # an entry that could not even be read
                    raise body
                subs.append(self.submission(body, origin))
            except AsmanError as error:
                errors[index] = error
        now = self.now()
        outcomes = await self.store.submit_many(
            queue, subs, now, self.expires_ms(now), domain=self.trust(queue).domain
        )
        changes = [change for outcome in outcomes for change in outcome.transitions]
        stop = [change for outcome in outcomes for change in outcome.stop]
        await self.notifier.publish_many(changes)
        if stop:
            await self.publish([], stop)
        await self.keep_blobs(set().union(*(_input_blobs(sub.definition) for sub in subs)))
        jobs = iter(outcome.job for outcome in outcomes)
        return [errors[index] if index in errors else next(jobs) for index in range(len(bodies))]

    async def require_job(self, queue: str, job: str) -> JobRow:
        check_queue(queue)
        check_job_id(job)
        row = await self.store.get_job(queue, job)
        if row is None:
            raise NotFound(f"no job {job} in queue {queue}: submit it with POST /q/{queue}")
        return row

    async def cancel(self, queue: str, job: str, namespace: str) -> JobRow:
        check_namespace(namespace)  # every way in (REST, the client socket, MCP, TES) is bounded here
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
        # Definitions kept by an older release may still carry fields the id does not cover.
        return [dataclasses.replace(a, definition=settled(a.definition)) for a in assignments]

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

    async def finish_many(self, reports: Sequence[Report]) -> list[StateChanged | Exception | None]:
        """Record attempts' outcomes, each kept in its queue's trust domain (a report's `domain` is set here).
        Each answer is its report's: the change, None when the attempt is stale, the token not its secret or
        the reason not a worker's to give, or the error that kept that report from being recorded. The reports
        share the store's transactions with each other and with the finishes waiting meanwhile."""
        answers: list[StateChanged | Exception | None] = [None] * len(reports)
        taken: list[int] = []
        trusted: list[Report] = []
        for index, report in enumerate(reports):
            try:
                transition(JobState.RUNNING, Verb.FINISH, reason=report.reason)
            except IllegalTransition:
                continue
            taken.append(index)
            trusted.append(dataclasses.replace(report, domain=self.trust(report.queue).domain))
        changes: list[StateChanged] = []
        kept: set[str] = set()
        for index, answer in zip(taken, await self._finishes.many(trusted), strict=True):
            answers[index] = answer
            if isinstance(answer, StateChanged):
                changes.append(answer)
                # A result's outputs live as long as it does (the worker skips uploading a blob that exists).
                kept |= blob_keys(reports[index].result.get("outputs"))
        if changes:
            await self.notifier.publish_many(changes)
        await self.keep_blobs(kept)
        return answers

    async def _finish_many(self, reports: list[Report]) -> list[StateChanged | None]:
        # Only the store's transaction here: when it fails nothing was written, so the batcher may retry its
        # reports one by one.
        now = self.now()
        return await self.store.finish_many(reports, now, self.expires_ms(now))

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

    def _blob_slack_ms(self) -> int:
        """A blob kept within this long (a tenth of a lifetime, at most a day) is not kept again, so use costs
        one look-up; the sweep spares blobs this much longer, so each lives a lifetime past its last use."""
        return min(int(self.settings.ttl_seconds * 1000) // 10, 86_400_000)

    def _stale_before(self) -> int:
        return self.now() - self._blob_slack_ms()

    async def keep_blob(self, key: str) -> bool:
        """Keep a blob a whole lifetime from now (it is in use); False when there is none."""
        return await self.blobs.touch(key, self._stale_before())

    async def keep_blobs(self, keys: set[str]) -> None:
        """Keep these blobs a whole lifetime from now: something that lives that long uses them."""
        ordered = sorted(keys)[:_MOST_BLOBS_KEPT]
        stale_before = self._stale_before()
        for start in range(0, len(ordered), _BLOB_TOUCHES_AT_ONCE):
            batch = ordered[start : start + _BLOB_TOUCHES_AT_ONCE]
            await asyncio.gather(*(self.blobs.touch(key, stale_before) for key in batch))

    async def sweep(self) -> int:
        """Delete what has expired: store rows, then blobs."""
        now = self.now()
        removed = await self.store.sweep(now)
        lifetime = int(self.settings.ttl_seconds * 1000)
        return removed + await self.blobs.sweep(now - lifetime - self._blob_slack_ms())

    async def result(self, job: str, queue: str | None) -> dict[str, Any] | None:
        """The result `queue` serves for `job` (one its trust domain made), or for the global lookup (no queue)
        the newest one, whichever queue made it."""
        return await self.store.get_result(job, self.trust(queue) if queue is not None else None)

    async def served_reason(self, job: str, queue: str | None) -> str | None:
        """The finished reason of the result `result` serves, read without the result when a queue asks."""
        if queue is not None:
            return await self.store.result_reason(job, self.trust(queue))
        found = await self.result(job, None)
        return str(found["reason"]) if found and found.get("reason") is not None else None

    async def served_output(self, job: str, name: str, queue: str | None) -> ServedOutput | None:
        """One output of the result `result` serves (None: there is no result), read without the rest of the
        result when a queue asks."""
        if queue is not None:
            trust = self.trust(queue)
            ref = await self.store.result_output(job, name, trust)
            if ref is None and await self.store.result_reason(job, trust) is None:
                return None
            return ServedOutput(ref)
        found = await self.result(job, None)
        if found is None:
            return None
        outputs = found.get("outputs")
        ref = outputs.get(name) if isinstance(outputs, dict) else None
        return ServedOutput(ref if isinstance(ref, dict) else None)

    async def job_view(self, row: JobRow) -> dict[str, Any]:
        """The full JSON view of one job in one queue (views.job_view)."""
        return job_view(
            row, await self.store.get_definition(row.job_id), await self.result(row.job_id, row.queue)
        )
