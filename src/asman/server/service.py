"""The queue's use cases: submit, cancel, delete, copy, finish. Routes and the worker socket stay thin and call
these; every state change the store makes is published as an event."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from asman.blobs import BlobStore
from asman.core.definition import DEFAULT_NAMESPACE, Control, JobDefinition, job_id
from asman.core.errors import InvalidInput, NotFound, ValidationFailed
from asman.core.events import Event
from asman.core.names import check_job_id, check_queue
from asman.core.states import FinishedReason
from asman.events.base import Notifier
from asman.settings import Settings
from asman.store import Store
from asman.store.base import JobRow, Transition

_DEFINITION_KEYS = {"image", "build", "command"}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def describe_validation(errors: Sequence[Any]) -> str:
    """The first few validation errors of pydantic or FastAPI as `where: what; ...`."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(item) for item in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def state_event(transition: Transition) -> Event:
    data: dict[str, Any] = {
        "state": transition.state.value,
        "attempt": transition.attempt,
        "worker": transition.worker or "",
        "time": transition.time_ms,
    }
    if transition.reason is not None:
        data["finishedReason"] = transition.reason.value
    if transition.exit_code is not None:
        data["exitCode"] = transition.exit_code
    return Event("state", transition.queue, transition.job_id, data)


def cancel_event(transition: Transition) -> Event:
    return Event(
        "cancel",
        transition.queue,
        transition.job_id,
        {"attempt": transition.attempt, "worker": transition.worker},
    )


class JobService:
    def __init__(self, settings: Settings, store: Store, blobs: BlobStore, notifier: Notifier) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.notifier = notifier

    def expires_ms(self, now: int) -> int:
        return now + int(self.settings.ttl_seconds * 1000)

    async def publish_transitions(
        self, transitions: list[Transition], stop: list[Transition] | None = None
    ) -> None:
        for transition in transitions:
            await self.notifier.publish(state_event(transition))
        for transition in stop or []:
            await self.notifier.publish(cancel_event(transition))

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

    async def submit(self, queue: str, body: Any) -> JobRow:
        check_queue(queue)
        definition, control, claimed = self.parse_submission(body)
        computed = job_id(definition)
        if claimed and claimed != computed:
            raise InvalidInput(
                f"the submitted id {claimed[:80]} does not match the definition, whose id is {computed}:"
                " leave 'id' out and the server computes it"
            )
        namespace = control.namespace or DEFAULT_NAMESPACE
        now = now_ms()
        outcome = await self.store.submit(queue, computed, definition, namespace, now, self.expires_ms(now))
        if outcome.transitions or outcome.stop:
            await self.publish_transitions(outcome.transitions, outcome.stop)
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
        transition = await self.store.cancel(queue, job, namespace or DEFAULT_NAMESPACE, now_ms())
        if transition is not None:
            await self.publish_transitions([transition], [transition])
        return await self.require_job(queue, job)

    async def delete(self, queue: str, job: str) -> JobRow:
        await self.require_job(queue, job)
        transition = await self.store.delete(queue, job, now_ms())
        if transition is not None:
            await self.publish_transitions([transition], [transition])
        return await self.require_job(queue, job)

    async def copy(self, job: str, body: Any) -> JobRow:
        check_job_id(job)
        if not isinstance(body, dict) or not isinstance(body.get("queue"), str):
            raise InvalidInput('send {"queue": "<target queue>", "control"?: {...}} to copy a job')
        definition = await self.store.get_definition(job)
        if definition is None:
            raise NotFound(f"no job {job}: it was never submitted or has expired")
        return await self.submit(body["queue"], {"definition": definition, "control": body.get("control")})

    async def finish(
        self, queue: str, job: str, attempt: int, reason: FinishedReason, result: dict[str, Any]
    ) -> Transition | None:
        now = now_ms()
        transition = await self.store.finish(queue, job, attempt, reason, result, now, self.expires_ms(now))
        if transition is not None:
            await self.publish_transitions([transition])
        return transition

    async def job_view(self, row: JobRow) -> dict[str, Any]:
        """The full JSON view of one job in one queue."""
        view = row.summary()
        view["definition"] = await self.store.get_definition(row.job_id)
        view["results"] = await self.store.get_result(row.job_id)
        return view
