"""Fixtures for the queue server: in-process (httpx over ASGI) and as a real subprocess on a free port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from asman.server.app import create_app
from asman.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


BACKENDS = ("sqlite+fs", "postgres+s3")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules marked `all_backends` run every test on each backend; the rest on the embedded default."""
    if "backend" in metafunc.fixturenames:
        every = metafunc.definition.get_closest_marker("all_backends") is not None
        metafunc.parametrize("backend", BACKENDS if every else BACKENDS[:1], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's store and blob settings, as ASMAN_* variables: empty means SQLite and files."""
    if request.param == "sqlite+fs":
        return {}
    return {
        "ASMAN_DATABASE_URL": request.getfixturevalue("postgres_url"),
        "ASMAN_BLOB_URL": request.getfixturevalue("s3_url"),
    }


@pytest.fixture
def settings(tmp_path: Path, backend: dict[str, str]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        lease_seconds=3,
        heartbeat_seconds=0.5,
        sweep_interval_seconds=3600,
        database_url=backend.get("ASMAN_DATABASE_URL", ""),
        blob_url=backend.get("ASMAN_BLOB_URL", ""),
    )


@asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan running, reached through httpx without a socket."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://asman.test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(settings) as client:
        yield client


@dataclass
class ServerProcess:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    data_dir: Path, extra_env: dict[str, str] | None = None, port: int | None = None, ready_s: float = 30
) -> ServerProcess:
    port = port or free_port()
    env = {
        **os.environ,
        "ASMAN_DATA_DIR": str(data_dir),
        "ASMAN_PORT": str(port),
        "ASMAN_HOST": "127.0.0.1",
        "ASMAN_LEASE_SECONDS": "3",
        "ASMAN_HEARTBEAT_SECONDS": "0.5",
        **(extra_env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "asman.cli", "server"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", data_dir, process, log_path, env)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not answer in {ready_s:g} s:\n{server.log()}")


@pytest.fixture
def live_server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ServerProcess]:
    server = start_server(tmp_path / "server-data", backend)
    yield server
    server.stop()


class Served:
    """The real app served by uvicorn in the test's own event loop: tests reach into its state and notifier."""

    def __init__(self, url: str, app: Any) -> None:
        self.url = url
        self.app = app

    @property
    def notifier(self) -> Any:
        return self.app.state.service.notifier

    async def clients(self, queue: str) -> int:
        async with httpx.AsyncClient() as client:
            count: int = (await client.get(f"{self.url}/q/{queue}/status")).json()["clients"]
        return count

    async def submit(self, queue: str, command: str) -> str:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{self.url}/q/{queue}", json={"definition": {"image": "x", "command": command}}
            )
        answer.raise_for_status()
        job_id: str = answer.json()["jobId"]
        return job_id

    async def job(self, queue: str, job_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            data: dict[str, Any] = (await client.get(f"{self.url}/q/{queue}/j/{job_id}")).json()["data"]
        return data

    async def wait_finished(self, queue: str, job_id: str, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while (job := await self.job(queue, job_id))["state"] != "Finished":
                await asyncio.sleep(0.05)
        return job


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    yield Served(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) pairs of a Server-Sent-Events response, as they arrive."""
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, orjson.loads(line[6:])


def run_of(view: Any) -> dict[str, Any]:
    """What the container did, from a job view: `results.finished.result` (upstream's FinishedJob)."""
    result: dict[str, Any] = view["results"]["finished"]["result"]
    return result
