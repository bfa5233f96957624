"""Fixtures of the tests that drive the Docker runtime directly (the private engine comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asman.worker.runtimes import DockerRuntime
from tests.support.jobs import Runner


@pytest.fixture
async def runtime(docker_host: str, test_image: str) -> AsyncIterator[DockerRuntime]:
    engine = DockerRuntime(docker_host)
    yield engine
    await engine.close()


@pytest.fixture
def runner(runtime: DockerRuntime, tmp_path: Path, test_image: str) -> Runner:
    return Runner(runtime, tmp_path / "data", test_image)
