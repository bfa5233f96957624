"""run_job end to end against a real Docker engine; the network side (JobIO) is an in-memory fake."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import pytest

from asman.core.definition import DataRef, JobDefinition, job_id
from asman.core.protocol import STEP_BUILD, STEP_RUN, JobResult
from asman.core.states import FinishedReason
from asman.worker.run import JobContext, RunSettings, run_job
from asman.worker.runtimes import DockerRuntime

pytestmark = pytest.mark.docker


class MemoryIO:
    """JobIO over dicts: `urls` serves url inputs, `blobs` receives uploads, `lines` keeps every log line."""

    def __init__(self) -> None:
        self.urls: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}
        # URLs whose download never finishes, for cancels that arrive while inputs are staged.
        self.hanging: set[str] = set()
        self.lines: list[tuple[str, str, int, bool]] = []
        self._lock = threading.Lock()

    async def fetch(self, ref: DataRef) -> bytes:
        if str(ref.value) in self.hanging:
            await asyncio.Event().wait()
        try:
            return self.urls[str(ref.value)]
        except KeyError:
            raise FileNotFoundError(f"no such URL {ref.value}") from None

    async def upload(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.blobs[key] = data
        return key

    def log(self, step: str, text: str, epoch_ms: int, is_stderr: bool) -> None:
        with self._lock:
            self.lines.append((step, text, epoch_ms, is_stderr))

    def blob_url(self, key: str) -> str:
        return f"http://127.0.0.1:8000/f/{key}"

    def step(self, step: str) -> list[str]:
        return [text for line_step, text, _, _ in self.lines if line_step == step]


@pytest.fixture
async def runtime(docker_host: str, test_image: str) -> AsyncIterator[DockerRuntime]:
    engine = DockerRuntime(docker_host, build_network="none")
    yield engine
    await engine.close()


class Runner:
    def __init__(self, runtime: DockerRuntime, data_dir: Path, image: str) -> None:
        self.runtime = runtime
        self.data_dir = data_dir
        self.image = image
        self.io = MemoryIO()

    def context(self, definition: dict[str, Any], attempt: int = 1) -> JobContext:
        definition.setdefault("image", self.image)
        parsed = JobDefinition.model_validate(definition)
        identifier = job_id(parsed)
        return JobContext(
            job_id=identifier,
            attempt=attempt,
            definition=parsed,
            work_dir=self.data_dir / "j" / identifier / str(attempt),
        )

    async def run(self, definition: dict[str, Any], **settings: Any) -> JobResult:
        return await self.run_context(self.context(definition), **settings)

    async def run_context(self, job: JobContext, **settings: Any) -> JobResult:
        settings.setdefault("cache_dir", self.data_dir / "cache")
        result = await run_job(job, self.runtime, self.io, settings=RunSettings(**settings))
        assert not job.work_dir.exists(), "the work dir must be removed"
        return result


@pytest.fixture
def runner(runtime: DockerRuntime, tmp_path: Path, test_image: str) -> Runner:
    return Runner(runtime, tmp_path / "data", test_image)


def stdout(result: JobResult) -> list[str]:
    return [text for text, _, is_stderr in result.logs if not is_stderr]


def stderr(result: JobResult) -> list[str]:
    return [text for text, _, is_stderr in result.logs if is_stderr]


def labelled(client: docker.DockerClient, job: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"io.asman.job={job}"}))


async def test_success_with_inputs_outputs_and_env(runner: Runner) -> None:
    runner.io.urls["http://files.test/u.txt"] = b"from a url\n"
    script = (
        "cat /inputs/a.txt /inputs/sub/b.bin /inputs/u.txt /inputs/conf/x.cfg /etc/asman.conf; echo; "
        "cat /inputs/c.json; echo; "
        'echo "id=$JOB_ID in=$JOB_INPUTS out=$JOB_OUTPUTS cache=$JOB_CACHE user=$MY_VAR"; '
        "cp /inputs/a.txt /outputs/small.txt; head -c 1000 /dev/zero > /outputs/big.bin; "
        "mkdir -p /outputs/nested/deeper; echo deep > /outputs/nested/deeper/n.txt; "
        "echo kept > $JOB_CACHE/seen; echo to-stderr >&2"
    )
    result = await runner.run(
        {
            "command": f"sh -c '{script}'",
            "env": {"MY_VAR": "my value", "JOB_ID": "not allowed to override"},
            "inputs": {
                "a.txt": {"type": "utf8", "value": "hello\n"},
                "sub/b.bin": {"type": "base64", "value": base64.b64encode(b"binary\n").decode()},
                "c.json": {"type": "json", "value": {"x": [1, 2]}},
                "u.txt": {"type": "url", "value": "http://files.test/u.txt"},
            },
            "configFiles": {
                "conf/x.cfg": {"value": "relative config\n"},
                "/etc/asman.conf": {"value": "absolute config"},
            },
        }
    )
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 0, result
    out = stdout(result)
    assert out[:5] == ["hello", "binary", "from a url", "relative config", "absolute config"]
    assert '{"x":[1,2]}' in out
    identifier = json.loads(result.model_dump_json())  # the result is plain JSON
    assert identifier["reason"] == "Success"
    env_line = next(line for line in out if line.startswith("id="))
    assert "in=/inputs out=/outputs cache=/job-cache user=my value" in env_line
    assert "not allowed" not in env_line and len(env_line.split()[0]) == 67
    assert stderr(result) == ["to-stderr"]
    assert (runner.data_dir / "cache" / "seen").read_text() == "kept\n"

    outputs = result.outputs
    assert set(outputs) == {"small.txt", "big.bin", "nested/deeper/n.txt"}
    assert outputs["small.txt"] == {"type": "base64", "value": base64.b64encode(b"hello\n").decode()}
    key = hashlib.sha256(bytes(1000)).hexdigest()
    assert outputs["big.bin"] == {"type": "url", "value": f"http://127.0.0.1:8000/f/{key}", "hash": key}
    assert runner.io.blobs[key] == bytes(1000)
    assert "to-stderr" in runner.io.step(STEP_RUN)
    assert result.duration is not None and result.duration > 0
    assert not (runner.data_dir / "j").exists() or not any((runner.data_dir / "j").iterdir())


async def test_nonzero_exit_is_success_with_status(runner: Runner) -> None:
    result = await runner.run({"command": "sh -c 'echo failing; exit 3'"})
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 3
    assert stdout(result) == ["failing"] and result.error is None


async def test_missing_image_is_an_error(runner: Runner) -> None:
    result = await runner.run({"image": "asman-test/no-such-image:1.0", "command": "true"})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None
    assert "'asman-test/no-such-image:1.0' is not on this worker and could not be pulled" in result.error


async def test_build_then_run_once_per_worker(runner: Runner, test_image: str) -> None:
    definition = {
        "image": None,
        "build": {
            "dockerfile": f'FROM {test_image}\nARG MESSAGE=unset\nRUN echo "$MESSAGE" > /message\n',
            "buildArgs": ["MESSAGE=built with args"],
        },
        "command": "cat /message",
    }
    result = await runner.run(dict(definition))
    assert result.reason is FinishedReason.SUCCESS and stdout(result) == ["built with args"], result
    assert any("Successfully tagged asman-build/" in line for line in runner.io.step(STEP_BUILD))
    built_lines = len(runner.io.step(STEP_BUILD))

    again = await runner.run({**definition, "command": "cat /message /message"})
    assert stdout(again) == ["built with args", "built with args"]
    assert len(runner.io.step(STEP_BUILD)) == built_lines, "the same build spec is built once per worker"


async def test_failing_build_is_an_error(runner: Runner, test_image: str) -> None:
    result = await runner.run({"image": None, "build": {"dockerfile": f"FROM {test_image}\nRUN false\n"}})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "the image build failed" in result.error


async def test_timeout(runner: Runner, docker_client: docker.DockerClient) -> None:
    job = runner.context({"command": "sh -c 'echo started; sleep 30'", "maxDuration": "1s"})
    started = time.monotonic()
    result = await runner.run_context(job, max_job_duration_s=600)
    assert result.reason is FinishedReason.TIMED_OUT and result.isTimedOut
    assert time.monotonic() - started < 25  # killed, not run to the end of its 30 s
    assert "started" in stdout(result)
    assert labelled(docker_client, job.job_id) == []


async def test_worker_cap_bounds_the_duration(runner: Runner) -> None:
    result = await runner.run({"command": "sleep 30", "maxDuration": "1h"}, max_job_duration_s=1)
    assert result.reason is FinishedReason.TIMED_OUT and result.error is not None and "1s" in result.error


async def test_cancel_while_running(runner: Runner, docker_client: docker.DockerClient) -> None:
    job = runner.context({"command": "sh -c 'echo running; sleep 30'"})
    task = asyncio.create_task(runner.run_context(job))
    for _ in range(200):
        if "running" in runner.io.step(STEP_RUN):
            break
        await asyncio.sleep(0.05)
    job.cancel.set()
    result = await asyncio.wait_for(task, 15)
    assert result.reason is FinishedReason.CANCELLED
    assert labelled(docker_client, job.job_id) == []


async def test_cancel_before_start(runner: Runner) -> None:
    job = runner.context({"command": "sleep 30"})
    job.cancel.set()
    result = await asyncio.wait_for(runner.run_context(job), 10)
    assert result.reason is FinishedReason.CANCELLED


async def test_cancel_while_an_input_downloads(runner: Runner) -> None:
    runner.io.urls["http://example.test/first"] = b"first"
    runner.io.hanging.add("http://example.test/slow")
    job = runner.context(
        {
            "command": "sleep 30",
            "inputs": {
                "first.txt": {"type": "url", "value": "http://example.test/first"},
                "slow.bin": {"type": "url", "value": "http://example.test/slow"},
            },
        }
    )
    task = asyncio.create_task(runner.run_context(job))
    for _ in range(500):
        if (job.work_dir / "inputs" / "first.txt").exists() or task.done():
            break
        await asyncio.sleep(0.01)
    assert not task.done(), "the job must still be waiting for its slow input"
    job.cancel.set()
    result = await asyncio.wait_for(task, 10)
    assert result.reason is FinishedReason.CANCELLED


async def test_memory_limit_holds(runner: Runner) -> None:
    result = await runner.run(
        {"command": "dd if=/dev/zero of=/dev/null bs=64M count=1", "requirements": {"memory": "16m"}}
    )
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 137
    assert any("memory limit" in line for line in stderr(result))


async def test_runs_unprivileged_with_readonly_inputs(runner: Runner) -> None:
    result = await runner.run(
        {
            "command": "sh -c 'id -u; touch /inputs/new 2>/dev/null && echo wrote || echo readonly; "
            "echo x >> /inputs/a.txt 2>/dev/null && echo appended || echo readonly'",
            "inputs": {"a.txt": {"value": "a"}},
        }
    )
    assert stdout(result) == ["1000", "readonly", "readonly"]


async def test_stdout_and_stderr_kept_apart(runner: Runner) -> None:
    result = await runner.run({"command": "sh -c 'echo o1; echo e1 >&2; echo o2; echo e2 >&2'"})
    assert stdout(result) == ["o1", "o2"] and stderr(result) == ["e1", "e2"]
    assert all(isinstance(epoch_ms, int) for _, epoch_ms, _ in result.logs)


@pytest.mark.parametrize(
    ("field", "name", "message"),
    [
        ("inputs", "../escape.txt", "name refused"),
        ("inputs", "a/../../escape.txt", "name refused"),
        ("inputs", "/etc/passwd", "name refused"),
        ("inputs", "nul\x00byte", "name refused"),
        ("configFiles", "/inputs/x", "reserved"),
        ("configFiles", "/outputs", "reserved"),
        ("configFiles", "/etc/../x", "without '..'"),
    ],
)
async def test_hostile_names_are_refused(runner: Runner, field: str, name: str, message: str) -> None:
    result = await runner.run({"command": "true", field: {name: {"value": "x"}}})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and message in result.error


async def test_clashing_inputs_are_refused(runner: Runner) -> None:
    result = await runner.run({"command": "true", "inputs": {"a": {"value": "x"}, "a/b": {"value": "y"}}})
    assert result.reason is FinishedReason.ERROR and result.error is not None and "clashes" in result.error


async def test_bad_inputs_are_errors(runner: Runner) -> None:
    bad_base64 = await runner.run({"command": "true", "inputs": {"a": {"type": "base64", "value": "@@@"}}})
    assert bad_base64.error == "input 'a': not valid base64"
    missing_url = await runner.run(
        {"command": "true", "inputs": {"a": {"type": "url", "value": "http://x/none"}}}
    )
    assert missing_url.reason is FinishedReason.ERROR
    assert missing_url.error is not None and "could not download http://x/none" in missing_url.error


async def test_output_cap(runner: Runner) -> None:
    result = await runner.run(
        {"command": "sh -c 'head -c 3000 /dev/zero > /outputs/a; head -c 3000 /dev/zero > /outputs/b'"},
        max_output_bytes=5000,
    )
    assert result.reason is FinishedReason.ERROR and result.StatusCode == 0
    assert result.error == "outputs total 6000 bytes, over the worker's cap of 5000 (--max-output-size)"


async def test_output_links_are_not_followed(runner: Runner) -> None:
    result = await runner.run(
        {"command": "sh -c 'ln -s /etc/passwd /outputs/link; ln -s / /outputs/root; echo ok > /outputs/real'"}
    )
    assert result.reason is FinishedReason.SUCCESS
    assert set(result.outputs) == {"real"}
    assert any("'link' skipped" in line for line in stderr(result))


async def test_bad_command_quoting_is_an_error(runner: Runner) -> None:
    result = await runner.run({"command": "sh -c 'unbalanced"})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "cannot be split" in result.error


async def test_unknown_executable_is_reported(runner: Runner) -> None:
    result = await runner.run({"command": "no-such-program --flag"})
    # With an init process (tini) the exec fails inside the container, as in a shell: status 127 and a message.
    # Without one, the engine refuses to start the container: an Error.
    if result.reason is FinishedReason.SUCCESS:
        assert result.StatusCode == 127
        assert any("no-such-program" in line for line in stderr(result))
    else:
        assert result.reason is FinishedReason.ERROR
        assert result.error is not None and "could not start" in result.error


async def test_entrypoint_and_workdir(runner: Runner) -> None:
    result = await runner.run(
        {"entrypoint": "sh -c", "command": "'pwd; echo \"$0\"' zero", "workdir": "/tmp"}
    )
    assert stdout(result) == ["/tmp", "zero"]


async def test_limits_reach_the_container(runner: Runner) -> None:
    script = (
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max; "
        "df -k /dev/shm | tail -1 | awk '{print $2}'"
    )
    result = await runner.run(
        {"command": f'sh -c "{script}"', "requirements": {"cpus": 0.5}, "shmSize": "32m"}
    )
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 0, result
    assert stdout(result) == ["50000", str(32 * 1024)]


async def test_gpus_beyond_the_assignment_are_an_error(runner: Runner) -> None:
    result = await runner.run({"command": "true", "requirements": {"gpus": 1}})
    assert result.reason is FinishedReason.ERROR
    assert result.error == "the job needs 1 GPU(s) but this worker gave it 0"


async def test_other_jobs_folders_are_left_alone(runner: Runner) -> None:
    sibling = runner.data_dir / "j" / ("f" * 64) / "1"
    sibling.mkdir(parents=True)
    (sibling / "keep.txt").write_text("mine")
    job = runner.context({"command": "true"})
    (job.work_dir.parent / "2").mkdir(parents=True)  # another attempt of the same job
    result = await runner.run_context(job)
    assert result.reason is FinishedReason.SUCCESS
    assert (sibling / "keep.txt").read_text() == "mine"
    assert (job.work_dir.parent / "2").is_dir()


async def test_concurrent_jobs(runner: Runner) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(
            *(
                runner.run({"command": f"sh -c 'sleep 0.3; echo job{index} > /outputs/n'"})
                for index in range(4)
            )
        ),
        30,
    )
    assert [result.outputs["n"]["value"] for result in results] == [
        base64.b64encode(f"job{index}\n".encode()).decode() for index in range(4)
    ]
