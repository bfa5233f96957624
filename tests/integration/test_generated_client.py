"""A client generated from /openapi.json by a standard generator (openapi-python-client) works: it submits a
job, reads it and fetches its result and output from a real server, whose worker speaks the real protocol."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from asman.core import protocol
from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, start_server

PACKAGE = "asman_generated_api"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("generated") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("client")
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{server.url}/openapi.json").content)
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the generated code is only imported
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document)]
    command += ["--meta", "none", "--config", str(config), "--output-path", str(folder / PACKAGE)]
    generated = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout, generated.stdout  # every operation and answer was understood
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_submits_reads_and_fetches_the_result(
    server: ServerProcess, api: ModuleType
) -> None:
    models = _module("models")
    jobs = "api.jobs"
    client = api.Client(base_url=server.url, raise_on_unexpected_status=True)
    body = models.SubmitBody(definition=models.JobDefinition(image="alpine:3.19.1", command="echo generated"))

    submitted = await _module(f"{jobs}.submit_job").asyncio(queue="gen", client=client, body=body)
    assert isinstance(submitted, models.Submitted)
    assert submitted.success and submitted.state == models.JobState.QUEUED
    job_id = submitted.job_id

    worker = FakeWorker(server.url, "gen", "gen-worker")
    await worker.connect()
    try:
        assigned = await worker.receive_type(protocol.ASSIGN)
        assert assigned["jobId"] == job_id
        running = await _module(f"{jobs}.get_job").asyncio(queue="gen", job_id=job_id, client=client)
        assert isinstance(running, models.JobAnswer)
        assert running.data.state == models.JobState.RUNNING
        assert running.data.definition.command == "echo generated"
        assert running.data.worker == "gen-worker"
        await worker.finish(
            job_id,
            assigned["attempt"],
            logs=[["generated\n", 1, False]],
            outputs={"out.txt": {"type": "utf8", "value": "made by the job\n"}},
        )
        get_result = _module(f"{jobs}.get_result")
        for _ in range(100):
            answer = await get_result.asyncio(queue="gen", job_id=job_id, client=client)
            if isinstance(answer, models.ResultAnswer) and answer.data is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.close()

    assert isinstance(answer, models.ResultAnswer)
    finished = answer.data
    assert finished.finished_reason == models.FinishedReason.SUCCESS
    assert finished.exit_code == 0 and finished.queue == "gen"
    assert finished.finished.result.status_code == 0
    assert finished.finished.result.logs == [["generated\n", 1, False]]

    job = await _module(f"{jobs}.get_job").asyncio(queue="gen", job_id=job_id, client=client)
    assert job.data.state == models.JobState.FINISHED and job.data.results.exit_code == 0
    output = await _module(f"{jobs}.get_output_file").asyncio(
        queue="gen", job_id=job_id, file="out.txt", client=client
    )
    assert output.payload.read() == b"made by the job\n"
    logs = await _module(f"{jobs}.get_logs").asyncio(queue="gen", job_id=job_id, step="run", client=client)
    assert isinstance(logs, models.LogsAnswer) and logs.is_final

    missing = await _module(f"{jobs}.get_job").asyncio(queue="gen", job_id="0" * 64, client=client)
    assert isinstance(missing, models.ErrorBody) and missing.error == "not_found"
