"""Upstream's functional test scenarios, replayed against Asman as upstream's clients speak (UPSTREAM-WIRE.md
§11): one test per scenario that uses REST, SSE and blobs. The client-socket, webhook and MCP scenarios live
with those features (test_client_ws.py, test_webhooks.py, test_mcp.py).

Real containers on a real worker. On PostgreSQL + S3 there are two API replicas: the test talks to one, the
worker to the other, so every answer crosses replicas.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.archives import tar_gz
from tests.support.server import ServerProcess, start_server
from tests.support.stack import Stack, start_worker

pytestmark = [pytest.mark.docker, pytest.mark.all_backends, pytest.mark.timeout(300)]


@dataclass
class Upstream(Stack):
    # The address a job's own URLs name (build contexts): behind a load balancer every replica has the same
    # public URL; here the worker's replica stands for it.
    public: str = ""


@pytest.fixture
def upstream(
    tmp_path: Path, docker_host: str, test_image: str, backend: dict[str, str]
) -> Iterator[Upstream]:
    front = start_server(tmp_path / "front", backend)
    servers: list[ServerProcess] = [front]
    worker_api = front.url
    if backend:  # scale-out: the worker connects to another replica
        servers.append(start_server(tmp_path / "back", backend))
        worker_api = servers[1].url
    stack = Upstream(front.url, f"up-{secrets.token_hex(4)}", test_image, front, docker_host, tmp_path)
    stack.public = worker_api
    stack.workers.append(
        start_worker(worker_api, stack.queue, tmp_path / "worker", docker_host, "--cpus", "2")
    )
    try:
        yield stack
    finally:
        for worker in stack.workers:
            worker.stop(signal.SIGKILL)
        for server in servers:
            server.stop()


def job_id_of(definition: dict[str, Any]) -> str:
    from asman.core.definition import job_id

    return job_id(definition)


def submit(stack: Stack, definition: dict[str, Any], **extra: Any) -> str:
    """Upstream's REST submit: `{id, definition, control?}` with the id computed by the client."""
    job = job_id_of(definition)
    answer = httpx.post(
        f"{stack.url}/q/{stack.queue}", json={"id": job, "definition": definition, **extra}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["success"] is True and answer.json()["jobId"] == job
    return job


def poll_finished(stack: Stack, job: str, timeout: float = 120) -> dict[str, Any]:
    """As upstream's tests do: poll `/j/<id>.json` until `data.results.state` is Finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data: dict[str, Any] = httpx.get(f"{stack.url}/j/{job}.json", timeout=10).json()["data"]
        results = data.get("results")
        if results and results["state"] == "Finished":
            return data
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not finish: {data}")


def result_json(stack: Stack, job: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{stack.url}/q/{stack.queue}/j/{job}/result.json", timeout=10).json()
    data: dict[str, Any] = body["data"]
    return data


def fetch(stack: Stack, path: str) -> httpx.Response:
    """GET a file the way upstream's tests do: redirects not followed at first, then followed."""
    first = httpx.get(f"{stack.url}{path}", timeout=10, follow_redirects=False)
    if first.status_code in (301, 302, 307):
        return httpx.get(first.headers["location"], timeout=10)
    return first


def upload(stack: Stack, data: bytes, key: str | None = None) -> str:
    """PUT a blob as upstream's browser does (`/f/<sha256>`, octet-stream, redirects followed)."""
    key = key or hashlib.sha256(data).hexdigest()
    answer = httpx.put(
        f"{stack.url}/f/{key}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
        follow_redirects=True,
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
    return key


def joined(logs: list[list[Any]]) -> str:
    return "".join(str(line[0]) for line in logs)


# -- 1, 17, 21: a finished job's result -------------------------------------------------------------------------


def test_ls_a_joins_to_the_programs_output_byte_for_byte(upstream: Stack) -> None:
    definition = {"image": upstream.image, "command": "sh -c 'sleep 1 && ls -a /'"}
    job = submit(upstream, definition)
    poll_finished(upstream, job)
    data = result_json(upstream, job)
    assert (data["state"], data["finishedReason"], data["finished"]["reason"]) == (
        "Finished",
        "Success",
        "Success",
    )
    result = data["finished"]["result"]
    assert result["StatusCode"] == 0 and result["isTimedOut"] is False
    listing = joined(result["logs"])
    assert listing.startswith(".\n..\n.dockerenv\nbin\n") and listing.endswith("\n")
    for folder in ("inputs", "job-cache", "outputs", "tmp"):
        assert f"\n{folder}\n" in listing
    assert result["logs"][0][0].strip() == "."


def test_a_written_output_resolves_to_its_content(upstream: Stack) -> None:
    text = f"hello {secrets.token_hex(4)}"
    job = submit(
        upstream, {"image": upstream.image, "command": f"sh -c 'echo -n {text} > /outputs/hello.txt'"}
    )
    data = poll_finished(upstream, job)
    assert data["results"]["finishedReason"] == "Success"
    ref = data["results"]["finished"]["result"]["outputs"]["hello.txt"]
    assert ref["type"] in ("base64", "utf8", "url")
    assert fetch(upstream, f"/j/{job}/outputs/hello.txt").content == text.encode()


# -- 4, 5, 6, 16: inputs in, outputs out --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.bin", "nested/subfolder/x.bin"])
def test_an_uploaded_input_is_copied_to_an_output(upstream: Stack, name: str) -> None:
    data = secrets.token_bytes(300)  # over the 200-byte inline limit: a blob
    key = upload(upstream, data)
    definition = {
        "image": upstream.image,
        "command": f"sh -c 'mkdir -p $(dirname /outputs/{name}) && cp /inputs/{name} /outputs/{name}'",
        "inputs": {name: {"type": "url", "value": f"{upstream.url}/f/{key}", "hash": key}},
    }
    job = submit(upstream, definition)
    results = poll_finished(upstream, job)["results"]
    assert results["finishedReason"] == "Success" and "error" not in results["finished"]["result"]
    for prefix in (f"/j/{job}", f"/q/{upstream.queue}/j/{job}"):
        for kind in ("inputs", "outputs"):
            answer = fetch(upstream, f"{prefix}/{kind}/{name}")
            assert answer.status_code == 200 and answer.content == data, (prefix, kind)
        first = httpx.get(f"{upstream.url}{prefix}/outputs/{name}", timeout=10)
        if upstream.server.env.get("ASMAN_BLOB_URL", "").startswith("s3://"):
            assert first.status_code == 302  # remote: a presigned URL
        else:
            assert first.status_code == 200  # local: the bytes themselves
            assert first.headers["content-disposition"].startswith("attachment;")
        for kind in ("inputs", "outputs"):
            missing = httpx.get(f"{upstream.url}{prefix}/{kind}/nested/none.bin", timeout=10)
            assert missing.status_code == 404


# -- 8: the definition comes back as submitted ---------------------------------------------------------------


def test_the_definition_deep_equals_what_was_submitted(upstream: Stack) -> None:
    definition = {
        "image": upstream.image,
        "command": "echo deep",
        "env": {"A": "1"},
        "inputs": {"a.txt": {"type": "utf8", "value": "small"}},
        "tags": ["t"],
    }
    job = submit(upstream, definition)
    data = poll_finished(upstream, job)
    assert data["definition"] == definition and data["results"]
    queued = httpx.get(f"{upstream.url}/q/{upstream.queue}/j/{job}", timeout=10).json()["data"]
    assert queued["definition"] == definition and queued["results"]["finishedReason"] == "Success"
    assert httpx.get(f"{upstream.url}/j/{job}/definition.json", timeout=10).json() == {"data": definition}


# -- 9, 11, 12, 13: namespaces ------------------------------------------------------------------------------


def test_namespaces_add_up_and_cancel_one_at_a_time(upstream: Stack) -> None:
    definition = {"image": upstream.image, "command": f"sleep {30 + secrets.randbelow(1000)}"}
    for namespace in ("ns-b", "ns-a", "ns-c"):
        job = submit(upstream, definition, control={"namespace": namespace})
    listing = httpx.get(f"{upstream.url}/q/{upstream.queue}", timeout=10).json()["data"]
    assert listing[job]["namespaces"] == ["ns-a", "ns-b", "ns-c"]
    cancel = httpx.post(f"{upstream.url}/q/{upstream.queue}/j/{job}/cancel?namespace=ns-b", timeout=10)
    assert cancel.status_code == 200 and cancel.json()["success"] is True
    names = httpx.get(f"{upstream.url}/q/{upstream.queue}/j/{job}/namespaces.json", timeout=10).json()["data"]
    assert names == ["ns-a", "ns-c"]
    assert upstream.job(job)["state"] in ("Queued", "Running")
    everyone = httpx.post(f"{upstream.url}/q/{upstream.queue}/j/{job}/cancel?namespace=*", timeout=10)
    assert everyone.json()["success"] is True
    assert (
        httpx.get(f"{upstream.url}/q/{upstream.queue}/j/{job}/namespaces.json", timeout=10).json()["data"]
        == []
    )
    assert upstream.job(job)["finishedReason"] == "Cancelled"


def test_in_one_namespace_only_the_newest_job_stays(upstream: Stack) -> None:
    jobs = []
    for index in range(4):
        definition = {"image": upstream.image, "command": f"sleep {60 + index}"}
        jobs.append(submit(upstream, definition, control={"namespace": "editor-tab"}))
        time.sleep(0.3)
    deadline = time.monotonic() + 29
    while time.monotonic() < deadline:
        states = [upstream.job(job) for job in jobs]
        if all(state["state"] == "Finished" for state in states[:-1]):
            break
        time.sleep(0.2)
    assert [state["finishedReason"] for state in states[:-1]] == ["JobReplacedByClient"] * 3
    assert states[-1]["state"] in ("Queued", "Running")
    httpx.post(f"{upstream.url}/q/{upstream.queue}/j/{jobs[-1]}/cancel?namespace=*", timeout=10)


# -- 14, 15: blobs --------------------------------------------------------------------------------------------


def test_blobs_exist_after_upload_and_round_trip(upstream: Stack) -> None:
    data = secrets.token_bytes(4096)
    key = hashlib.sha256(data).hexdigest()
    before = httpx.get(f"{upstream.url}/f/{key}/exists", timeout=10)
    assert (before.status_code, before.json()) == (404, {"exists": False})
    upload(upstream, data)
    after = httpx.get(f"{upstream.url}/f/{key}/exists", timeout=10)
    assert (after.status_code, after.json()) == (200, {"exists": True})
    assert httpx.get(f"{upstream.url}/f/{key}", follow_redirects=True, timeout=10).content == data
    # Upstream's clients also name blobs freely.
    named = f"{int(time.time() * 1000)}-{secrets.token_hex(3)}-notes.txt"
    upload(upstream, b"free-form key", named)
    assert (
        httpx.get(f"{upstream.url}/f/{named}", follow_redirects=True, timeout=10).content == b"free-form key"
    )


# -- 27: builds, exit codes, logs, the stream -----------------------------------------------------------------


def logs_json(stack: Stack, job: str, step: str, since: int | None = None) -> dict[str, Any]:
    query = "" if since is None else f"?since={since}"
    body: dict[str, Any] = httpx.get(f"{stack.url}/j/{job}/{step}-logs.json{query}", timeout=10).json()
    return body


def stream_events(stack: Stack, job: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    with httpx.stream("GET", f"{stack.url}/q/{stack.queue}/j/{job}/stream", timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def test_an_inline_dockerfile_builds_and_its_logs_are_apart(upstream: Stack) -> None:
    nonce = secrets.token_hex(4)
    definition = {
        "build": {"dockerfile": f"FROM {upstream.image}\nRUN echo BUILD-MARKER-{nonce}\n"},
        "command": f"sh -c 'echo RUN-MARKER-{nonce}; echo -n payload-{nonce} > /outputs/out.txt'",
        "env": {"NONCE": nonce},
    }
    job = submit(upstream, definition)
    events = stream_events(upstream, job)
    assert {"state", "build-log", "run-log", "final"} <= {name for name, _ in events}
    assert events[-1][0] == "final" and events[-1][1]["state"] == "Finished"
    assert events[-1][1]["reason"] == "Success"
    streamed = {
        name: "".join(str(line[0]) for _, data in events if _ == name for line in data["lines"])
        for name in ("build-log", "run-log")
    }
    assert f"BUILD-MARKER-{nonce}" in streamed["build-log"] and f"RUN-MARKER-{nonce}" in streamed["run-log"]
    build = logs_json(upstream, job, "build")
    run = logs_json(upstream, job, "run")
    assert build["isFinal"] and run["isFinal"]
    build_text, run_text = joined(build["data"]), joined(run["data"])
    assert f"BUILD-MARKER-{nonce}" in build_text and f"RUN-MARKER-{nonce}" not in build_text
    assert f"RUN-MARKER-{nonce}" in run_text
    assert fetch(upstream, f"/j/{job}/outputs/out.txt").content == f"payload-{nonce}".encode()


def test_a_failing_build_is_an_error_with_the_reason_in_the_build_log(upstream: Stack) -> None:
    definition = {
        "build": {"dockerfile": f"FROM {upstream.image}\nRUN no-such-command-{secrets.token_hex(3)}\n"},
        "command": "echo never",
    }
    job = submit(upstream, definition)
    data = poll_finished(upstream, job)
    assert data["results"]["finishedReason"] == "Error"
    build_text = joined(logs_json(upstream, job, "build")["data"])
    assert "no-such-command" in build_text and ("not found" in build_text or "exit code" in build_text)
    assert logs_json(upstream, job, "run")["data"] == []


def test_a_non_zero_exit_is_a_success_with_its_status_code(upstream: Stack) -> None:
    job = submit(upstream, {"image": upstream.image, "command": "sh -c 'echo out; echo oops >&2; exit 7'"})
    results = poll_finished(upstream, job)["results"]
    assert results["finishedReason"] == "Success" and results["finished"]["result"]["StatusCode"] == 7
    run = logs_json(upstream, job, "run")
    assert ["oops\n", True] in [[line[0], line[2]] for line in run["data"] if len(line) > 2]
    cursor = run["nextCursor"]
    tail = logs_json(upstream, job, "run", since=cursor - 1)
    assert (tail["sliceStart"], tail["nextCursor"], len(tail["data"])) == (cursor - 1, cursor, 1)
    assert logs_json(upstream, job, "run", since=cursor)["data"] == []
    bad = httpx.get(f"{upstream.url}/j/{job}/run-logs.json?since=soon", timeout=10)
    assert bad.status_code == 400 and "`since` must be a number" in bad.json()["message"]


def test_a_build_context_tarball_under_a_random_key_builds(upstream: Upstream) -> None:
    nonce = secrets.token_hex(4)
    context = tar_gz(
        {"Dockerfile": f"FROM {upstream.image}\nCOPY hello.txt /hello.txt\n", "hello.txt": f"ctx-{nonce}"}
    )
    key = secrets.token_hex(16)  # 32 hex digits: not a content address
    upload(upstream, context, key)
    job = submit(upstream, {"build": {"context": f"{upstream.public}/f/{key}"}, "command": "cat /hello.txt"})
    results = poll_finished(upstream, job)["results"]
    assert results["finishedReason"] == "Success", results
    assert joined(results["finished"]["result"]["logs"]) == f"ctx-{nonce}"


def test_a_blob_input_and_a_small_inline_one_both_appear(upstream: Stack) -> None:
    big = secrets.token_bytes(4096)
    key = upload(upstream, big)
    definition = {
        "image": upstream.image,
        "command": "sh -c 'wc -c /inputs/big.bin; cat /inputs/small.txt'",
        "inputs": {
            "big.bin": {"type": "url", "value": f"{upstream.url}/f/{key}", "hash": key},
            "small.txt": {"type": "base64", "value": "aGVsbG8="},
        },
    }
    job = submit(upstream, definition)
    result = poll_finished(upstream, job)["results"]["finished"]["result"]
    text = joined(result["logs"])
    assert "4096 /inputs/big.bin" in text and text.endswith("hello")
