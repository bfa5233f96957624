"""Webhooks: what a submit's `control.callbacks` asks for, and what is sent for it.

`queued` fires when a submit creates a queue entry (a new Queued job, or a failed one queued again), never on a
dedupe or a cached success; `finished` fires when that job then finishes, however it ends. The `queued` body is
upstream's; `finished` (which upstream declared but never sent) adds the outcome. A delivery keeps its id across
retries, so receivers can drop duplicates.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asman.core.definition import Control
from asman.core.states import JobState

QUEUED = "queued"
FINISHED = "finished"
DELIVERY_HEADER = "X-Asman-Delivery"
EVENT_HEADER = "X-Asman-Event"

# Retries: the first a second after a failure, each later one twice as late, at most an hour apart.
FIRST_RETRY_MS = 1_000
LONGEST_RETRY_MS = 3_600_000


def new_delivery_id() -> str:
    return str(uuid.uuid4())


def _config(payload: Any) -> str:
    """A callback's payload as the JSON text a delivery's `config` is made of ({} when none, as upstream)."""
    return json.dumps({} if payload is None else payload, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Target:
    """One callback of a submit: where to POST, the delivery id it will have, and the `config` it carries."""

    id: str
    url: str
    config: str


@dataclass(frozen=True, slots=True)
class Hooks:
    """The webhooks one submit asks for, as the store keeps them."""

    queued: Target | None
    finished: Target | None
    # The API's public address, for the `resultUrl` of a finished delivery.
    origin: str
    # How long a delivery is retried before it is dropped.
    lifetime_ms: int


def hooks_of(
    control: Control, origin: str, lifetime_ms: int, new_id: Callable[[], str] = new_delivery_id
) -> Hooks | None:
    """The webhooks a submit's control asks for; None when it asks for none (other callback names are ignored,
    as upstream ignores them)."""
    callbacks = control.callbacks or {}
    targets = {
        event: Target(new_id(), callback.url, _config(callback.payload))
        for event, callback in callbacks.items()
        if event in (QUEUED, FINISHED)
    }
    if not targets:
        return None
    return Hooks(targets.get(QUEUED), targets.get(FINISHED), origin.rstrip("/"), lifetime_ms)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook on its way: claimed by a sender for attempt number `attempt`."""

    id: str
    event: str
    queue: str
    job_id: str
    namespace: str
    url: str
    config: str
    origin: str
    reason: str | None
    exit_code: int | None
    attempt: int
    expires_ms: int

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "jobId": self.job_id,
            "queue": self.queue,
            "namespace": self.namespace,
            "config": json.loads(self.config),
        }
        if self.event == FINISHED:
            body["state"] = JobState.FINISHED.value
            body["finishedReason"] = self.reason
            body["exitCode"] = self.exit_code
            body["resultUrl"] = f"{self.origin}/q/{self.queue}/j/{self.job_id}/result.json"
        return body

    def headers(self) -> dict[str, str]:
        return {DELIVERY_HEADER: self.id, EVENT_HEADER: self.event}


def retry_delay_ms(attempt: int) -> int:
    """How long after failed attempt number `attempt` (1 for the first) the next one starts."""
    return min(LONGEST_RETRY_MS, FIRST_RETRY_MS << min(max(attempt, 1) - 1, 32))
