"""run_job against a real Docker engine, for what only a real engine shows: mounts, hardening, limits, builds,
real log streams and cancels. The sequence itself is unit-tested on the FakeRuntime (tests/unit/test_run_job.py).
The network side (JobIO) is in memory."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import docker
import pytest

from asman.core.protocol import STEP_BUILD, STEP_RUN
from asman.core.states import FinishedReason
from tests.support.jobs import EVERY_KIND_OF_INPUT, INPUT_URLS, Runner, stderr, stdout

pytestmark = pytest.mark.docker


def labelled(client: docker.DockerClient, job: str) -> list[Any]:
    return list(client.containers.list(all=True, sparse=True, filters={"label": f"io.asman.job={job}"}))


async def test_success_with_inputs_outputs_and_env(runner: Runner) -> None:
    runner.io.urls.update(INPUT_URLS)
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
            **EVERY_KIND_OF_INPUT,
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


async def test_variables_reach_a_command_run_without_a_shell(runner: Runner) -> None:
    result = await runner.run({"command": "echo $GREETING ${UNSET}x", "env": {"GREETING": "hi"}})
    assert stdout(result) == ["hi x"]
    shell = await runner.run({"command": "sh -c 'echo $JOB_OUTPUTS_URL_PREFIX'"}, api_url="http://queue.test")
    assert stdout(shell)[0].startswith("http://queue.test/j/") and stdout(shell)[0].endswith("/outputs/")


async def test_limits_reach_the_container(runner: Runner) -> None:
    script = (
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max; "
        "df -k /dev/shm | tail -1 | awk '{print \\$2}'"
    )  # \$: the worker substitutes $VARs inside double quotes, as upstream did
    result = await runner.run(
        {"command": f'sh -c "{script}"', "requirements": {"cpus": 0.5}, "shmSize": "32m"}
    )
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 0, result
    assert stdout(result) == ["50000", str(32 * 1024)]


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
