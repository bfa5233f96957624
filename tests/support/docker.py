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
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.api.network
import docker.errors
import pytest
import requests.exceptions

TEST_IMAGE = "asman/busybox:latest"
# A Python image for the worked examples in docs/examples, made from this machine's own Debian packages.
PYTHON_IMAGE = "asman/python:latest"
PYTHON_PACKAGES = ("python3-minimal", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib")
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


def _shared_libraries(binaries: list[Path]) -> set[Path]:
    """The shared libraries (and the loader) the binaries need, as ldd resolves them on this machine."""
    found: set[Path] = set()
    for binary in binaries:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        for line in listing.splitlines():
            target = line.split("=>")[-1].strip().split(" (")[0].strip()
            if target.startswith("/"):
                found.add(Path(target))
    return found


def _python_rootfs(staging: Path) -> None:
    """Busybox for a shell, the Debian python3 packages' files, and the libraries those need, under staging.

    Nothing is downloaded: the files come from this machine's installed packages (dpkg -L), so the image is
    Debian's Python, as `FROM python:3.11-slim-bookworm` would give, without the registry."""
    files = subprocess.run(
        ["dpkg", "-L", *PYTHON_PACKAGES], capture_output=True, text=True, check=True
    ).stdout.split()
    binaries: list[Path] = []
    for name in files:
        source = Path(name)
        if source.is_dir() and not source.is_symlink():
            continue
        target = staging / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.unlink(missing_ok=True)
            target.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, target)
            if source.suffix == ".so" or source.name.startswith("python3."):
                binaries.append(source)
    # Each library at the very path the loader asks for (dereferenced), so merged-/usr links need no care.
    for library in _shared_libraries(binaries):
        target = staging / str(library).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library.resolve(), target)
    bin_dir = staging / "bin"
    bin_dir.mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, bin_dir / "busybox")
    for applet in ("sh", "ls", "cat", "env", "mkdir", "rm", "cp", "mv", "echo", "wc", "sort", "head", "grep"):
        (bin_dir / applet).symlink_to("busybox")
    for folder, mode in (("tmp", 0o1777), ("etc", 0o755), ("home/user", 0o755)):
        (staging / folder).mkdir(parents=True, exist_ok=True)
        (staging / folder).chmod(mode)
    os.chown(staging / "home/user", 1000, 1000)
    (staging / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
    )
    (staging / "etc/group").write_text("root:x:0:\nuser:x:1000:\n")


def ensure_python_image(client: docker.DockerClient) -> str:
    try:
        client.images.get(PYTHON_IMAGE)
        return PYTHON_IMAGE
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="asman-pyroot-") as folder:
        staging = Path(folder) / "root"
        staging.mkdir()
        _python_rootfs(staging)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path in sorted(staging.rglob("*")):
                archive.add(str(path), arcname=str(path.relative_to(staging)), recursive=False)
    repository, tag = PYTHON_IMAGE.split(":")
    client.api.import_image_from_data(
        buffer.getvalue(),
        repository=repository,
        tag=tag,
        changes=[
            'CMD ["python3"]',
            "ENV PATH=/usr/local/bin:/usr/bin:/bin",
            "ENV PYTHONDONTWRITEBYTECODE=1",
            "ENV LANG=C.UTF-8",
        ],
    )
    return PYTHON_IMAGE


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


def _image_on(docker_host: str, ensure: Callable[[docker.DockerClient], str]) -> str:
    client = docker.DockerClient(base_url=docker_host, version="auto")
    try:
        return ensure(client)
    finally:
        client.close()


@pytest.fixture(scope="session")
def test_image(docker_host: str) -> str:
    return _image_on(docker_host, ensure_test_image)


@pytest.fixture(scope="session")
def python_image(docker_host: str) -> str:
    return _image_on(docker_host, ensure_python_image)


@pytest.fixture
def docker_client(docker_host: str) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=docker_host, version="auto")
    try:
        yield client
    finally:
        client.close()
