"""TES task <-> job mapping, and the multi-executor sequence on the FakeRuntime."""

from __future__ import annotations

from pathlib import Path

import pytest

from asman.core.definition import JobDefinition, job_id
from asman.core.errors import InvalidInput
from asman.core.states import FinishedReason, JobState
from asman.tes.mapping import EXECUTOR_NOTE, stored_task, task_definition, task_state, task_view
from asman.tes.models import TesState, TesTask, View
from asman.worker.run import JobContext, RunSettings
from asman.worker.runtimes.fake import FakeRuntime, Script
from asman.worker.tes_run import command_failure, mount_points, run_tes_job
from tests.support.jobs import MemoryIO

IMAGE = "asman/busybox:latest"


def _task(**fields: object) -> TesTask:
    return TesTask.model_validate({"executors": [{"image": IMAGE, "command": ["echo", "hi"]}], **fields})


def test_each_post_is_a_fresh_job_unless_cached() -> None:
    task = _task(name="a")
    assert job_id(task_definition(task)) != job_id(task_definition(task))
    cached = _task(name="a", tags={"asman.cache": "true"})
    assert job_id(task_definition(cached)) == job_id(task_definition(cached))
    assert job_id(task_definition(cached)) != job_id(
        task_definition(_task(name="b", tags={"asman.cache": "1"}))
    )


def test_definition_carries_the_task_and_requirements() -> None:
    task = _task(resources={"cpu_cores": 2, "ram_gb": 1.5, "backend_parameters": {"gpus": "1"}})
    definition = task_definition(task)
    assert definition["image"] == IMAGE and definition["command"] == "echo hi"
    assert definition["requirements"] == {"cpus": 2, "memory": "1536m", "gpus": 1}
    assert stored_task(definition) == task.model_copy(update={"id": None})


@pytest.mark.parametrize(
    "fields",
    [
        {"executors": []},
        {"inputs": [{"path": "relative.txt", "content": "x"}]},
        {"inputs": [{"path": "/a/b.txt"}]},
        {"resources": {"backend_parameters": {"nope": "1"}, "backend_parameters_strict": True}},
    ],
)
def test_bad_tasks_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        task_definition(_task(**fields))


def test_states_and_views() -> None:
    assert task_state(JobState.QUEUED, None, None) is TesState.QUEUED
    assert task_state(JobState.RUNNING, None, None) is TesState.INITIALIZING
    assert task_state(JobState.RUNNING, None, None, started=True) is TesState.RUNNING
    cancelled = (JobState.FINISHED, FinishedReason.CANCELLED, None)
    assert task_state(*cancelled, stopping=True) is TesState.CANCELING
    assert task_state(*cancelled) is TesState.CANCELED
    assert task_state(JobState.FINISHED, FinishedReason.SUCCESS, {"StatusCode": 0}) is TesState.COMPLETE
    assert task_state(JobState.FINISHED, FinishedReason.SUCCESS, {"StatusCode": 3}) is TesState.EXECUTOR_ERROR
    assert task_state(JobState.FINISHED, FinishedReason.ERROR, {}) is TesState.SYSTEM_ERROR
    assert task_state(JobState.FINISHED, FinishedReason.CANCELLED, {}) is TesState.CANCELED
    task = _task(inputs=[{"path": "/d/a", "content": "secret"}])
    result = {"reason": "Error", "error": "boom", "tes": {"logs": [{"exit_code": 0, "stdout": "x"}]}}
    assert task_view("i", task, TesState.SYSTEM_ERROR, 0, result, View.MINIMAL) == {
        "id": "i",
        "state": "SYSTEM_ERROR",
    }
    full = task_view("i", task, TesState.SYSTEM_ERROR, 0, result, View.FULL)
    assert full["inputs"][0]["content"] == "secret" and full["logs"][0]["system_logs"] == ["boom"]
    basic = task_view("i", task, TesState.SYSTEM_ERROR, 0, result, View.BASIC)
    assert "content" not in basic["inputs"][0] and "stdout" not in basic["logs"][0]["logs"][0]
    assert "system_logs" not in basic["logs"][0]


def test_mount_points_are_the_outermost_folders() -> None:
    task = _task(
        volumes=["/data"],
        inputs=[{"path": "/data/in/a.txt", "content": "x"}, {"path": "/ref/b.txt", "content": "y"}],
        outputs=[{"path": "/data/out.txt", "url": "file:///tmp/o"}],
    )
    assert mount_points(task) == ["/data", "/ref"]


async def test_executors_run_in_order_sharing_folders(tmp_path: Path) -> None:
    runtime = FakeRuntime(images=[IMAGE, "second:1"])
    runtime.on("first", Script(stdout=("one",), writes={"/data/mid.txt": b"mid"}))
    runtime.on("second", Script(exit_code=3, stderr=("bad",)))
    runtime.on("never", Script())
    task = TesTask.model_validate(
        {
            "inputs": [{"path": "/data/in.txt", "content": "hello"}],
            "executors": [
                {"image": IMAGE, "command": ["first"], "stdout": "/data/first.out"},
                {"image": "second:1", "command": ["second"]},
                {"image": IMAGE, "command": ["never"]},
            ],
        }
    )
    definition = JobDefinition.model_validate(task_definition(task))
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "j")
    result = await run_tes_job(job, runtime, MemoryIO(), settings=RunSettings())
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 3
    assert [run.spec.command for run in runtime.runs] == [["first"], ["second"]]
    # The second executor saw the input, the first one's file and its stdout file.
    assert runtime.runs[1].files["/data/in.txt"] == b"hello"
    assert runtime.runs[1].files["/data/mid.txt"] == b"mid"
    assert runtime.runs[1].files["/data/first.out"] == b"one\n"
    logs = (result.model_extra or {})["tes"]["logs"]
    assert [log["exit_code"] for log in logs] == [0, 3]
    assert logs[1]["stderr"] == "bad\n"
    assert not job.work_dir.exists()


async def test_a_missing_image_is_a_system_error(tmp_path: Path) -> None:
    task = TesTask.model_validate({"executors": [{"image": "nowhere:1", "command": ["x"]}]})
    definition = JobDefinition.model_validate(task_definition(task))
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "j")
    result = await run_tes_job(job, FakeRuntime(), MemoryIO(), settings=RunSettings())
    assert result.reason is FinishedReason.ERROR and "nowhere:1" in (result.error or "")


async def test_each_executor_is_announced_and_content_wins_over_url(tmp_path: Path) -> None:
    runtime = FakeRuntime(images=[IMAGE])
    runtime.on("first", Script(stdout=("one",)))
    runtime.on("second", Script())
    task = TesTask.model_validate(
        {
            # TES: a non-empty content makes the url be ignored (it would fail here: no such scheme).
            "inputs": [{"path": "/data/in.txt", "content": "inline", "url": "gopher://nowhere/x"}],
            "executors": [{"image": IMAGE, "command": ["first"]}, {"image": IMAGE, "command": ["second"]}],
        }
    )
    definition = JobDefinition.model_validate(task_definition(task))
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "j")
    io = MemoryIO()
    result = await run_tes_job(job, runtime, io, settings=RunSettings())
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 0
    assert runtime.runs[0].files["/data/in.txt"] == b"inline"
    texts = [line[1] for line in io.lines]
    # The server reads the first run-log line as "the first executor started": RUNNING, not INITIALIZING.
    assert texts[0].startswith(EXECUTOR_NOTE) and "1 of 2" in texts[0]
    assert texts[1] == "one\n" and texts[2].startswith(EXECUTOR_NOTE) and "2 of 2" in texts[2]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"path": "/data/missing.txt"}, "did not write this file"),
        ({"path": "/data/folder"}, "is a folder, not a file"),
        ({"path": "/data/file.txt", "type": "DIRECTORY"}, "is a file, not a folder"),
        ({"path": "/data/none", "type": "DIRECTORY"}, "did not make this folder"),
    ],
)
async def test_missing_or_mistyped_outputs_are_system_errors(
    tmp_path: Path, output: dict[str, str], message: str
) -> None:
    runtime = FakeRuntime(images=[IMAGE])
    runtime.on("make", Script(writes={"/data/file.txt": b"x", "/data/folder/inner.txt": b"y"}))
    target = tmp_path / "delivered"
    task = TesTask.model_validate(
        {
            "outputs": [
                {**output, "url": f"file://{target}"},
                {"path": "/data/*.nothing", "url": "file:///x/"},
            ],
            "executors": [{"image": IMAGE, "command": ["make"]}],
        }
    )
    definition = JobDefinition.model_validate(task_definition(task))
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "j")
    result = await run_tes_job(job, runtime, MemoryIO(), settings=RunSettings(local_files=True))
    assert result.reason is FinishedReason.ERROR and message in (result.error or "")


async def test_disk_gb_over_the_free_space_is_refused(tmp_path: Path) -> None:
    task = _task(resources={"disk_gb": 1e9})
    definition = JobDefinition.model_validate(task_definition(task))
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "j")
    result = await run_tes_job(job, FakeRuntime(images=[IMAGE]), MemoryIO(), settings=RunSettings())
    assert result.reason is FinishedReason.ERROR and "disk_gb" in (result.error or "")


def test_a_command_missing_from_the_image_is_the_executors_failure() -> None:
    runc = "the container could not start: OCI runtime create failed: runc create failed: unable to start"
    assert (
        command_failure(f'{runc} container process: exec: "ERROR": executable file not found in $PATH') == 127
    )
    assert command_failure(f'{runc} container process: exec: "/x.sh": permission denied') == 126
    assert command_failure("could not create the container: no such file or directory") is None


async def test_s3_urls_need_a_worker_with_an_s3_service(tmp_path: Path) -> None:
    task = _task(inputs=[{"path": "/data/in.txt", "url": "s3://bucket/in.txt"}])
    definition = JobDefinition.model_validate(task_definition(task))
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "j")
    result = await run_tes_job(job, FakeRuntime(images=[IMAGE]), MemoryIO(), settings=RunSettings())
    assert result.reason is FinishedReason.ERROR and "--s3-endpoint" in (result.error or "")


async def test_http_inputs_are_streamed_to_their_file_and_held_to_the_input_cap(tmp_path: Path) -> None:
    runtime = FakeRuntime(images=[IMAGE])
    task = _task(inputs=[{"path": "/data/in.bin", "url": "https://files.example/in.bin"}])
    definition = JobDefinition.model_validate(task_definition(task))
    io = MemoryIO()
    io.urls["https://files.example/in.bin"] = b"x" * 1000
    job = JobContext(job_id=job_id(definition), attempt=1, definition=definition, work_dir=tmp_path / "a")
    result = await run_tes_job(job, runtime, io, settings=RunSettings(max_input_bytes=1000))
    assert result.reason is FinishedReason.SUCCESS, result.error
    assert runtime.runs[0].files["/data/in.bin"] == b"x" * 1000
    job = JobContext(job_id=job_id(definition), attempt=2, definition=definition, work_dir=tmp_path / "b")
    result = await run_tes_job(job, runtime, io, settings=RunSettings(max_input_bytes=999))
    assert result.reason is FinishedReason.ERROR and "999" in (result.error or ""), result.error
