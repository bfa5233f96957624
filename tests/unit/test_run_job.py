"""The job sequence (`run_job`) on the FakeRuntime: staging, images, outcomes, cancels, outputs. No Docker."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path

import pytest

from asman.core.definition import BuildSpec
from asman.core.protocol import STEP_BUILD, STEP_RUN
from asman.core.states import FinishedReason
from asman.worker.run import build_tag
from asman.worker.runtimes import BuildOptions, FakeRuntime, LogSink, RuntimeUnavailable, Script
from tests.support.jobs import EVERY_KIND_OF_INPUT, INPUT_URLS, Runner, stderr, stdout

IMAGE = "asman/busybox:latest"


@pytest.fixture
def fake() -> FakeRuntime:
    # Fake seconds last 10 ms: timeouts of a second or two pass at once.
    return FakeRuntime([IMAGE], time_scale=0.01)


@pytest.fixture
def runner(fake: FakeRuntime, tmp_path: Path) -> Runner:
    return Runner(fake, tmp_path / "data", IMAGE)


async def wait_for_line(runner: Runner, text: str) -> None:
    async with asyncio.timeout(5):
        while text not in runner.io.step(STEP_RUN):
            await asyncio.sleep(0.005)


async def test_inputs_are_staged_and_outputs_collected(runner: Runner, fake: FakeRuntime) -> None:
    runner.io.urls.update(INPUT_URLS)
    fake.on(
        "work",
        Script(
            stdout=("done",),
            stderr=("to-stderr",),
            writes={
                "/outputs/small.txt": b"hello\n",
                "/outputs/big.bin": bytes(1000),
                "/outputs/nested/deeper/n.txt": b"deep\n",
                "/job-cache/seen": b"kept\n",
                "/inputs/new": b"refused",
            },
        ),
    )
    result = await runner.run(
        {
            "command": "work",
            **EVERY_KIND_OF_INPUT,
        }
    )
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 0, result
    [run] = fake.runs
    assert {path: data for path, data in run.files.items() if not path.startswith("/job-cache")} == {
        "/inputs/a.txt": b"hello\n",
        "/inputs/sub/b.bin": b"binary\n",
        "/inputs/c.json": b'{"x":[1,2]}',
        "/inputs/u.txt": b"from a url\n",
        "/inputs/conf/x.cfg": b"relative config\n",
        "/etc/asman.conf": b"absolute config",
    }
    mounts = {inside: read_only for _, inside, read_only in run.spec.mounts}
    assert mounts == {"/inputs": True, "/outputs": False, "/job-cache": False, "/etc/asman.conf": True}
    assert stdout(result) == ["done"]
    assert stderr(result) == ["to-stderr", "/inputs/new: Read-only file system"]
    assert (runner.data_dir / "cache" / "seen").read_bytes() == b"kept\n"

    key = hashlib.sha256(bytes(1000)).hexdigest()
    assert result.outputs == {
        "small.txt": {"type": "base64", "value": base64.b64encode(b"hello\n").decode()},
        "big.bin": {"type": "url", "value": f"http://127.0.0.1:8000/f/{key}", "hash": key},
        "nested/deeper/n.txt": {"type": "base64", "value": base64.b64encode(b"deep\n").decode()},
    }
    assert runner.io.blobs[key] == bytes(1000)
    assert "to-stderr" in runner.io.step(STEP_RUN)
    assert not any((runner.data_dir / "j").iterdir())


async def test_the_container_spec(runner: Runner, fake: FakeRuntime) -> None:
    job = runner.context(
        {
            "entrypoint": "sh -c",
            "command": "'echo \"$0\"' zero",
            "workdir": "/tmp",
            "env": {"MY_VAR": "my value", "JOB_ID": "not allowed to override"},
            "requirements": {"cpus": 0.5, "memory": "16m"},
            "shmSize": "32m",
            "maxDuration": "90s",
        },
        attempt=3,
    )
    await runner.run_context(job, container_prefix="asman-w1-", user="2000:2000", pids_limit=64)
    [spec] = fake.specs
    assert spec.name == f"asman-w1-{job.job_id[:24]}-3"
    assert (spec.entrypoint, spec.command, spec.workdir) == (["sh", "-c"], ['echo "$0"', "zero"], "/tmp")
    assert spec.env["MY_VAR"] == "my value" and spec.env["JOB_ID"] == job.job_id
    assert (spec.env["JOB_INPUTS"], spec.env["JOB_OUTPUTS"], spec.env["JOB_CACHE"]) == (
        "/inputs",
        "/outputs",
        "/job-cache",
    )
    assert (spec.cpus, spec.memory, spec.shm_size, spec.timeout_s) == (0.5, 16 * 1024**2, 32 * 1024**2, 90)
    assert (spec.user, spec.pids_limit, spec.network, spec.gpus) == ("2000:2000", 64, "none", None)
    assert spec.labels == {"io.asman.job": job.job_id, "io.asman.attempt": "3"}


async def test_the_job_env_and_its_substitution_in_the_command(runner: Runner, fake: FakeRuntime) -> None:
    job = runner.context(
        {
            "entrypoint": "${TOOL}",
            "command": "--in $JOB_INPUTS_URL_PREFIX --name \"$NAME\" --unset=$UNSET 'literal $NAME'",
            "env": {"TOOL": "/bin/tool", "NAME": "my job", "JOB_URL_PREFIX": "not allowed to override"},
        }
    )
    await runner.run_context(job, api_url="http://queue.test:8000/")
    [spec] = fake.specs
    prefix = f"http://queue.test:8000/j/{job.job_id}"
    assert {
        key: spec.env[key] for key in ("JOB_URL_PREFIX", "JOB_INPUTS_URL_PREFIX", "JOB_OUTPUTS_URL_PREFIX")
    } == {
        "JOB_URL_PREFIX": prefix,
        "JOB_INPUTS_URL_PREFIX": f"{prefix}/inputs/",
        "JOB_OUTPUTS_URL_PREFIX": f"{prefix}/outputs/",
    }
    assert "CUDA_VISIBLE_DEVICES" not in spec.env
    assert spec.entrypoint == ["/bin/tool"]
    assert spec.command == ["--in", f"{prefix}/inputs/", "--name", "my job", "--unset=", "literal $NAME"]


async def test_without_a_server_there_are_no_url_prefixes(runner: Runner, fake: FakeRuntime) -> None:
    await runner.run({"command": "true"})
    assert not any(key.endswith("URL_PREFIX") for key in fake.specs[0].env)


@pytest.mark.parametrize(("assigned", "visible"), [(("0",), "0"), (("0", "1"), "0,1"), (("1", "3"), "0,1")])
async def test_assigned_gpus_are_visible_to_cuda(
    runner: Runner, fake: FakeRuntime, assigned: tuple[str, ...], visible: str
) -> None:
    job = runner.context(
        {"command": "true", "requirements": {"gpus": len(assigned)}, "env": {"CUDA_VISIBLE_DEVICES": "7"}},
        gpu_ids=assigned,
    )
    await runner.run_context(job)
    [spec] = fake.specs
    # The container sees only its devices, numbered from 0 whatever their host ids.
    assert spec.gpus == list(assigned) and spec.env["CUDA_VISIBLE_DEVICES"] == visible


async def test_nonzero_exit_is_success_with_status(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("sh -c 'echo failing; exit 3'", Script(exit_code=3, stdout=("failing",)))
    result = await runner.run({"command": "sh -c 'echo failing; exit 3'"})
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 3
    assert stdout(result) == ["failing"] and result.error is None


async def test_an_oom_kill_is_explained(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("hog", Script(exit_code=137, oom_killed=True))
    result = await runner.run({"command": "hog", "requirements": {"memory": "16m"}})
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 137
    assert stderr(result) == [
        "[asman] the container was killed: it used more than its memory limit of 16 MiB"
    ]


async def test_a_container_the_engine_refuses_is_an_error(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("no-such-program", Script(start_error="exec: no-such-program: not found"))
    result = await runner.run({"command": "no-such-program"})
    assert result.reason is FinishedReason.ERROR
    assert result.error == "the container could not start: exec: no-such-program: not found"


async def test_an_image_is_pulled_once(runner: Runner, fake: FakeRuntime) -> None:
    fake.registry.add("example/tool:1")
    for _ in range(2):
        result = await runner.run({"image": "example/tool:1", "command": "true"})
        assert result.reason is FinishedReason.SUCCESS
    assert fake.pulls == ["example/tool:1"]


async def test_missing_image_is_an_error(runner: Runner) -> None:
    result = await runner.run({"image": "asman-test/no-such-image:1.0", "command": "true"})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None
    assert "'asman-test/no-such-image:1.0' is not on this worker and could not be pulled" in result.error


async def test_build_then_run_once_per_worker(runner: Runner, fake: FakeRuntime) -> None:
    build = {"dockerfile": f"FROM {IMAGE}\nRUN echo hi\n", "buildArgs": ["MESSAGE=built with args"]}
    definition = {"image": None, "build": build, "command": "cat /message"}
    result = await runner.run(dict(definition))
    tag = build_tag(BuildSpec.model_validate(build))
    assert result.reason is FinishedReason.SUCCESS, result
    assert fake.specs[0].image == tag
    assert f"Successfully tagged {tag}" in runner.io.step(STEP_BUILD)
    assert runner.io.step(STEP_RUN) == [], "build lines are not run lines"

    await runner.run({**definition, "command": "cat /message /message"})
    assert [built for _, built in fake.builds] == [tag], "the same build spec is built once per worker"
    assert fake.builds[0][0].buildArgs == ["MESSAGE=built with args"]


async def test_failing_build_is_an_error(runner: Runner, fake: FakeRuntime) -> None:
    dockerfile = f"FROM {IMAGE}\nRUN false\n"
    fake.build_failures[dockerfile] = "The command '/bin/sh -c false' returned a non-zero code: 1"
    result = await runner.run({"image": None, "build": {"dockerfile": dockerfile}})
    assert result.reason is FinishedReason.ERROR
    assert (
        result.error == "the image build failed: The command '/bin/sh -c false' returned a non-zero code: 1"
    )
    assert runner.io.step(STEP_BUILD) == ["The command '/bin/sh -c false' returned a non-zero code: 1"]
    assert fake.runs == []


async def test_a_build_context_is_downloaded_by_the_worker_and_built_within_the_jobs_limits(
    runner: Runner, fake: FakeRuntime
) -> None:
    await fake.ensure_network("asman-jobs")
    url = "https://github.com/o/r/tree/v1/app"
    runner.io.urls["https://github.com/o/r/archive/v1.tar.gz"] = b"the archive"
    result = await runner.run(
        {
            "image": None,
            "build": {"context": url},
            "requirements": {"memory": "300m", "cpus": 2},
            "shmSize": "64m",
            "maxDuration": "20s",
        },
        network="asman-jobs",
        credential_registries=("ghcr.io",),
    )
    assert result.reason is FinishedReason.SUCCESS, result
    [options] = fake.build_options
    assert (options.network, options.memory, options.cpus, options.shm_size) == (
        "asman-jobs",
        300 * 1024**2,
        2.0,
        64 * 1024**2,
    )
    assert options.timeout_s is not None and 19 < options.timeout_s <= 20
    assert options.credential_registries == ("ghcr.io",)
    assert options.context_archive is not None and not options.context_archive.exists(), (
        "gone with the attempt"
    )


async def test_a_build_context_that_cannot_be_downloaded_is_an_error(
    runner: Runner, fake: FakeRuntime
) -> None:
    result = await runner.run({"image": None, "build": {"context": "http://127.0.0.1:9/ctx.tar.gz"}})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and result.error.startswith("build context: could not download")
    assert fake.builds == []


async def test_a_build_past_the_jobs_time_limit_times_out(runner: Runner, fake: FakeRuntime) -> None:
    dockerfile = f"FROM {IMAGE}\nRUN sleep 60\n"
    fake.build_seconds[dockerfile] = 60
    result = await runner.run({"image": None, "build": {"dockerfile": dockerfile}, "maxDuration": "5s"})
    assert result.reason is FinishedReason.TIMED_OUT and result.isTimedOut
    assert result.error == "the image build ran past the job's time limit of 5s"
    assert fake.runs == []


async def test_the_build_time_counts_against_the_run(runner: Runner, fake: FakeRuntime) -> None:
    dockerfile = f"FROM {IMAGE}\nRUN sleep 3\n"
    fake.build_seconds[dockerfile] = 3
    await runner.run({"image": None, "build": {"dockerfile": dockerfile}, "maxDuration": "5s"})
    timeout = fake.specs[0].timeout_s
    # Fake seconds last 10 ms, so the build took 0.03 s of the job's 5.
    assert timeout is not None and 4.9 < timeout < 5


async def test_timeout(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("sleep 30", Script(stdout=("started",), seconds=30))
    result = await runner.run({"command": "sleep 30", "maxDuration": "1s"}, max_job_duration_s=600)
    assert result.reason is FinishedReason.TIMED_OUT and result.isTimedOut
    assert result.error == "the job ran longer than its limit of 1s"
    assert stdout(result) == ["started"]
    assert stderr(result) == ["[asman] the job ran longer than its limit of 1s and was stopped"]
    assert result.outputs == {}


async def test_worker_cap_bounds_the_duration(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("sleep 30", Script(seconds=30))
    result = await runner.run({"command": "sleep 30", "maxDuration": "1h"}, max_job_duration_s=2)
    assert result.reason is FinishedReason.TIMED_OUT and result.error is not None and "2s" in result.error


async def test_a_job_within_its_limit_is_not_timed_out(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("sleep 1", Script(seconds=1))
    result = await runner.run({"command": "sleep 1", "maxDuration": "2s"})
    assert result.reason is FinishedReason.SUCCESS and result.StatusCode == 0


async def test_cancel_while_running(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("serve", Script(stdout=("running",), writes={"/outputs/partial": b"x"}, hang=True))
    job = runner.context({"command": "serve"})
    task = asyncio.create_task(runner.run_context(job))
    await wait_for_line(runner, "running")
    job.cancel.set()
    result = await asyncio.wait_for(task, 5)
    assert result.reason is FinishedReason.CANCELLED
    assert result.outputs == {}, "a cancelled job keeps no outputs"


async def test_cancel_before_start(runner: Runner, fake: FakeRuntime) -> None:
    job = runner.context({"command": "sleep 30"})
    job.cancel.set()
    result = await asyncio.wait_for(runner.run_context(job), 5)
    assert result.reason is FinishedReason.CANCELLED
    assert fake.runs == []


async def test_cancel_while_an_input_downloads(runner: Runner, fake: FakeRuntime) -> None:
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
    async with asyncio.timeout(5):
        while not (job.work_dir / "inputs" / "first.txt").exists() and not task.done():
            await asyncio.sleep(0.005)
    assert not task.done(), "the job must still be waiting for its slow input"
    job.cancel.set()
    result = await asyncio.wait_for(task, 5)
    assert result.reason is FinishedReason.CANCELLED
    assert fake.runs == []


async def test_cancel_while_the_image_builds(runner: Runner, fake: FakeRuntime) -> None:
    started, never = asyncio.Event(), asyncio.Event()

    async def slow_build(
        build: BuildSpec, tag: str, on_log: LogSink, options: BuildOptions = BuildOptions()
    ) -> str:
        started.set()
        await never.wait()
        return tag

    fake.build_image = slow_build  # type: ignore[method-assign]
    job = runner.context({"image": None, "build": {"dockerfile": "FROM x"}})
    task = asyncio.create_task(runner.run_context(job))
    await asyncio.wait_for(started.wait(), 5)
    job.cancel.set()
    assert (await asyncio.wait_for(task, 5)).reason is FinishedReason.CANCELLED
    assert fake.runs == []


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


async def test_a_download_must_match_its_hash(runner: Runner) -> None:
    runner.io.urls["http://x/a"] = b"tampered"
    ref = {"type": "url", "value": "http://x/a", "hash": hashlib.sha256(b"original").hexdigest()}
    result = await runner.run({"command": "true", "inputs": {"a": ref}})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "does not match its hash" in result.error


async def test_output_cap(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("write", Script(writes={"/outputs/a": bytes(3000), "/outputs/b": bytes(3000)}))
    result = await runner.run({"command": "write"}, max_output_bytes=5000)
    assert result.reason is FinishedReason.ERROR and result.StatusCode == 0
    assert result.error == "outputs total 6000 bytes, over the worker's cap of 5000 (--max-output-size)"


async def test_output_links_are_not_followed(runner: Runner, fake: FakeRuntime) -> None:
    fake.on(
        "link",
        Script(
            writes={"/outputs/real": b"ok\n"}, links={"/outputs/link": "/etc/passwd", "/outputs/root": "/"}
        ),
    )
    result = await runner.run({"command": "link"})
    assert result.reason is FinishedReason.SUCCESS
    assert set(result.outputs) == {"real"}
    assert any("'link' skipped" in line for line in stderr(result))
    assert any("'root' skipped" in line for line in stderr(result))


async def test_bad_command_quoting_is_an_error(runner: Runner, fake: FakeRuntime) -> None:
    result = await runner.run({"command": "sh -c 'unbalanced"})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "cannot be split" in result.error
    assert fake.runs == []


async def test_gpus_beyond_the_assignment_are_an_error(runner: Runner) -> None:
    result = await runner.run({"command": "true", "requirements": {"gpus": 1}})
    assert result.reason is FinishedReason.ERROR
    assert result.error == "the job needs 1 GPU(s) but this worker gave it 0"


async def test_a_job_takes_only_the_gpus_it_asks_for(runner: Runner, fake: FakeRuntime) -> None:
    job = runner.context({"command": "true", "requirements": {"gpus": 2}}, gpu_ids=("1", "3", "4"))
    await runner.run_context(job)
    assert fake.specs[0].gpus == ["1", "3"] and fake.specs[0].env["CUDA_VISIBLE_DEVICES"] == "0,1"


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


async def test_concurrent_jobs_keep_their_own_outputs(runner: Runner, fake: FakeRuntime) -> None:
    for index in range(4):
        fake.on(f"job{index}", Script(writes={"/outputs/n": f"job{index}\n".encode()}, seconds=0.5))
    results = await asyncio.wait_for(
        asyncio.gather(*(runner.run({"command": f"job{index}"}) for index in range(4))), 5
    )
    assert [result.outputs["n"]["value"] for result in results] == [
        base64.b64encode(f"job{index}\n".encode()).decode() for index in range(4)
    ]


async def test_a_lost_engine_escapes_to_the_worker(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("true", Script(engine_lost=True))
    with pytest.raises(RuntimeUnavailable):
        await runner.run({"command": "true"})
    assert not fake.available
