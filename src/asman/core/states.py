"""Job states, finished reasons, and the one transition function that says which moves are legal.

The stores carry the moves out atomically in SQL, each as a conditional write; `transition` is the rule they
implement, and a contract test walks every verb from every state and checks that each store agrees with it.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    FINISHED = "Finished"


class FinishedReason(StrEnum):
    SUCCESS = "Success"
    ERROR = "Error"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"
    WORKER_LOST = "WorkerLost"
    JOB_REPLACED_BY_CLIENT = "JobReplacedByClient"
    DELETED = "Deleted"


class Verb(StrEnum):
    """Everything that may change a job's state in one queue."""

    SUBMIT = "submit"
    CLAIM = "claim"
    RENEW = "renew"
    FINISH = "finish"  # the worker reports the attempt's outcome
    RELEASE = "release"  # the worker hands the attempt back (graceful stop)
    EXPIRE = "expire"  # the attempt's lease ran out
    CANCEL = "cancel"  # the last namespace that wanted the job let go of it
    REPLACE = "replace"  # a newer job took the last namespace
    DELETE = "delete"


# Reasons a worker may report for an attempt it ran (Cancelled: it stopped the container when told to); the
# others are the server's to decide.
WORKER_REASONS = frozenset(
    {FinishedReason.SUCCESS, FinishedReason.ERROR, FinishedReason.TIMED_OUT, FinishedReason.CANCELLED}
)
# Reasons that end a job while its container may still run: the worker is told to stop it.
STOPS_CONTAINER = frozenset(
    {FinishedReason.CANCELLED, FinishedReason.JOB_REPLACED_BY_CLIENT, FinishedReason.DELETED}
)
UNFINISHED = frozenset({JobState.QUEUED, JobState.RUNNING})

Outcome = tuple[JobState, FinishedReason | None]


class IllegalTransition(ValueError):
    """A verb that may not apply to a job in its state (stores answer it with "no change")."""


def transition(
    state: JobState | None,
    verb: Verb,
    *,
    reason: FinishedReason | None = None,
    kept_success: bool = False,
    budget_spent: bool = False,
) -> Outcome:
    """The state (and reason) `verb` leads to from `state`; None means the queue has no such job yet.

    - `reason`: what the worker reports (FINISH);
    - `kept_success`: the job's last run succeeded and its result is kept, so a SUBMIT serves it as it is;
    - `budget_spent`: an EXPIRE that used up the retry budget, so the job ends as WorkerLost.
    Raises IllegalTransition for a move that must not happen.
    """
    if verb is Verb.SUBMIT:
        if state in UNFINISHED:
            return (state, None)
        if kept_success:
            return (JobState.FINISHED, FinishedReason.SUCCESS)
        return (JobState.QUEUED, None)  # new, or the last run failed, was cancelled or deleted
    if state is None:
        raise IllegalTransition(f"{verb} of a job that is not in the queue")
    if verb is Verb.DELETE:
        return (JobState.FINISHED, FinishedReason.DELETED)
    if verb in (Verb.CANCEL, Verb.REPLACE):
        if state not in UNFINISHED:
            raise IllegalTransition(f"{verb} of a {state} job")
        return (
            JobState.FINISHED,
            FinishedReason.CANCELLED if verb is Verb.CANCEL else FinishedReason.JOB_REPLACED_BY_CLIENT,
        )
    if verb is Verb.CLAIM:
        if state is not JobState.QUEUED:
            raise IllegalTransition(f"claim of a {state} job")
        return (JobState.RUNNING, None)
    # The rest speak of a running attempt.
    if state is not JobState.RUNNING:
        raise IllegalTransition(f"{verb} of a {state} job")
    if verb is Verb.RENEW:
        return (JobState.RUNNING, None)
    if verb is Verb.RELEASE:
        return (JobState.QUEUED, None)
    if verb is Verb.EXPIRE:
        return (JobState.FINISHED, FinishedReason.WORKER_LOST) if budget_spent else (JobState.QUEUED, None)
    if reason not in WORKER_REASONS:
        raise IllegalTransition(f"a worker cannot finish a job as {reason}")
    return (JobState.FINISHED, reason)
