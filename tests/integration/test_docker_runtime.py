"""DockerRuntime against a real engine (private dockerd from the fixtures, network `none`, no registry): what only
Docker does. Runs, stops, timeouts and images are in the contract shared with the fake (test_runtime_contract.py)."""

from __future__ import annotations

import contextlib
import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from asman.core.definition import BuildSpec
from asman.worker.runtimes import (
    MANAGED_LABEL,
    BuildError,
    BuildOptions,
    ContainerSpec,
    DockerRuntime,
    Mount,
    RuntimeUnavailable,
)
from tests.support.archives import tar_gz
from tests.support.jobs import Lines

pytestmark = pytest.mark.docker


@pytest.fixture
def new_tag(docker_client: docker.DockerClient) -> Iterator[Callable[[str], str]]:
    """Fresh image tags for builds, removed afterwards (the engine may be a shared one from DOCKER_HOST)."""
    tags: list[str] = []

    def make(kind: str) -> str:
        tags.append(f"asman-test/{kind}-{uuid.uuid4().hex[:8]}")
        return tags[-1]

    yield make
    for tag in tags:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def spec(test_image: str, command: list[str], **fields: Any) -> ContainerSpec:
    return ContainerSpec(
        image=test_image, name=f"asman-test-{uuid.uuid4().hex[:12]}", command=command, **fields
    )


def containers_named(client: docker.DockerClient, name: str) -> list[object]:
    return list(client.containers.list(all=True, sparse=True, filters={"name": name}))


@pytest.mark.parametrize("attempt", range(5))
async def test_a_last_line_without_a_newline_is_kept(
    runtime: DockerRuntime, test_image: str, attempt: int
) -> None:
    lines = Lines()
    command = ["sh", "-c", "echo first; printf 'no newline'; printf 'err tail' >&2"]
    await runtime.run(spec(test_image, command), lines)
    assert lines.stdout() == ["first", "no newline"]
    assert lines.stderr() == ["err tail"]


async def test_container_is_hardened(runtime: DockerRuntime, test_image: str) -> None:
    script = (
        "id -u; id -g; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; ls /sys/class/net; "
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
        "ls /var/run/docker.sock 2>&1; true"
    )
    lines = Lines()
    outcome = await runtime.run(
        spec(test_image, ["sh", "-c", script], memory=64 * 1024**2, pids_limit=100), lines
    )
    out = lines.stdout()
    assert outcome.exit_code == 0, lines.lines
    assert out[0:2] == ["1000", "1000"]
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    assert "lo" in out and not any(name.startswith("eth") for name in out)
    assert "100" in out and str(64 * 1024**2) in out
    assert any("docker.sock: No such file" in text for text in out)


async def test_memory_limit_holds(runtime: DockerRuntime, test_image: str) -> None:
    # dd allocates its whole block size: 64 MiB cannot fit in 16 MiB without swap.
    command = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
    outcome = await runtime.run(spec(test_image, command, memory=16 * 1024**2), Lines())
    assert outcome.exit_code == 137 and outcome.oom_killed


async def test_mounts_env_and_workdir(runtime: DockerRuntime, test_image: str, tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "ro").mkdir()
    (folder / "ro" / "hello.txt").write_text("hello\n")
    lines = Lines()
    job = spec(
        test_image,
        [
            "sh",
            "-c",
            'cat /data/hello.txt; echo "$GREETING"; pwd; touch /data/x 2>/dev/null || echo readonly',
        ],
        mounts=[Mount(str(folder / "ro"), "/data", True)],
        env={"GREETING": "hi there"},
        workdir="/tmp",
    )
    outcome = await runtime.run(job, lines)
    assert outcome.exit_code == 0
    assert lines.stdout() == ["hello", "hi there", "/tmp", "readonly"]


async def test_build_inline_dockerfile_with_args_and_target(
    runtime: DockerRuntime, test_image: str, new_tag: Callable[[str], str]
) -> None:
    dockerfile = (
        f'FROM {test_image} AS base\nARG GREETING=unset\nRUN echo "$GREETING" > /greeting\n'
        f"FROM base AS final\nRUN echo final > /stage\n"
        f"FROM base AS other\nRUN echo other > /stage\n"
    )
    tag = new_tag("build")
    build_lines = Lines()
    build = BuildSpec(dockerfile=dockerfile, buildArgs=["GREETING=hello from args"], target="other")
    image_id = await runtime.build_image(build, tag, build_lines)
    assert image_id.startswith("sha256:")
    assert any("Successfully tagged" in text for text in build_lines.stdout())
    lines = Lines()
    outcome = await runtime.run(spec(tag, ["sh", "-c", "cat /greeting /stage"]), lines)
    assert outcome.exit_code == 0
    assert lines.stdout() == ["hello from args", "other"]


async def test_failing_build_is_a_build_error(
    runtime: DockerRuntime, test_image: str, new_tag: Callable[[str], str]
) -> None:
    build = BuildSpec(dockerfile=f"FROM {test_image}\nRUN echo broken >&2 && false\n")
    with pytest.raises(BuildError, match="non-zero code"):
        await runtime.build_image(build, new_tag("broken"), Lines())


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def archives(test_image: str) -> dict[str, bytes]:
    """Build contexts as the worker downloads them: a repo-like tarball and a zip."""
    files = {
        "repo-main/README": "not part of the sub folder\n",
        "repo-main/app/Dockerfile": f"FROM {test_image}\nCOPY message.txt /message.txt\n",
        "repo-main/app/message.txt": "from the tarball\n",
        "repo-main/app/Other.dockerfile": f"FROM {test_image}\nRUN echo other > /message.txt\n",
    }
    return {
        "/repo.tar.gz": tar_gz(files),
        "/ctx.zip": _zip(
            {"Dockerfile": f"FROM {test_image}\nCOPY a.txt /message.txt\n", "a.txt": "from the zip\n"}
        ),
    }


@pytest.mark.parametrize(
    ("path", "fields", "expected"),
    [
        ("/repo.tar.gz", {"buildContext": "app"}, "from the tarball"),
        ("/repo.tar.gz", {"buildContext": "app", "filename": "Other.dockerfile"}, "other"),
        ("/ctx.zip", {}, "from the zip"),
    ],
)
async def test_build_from_a_downloaded_archive(
    runtime: DockerRuntime,
    archives: dict[str, bytes],
    tmp_path: Path,
    new_tag: Callable[[str], str],
    path: str,
    fields: dict[str, str],
    expected: str,
) -> None:
    tag = new_tag("ctx")
    archive = tmp_path / "archive"
    archive.write_bytes(archives[path])
    build = BuildSpec(context="https://files.example" + path, **fields)
    await runtime.build_image(build, tag, Lines(), BuildOptions(context_archive=archive))
    lines = Lines()
    outcome = await runtime.run(spec(tag, ["cat", "/message.txt"]), lines)
    assert lines.stdout() == [expected] and outcome.exit_code == 0


async def test_an_unusable_build_context_is_a_build_error(
    runtime: DockerRuntime, archives: dict[str, bytes], tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive.write_bytes(archives["/repo.tar.gz"])
    options = BuildOptions(context_archive=archive)
    with pytest.raises(BuildError, match="not a folder"):
        build = BuildSpec(context="https://files.example/repo.tar.gz", buildContext="nope")
        await runtime.build_image(build, "asman-test/x", Lines(), options)
    archive.write_bytes(b"not an archive")
    with pytest.raises(BuildError, match="not a readable"):
        await runtime.build_image(
            BuildSpec(context="https://files.example/x"), "asman-test/x", Lines(), options
        )


async def test_cleanup_removes_only_this_workers_containers(
    runtime: DockerRuntime, test_image: str, docker_client: docker.DockerClient
) -> None:
    prefix = f"asman-w{uuid.uuid4().hex[:6]}-"
    ours = docker_client.containers.create(
        test_image, ["true"], name=prefix + "job", labels={MANAGED_LABEL: "1"}, network_mode="none"
    )
    unlabelled = docker_client.containers.create(
        test_image, ["true"], name=prefix + "foreign", network_mode="none"
    )
    other_prefix = docker_client.containers.create(
        test_image, ["true"], name="someone-else-" + prefix, labels={MANAGED_LABEL: "1"}, network_mode="none"
    )
    try:
        assert await runtime.cleanup(prefix) == 1
        assert containers_named(docker_client, prefix + "job") == []
        assert len(containers_named(docker_client, prefix + "foreign")) == 1
        assert len(containers_named(docker_client, "someone-else-" + prefix)) == 1
    finally:
        for container in (ours, unlabelled, other_prefix):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


async def test_no_engine_is_reported_with_a_way_out() -> None:
    socket = f"unix:///tmp/asman-no-engine-{uuid.uuid4().hex[:8]}.sock"
    engine = DockerRuntime(socket)
    with pytest.raises(RuntimeUnavailable) as raised:
        await engine.check()
    assert socket in raised.value.message
    assert "DOCKER_HOST" in raised.value.message and "scripts/docker-engine.sh start" in raised.value.message
    await engine.close()
