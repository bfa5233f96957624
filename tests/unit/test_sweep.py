"""The pure parts of sweeps: templates, `--matrix` expansion, batching, following finished jobs."""

from __future__ import annotations

import json

import pytest
import typer

from asman.cli._sweep import expand
from asman.client._sweep import Tracker, batches, entry_error, fill, item_values, matrix, parse_axis


def test_fill_replaces_known_placeholders_everywhere_and_leaves_other_braces() -> None:
    template = {
        "image": "alpine",
        "command": "sh -c 'echo {n} ${n} ${HOME} {unknown}; awk \"{print $1}\"'",
        "env": {"N_{n}": "{n}{n}"},
        "tags": ["run-{n}", 3],
    }
    assert fill(template, {"n": "7"}) == {
        "image": "alpine",
        "command": "sh -c 'echo 7 ${n} ${HOME} {unknown}; awk \"{print $1}\"'",
        "env": {"N_7": "77"},
        "tags": ["run-7", 3],
    }


def test_items_fill_their_keys_or_item() -> None:
    assert item_values({"n": 3, "name": "x"}) == {"n": "3", "name": "x"}
    assert item_values(3) == {"item": "3"}
    assert item_values("a b") == {"item": "a b"}


def test_the_matrix_is_every_combination_the_last_axis_fastest() -> None:
    assert matrix(["A=1,2", "B=x,y,z"]) == [
        {"A": "1", "B": "x"},
        {"A": "1", "B": "y"},
        {"A": "1", "B": "z"},
        {"A": "2", "B": "x"},
        {"A": "2", "B": "y"},
        {"A": "2", "B": "z"},
    ]
    assert matrix(["ONLY=a"]) == [{"ONLY": "a"}]
    assert parse_axis(" K = a , b ") == ("K", ["a", "b"])


@pytest.mark.parametrize(
    ("axes", "needle"),
    [
        (["K"], "NAME=value1"),
        (["=a"], "NAME=value1"),
        (["1K=a"], "NAME=value1"),
        (["K="], "one or more"),
        (["K=a,,b"], "none empty"),
        (["K=a", "K=b"], "names K twice"),
    ],
)
def test_bad_axes_say_what_to_write(axes: list[str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        matrix(axes)


def test_expand_lays_the_options_over_each_base_then_fills_and_sets_the_values() -> None:
    fields = {"image": "alpine", "command": "echo {K} $K", "env": {"FIXED": "{K}"}}
    bases = [None, {"definition": {"workdir": "/w/{K}"}, "control": {"namespace": "n"}}]
    submissions, labels = expand(bases, ["K=a,b"], fields)
    assert labels == [{"K": "a"}, {"K": "b"}] * 2
    assert submissions[0] == {
        "definition": {"image": "alpine", "command": "echo a $K", "env": {"FIXED": "a", "K": "a"}}
    }
    assert submissions[3] == {
        "definition": {
            "workdir": "/w/b",
            "image": "alpine",
            "command": "echo b $K",
            "env": {"FIXED": "b", "K": "b"},
        },
        "control": {"namespace": "n"},
    }
    plain, labels = expand([{"image": "alpine", "command": "echo {K}"}], [], {})
    assert plain == [{"definition": {"image": "alpine", "command": "echo {K}"}}] and labels == [{}]
    with pytest.raises(typer.BadParameter, match="--matrix"):
        expand([None], ["bad"], fields)


def test_batches_keep_the_order_within_both_limits() -> None:
    bodies = [{"definition": {"command": f"echo {n}"}} for n in range(25)]
    split = list(batches(bodies, jobs=10, size=10**6))
    assert [len(batch) for batch in split] == [10, 10, 5]
    assert [body for batch in split for body in batch] == bodies
    size = len(json.dumps(bodies[0], separators=(",", ":"))) + 1
    assert [len(batch) for batch in batches(bodies[:6], jobs=100, size=2 * size)] == [2, 2, 2]
    big = [{"definition": {"command": "x" * 100}}]
    assert list(batches(big, jobs=10, size=10)) == [big]  # one too big still goes, alone
    assert list(batches([], jobs=10, size=10)) == []


def test_entry_errors_name_the_position() -> None:
    assert entry_error(0, {"success": True, "jobId": "a" * 64, "state": "Queued"}) is None
    refused = {"success": False, "status": 422, "error": "validation_failed", "message": "no image"}
    assert entry_error(4, refused) == "job 4: no image"
    assert entry_error(5, None) == "job 5: None"


def test_the_tracker_reports_each_job_once_when_it_finishes() -> None:
    tracker = Tracker(["a", "b"])
    assert tracker.feed({"jobId": "a", "state": "Running"}, "q") == []
    assert tracker.feed(
        {"jobId": "a", "state": "Finished", "finishedReason": "Success", "exitCode": 3}, "q"
    ) == ["a"]
    assert tracker.feed({"jobId": "a", "state": "Finished", "finishedReason": "Success"}, "q") == []
    assert tracker.feed({"jobId": "other", "state": "Finished"}, "q") == []
    assert tracker.feed("not a dict", "q") == []
    assert tracker.pending == {"b"}
    assert tracker.finished["a"].exit_code == 3 and tracker.finished["a"].queue == "q"
