"""The shapes upstream's clients read, built from stored rows and results (server/views.py)."""

from __future__ import annotations

from asman.core.states import FinishedReason, JobState
from asman.server.views import finished_job, job_view, queue_job, stored_result
from asman.store.base import JobRow

JOB = "a" * 64


def row(
    state: JobState = JobState.FINISHED, reason: FinishedReason | None = FinishedReason.SUCCESS
) -> JobRow:
    return JobRow("q", JOB, state, reason, 1, "w1", 1_000, 2_000, 7, ("zeta", "_"), exit_code=0)


def test_a_finished_job_is_upstreams_shape_with_asmans_fields_beside() -> None:
    stored = stored_result(
        {
            "reason": "Success",
            "StatusCode": 0,
            "logs": [["hi\n", 1_500, False]],
            "outputs": {},
            "isTimedOut": False,
        },
        queue="q",
        worker="w1",
        attempt=1,
        time_ms=2_000,
    )
    data = finished_job(stored, row())
    assert data == {
        "queuedTime": 1_000,
        "state": "Finished",
        "finishedReason": "Success",
        "time": 2_000,
        "worker": "w1",
        "namespaces": ["_", "zeta"],
        "finished": {
            "type": "Finished",
            "reason": "Success",
            "time": 2_000,
            "worker": "w1",
            "result": {"StatusCode": 0, "logs": [["hi\n", 1_500, False]], "outputs": {}, "isTimedOut": False},
        },
        "attempt": 1,
        "exitCode": 0,
        "queue": "q",
    }


def test_a_result_stored_before_the_upstream_shape_reads_the_same_way() -> None:
    # What earlier versions stored: the worker's report flat, lines without their newlines, no format mark.
    old = {
        "reason": "Error",
        "error": "image not found",
        "logs": [["pulling", 10, False], ["failed", 11, True]],
        "outputs": {},
        "isTimedOut": False,
        "worker": "w0",
        "attempt": 2,
        "time": 12,
    }
    data = finished_job(old)
    assert (data["finishedReason"], data["worker"], data["attempt"], data["namespaces"]) == (
        "Error",
        "w0",
        2,
        ["_"],
    )
    result = data["finished"]["result"]
    assert result["error"] == "image not found" and "StatusCode" not in result and "exitCode" not in data
    assert [line[0] for line in result["logs"]] == ["pulling\n", "failed\n"]


def test_a_job_view_has_results_only_once_finished() -> None:
    running = row(JobState.RUNNING, None)
    view = job_view(running, {"image": "x"}, None)
    assert "results" not in view and view["definition"] == {"image": "x"} and view["state"] == "Running"
    assert view["namespaces"] == ["_", "zeta"]  # sorted, as upstream sends them
    done = job_view(row(), {"image": "x"}, {"reason": "Success", "StatusCode": 0, "v": 2})
    assert done["results"]["finished"]["result"]["StatusCode"] == 0
    assert queue_job(row())["finishedReason"] == "Success"
