"""Every change anyone may watch is one typed event: a job's state, a batch of log lines, a cancel for a
worker, the set of workers. The store's transitions become events; the notifier fans them out to SSE
streams, worker connections and metrics, on this replica and (with PostgreSQL) on every other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# "resync" is never published: a replica's notifier delivers it to its own listeners when events may have been
# missed (its PostgreSQL connection was lost), so streams send the current state again.
EventKind = Literal["state", "log", "cancel", "workers", "queued", "resync"]


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    queue: str
    job_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def predates(self, attempt: int) -> bool:
        """Whether this event comes from before `attempt` of its job began. A job's events are published by
        whoever made each change (a submit's Queued can arrive after the claim that began attempt 1), so a
        listener that knows a later attempt ignores such an event."""
        event_attempt = self.data.get("attempt")
        return isinstance(event_attempt, int) and event_attempt < attempt

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "queue": self.queue, "jobId": self.job_id, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        return cls(
            kind=raw["kind"], queue=raw["queue"], job_id=raw.get("jobId", ""), data=raw.get("data") or {}
        )
