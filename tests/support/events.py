"""Typed events for tests, with defaults for the fields a test does not care about."""

from __future__ import annotations

from typing import Any

from asman.core.events import LogsAppended, StateChanged
from asman.core.states import FinishedReason, JobState


def state(
    queue: str,
    job_id: str,
    state: str = "Queued",
    attempt: int = 0,
    time: int = 1,
    reason: str | None = None,
    worker: str | None = None,
) -> StateChanged:
    return StateChanged(
        queue, job_id, JobState(state), FinishedReason(reason) if reason else None, attempt, worker, time
    )


def logs(
    queue: str, job_id: str, lines: list[list[Any]], attempt: int = 1, step: str = "run", offset: int = 0
) -> LogsAppended:
    return LogsAppended(queue, job_id, attempt, step, offset, lines)
