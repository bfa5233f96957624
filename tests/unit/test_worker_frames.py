"""How Asman's worker packs the results waiting to be sent into frames: one `finished` each for a server that does
not say it takes `finishedMany`, else as few `finishedMany` frames as the protocol's limits allow."""

from __future__ import annotations

from pathlib import Path

import pytest

from asman.core import protocol
from asman.core.protocol import JobResult
from asman.core.states import FinishedReason
from asman.worker.daemon import WorkerDaemon, WorkerSettings
from asman.worker.runtimes import FakeRuntime


async def daemon_with_results(tmp_path: Path, count: int, finished_many: bool) -> WorkerDaemon:
    daemon = WorkerDaemon(
        WorkerSettings(api_url="http://127.0.0.1:1", queue="q", data_dir=tmp_path), FakeRuntime()
    )
    daemon._finished_many = finished_many
    for index in range(count):
        daemon._report_soon(f"{index:064x}", 1, JobResult(reason=FinishedReason.SUCCESS, StatusCode=index))
    await daemon._deliveries.cancel()  # not connected: nothing would be sent anyway
    return daemon


async def test_an_older_server_gets_one_finished_a_result(tmp_path: Path) -> None:
    daemon = await daemon_with_results(tmp_path, 3, finished_many=False)
    frames = daemon._frames(list(daemon._unsent))
    assert frames == [[key] for key in daemon._unsent]
    message = daemon._results_message(frames[0])
    assert message["type"] == protocol.FINISHED and message["result"]["StatusCode"] == 0


async def test_results_waiting_together_go_in_as_few_frames_as_the_limits_allow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = await daemon_with_results(tmp_path, 7, finished_many=True)
    keys = list(daemon._unsent)
    [frame] = daemon._frames(keys)
    message = daemon._results_message(frame)
    assert message["type"] == protocol.FINISHED_MANY
    assert [entry["result"]["StatusCode"] for entry in message["results"]] == list(range(7))
    assert all("type" not in entry and entry["attempt"] == 1 for entry in message["results"])
    monkeypatch.setattr(protocol, "FINISHED_MANY_MOST_RESULTS", 3)
    assert [len(frame) for frame in daemon._frames(keys)] == [3, 3, 1]
    size = daemon._unsent[keys[0]].size
    monkeypatch.setattr(protocol, "FINISHED_MANY_MOST_RESULTS", 1024)
    monkeypatch.setattr(protocol, "FINISHED_MANY_MOST_BYTES", 64 + 2 * (size + 1))
    assert [len(frame) for frame in daemon._frames(keys)] == [2, 2, 2, 1]
    # A frame of one is a `finished`.
    assert daemon._results_message(daemon._frames(keys)[-1])["type"] == protocol.FINISHED
