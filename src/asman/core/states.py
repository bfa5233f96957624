"""Job states, finished reasons and the one transition function that refuses illegal moves."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    FINISHED = "Finished"
    REMOVED = "Removed"


class FinishedReason(StrEnum):
    SUCCESS = "Success"
    ERROR = "Error"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"
    WORKER_LOST = "WorkerLost"
    JOB_REPLACED_BY_CLIENT = "JobReplacedByClient"
    DELETED = "Deleted"


# A finished job whose reason is here runs again when it is resubmitted; only Success is served from cache.
RERUN_ON_SUBMIT = frozenset(
    {
        FinishedReason.ERROR,
        FinishedReason.TIMED_OUT,
        FinishedReason.WORKER_LOST,
        FinishedReason.CANCELLED,
        FinishedReason.JOB_REPLACED_BY_CLIENT,
        FinishedReason.DELETED,
    }
)

_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.FINISHED, JobState.REMOVED}),
    JobState.RUNNING: frozenset({JobState.QUEUED, JobState.FINISHED, JobState.REMOVED}),
    JobState.FINISHED: frozenset({JobState.QUEUED, JobState.FINISHED, JobState.REMOVED}),
    JobState.REMOVED: frozenset({JobState.QUEUED}),
}


class IllegalTransition(ValueError):
    pass


def check_transition(current: JobState, target: JobState, reason: FinishedReason | None = None) -> None:
    """Raise unless a job may move from `current` to `target`.

    Finished -> Finished is only allowed to mark a finished job Deleted (dropping its cached result).
    """
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"a {current} job cannot become {target}")
    if current is JobState.FINISHED and target is JobState.FINISHED and reason is not FinishedReason.DELETED:
        raise IllegalTransition("a finished job can only be re-finished as Deleted")
    if target is JobState.FINISHED and reason is None:
        raise IllegalTransition("finishing a job needs a reason")
