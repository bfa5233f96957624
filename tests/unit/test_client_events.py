"""The SSE decoder and the watch that turns a job's stream into events without repeating lines."""

from __future__ import annotations

import json

from asman.client import Finished, LogLine, LogsWritten, StateChanged
from asman.client._follow import Watch
from asman.client._models import JobResult, log_lines
from asman.client._sse import ServerSentEvent, SSEDecoder
from asman.core.states import FinishedReason, JobState


def decode(text: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [decoder.feed(line) for line in text.splitlines()]
    return [event for event in events if event is not None]


def test_decoder_reads_events_comments_and_multiline_data() -> None:
    stream = 'event: state\ndata: {"a": 1}\n\n: keep-alive\n\ndata: one\ndata: two\nid: 7\n\nevent: x\r\ndata: y\r\n\r\n'
    assert decode(stream) == [
        ServerSentEvent("state", '{"a": 1}'),
        ServerSentEvent("message", "one\ntwo", "7"),
        ServerSentEvent("x", "y", "7"),
    ]


def finished_job(reason: str, result: dict[str, object], worker: str = "") -> dict[str, object]:
    """A FinishedJob as the server sends it (result.json, and `results` in job views)."""
    finished = {"type": "Finished", "reason": reason, "time": 2, "worker": worker, "result": result}
    return {
        "state": "Finished",
        "finishedReason": reason,
        "worker": worker,
        "attempt": 1,
        "finished": finished,
    }


def sse(event: str, data: object) -> ServerSentEvent:
    return ServerSentEvent(event, json.dumps(data))


def test_watch_drops_lines_replayed_after_a_reconnection() -> None:
    watch = Watch("q")
    watch.connected()
    first = watch.feed(sse("run-log", {"lines": [["a\n", 1, False], ["b\n", 2, True]], "cursor": 2}))
    assert first == [LogsWritten([LogLine("a", 1, False), LogLine("b", 2, True)])]
    watch.connected()  # the stream replays everything from the first line
    replayed = [["a\n", 1, False], ["b\n", 2, True], ["c\n", 3, False]]
    assert watch.feed(sse("run-log", {"lines": replayed, "cursor": 3})) == [
        LogsWritten([LogLine("c", 3, False)])
    ]
    assert watch.feed(sse("build-log", {"lines": [["step 1", 4]], "cursor": 1})) == [
        LogsWritten([LogLine("step 1", 4, False, "build")])
    ]
    # A last line the program did not end: kept as written.
    [written] = watch.feed(sse("run-log", {"lines": [["d", 5, False]], "cursor": 4}))
    assert written == LogsWritten([LogLine("d", 5, False, "run", ended=False)])
    assert [line.written for line in written.lines] == ["d"]


def test_watch_reports_states_and_the_final_result() -> None:
    watch = Watch("q")
    [state] = watch.feed(sse("state", {"jobId": "j", "state": "Running", "worker": "w1", "attempt": 1}))
    assert isinstance(state, StateChanged)
    assert (state.status.state, state.status.worker, state.status.queue) == (JobState.RUNNING, "w1", "q")
    run = {"StatusCode": 0, "logs": [["cached\n", 9, False]], "outputs": {}, "isTimedOut": False}
    view = {
        "jobId": "j",
        "state": "Finished",
        "reason": "Success",
        "finishedReason": "Success",
        "results": finished_job("Success", run),
    }
    events = watch.feed(sse("final", view))
    # No log event came before: the stored result's logs are the job's logs.
    assert [type(event) for event in events] == [StateChanged, LogsWritten, Finished]
    assert isinstance(events[-1], Finished)
    assert events[-1].result.stdout == "cached\n"


def test_watch_ignores_garbage() -> None:
    watch = Watch("q")
    assert watch.feed(ServerSentEvent("state", "not json")) == []
    assert watch.feed(sse("unknown", {})) == []


def test_results_from_the_server_view() -> None:
    result = JobResult.from_view(
        {
            "jobId": "j",
            "state": "Finished",
            "finishedReason": "Success",
            "worker": "w",
            "results": finished_job(
                "Success",
                {
                    "StatusCode": 3,
                    "duration": 1200,
                    "logs": [["out\n", 1, False], ["err\n", 2, True]],
                    "outputs": {"a.txt": {"type": "utf8", "value": "x"}},
                },
                worker="w",
            ),
        }
    )
    assert (result.reason, result.exit_code, result.ok) == (FinishedReason.SUCCESS, 3, False)
    assert (result.stdout, result.stderr, result.worker) == ("out\n", "err\n", "w")
    assert result.describe() == "exited with code 3"
    cancelled = JobResult.from_view(
        {"jobId": "j", "state": "Finished", "finishedReason": "Cancelled", "results": None}
    )
    assert (cancelled.reason, cancelled.ok, cancelled.describe()) == (
        FinishedReason.CANCELLED,
        False,
        "was cancelled",
    )
    failed = JobResult.from_view(finished_job("Error", {"error": "no such image", "logs": []}))
    assert failed.describe() == "failed: no such image"
    # result.json's answer is a bare finished job.
    bare = JobResult.from_view(finished_job("Success", {"StatusCode": 0, "logs": [["hi\n", 1]]}))
    assert (bare.ok, bare.stdout) == (True, "hi\n")


def test_log_lines_tolerate_odd_shapes() -> None:
    assert log_lines([["a\n"], "b", [], 3, ["c", "not a time", 1]]) == [
        LogLine("a", 0),
        LogLine("b", 0, ended=False),
        LogLine("c", 0, True, ended=False),
    ]
    assert log_lines(None) == []


def test_a_status_carries_the_exit_code_of_a_finished_job() -> None:
    from asman.cli._watch import describe_state
    from asman.client import JobStatus

    finished = JobStatus.from_json(
        {"jobId": "j", "state": "Finished", "finishedReason": "Success", "exitCode": 3}, queue="q"
    )
    assert finished.exit_code == 3
    assert describe_state(finished) == "Finished (Success, exit code 3)"
    running = JobStatus.from_json({"jobId": "j", "state": "Running", "worker": "w1"})
    assert running.exit_code is None and describe_state(running) == "Running on worker w1"
    assert describe_state(
        JobStatus.from_json({"state": "Finished", "finishedReason": "Success", "exitCode": 0})
    ) == ("Finished (Success)")


def test_watch_keeps_the_last_event_id_and_places_resumed_lines_by_their_cursor() -> None:
    follow_id = "1:0:2"
    watch = Watch("q")
    watch.connected()
    watch.feed(
        ServerSentEvent(
            "run-log", json.dumps({"lines": [["a\n", 1, False], ["b\n", 2, False]], "cursor": 2}), follow_id
        )
    )
    assert watch.last_event_id == follow_id
    watch.connected()  # resumed: the server sends lines 3 and 4 only
    [written] = watch.feed(
        ServerSentEvent(
            "run-log", json.dumps({"lines": [["c\n", 3, False], ["d\n", 4, False]], "cursor": 4}), "1:0:4"
        )
    )
    assert isinstance(written, LogsWritten) and [line.text for line in written.lines] == ["c", "d"]
    assert watch.feed(ServerSentEvent("state", json.dumps({"jobId": "j", "state": "Running"}))) != []
    assert watch.last_event_id == "1:0:4", "an event without an id keeps the last one"
