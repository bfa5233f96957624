"""Docker fixtures: a real engine for the tests, started privately when none is configured.

`docker_host` uses `DOCKER_HOST` if it answers, else starts `scripts/docker-engine.sh` in a fresh short temp
folder (unix socket paths are limited to ~100 characters) and stops it when the session ends. Registries are
not reachable here, so `test_image` is a local busybox image (`asman/busybox:latest`), imported, never pulled.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.api.network
import docker.errors
import pytest
import requests.exceptions

TEST_IMAGE = "asman/busybox:latest"
ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "docker-engine.sh"
BUSYBOX = Path("/bin/busybox")


def _answers(base_url: str) -> bool:
    try:
        client = docker.DockerClient(base_url=base_url, version="auto", timeout=5)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False
    finally:
        client.close()


def _busybox_rootfs() -> bytes:
    """A tar of a root file system holding one static busybox and a symlink per applet (as the script does)."""
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for folder, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700)):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, mode
            archive.addfile(info)
        archive.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
                archive.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size, info.mode = len(passwd), 0o644
        archive.addfile(info, io.BytesIO(passwd))
    return buffer.getvalue()


def ensure_test_image(client: docker.DockerClient) -> str:
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        repository, tag = TEST_IMAGE.split(":")
        client.api.import_image_from_data(
            _busybox_rootfs(),
            repository=repository,
            tag=tag,
            changes=['CMD ["sh"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        )
    return TEST_IMAGE


def _has_mounts_under(folder: str) -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1].startswith(folder + "/") for line in mounts if len(line.split()) > 1)


@pytest.fixture(scope="session", autouse=True)
def no_docker_networks() -> Iterator[None]:
    """No test creates a Docker network: a new bridge takes a private-range subnet, forbidden on these machines.
    Workers started as processes get `--network none` and ASMAN_WORKER_NETWORK=none; in this process the SDK's
    network creation itself refuses."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must never create a Docker network (use network 'none')")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASMAN_WORKER_NETWORK", "none")
        patch.setattr(docker.api.network.NetworkApiMixin, "create_network", refuse)
        yield


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    configured = os.environ.get("DOCKER_HOST")
    if configured and _answers(configured):
        yield configured
        return
    folder = tempfile.mkdtemp(prefix="asd", dir="/tmp")
    started = subprocess.run(
        [str(ENGINE_SCRIPT), "start", folder], capture_output=True, text=True, timeout=300, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"could not start a private Docker engine in {folder}:\n{started.stderr[-4000:]}")
    host = f"unix://{folder}/docker.sock"
    os.environ["DOCKER_HOST"] = host
    try:
        yield host
    finally:
        if configured is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = configured
        subprocess.run([str(ENGINE_SCRIPT), "stop", folder], capture_output=True, timeout=60, check=False)
        if not _has_mounts_under(folder):
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def test_image(docker_host: str) -> str:
    client = docker.DockerClient(base_url=docker_host, version="auto")
    try:
        return ensure_test_image(client)
    finally:
        client.close()


@pytest.fixture
def docker_client(docker_host: str) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=docker_host, version="auto")
    try:
        yield client
    finally:
        client.close()
