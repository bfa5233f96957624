"""Property-based fuzzing of every documented endpoint (schemathesis against /openapi.json): no 5xx, ever, no
traceback in the server's log, and every answer as the document says: a documented status code, content type
and body schema; every error in the one envelope `{error, message}`. Operations are fuzzed one by one, then in
sequences that follow the links schemathesis infers (submit, then read, cancel, copy or delete that job).
The other surfaces (sockets, MCP, TES bodies, webhooks) are in test_fuzz_surfaces.py."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from asman.core import protocol
from tests.integration.test_fuzz_surfaces import LogWatch
from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, start_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(Path(tmp_path_factory.mktemp("fuzz")) / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    # Streams never end by design; they are covered by the SSE tests.
    return schema.exclude(path_regex=r".*/(stream|events)$")


def _check_envelope(case: schemathesis.Case[Any], response: Any) -> None:
    if response.status_code >= 400:
        body = response.json()
        if case.path.endswith("/exists") and response.status_code == 404:
            assert body == {"exists": False}  # upstream's answer for a missing blob
            return
        assert set(body) == {"error", "message"}, (case.path, body)


def test_no_server_errors(api_schema: schemathesis.BaseSchema, fuzz_server: ServerProcess) -> None:
    watch = LogWatch(fuzz_server)
    results = list(api_schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "every operation of the schema must load"
    assert len(operations) > 30
    calls = 0
    for operation in operations:

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case[Any]) -> None:
            nonlocal calls
            calls += 1
            response = case.call(timeout=10)
            case.validate_response(response, checks=CHECKS)
            _check_envelope(case, response)

        fuzz()
    assert calls > 10 * len(operations)
    watch.assert_clean()
    print(f"\nREST: {calls} requests over {len(operations)} operations")


RUNNABLE = st.builds(
    lambda command, namespace: {"definition": {"image": "alpine", "command": command}, "control": namespace},
    st.text(min_size=1, max_size=20),
    st.one_of(st.just({}), st.builds(lambda name: {"namespace": name}, st.text(min_size=1, max_size=10))),
)


def test_stateful_sequences_along_links(fuzz_server: ServerProcess) -> None:
    watch = LogWatch(fuzz_server)
    # The job operations, with bodies that follow the schema: a sequence needs a submit that is accepted to
    # follow its links (to the job it made: read, cancel, copy, delete, its files).
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json").include(
        path_regex=r"^/(q/\{queue\}(/j)?|q/\{queue\}/j/\{job_id\}.*|j/\{job_id\}.*)$"
    )
    schema = schema.exclude(path_regex=r".*/(stream|events)$")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])

    @schema.hook
    def before_generate_body(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        # The schema cannot say "image or build": half the submits are runnable, so their links get followed.
        if context.operation is None or not context.operation.path.endswith(("{queue}", "{queue}/j")):
            return strategy
        return strategy | RUNNABLE

    calls = 0
    made: set[str] = set()  # job ids the server answered with
    linked = 0  # calls about one of them: a link was followed

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            nonlocal calls, linked
            calls += 1
            linked += (case.path_parameters or {}).get("job_id") in made
            if response.status_code == 200 and case.method == "POST" and "jobId" in response.text:
                made.add(response.json().get("jobId"))
            case.validate_response(response, checks=CHECKS)
            _check_envelope(case, response)

    Sequences.run(
        settings=settings(
            max_examples=40,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    assert calls > 40 and linked > 0, (calls, linked)  # some calls were about a job an earlier call made
    watch.assert_clean()
    print(f"\nREST sequences: {calls} requests in 40 sequences, {linked} of them along a link")


async def _finished_job(server: ServerProcess) -> str:
    """A job that ran in queue `real` (an input and an output both named out.txt, a log line) and a blob: the
    answers random inputs never reach."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        definition = {
            "image": "alpine:3.19.1",
            "command": "echo conform",
            "inputs": {"out.txt": {"type": "utf8", "value": "in\n"}},
        }
        job_id: str = (await http.post("/q/real", json={"definition": definition})).json()["jobId"]
        worker = FakeWorker(server.url, "real", "conform-worker")
        await worker.connect()
        assigned = await worker.receive_type(protocol.ASSIGN)
        await worker.finish(
            job_id,
            assigned["attempt"],
            logs=[["conform\n", 1, False]],
            outputs={"out.txt": {"type": "utf8", "value": "ok\n"}},
        )
        while (await http.get(f"/q/real/j/{job_id}")).json()["data"]["state"] != "Finished":
            await asyncio.sleep(0.05)
        await worker.close()
        await http.put(f"/f/{BLOB_KEY}", content=BLOB)
    return job_id


BLOB = b"conformance\n"
BLOB_KEY = hashlib.sha256(BLOB).hexdigest()


def test_real_answers_conform(api_schema: schemathesis.BaseSchema, fuzz_server: ServerProcess) -> None:
    job_id = asyncio.run(_finished_job(fuzz_server))
    known = {"queue": "real", "job_id": job_id, "key": BLOB_KEY, "file": "out.txt", "step": "run"}
    checked = 0
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok)
        operation = result.ok()
        names = [parameter.name for parameter in operation.path_parameters]
        if operation.method.upper() != "GET" or not set(names) <= set(known):
            continue  # the reads: what would change the job (cancel, delete) or make one, the fuzzing covers
        case = operation.Case(path_parameters={name: known[name] for name in names})
        response = case.call(timeout=10)
        case.validate_response(response, checks=CHECKS)
        assert response.status_code < 300, (operation.path, response.status_code, response.text[:200])
        checked += 1
    assert checked > 25
