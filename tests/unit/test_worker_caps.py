"""What a worker grants a job at most, on the FakeRuntime: memory, CPUs and shm defaults and caps, input and
output caps, images from internal registries, which registries get the worker's credentials, the per-queue
cache's quota, and a result too large to report."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from asman.core.errors import InvalidInput
from asman.core.protocol import JobResult
from asman.core.states import FinishedReason
from asman.worker.cache import queue_cache, trim
from asman.worker.daemon import MAX_RESULT_BYTES, WorkerDaemon, WorkerSettings
from asman.worker.images import (
    RefusedDockerfile,
    credentials_allowed,
    dockerfile_images,
    registry_host_port,
    registry_of,
)
from asman.worker.runtimes import FakeRuntime, Script
from tests.support.jobs import Runner

IMAGE = "asman/busybox:latest"
GIB = 1024**3


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime([IMAGE], time_scale=0.01)


@pytest.fixture
def runner(fake: FakeRuntime, tmp_path: Path) -> Runner:
    return Runner(fake, tmp_path / "data", IMAGE)


CAPS = {"default_memory": 2 * GIB, "max_memory": 8 * GIB, "default_cpus": 1.0, "max_shm": GIB}


async def test_a_job_that_names_no_limits_gets_the_workers_defaults(
    runner: Runner, fake: FakeRuntime
) -> None:
    result = await runner.run({"command": "true"}, **CAPS)
    assert result.reason is FinishedReason.SUCCESS, result
    assert (fake.specs[0].memory, fake.specs[0].cpus) == (2 * GIB, 1.0)
    await runner.run({"command": "true", "requirements": {"memory": "4g", "cpus": 3}}, **CAPS)
    assert (fake.specs[1].memory, fake.specs[1].cpus) == (4 * GIB, 3.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requirements": {"memory": "64g"}}, "requirements.memory 64g is over this worker's cap of 8 GiB"),
        ({"shmSize": "64g"}, "shmSize 64g is over this worker's cap of 1 GiB (--max-shm)"),
    ],
)
async def test_a_job_over_the_workers_caps_fails_and_says_which(
    runner: Runner, fake: FakeRuntime, fields: dict[str, object], message: str
) -> None:
    result = await runner.run({"command": "true", **fields}, **CAPS)
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and result.error.startswith(message), result.error
    assert fake.runs == []


async def test_inputs_over_the_cap_fail_the_job(runner: Runner, fake: FakeRuntime) -> None:
    runner.io.urls.update({"http://files.test/a": bytes(600), "http://files.test/b": bytes(600)})
    inputs = {name: {"type": "url", "value": f"http://files.test/{name}"} for name in ("a", "b")}
    result = await runner.run({"command": "true", "inputs": inputs}, max_input_bytes=1000)
    assert result.reason is FinishedReason.ERROR
    assert result.error == (
        "input 'b': the job's downloaded inputs are over this worker's cap of 1000 bytes (--max-input-size)"
    )
    assert fake.runs == []


async def test_too_many_output_files_fail_the_job(runner: Runner, fake: FakeRuntime) -> None:
    fake.on("many", Script(writes={f"/outputs/{index}": b"" for index in range(11)}))
    result = await runner.run({"command": "many"}, max_output_files=10)
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "11 output files, over this worker's cap of 10" in result.error
    assert result.outputs == {}


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("alpine", "docker.io"),
        ("library/alpine:3", "docker.io"),
        ("index.docker.io/library/alpine", "docker.io"),
        ("ghcr.io/o/r:1", "ghcr.io"),
        ("localhost/app", "localhost"),
        ("127.0.0.1:5000/app@sha256:abc", "127.0.0.1:5000"),
        ("[::1]:5000/app", "[::1]:5000"),
        ("asman-build/0123", "docker.io"),
    ],
)
def test_the_registry_an_image_name_makes_the_engine_contact(image: str, registry: str) -> None:
    assert registry_of(image) == registry


def test_registry_addresses_and_the_credentials_allowlist() -> None:
    assert registry_host_port("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert registry_host_port("[::1]:5000") == ("::1", 5000)
    assert registry_host_port("ghcr.io") == ("ghcr.io", 443)
    assert credentials_allowed("docker.io", ("index.docker.io",))
    assert credentials_allowed("https://index.docker.io/v1/", ("docker.io",))
    assert credentials_allowed("ghcr.io", ("*",))
    assert not credentials_allowed("evil.example", ("ghcr.io",))
    assert not credentials_allowed("ghcr.io", ())


@pytest.mark.parametrize("image", ["127.0.0.1:5000/app:1", "localhost/app", "[::1]:80/app"])
async def test_an_image_on_an_internal_registry_is_refused(
    runner: Runner, fake: FakeRuntime, image: str
) -> None:
    fake.registry.add(image)
    result = await runner.run({"image": image, "command": "true"})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "is at an internal address" in result.error, result.error
    assert fake.pulls == [], "the engine was never asked to contact it"
    allowed = await runner.run({"image": image, "command": "true"}, allow_private_registries=True)
    assert allowed.reason is FinishedReason.SUCCESS and fake.pulls == [image]


async def test_an_image_already_on_the_engine_needs_no_registry(runner: Runner, fake: FakeRuntime) -> None:
    fake.images.add("localhost/built-here:1")
    result = await runner.run({"image": "localhost/built-here:1", "command": "true"})
    assert result.reason is FinishedReason.SUCCESS and fake.pulls == []


async def test_credentials_go_only_to_listed_registries(runner: Runner, fake: FakeRuntime) -> None:
    fake.registry.update({"ghcr.io/o/private:1", "quay.io/stranger/img:1"})
    for image in ("ghcr.io/o/private:1", "quay.io/stranger/img:1"):
        result = await runner.run({"image": image, "command": "true"}, credential_registries=("ghcr.io",))
        assert result.reason is FinishedReason.SUCCESS, result
    assert fake.pull_credentials == ["ghcr.io", None]


def test_each_queue_has_its_own_cache(tmp_path: Path) -> None:
    assert queue_cache(tmp_path, "a") != queue_cache(tmp_path, "b")
    with pytest.raises(InvalidInput):
        queue_cache(tmp_path, "../escape")


def test_the_cache_keeps_its_quota_by_dropping_the_least_recently_used(tmp_path: Path) -> None:
    now = time.time()
    for index, name in enumerate(("oldest", "older", "newest")):
        entry = tmp_path / name
        entry.mkdir()
        (entry / "data").write_bytes(bytes(400))
        os.utime(entry / "data", (now - 300 + index * 100, now - 300 + index * 100))
        os.utime(entry, (now - 300, now - 300))
    assert trim(tmp_path, 2000) == []
    assert trim(tmp_path, 900) == ["oldest"]
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["newest", "older"]


async def test_a_result_over_the_message_cap_is_reported_as_an_error(tmp_path: Path) -> None:
    daemon = WorkerDaemon(
        WorkerSettings(api_url="http://127.0.0.1:1", queue="q", data_dir=tmp_path), FakeRuntime()
    )
    outputs = {f"out/{index:06d}-{'x' * 1000}": {"type": "base64", "value": ""} for index in range(20_000)}
    result = JobResult(reason=FinishedReason.SUCCESS, StatusCode=0, outputs=outputs)
    assert len(orjson.dumps(result.model_dump(mode="json"))) > MAX_RESULT_BYTES

    daemon._report_soon("j" * 64, 1, result)
    message = daemon._unsent[("j" * 64, 1)].entry
    await daemon._deliveries.cancel()
    assert len(orjson.dumps(message)) < 1000
    sent = message["result"]
    assert isinstance(sent, dict) and sent["reason"] == "Error" and sent["outputs"] == {}
    assert "over the 16777216 a worker may report" in sent["error"]


def test_the_images_a_dockerfile_builds_from() -> None:
    dockerfile = "\n".join(
        [
            "# the registry comes from an ARG, as Docker allows before the first FROM",
            "ARG REGISTRY=127.0.0.1:5000",
            "ARG TAG",
            "FROM --platform=linux/amd64 ${REGISTRY}/base:${TAG:-1} AS builder",
            "RUN make \\",
            "    all",
            "FROM alpine",
            "COPY --from=builder /a /a",
            "COPY --from=ghcr.io/o/tools:1 /b /b",
            "FROM builder",
            "FROM scratch",
        ]
    )
    assert dockerfile_images(dockerfile, {"TAG": "2"}) == [
        "127.0.0.1:5000/base:2",
        "alpine",
        "ghcr.io/o/tools:1",
    ]
    with pytest.raises(RefusedDockerfile, match="must be known before the build"):
        dockerfile_images("FROM alpine\nARG LATER\nCOPY --from=$LATER /x /x\n", {})


async def test_a_build_from_a_base_on_an_internal_registry_is_refused(
    runner: Runner, fake: FakeRuntime
) -> None:
    dockerfile = "ARG R=127.0.0.1:5000\nFROM $R/base:1\nRUN true\n"
    fake.registry.add("127.0.0.1:5000/base:1")
    result = await runner.run({"image": None, "build": {"dockerfile": dockerfile}})
    assert result.reason is FinishedReason.ERROR
    assert result.error is not None and "registry 127.0.0.1:5000 is at an internal address" in result.error
    assert fake.pulls == [] and fake.images == {IMAGE}
    allowed = await runner.run(
        {"image": None, "build": {"dockerfile": dockerfile}},
        allow_private_registries=True,
        credential_registries=("127.0.0.1:5000",),
    )
    assert allowed.reason is FinishedReason.SUCCESS, allowed
    assert fake.pulls == ["127.0.0.1:5000/base:1"] and fake.pull_credentials == ["127.0.0.1:5000"]


@pytest.mark.parametrize(
    "line",
    [
        "ADD http://169.254.169.254/latest/meta-data/ /m",
        "ADD --chown=1 HTTPS://internal.example/x /x",
        'ADD ["git@github.com:o/r.git", "/r"]',
    ],
)
def test_an_add_from_a_url_is_refused(line: str) -> None:
    with pytest.raises(RefusedDockerfile, match="the engine would fetch it itself"):
        dockerfile_images(f"FROM alpine\n{line}\n", {})
    assert dockerfile_images("FROM alpine\nADD local.tar.gz /x\n", {}) == ["alpine"]
