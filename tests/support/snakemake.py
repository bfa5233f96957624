"""Snakemake 7.32 for the TES tests: a venv of its own on the host, and a job image with it inside.

Snakemake 7.32 has TES built in (Snakemake 8+ moved it to a plugin that needs a storage plugin and networked
jobs). It is a test tool, never a product dependency, so it lives in `tests/.venv-snakemake` (made by `uv`,
kept between runs, rebuilt when the pins change), like the bench's peers in bench/.venv-peers. Its TES executor
runs `/bin/bash /tmp/run_snakemake.sh`, which runs `python -m snakemake` in the job's container: the image is
the local Python image (Debian's Python 3.11, as on this machine) plus bash and the same Snakemake, built
without a registry.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.support.docker import ROOT, _image_on, _shared_libraries, ensure_python_image
from tests.support.services import _missing

SNAKEMAKE_VERSION = "7.32.4"
# pulp 2.8 dropped `list_solvers`, which Snakemake 7 calls when it builds its argument parser.
PINS = (f"snakemake=={SNAKEMAKE_VERSION}", "pulp==2.7.0")
HOST_PINS = (*PINS, "py-tes==1.1.4")  # the host side submits tasks through py-tes
VENV = ROOT / "tests" / ".venv-snakemake"
# The image's copy of Snakemake, installed once beside the venv (an install takes a minute on a busy machine).
IMAGE_SITE = VENV / "image-packages"
IMAGE = f"asman/snakemake:{SNAKEMAKE_VERSION}"
# Debian's Python in the image reads packages from here (it is on its sys.path, unlike site-packages).
IMAGE_PACKAGES = "usr/local/lib/python3.11/dist-packages"


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")
    if not Path(found).exists():
        _missing("uv (to make the Snakemake venv)")
    return found


def ensure_snakemake_venv() -> Path:
    """The venv's `snakemake` executable, installing Snakemake (and py-tes) first if the pins changed, and the
    image's packages beside it."""
    executable = VENV / "bin" / "snakemake"
    stamp = VENV / "asman-pins.txt"
    wanted = "\n".join(HOST_PINS)
    if executable.exists() and IMAGE_SITE.is_dir() and stamp.exists() and stamp.read_text() == wanted:
        return executable
    shutil.rmtree(VENV, ignore_errors=True)
    uv = _uv()
    for args in (
        ["venv", "--quiet", "--python", "3.11", str(VENV)],
        ["pip", "install", "--quiet", "--python", str(VENV / "bin" / "python"), *HOST_PINS],
        ["pip", "install", "--quiet", "--python", "3.11", "--target", str(IMAGE_SITE), *PINS],
    ):
        subprocess.run([uv, *args], check=True, capture_output=True)
    # pulp's bundled solver binaries (30 MB): without them a job's Snakemake schedules greedily, as one job needs.
    shutil.rmtree(IMAGE_SITE / "pulp" / "solverdir", ignore_errors=True)
    stamp.write_text(wanted)
    return executable


def _context(staging: Path) -> bytes:
    """The build context: Snakemake's packages, bash and its libraries, and `python` for `python -m snakemake`."""
    root = staging / "root"
    shutil.copytree(IMAGE_SITE, root / IMAGE_PACKAGES, symlinks=True)
    bash = Path("/usr/bin/bash")
    for path in [bash, *_shared_libraries([bash])]:
        target = root / str(path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path.resolve(), target)
    (root / "bin").mkdir(exist_ok=True)
    (root / "bin" / "bash").symlink_to("/usr/bin/bash")
    (root / "usr" / "bin" / "python").symlink_to("python3")
    dockerfile = "FROM asman/python:latest\nCOPY root/ /\nENV HOME=/tmp\n"
    (staging / "Dockerfile").write_text(dockerfile)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(str(staging), arcname=".")
    return buffer.getvalue()


def ensure_snakemake_image(client: docker.DockerClient) -> str:
    try:
        client.images.get(IMAGE)
        return IMAGE
    except docker.errors.ImageNotFound:
        pass
    ensure_snakemake_venv()
    ensure_python_image(client)
    with tempfile.TemporaryDirectory(prefix="asman-snakemake-") as folder:
        context = _context(Path(folder))
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=IMAGE, rm=True)
    return IMAGE


@pytest.fixture(scope="session")
def snakemake_venv() -> Path:
    return ensure_snakemake_venv()


@pytest.fixture(scope="session")
def snakemake_image(docker_host: str) -> str:
    return _image_on(docker_host, ensure_snakemake_image)
