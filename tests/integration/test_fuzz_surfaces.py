"""Hostile input on every surface besides the REST operations (those are in test_fuzz.py): both WebSockets,
`/mcp` through the official MCP SDK, TES task bodies, and webhook targets. The server must answer each with an
error message (or close the socket with a reason), never a 5xx, a crash or a traceback in its log; its HTTP
errors all use the one envelope `{error, message}`.

Each test prints how many attacks it tried (docs/security.md quotes the counts)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from asman.core import protocol
from tests.support.server import ServerProcess, start_server

JOB = "a" * 64


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )


# Close codes that say the server refused a frame, or went away on purpose; 1011 is an internal error.
CLEAN_CLOSES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1013}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(Path(tmp_path_factory.mktemp("surfaces")) / "data")
    yield process
    process.stop()


class LogWatch:
    """The part of the server's log written since it was made: no tracebacks, no unhandled errors."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.start = len(server.log())

    def assert_clean(self) -> None:
        text = self.server.log()[self.start :]
        for sign in ("Traceback", "Exception in ASGI", "unhandled error", " 500 "):
            assert sign not in text, f"{sign!r} in the server log:\n{text[-4000:]}"
        assert self.server.process.poll() is None, "the server died"
        assert httpx.get(f"{self.server.url}/healthz", timeout=5).status_code == 200


# -- values an attacker sends -------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # past 64 bits, where many JSON parsers give up
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "x" * 70_000, "../../etc/passwd", "\u0000", JOB, "-1", "1e400", "é"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def frame_of(value: Any) -> str:
    """JSON as a careless client writes it: big integers and NaN included."""
    return json.dumps(value, allow_nan=True)


junk_frames = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.sampled_from(["{", "[]", "null", '{"type":', "\x00" * 10, '{"type":"heartbeat"}' * 3]),
    st.just("[" * 20_000),  # deep nesting
    st.just(json.dumps({"type": "log", "logs": [["x" * 100, 0, False]] * 20_000})),  # ~2.5 MB
)


# -- the worker socket --------------------------------------------------------------------------------------

worker_results = (
    st.fixed_dictionaries(
        {"reason": st.sampled_from(["Success", "Error", "Cancelled", "x"]) | json_values},
        optional={
            "StatusCode": json_values,
            "logs": json_values,
            "outputs": json_values,
            "duration": json_values,
        },
    )
    | json_values
)

worker_messages = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                *(protocol.HEARTBEAT, protocol.LOG, protocol.FINISHED, protocol.FINISHED_MANY),
                *(protocol.RELEASE, protocol.DRAIN),
                *(protocol.REGISTER, protocol.ASSIGN, "nope"),
            ]
        )
        | json_values
    },
    optional={
        "jobId": st.just(JOB) | json_values,
        "attempt": st.integers(-3, 3) | json_values,
        "step": st.sampled_from(["run", "build"]) | json_values,
        "logs": st.lists(st.lists(json_values, max_size=4), max_size=4) | json_values,
        "result": worker_results,
        "results": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "jobId": st.just(JOB) | json_values,
                    "attempt": st.integers(-3, 3) | json_values,
                    "token": json_values,
                    "result": worker_results,
                },
            )
            | json_values,
            max_size=4,
        )
        | json_values,
        "running": st.lists(st.fixed_dictionaries({"jobId": json_values, "attempt": json_values}), max_size=3)
        | json_values,
        "worker": json_values,
    },
)
registers = st.sampled_from(
    [
        {"type": "register", "worker": {"id": "fuzz", "slots": 1}, "running": []},
        {"type": "register", "worker": {"id": "fuzz", "slots": 2, "finishedMany": True}, "running": []},
    ]
) | st.builds(
    lambda worker, running: {"type": "register", "worker": worker, "running": running},
    st.fixed_dictionaries(
        {},
        optional={"id": json_values, "slots": json_values, "gpus": json_values, "finishedMany": json_values},
    )
    | json_values,
    json_values,
)


async def _exchange(url: str, frames: list[str | bytes]) -> int | None:
    """Send the frames, read what comes back until the socket closes or goes quiet; the close code, if any."""
    try:
        async with connect(url, open_timeout=10, max_size=None, close_timeout=2) as ws:
            try:
                for frame in frames:
                    await ws.send(frame)
                while True:
                    await asyncio.wait_for(ws.recv(), 0.15)
            except TimeoutError:
                return None
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else 1006
    except InvalidStatus as refused:  # refused before the upgrade: an HTTP answer
        assert refused.response.status_code < 500, refused.response
        return None


def _check_close(code: int | None, frames: list[str | bytes]) -> None:
    assert code is None or code in CLEAN_CLOSES, (code, [str(frame)[:200] for frame in frames])


def test_worker_socket_survives_hostile_frames(server: ServerProcess) -> None:
    watch = LogWatch(server)
    url = server.url.replace("http://", "ws://") + "/q/fuzz-workers/worker"
    tried = 0

    @fuzz(120)
    @given(
        register=registers,
        messages=st.lists(worker_messages.map(frame_of) | junk_frames, max_size=4),
    )
    def attack(register: Any, messages: list[str | bytes]) -> None:
        nonlocal tried
        tried += 1
        frames = [frame_of(register), *messages]
        _check_close(asyncio.run(_exchange(url, frames)), frames)

    attack()
    watch.assert_clean()
    print(f"\nworker socket: {tried} hostile sessions")


# -- the client socket --------------------------------------------------------------------------------------

client_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["StateChange", "QueryJob", "QueryJobStates", "PING", "Nope"]) | json_values},
    optional={
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "job": st.just(JOB) | json_values,
                "jobId": st.just(JOB) | json_values,
                "tag": json_values,
                "state": st.sampled_from(["Queued", "Finished", "Running"]) | json_values,
                "value": st.fixed_dictionaries(
                    {},
                    optional={
                        "type": json_values,
                        "time": json_values,
                        "reason": st.sampled_from(["Cancelled", "Deleted", "Success"]) | json_values,
                        "namespace": json_values,
                        "enqueued": st.fixed_dictionaries(
                            {},
                            optional={
                                "id": json_values,
                                "definition": st.just({"image": "x", "command": "echo"}) | json_values,
                                "control": json_values,
                            },
                        )
                        | json_values,
                    },
                )
                | json_values,
            },
        )
        | json_values
    },
)


def test_client_socket_survives_hostile_frames(server: ServerProcess) -> None:
    watch = LogWatch(server)
    url = server.url.replace("http://", "ws://") + "/q/fuzz-clients/client"
    tried = 0

    @fuzz(80)
    @given(messages=st.lists(client_messages.map(frame_of) | junk_frames, min_size=1, max_size=5))
    def attack(messages: list[str | bytes]) -> None:
        nonlocal tried
        tried += 1
        _check_close(asyncio.run(_exchange(url, messages)), messages)

    attack()
    watch.assert_clean()
    print(f"\nclient socket: {tried} hostile sessions")


# -- MCP ------------------------------------------------------------------------------------------------------


def _hostile_arguments(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = json_values | st.just(JOB) | st.just("q")
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, values)) | st.dictionaries(
        st.sampled_from([*names, "bogus", ""]) | st.text(max_size=6), values, max_size=4
    )


def test_mcp_tools_survive_hostile_arguments(server: ServerProcess) -> None:
    watch = LogWatch(server)
    tried = 0

    async def session(data: st.DataObject) -> None:
        nonlocal tried
        async with Client(f"{server.url}/mcp", read_timeout_seconds=30) as client:
            tools = {
                tool.name: list(tool.input_schema.get("properties", {}))
                for tool in (await client.list_tools()).tools
            }
            for _ in range(25):
                name = data.draw(st.sampled_from(sorted(tools)) | st.text(max_size=10))
                arguments = data.draw(_hostile_arguments(tools.get(name, [])))
                if "timeoutSeconds" in tools.get(name, []) and not isinstance(
                    arguments.get("timeoutSeconds"), str
                ):
                    arguments["timeoutSeconds"] = 1  # a wait is no attack; an unreadable one is
                tried += 1
                try:
                    result = await client.call_tool(name, arguments)
                except MCPError:
                    continue  # refused by the protocol layer: an error answer, as it should be
                if result.is_error:
                    text = result.content[0].text  # type: ignore[union-attr]
                    body = json.loads(text)
                    assert body["success"] is False and body["message"], (name, arguments, text)

    @fuzz(4)
    @given(data=st.data())
    def attack(data: st.DataObject) -> None:
        asyncio.run(session(data))

    attack()
    watch.assert_clean()
    print(f"\nMCP: {tried} hostile tool calls")


# -- TES ------------------------------------------------------------------------------------------------------


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | json_values


tes_paths = st.sampled_from(["/data/in.txt", "relative", "/../../etc/passwd", "/inputs/../x", "", "/" * 300])
tes_urls = st.sampled_from(
    ["http://127.0.0.1:1/x", "file:///etc/passwd", "s3://b/k", "ftp://x/y", "", "nope"]
)
tes_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": _maybe(st.text(max_size=30)),
        "executors": _maybe(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "image": _maybe(st.sampled_from(["alpine", "", "x" * 5000, "127.0.0.1:5000/x"])),
                        "command": _maybe(st.lists(st.text(max_size=20), max_size=3)),
                        "workdir": _maybe(tes_paths),
                        "stdout": _maybe(tes_paths),
                        "stdin": _maybe(tes_paths),
                        "env": _maybe(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)),
                    },
                ),
                max_size=3,
            )
        ),
        "inputs": _maybe(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "url": _maybe(tes_urls),
                        "path": _maybe(tes_paths),
                        "content": _maybe(st.text(max_size=20)),
                        "type": _maybe(st.sampled_from(["FILE", "DIRECTORY", "LINK"])),
                    },
                ),
                max_size=3,
            )
        ),
        "outputs": _maybe(
            st.lists(
                st.fixed_dictionaries({}, optional={"url": _maybe(tes_urls), "path": _maybe(tes_paths)}),
                max_size=2,
            )
        ),
        "resources": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "cpu_cores": _maybe(st.integers(-1, 2**40)),
                    "ram_gb": _maybe(st.floats(allow_nan=True, allow_infinity=True)),
                    "disk_gb": json_values,
                    "preemptible": json_values,
                },
            )
        ),
        "volumes": json_values,
        "tags": _maybe(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)),
    },
)


def test_tes_survives_hostile_tasks(server: ServerProcess) -> None:
    watch = LogWatch(server)
    tried = 0
    with httpx.Client(base_url=server.url, timeout=10) as http:

        @fuzz(100)
        @given(body=tes_bodies | json_values, prefix=st.sampled_from(["", "/q/fuzz-tes"]))
        def attack(body: Any, prefix: str) -> None:
            nonlocal tried
            tried += 1
            answer = http.post(
                f"{prefix}/ga4gh/tes/v1/tasks",
                content=frame_of(body),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code < 500, (body, answer.text[:300])
            if answer.status_code >= 400:
                assert set(answer.json()) == {"error", "message"}, answer.text[:300]
            else:
                task = answer.json()["id"]
                for path in (f"/tasks/{task}?view=FULL", f"/tasks/{task}:cancel"):
                    method = "POST" if path.endswith("cancel") else "GET"
                    again = http.request(method, f"{prefix}/ga4gh/tes/v1{path}")
                    assert again.status_code < 500, again.text[:300]

        attack()
    watch.assert_clean()
    print(f"\nTES: {tried} hostile task bodies")


# -- webhooks -------------------------------------------------------------------------------------------------


class _Recorder(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that records requests and answers each with `status` (and `location`)."""

    def __init__(self, status: int = 200, location: str = "") -> None:
        self.hits: list[str] = []
        self.status = status
        self.location = location
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.hits.append(self.path)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(recorder.status)
                if recorder.location:
                    self.send_header("Location", recorder.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_a_webhook_that_redirects_to_an_internal_address_is_not_followed(tmp_path: Path) -> None:
    internal = _Recorder()
    # Allowed to reach the first hop only because every address here is internal: what counts is that its
    # redirect (to another internal service) is never followed.
    redirector = _Recorder(307, f"{internal.url}/admin")
    hooked = start_server(tmp_path / "data", {"ASMAN_WEBHOOK_ALLOW_PRIVATE_URLS": "true"})
    try:
        for status in (301, 302, 303, 307, 308):
            redirector.status = status
            body = {
                "definition": {"image": "x", "command": f"echo {status}"},
                "control": {"callbacks": {"queued": {"url": f"{redirector.url}/hook"}}},
            }
            assert httpx.post(f"{hooked.url}/q/hooks", json=body, timeout=10).status_code == 200
        deadline = time.monotonic() + 15
        while len(redirector.hits) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert len(redirector.hits) >= 5
        assert internal.hits == [], "a webhook followed a redirect"
        assert "the receiver answered 30" in hooked.log()
    finally:
        hooked.stop()
        redirector.shutdown()
        internal.shutdown()


INTERNAL_SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://localhost.:{port}/",
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://0.0.0.0:{port}/",
    "http://user:pass@127.0.0.1:{port}/",
    "http://127.0.0.1.nip.io:{port}/",
    "http://[0:0:0:0:0:0:0:1]:{port}/",
    "http://%31%32%37.0.0.1:{port}/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_x",
    "http://127.0.0.1:{port}@example.org/",
]


def test_webhook_targets_that_name_this_machine_are_refused(server: ServerProcess) -> None:
    receiver = _Recorder()
    port = receiver.server_address[1]
    watch = LogWatch(server)  # the module's server keeps the default guard
    try:
        for n, spelling in enumerate(INTERNAL_SPELLINGS):
            body = {
                "definition": {"image": "x", "command": f"echo {n}"},
                "control": {"callbacks": {"queued": {"url": spelling.format(port=port)}}},
            }
            answer = httpx.post(f"{server.url}/q/hooks", json=body, timeout=10)
            assert answer.status_code in (200, 400, 422), answer.text
            if answer.status_code != 200:
                assert set(answer.json()) == {"error", "message"}
        time.sleep(3)  # every delivery has had its first attempt
        assert receiver.hits == [], f"a webhook reached this machine: {receiver.hits}"
        watch.assert_clean()
    finally:
        receiver.shutdown()
    print(f"\nwebhooks: {len(INTERNAL_SPELLINGS)} spellings of an internal target, all refused")
