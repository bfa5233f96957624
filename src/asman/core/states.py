"""Job states and finished reasons.

The transitions themselves live in the store's SQL, where they are atomic: Queued -> Running (claim),
Running -> Finished (result, cancel, lease budget spent) or -> Queued (lease expired, released), and
Finished -> Queued when a job whose last run did not succeed is submitted again."""

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
