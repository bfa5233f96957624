"""Every change anyone may watch is one typed event: a job's state, a batch of log lines, a cancel for a
worker, the set of workers, or a notice that events may have been missed. The store's transitions are
`StateChanged` events; the notifier fans events out to SSE streams, worker connections and metrics, on this
replica and (with PostgreSQL) on every other, through the one codec below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asman.core.states import FinishedReason, JobState


@dataclass(frozen=True, slots=True)
class StateChanged:
    queue: str
    job_id: str
    state: JobState
    reason: FinishedReason | None
    attempt: int
    worker: str | None
    time_ms: int
    exit_code: int | None = None

    def predates(self, attempt: int) -> bool:
        """Whether this change comes from before `attempt` of its job began. A job's events are published by
        whoever made each change (a submit's Queued can arrive after the claim that began attempt 1), so a
        listener that knows a later attempt ignores such an event."""
        return self.attempt < attempt

    def summary(self) -> dict[str, Any]:
        """The JSON shape of a job's state in listings and streams (upstream's fields, extended)."""
        data: dict[str, Any] = {
            "jobId": self.job_id,
            "queue": self.queue,
            "state": self.state.value,
            "attempt": self.attempt,
            "worker": self.worker or "",
            "time": self.time_ms,
        }
        if self.reason is not None:
            data["finishedReason"] = self.reason.value
        if self.exit_code is not None:
            data["exitCode"] = self.exit_code
        return data


@dataclass(frozen=True, slots=True)
class LogsAppended:
    queue: str
    job_id: str
    attempt: int
    step: str  # "run" or "build"
    # Where these lines start among the attempt's stored lines of `step`, so a watcher that read the stored
    # lines first skips what it already has.
    offset: int
    lines: list[list[Any]]


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """A job ended while its container may still run (see states.STOPS_CONTAINER): its worker stops it."""

    queue: str
    job_id: str
    attempt: int
    worker: str | None


@dataclass(frozen=True, slots=True)
class WorkersChanged:
    queue: str


@dataclass(frozen=True, slots=True)
class Resync:
    """Never published: a replica's notifier delivers it to its own listeners when events may have been
    missed (its PostgreSQL connection was lost), so streams send the current state again."""

    queue: str = ""


Event = StateChanged | LogsAppended | CancelRequested | WorkersChanged | Resync

_KINDS: dict[str, type[Event]] = {
    "state": StateChanged,
    "log": LogsAppended,
    "cancel": CancelRequested,
    "workers": WorkersChanged,
    "resync": Resync,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def event_to_json(event: Event) -> dict[str, Any]:
    """An event as plain JSON (the notifier's wire form)."""
    data: dict[str, Any] = {"kind": _KIND_OF[type(event)]}
    for name in event.__slots__:
        data[name] = getattr(event, name)
    return data


def event_from_json(raw: dict[str, Any]) -> Event:
    """The inverse of event_to_json; KeyError, TypeError or ValueError for what is not an event."""
    fields = dict(raw)
    cls = _KINDS[fields.pop("kind")]
    if cls is StateChanged:
        fields["state"] = JobState(fields["state"])
        fields["reason"] = FinishedReason(fields["reason"]) if fields.get("reason") else None
    return cls(**fields)
