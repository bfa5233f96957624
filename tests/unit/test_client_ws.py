"""The client socket's shapes and its rule for events that arrive after the state they led to was read."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from asman.core.states import FinishedReason, JobState
from asman.server.client_ws import _advanced, _job_states, _workers, queue_job, sendable
from asman.store.base import JobRow, WorkerRow
from tests.support.events import state

JOB = "a" * 64


def row(**fields: Any) -> JobRow:
    values: dict[str, Any] = {
        "queue": "q",
        "job_id": JOB,
        "state": JobState.QUEUED,
        "reason": None,
        "attempt": 0,
        "worker": None,
        "queued_ms": 100,
        "updated_ms": 100,
        "seq": 1,
        "namespaces": ("b", "_", "a"),
    }
    return JobRow(**{**values, **fields})


def test_a_row_becomes_upstreams_queue_job() -> None:
    assert queue_job(row()) == {
        "queuedTime": 100,
        "state": "Queued",
        "time": 100,
        "worker": "",
        "namespaces": ["_", "a", "b"],
        "attempt": 0,
    }
    done = queue_job(
        row(
            state=JobState.FINISHED,
            reason=FinishedReason.SUCCESS,
            attempt=1,
            worker="w",
            updated_ms=300,
            exit_code=3,
        )
    )
    assert done["finishedReason"] == "Success" and done["exitCode"] == 3 and done["worker"] == "w"
    assert (
        "reason" not in done and "finished" not in done
    )  # upstream's browser reads `reason` as an old shape


@pytest.mark.parametrize("reason", list(FinishedReason))
def test_sendable_hides_what_upstream_hides(reason: FinishedReason) -> None:
    job = queue_job(row(state=JobState.FINISHED, reason=reason))
    hidden = {"WorkerLost", "JobReplacedByClient", "Cancelled", "Deleted"}
    assert sendable(job) is (reason.value not in hidden)
    assert sendable(queue_job(row())) and sendable(queue_job(row(state=JobState.RUNNING)))
    frame = orjson.loads(_job_states({JOB: job}, subset=False))
    assert frame["type"] == "JobStates" and frame["payload"]["isSubset"] is False
    assert (JOB in frame["payload"]["state"]["jobs"]) is sendable(job)


def test_changes_move_a_job_on() -> None:
    queued = queue_job(row())
    running = _advanced(queued, state("q", JOB, "Running", attempt=1, time=200, worker="w"))
    assert running is not None
    assert (running["state"], running["attempt"], running["worker"], running["time"]) == (
        "Running",
        1,
        "w",
        200,
    )
    assert running["namespaces"] == ["_", "a", "b"] and running["queuedTime"] == 100
    finished = _advanced(
        running, state("q", JOB, "Finished", attempt=1, time=300, reason="Success", worker="w")
    )
    assert finished is not None and finished["finishedReason"] == "Success"
    # A failed job submitted again runs again: Queued in the same attempt, later.
    again = _advanced(finished, state("q", JOB, "Queued", attempt=1, time=400))
    assert again is not None and "finishedReason" not in again and again["worker"] == ""
    # A lost lease or a release hands a running attempt back.
    assert _advanced(running, state("q", JOB, "Queued", attempt=1, time=250)) is not None


def test_changes_already_shown_or_overtaken_are_dropped() -> None:
    running = queue_job(row(state=JobState.RUNNING, attempt=2, worker="w", updated_ms=200))
    finished = queue_job(
        row(state=JobState.FINISHED, reason=FinishedReason.SUCCESS, attempt=2, updated_ms=300)
    )
    assert _advanced(running, state("q", JOB, "Running", attempt=2, time=200, worker="w")) is None
    assert _advanced(running, state("q", JOB, "Queued", attempt=1, time=100)) is None
    assert _advanced(finished, state("q", JOB, "Running", attempt=2, time=200, worker="w")) is None
    assert _advanced(finished, state("q", JOB, "Queued", attempt=2, time=150)) is None
    assert _advanced(finished, state("q", JOB, "Finished", attempt=2, time=300, reason="Success")) is None
    # Finished again for another reason (a delete) is news.
    assert _advanced(finished, state("q", JOB, "Finished", attempt=2, time=500, reason="Deleted")) is not None


def test_workers_in_upstreams_shape_once_each() -> None:
    rows = [
        WorkerRow("q", "w1", "r1", {"id": "w1", "slots": 4, "gpus": 1, "version": "1.0"}, 10),
        WorkerRow("q", "w1", "r2", {"id": "w1", "slots": 4, "gpus": 1, "version": "1.0"}, 20),
        WorkerRow("q", "w2", "r1", {"id": "w2", "slots": 1, "gpus": 0, "maxJobDuration": 60.0}, 15),
    ]
    frame = orjson.loads(_workers(rows))
    assert frame["type"] == "Workers"
    assert frame["payload"]["workers"] == [
        {"version": "1.0", "id": "w1", "cpus": 4, "gpus": 1, "time": 20, "replica": "r2"},
        {
            "version": "",
            "id": "w2",
            "cpus": 1,
            "gpus": 0,
            "time": 15,
            "replica": "r1",
            "maxJobDuration": 60.0,
        },
    ]
