"""The clients' HTTP behaviour over a mock transport: retries, the error envelope, uploads, submissions."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import asman
from asman.client import (
    ApiError,
    AsyncClient,
    Client,
    InvalidJob,
    JobNotFound,
    ServerUnreachable,
)
from asman.client._base import Retry, build_definition, normalize_url

API = "http://asman.test"
JOB = "ab" * 32

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, retries: int = 2) -> Client:
    made = Client(API, transport=httpx.MockTransport(handler))
    made.retry = Retry(attempts=retries, first_delay=0.0)
    return made


def test_the_public_api() -> None:
    assert sorted(asman.__all__) == sorted(
        [
            "ApiError",
            "AsmanError",
            "AsyncClient",
            "AsyncJob",
            "AsyncQueue",
            "Client",
            "DownloadFailed",
            "InvalidJob",
            "Job",
            "JobFailed",
            "JobNotFound",
            "JobResult",
            "JobStatus",
            "LogLine",
            "Queue",
            "ServerUnreachable",
            "WaitTimeout",
            "__version__",
            "as_completed",
            "wait_all",
        ]
    )
    for name in asman.__all__:
        assert getattr(asman, name) is not None
    assert issubclass(asman.JobNotFound, asman.AsmanError)
    assert issubclass(asman.WaitTimeout, TimeoutError)
    with pytest.raises(AttributeError):
        _ = asman.Nope


def test_importing_asman_is_cheap() -> None:
    code = "import sys, asman; assert 'httpx' not in sys.modules and 'asman.client' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://asman.example/", "https://asman.example"),
        ("http://host/prefix/", "http://host/prefix"),
    ],
)
def test_server_addresses_are_normalized(given: str, url: str) -> None:
    assert normalize_url(given) == url


def test_the_default_address_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASMAN_API_URL", "API_SERVER_ADDRESS", "ASMAN_WORKER_API_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert Client().url == "http://127.0.0.1:8000"
    monkeypatch.setenv("ASMAN_WORKER_API_ADDRESS", "http://old-worker-name:9000")
    assert Client().url == "http://old-worker-name:9000"
    monkeypatch.setenv("API_SERVER_ADDRESS", "http://elsewhere:9000")
    assert Client().url == "http://elsewhere:9000"
    monkeypatch.setenv("ASMAN_API_URL", "http://the-one-name:9000")
    assert Client().url == "http://the-one-name:9000"


def test_connection_errors_are_retried_then_reported() -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"queue": "q", "counts": {}, "workers": [], "clients": 0})

    assert client(flaky).queue("q").status()["queue"] == "q"
    assert calls == 3

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(
        ServerUnreachable, match=r"cannot reach the Asman server at http://asman.test.*make run"
    ):
        client(down).queue("q").status()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_busy_answers_are_retried(status: int) -> None:
    answers = [
        httpx.Response(status, headers={"Retry-After": "0"}),
        httpx.Response(200, text="queue_length 0\n"),
    ]
    assert client(lambda request: answers.pop(0)).queue("q").metrics() == "queue_length 0\n"


def envelope(status: int, code: str, message: str) -> Handler:
    return lambda request: httpx.Response(status, json={"error": code, "message": message})


def test_error_envelopes_become_typed_exceptions() -> None:
    with pytest.raises(JobNotFound, match=r"^no job x in queue q: submit it$") as found:
        client(envelope(404, "not_found", "no job x in queue q: submit it")).job("q", JOB).status()
    assert (found.value.status_code, found.value.code) == (404, "not_found")
    with pytest.raises(InvalidJob, match="the server refused the job: image: bad"):
        client(envelope(422, "validation_failed", "image: bad")).queue("q").submit(image="x")
    with pytest.raises(ApiError, match="server failed") as failed:
        client(envelope(500, "internal_error", "boom"), retries=0).queue("q").status()
    assert not isinstance(failed.value, (JobNotFound, InvalidJob))
    with pytest.raises(ApiError, match="not json"):
        client(lambda request: httpx.Response(400, text="not json")).queue("q").status()


class Recorder:
    """A tiny fake server for submits: remembers requests, has some blobs."""

    def __init__(self, known: set[str] = frozenset(), redirect: bool = False) -> None:  # type: ignore[assignment]
        self.known = set(known)
        self.redirect = redirect
        self.requests: list[tuple[str, str, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.requests.append((request.method, request.url.path, body))
        path = request.url.path
        if path.endswith("/exists"):
            key = path.split("/")[2]
            return httpx.Response(200 if key in self.known else 404, json={"exists": key in self.known})
        if request.method == "PUT" and path.startswith("/f/"):
            if self.redirect:
                return httpx.Response(307, headers={"Location": "http://s3.test/bucket" + path})
            assert request.headers["content-length"] == str(len(body))
            self.known.add(path.split("/")[2])
            return httpx.Response(201, json={"success": True})
        if request.method == "PUT":
            return httpx.Response(200)
        if request.method == "POST":
            return httpx.Response(200, json={"success": True, "jobId": JOB, "state": "Queued"})
        raise AssertionError(request)

    def submitted(self) -> dict[str, object]:
        [body] = [json.loads(body) for method, _, body in self.requests if method == "POST"]
        return dict(body)


def test_submit_uploads_large_files_once_and_inlines_small_ones(tmp_path: Path) -> None:
    (tmp_path / "small.txt").write_text("hello")
    (tmp_path / "large.bin").write_bytes(b"x" * 1000)
    key = hashlib.sha256(b"x" * 1000).hexdigest()
    server = Recorder()
    job = (
        client(server)
        .queue("q")
        .submit(
            image="img",
            command="cat /inputs/large.bin",
            files=[tmp_path / "small.txt", tmp_path / "large.bin"],
            namespace="tab1",
        )
    )
    assert (job.id, job.queue, job.url) == (JOB, "q", f"{API}/q/q/j/{JOB}")
    assert [(m, p) for m, p, _ in server.requests] == [
        ("GET", f"/f/{key}/exists"),
        ("PUT", f"/f/{key}"),
        ("POST", "/q/q"),
    ]
    assert server.submitted() == {
        "definition": {
            "image": "img",
            "command": "cat /inputs/large.bin",
            "inputs": {
                "small.txt": {"type": "utf8", "value": "hello"},
                "large.bin": {"type": "url", "value": f"{API}/f/{key}", "hash": key},
            },
        },
        "control": {"namespace": "tab1"},
    }
    server.requests.clear()
    client(server).queue("q").submit(image="img", files=[tmp_path / "large.bin"])
    assert [m for m, _, _ in server.requests] == ["GET", "POST"]  # known content is not sent again


def test_uploads_follow_the_blob_store_redirect(tmp_path: Path) -> None:
    (tmp_path / "large.bin").write_bytes(b"y" * 500)
    server = Recorder(redirect=True)
    client(server).queue("q").submit(image="img", files=[tmp_path / "large.bin"])
    key = hashlib.sha256(b"y" * 500).hexdigest()
    assert [(m, p) for m, p, _ in server.requests][1:] == [
        ("PUT", f"/f/{key}"),
        ("PUT", f"/bucket/f/{key}"),
        ("POST", "/q/q"),
    ]
    assert server.requests[2][2] == b"y" * 500


async def test_the_async_client_submits_the_same_way(tmp_path: Path) -> None:
    (tmp_path / "large.bin").write_bytes(b"z" * 300)
    server = Recorder()
    async with AsyncClient(API, transport=httpx.MockTransport(server)) as async_client:
        job = await async_client.queue("q").submit(image="img", files=tmp_path / "large.bin", env={"A": "1"})
    assert job.id == JOB
    assert [m for m, _, _ in server.requests] == ["GET", "PUT", "POST"]
    assert server.requests[1][2] == b"z" * 300
    assert server.submitted()["definition"]["env"] == {"A": "1"}  # type: ignore[index]


def test_a_job_needs_an_image_before_anything_is_read(tmp_path: Path) -> None:
    server = Recorder()
    with pytest.raises(InvalidJob, match="needs an image"):
        client(server).queue("q").submit(command="echo", files=["does-not-matter"])
    assert server.requests == []


def test_definitions_combine_a_dict_and_keywords() -> None:
    base = {"image": "a", "env": {"X": "1"}, "requirements": {"gpus": 1}, "tags": ["t"]}
    assert build_definition(base, image="b", env={"Y": "2"}, cpus=2, memory=4 * 1024**3, max_duration=90) == {
        "image": "b",
        "env": {"X": "1", "Y": "2"},
        "tags": ["t"],
        "maxDuration": "90s",
        "requirements": {"gpus": 1, "cpus": 2, "memory": str(4 * 1024**3)},
    }
    assert build_definition({"build": {"dockerfile": "FROM x"}}) == {"build": {"dockerfile": "FROM x"}}


def test_a_wrapped_definition_keeps_its_control(tmp_path: Path) -> None:
    server = Recorder()
    client(server).queue("q").submit(definition={"definition": {"image": "i"}, "control": {"namespace": "n"}})
    assert server.submitted() == {"definition": {"image": "i"}, "control": {"namespace": "n"}}


def test_queue_names_are_checked_before_sending() -> None:
    with pytest.raises(asman.AsmanError, match="invalid queue name"):
        Client(API).queue("no spaces")
    with pytest.raises(asman.AsmanError, match="64 lowercase hex"):
        Client(API).job("q", "123")


def sse_body(*events: tuple[str, object]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def test_a_dropped_stream_is_reopened_without_repeating_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("asman.client._follow.RECONNECT", Retry(attempts=3, first_delay=0.0))
    state = {"jobId": JOB, "state": "Running", "worker": "w"}
    final = {
        "jobId": JOB,
        "state": "Finished",
        "finishedReason": "Success",
        "results": {"StatusCode": 0, "logs": [["a", 1, False], ["b", 2, False]]},
    }
    bodies = [
        sse_body(("state", state), ("run-log", [["a", 1, False]])),  # then the server goes away
        sse_body(("state", state), ("run-log", [["a", 1, False], ["b", 2, False]]), ("final", final)),
    ]
    opened = 0

    def stream(request: httpx.Request) -> httpx.Response:
        nonlocal opened
        opened += 1
        return httpx.Response(200, content=bodies.pop(0), headers={"content-type": "text/event-stream"})

    job = client(stream).job("q", JOB)
    assert [line.text for line in job.logs()] == ["a", "b"]
    assert opened == 2


def test_a_stream_that_keeps_ending_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("asman.client._follow.RECONNECT", Retry(attempts=2, first_delay=0.0))
    opened = 0

    def stream(request: httpx.Request) -> httpx.Response:
        nonlocal opened
        opened += 1
        return httpx.Response(200, content=sse_body(("state", {"jobId": JOB, "state": "Queued"})))

    with pytest.raises(ServerUnreachable, match="the stream ended before the job did"):
        client(stream).job("q", JOB).wait()
    assert opened == 3
