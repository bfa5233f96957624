"""What `pip install asman` gives a user: the wheel built from this checkout, installed with its dependencies
into a fresh venv, is the SDK and the client commands alone, and runs a job against a real server and worker.

The venv is made by uv (which `make install` provides) from the built wheel; its dependencies come from the
package index, or from uv's cache when they are there already."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
BASE = {"asman", "httpx", "typer", "rich", "pydantic"}
HEAVY = {
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "asyncpg",
    "aiobotocore",
    "botocore",
    "docker",
    "websockets",
    "prometheus-client",
    "orjson",
}


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.fail("uv is not on PATH: `make install` installs it")
    return found


def run(
    *args: str | Path, timeout: float = 300, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding `pip install asman` (the wheel of this checkout, no extras)."""
    folder = tmp_path_factory.mktemp("packaging")
    # uv must not pick this project's own environment or settings for the venv it is asked to fill.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_PROJECT", "VIRTUAL_ENV"))}
    built = run(uv(), "build", "--wheel", "--out-dir", folder / "dist", ROOT, cwd=folder, env=env)
    assert built.returncode == 0, built.stderr
    [wheel] = (folder / "dist").glob("asman-*.whl")
    venv = folder / "venv"
    made = run(uv(), "venv", "--quiet", "--python", sys.executable, venv, env=env)
    assert made.returncode == 0, made.stderr
    installed = run(uv(), "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel, env=env)
    assert installed.returncode == 0, installed.stderr
    yield venv


def test_the_bare_install_is_the_sdk_and_the_cli_alone(bare_venv: Path) -> None:
    listing = run(
        bare_venv / "bin" / "python",
        "-c",
        "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))",
    )
    assert listing.returncode == 0, listing.stderr
    names = {name.lower().replace("_", "-") for name in json.loads(listing.stdout)}
    assert names >= BASE
    assert not names & HEAVY, f"pip install asman pulled in {sorted(names & HEAVY)}"


def test_the_server_and_worker_commands_name_their_extra(bare_venv: Path) -> None:
    asman = bare_venv / "bin" / "asman"
    assert run(asman, "--help").returncode == 0
    for args, message in (
        (("server",), "asman server needs the server extra: pip install 'asman[server]'"),
        (("worker", "q"), "asman worker needs the worker extra: pip install 'asman[worker]'"),
        (
            ("worker", "--mode", "local"),
            "asman worker --mode local needs the server and worker extras: pip install 'asman[server,worker]'",
        ),
    ):
        done = run(asman, *args, timeout=60)
        assert (done.returncode, done.stderr.strip()) == (1, message), done.stderr


@pytest.mark.docker
def test_a_job_runs_through_the_bare_sdk_and_cli(bare_venv: Path, stack: Stack, tmp_path: Path) -> None:
    script = f"""
from asman import Client

job = Client({stack.url!r}).queue({stack.queue!r}).submit(
    image={stack.image!r}, command="sh -c 'echo from-the-sdk > /outputs/a.txt; echo ran'"
)
result = job.wait(timeout=120)
job.download("out")
print(result.stdout.strip(), open("out/a.txt").read().strip())
"""
    done = run(bare_venv / "bin" / "python", "-c", script, cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ran", "from-the-sdk"]

    env = {**os.environ, "API_SERVER_ADDRESS": stack.url}
    added = run(
        bare_venv / "bin" / "asman",
        "job",
        "add",
        stack.queue,
        "--image",
        stack.image,
        "-c",
        "echo from-the-cli",
        "--wait",
        cwd=tmp_path,
        env=env,
        timeout=180,
    )
    assert (added.returncode, added.stdout) == (0, "from-the-cli\n"), added.stderr
