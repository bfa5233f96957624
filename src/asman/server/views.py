"""The JSON shapes clients read, as upstream's clients expect them (UPSTREAM-WIRE.md §1): a queue entry
(`QueueJob`), a finished job (`FinishedJob`, in result.json and job views) and a job view. Asman's own fields
(jobId, queue, attempt, exitCode, trust) sit beside upstream's, never instead of them.

Results are stored as the worker reported them, plus who made them (`worker`, `attempt`, `time`, `queue`). They
are shaped here, when read, so results stored before this shape existed read the same way.
"""

from __future__ import annotations

from typing import Any

from asman.core.logs import with_newlines
from asman.core.states import FinishedReason, JobState
from asman.core.trust import domain_kind
from asman.store.base import JobRow

# What a worker's result carries about the run itself: upstream's RunResult.
_RUN_FIELDS = ("StatusCode", "logs", "duration", "isTimedOut", "outputs", "error")
# Results stored from this version on keep the newline at the end of each run-log line, as written.
RESULT_FORMAT = 2
# Finished reasons upstream keeps out of every listing and broadcast ("sendable").
HIDDEN_REASONS = frozenset(
    {
        FinishedReason.WORKER_LOST,
        FinishedReason.JOB_REPLACED_BY_CLIENT,
        FinishedReason.CANCELLED,
        FinishedReason.DELETED,
    }
)
# Reasons whose result upstream persists: result.json answers null for the others, and logs are not final.
KEPT_REASONS = frozenset({FinishedReason.SUCCESS, FinishedReason.ERROR, FinishedReason.TIMED_OUT})


def sendable(row: JobRow) -> bool:
    return not (row.state is JobState.FINISHED and row.reason in HIDDEN_REASONS)


def queue_job(row: JobRow) -> dict[str, Any]:
    """A job's entry in its queue: upstream's QueueJob (namespaces sorted), with Asman's fields beside."""
    data = row.summary()
    data["namespaces"] = sorted(row.namespaces)
    return data


def run_result(stored: dict[str, Any]) -> dict[str, Any]:
    """Upstream's RunResult from a stored result: what the container did."""
    result = {name: stored[name] for name in _RUN_FIELDS if stored.get(name) is not None}
    result.setdefault("logs", [])
    result.setdefault("outputs", {})
    result.setdefault("isTimedOut", False)
    if stored.get("v", 1) < RESULT_FORMAT:
        result["logs"] = with_newlines(result["logs"])
    return result


def finished_job(stored: dict[str, Any], row: JobRow | None = None) -> dict[str, Any]:
    """Upstream's FinishedJob from a stored result, and the queue entry it finished in when there is one."""
    reason = str(stored.get("reason") or (row.reason.value if row and row.reason else "Error"))
    time_ms = int(stored.get("time") or (row.updated_ms if row else 0))
    worker = str(stored.get("worker") or (row.worker if row else "") or "")
    namespaces = sorted(row.namespaces) if row and row.namespaces else list(stored.get("namespaces") or ["_"])
    result = run_result(stored)
    data: dict[str, Any] = {
        "queuedTime": row.queued_ms if row else int(stored.get("queuedTime") or time_ms),
        "state": JobState.FINISHED.value,
        "finishedReason": reason,
        "time": time_ms,
        "worker": worker,
        "namespaces": namespaces,
        "finished": {
            "type": "Finished",
            "reason": reason,
            "time": time_ms,
            "worker": worker,
            "result": result,
        },
        "attempt": int(stored.get("attempt") or (row.attempt if row else 0)),
    }
    if isinstance(result.get("StatusCode"), int):
        data["exitCode"] = result["StatusCode"]
    if stored.get("queue") or row:
        data["queue"] = str(stored.get("queue") or (row.queue if row else ""))
    if "domain" in stored:  # who made it, as the store keeps it (core/trust.py)
        data["trust"] = domain_kind(str(stored["domain"]))
    return data


def job_view(
    row: JobRow | None, definition: dict[str, Any] | None, stored: dict[str, Any] | None
) -> dict[str, Any]:
    """A job as `GET /q/<q>/j/<id>` and `/j/<id>.json` show it: upstream's `{definition, results?}`, and the
    queue entry's fields beside them when the job is in a queue. `results` is there once the job finished."""
    data: dict[str, Any] = queue_job(row) if row is not None else {}
    data["definition"] = definition
    if stored is not None and (row is None or row.state is JobState.FINISHED):
        data["results"] = finished_job(stored, row)
    return data


def stored_result(
    result: dict[str, Any], *, queue: str, worker: str, attempt: int, time_ms: int
) -> dict[str, Any]:
    """What the store keeps of an attempt's outcome: the worker's report and who made it."""
    return {
        **result,
        "worker": worker,
        "attempt": attempt,
        "time": time_ms,
        "queue": queue,
        "v": RESULT_FORMAT,
    }
