"""`/llms.txt` cannot drift from the app, and the pure helpers of the MCP tools and their HTTP mount."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote

import httpx
import pytest

from asman.client import JobResult, LogLine
from asman.core.definition import BuildSpec, DataRef, JobDefinition, Requirements
from asman.core.states import FinishedReason
from asman.mcp import llms, results
from asman.mcp.http import _Loopback, _with_mcp_accept, loopback_address
from asman.mcp.tools import TOOLS
from asman.server.app import create_app
from asman.settings import Settings

# The interactive API docs and the web client's assets: pages for people, nothing an agent calls.
NOT_FOR_AGENTS = {"/docs", "/docs/oauth2-redirect", "/static"}


@pytest.fixture(scope="module")
def app() -> object:
    return create_app(Settings())


def test_llms_txt_lists_every_endpoint(app: object) -> None:
    text = llms.render(app, "https://asman.example")  # type: ignore[arg-type]
    for path, operations in app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method in operations:
            assert f"`{method.upper()} {path}`" in text, (method, path)
    for route in app.routes:  # type: ignore[attr-defined]
        path = getattr(route, "path", None)
        if path is not None and path not in NOT_FOR_AGENTS:
            assert f" {path}`" in text or f"{path}\n" in text or f"{path} " in text, path
    for tool in TOOLS:
        assert f"`{tool.__name__}(" in text


def test_llms_txt_lists_every_definition_field_with_its_meaning(app: object) -> None:
    text = llms.render(app, "https://asman.example")  # type: ignore[arg-type]
    expected = [*JobDefinition.model_fields]
    expected += [f"build.{name}" for name in BuildSpec.model_fields]
    expected += [f"requirements.{name}" for name in Requirements.model_fields]
    expected += [
        f"{refs}.<name>.{name}" for refs in ("inputs", "configFiles") for name in DataRef.model_fields
    ]
    meanings = llms.field_meanings()
    for name in expected:
        assert f"- `{name}`: " in text, name
        assert name in meanings, f"docs/jobs.md has no row for the definition field {name}"
    assert set(llms.definition_fields()) == set(expected)


def test_llms_txt_sections_come_from_the_docs(app: object) -> None:
    text = llms.render(app, "https://asman.example")  # type: ignore[arg-type]
    for heading in ("## Examples", "## REST endpoints", "## What a job sees", "## URL forms", "## MCP tools"):
        assert heading in text
    assert "JOB_OUTPUTS=/outputs" in text and "1000:1000" in text and "--network" in text
    assert "https://asman.example/mcp" in text and "127.0.0.1:8000" not in text
    assert '"mcpServers"' in text  # the first configuration snippet of docs/mcp.md
    full = llms.render(app, "https://asman.example", full=True)  # type: ignore[arg-type]
    for name in llms.FULL_REFERENCE:
        assert f"<!-- docs/{name} -->" in full


def test_self_contained_links_decode_as_the_web_client_does() -> None:
    definition = {"image": "alpine", "command": "echo 'é ✓' \"q\"", "env": {"A": "1 2"}}
    url = results.self_contained_url("https://a.example", "q1", definition)
    assert url is not None and url.startswith("https://a.example/#?job=") and url.endswith("&queue=q1")
    encoded = url.split("job=")[1].split("&")[0]
    assert json.loads(unquote(base64.b64decode(encoded).decode("ascii"))) == definition
    assert results.encode_uri_component("a b/é!'()*~-_.") == "a%20b%2F%C3%A9!'()*~-_."
    assert results.self_contained_url("https://a.example", "q", {"command": "x" * 40_000}) is None


def test_a_long_log_is_cut_to_its_tail_with_a_note() -> None:
    lines = [LogLine(f"line {n}\n", n) for n in range(250)]
    result = JobResult("j" * 64, FinishedReason.SUCCESS, exit_code=3, logs=lines)
    summary = results.finished_summary("https://a", "q", "j" * 64, result)
    assert summary["logs"][0] == "line 150" and len(summary["logs"]) == results.TAIL_LINES
    assert "last 100 of 250" in summary["note"]
    assert (summary["exitCode"], summary["programSucceeded"], summary["logLineCount"]) == (3, False, 250)


@pytest.mark.parametrize(
    ("accept", "rewritten"),
    [
        (None, True),
        ("*/*", True),
        ("application/json", True),
        ("text/event-stream", True),
        ("text/html", False),
    ],
)
def test_a_missing_or_partial_accept_is_answered_as_upstream_does(
    accept: str | None, rewritten: bool
) -> None:
    headers = [(b"content-type", b"application/json")] + ([(b"accept", accept.encode())] if accept else [])
    values = [value for name, value in _with_mcp_accept(headers) if name == b"accept"]
    assert values == ([b"application/json, text/event-stream"] if rewritten else [accept.encode()])  # type: ignore[union-attr]


def test_the_loopback_address_is_the_socket_the_request_came_in_on() -> None:
    settings = Settings(host="0.0.0.0", port=9000)
    assert loopback_address({"server": ("10.1.2.3", 8000)}, settings) == "http://10.1.2.3:8000"
    assert loopback_address({"server": ("::1", 8000)}, settings) == "http://[::1]:8000"
    assert loopback_address({"server": None}, settings) == "http://127.0.0.1:9000"  # a unix socket


async def test_the_loopback_transport_keeps_the_public_host() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    transport = _Loopback(httpx.MockTransport(answer), "https://asman.example", "http://127.0.0.1:8123")
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://asman.example/q/a")
        await client.get("https://s3.example/bucket/key?sig=1")  # a presigned redirect goes where it says
    assert str(seen[0].url) == "http://127.0.0.1:8123/q/a" and seen[0].headers["host"] == "asman.example"
    assert str(seen[1].url) == "https://s3.example/bucket/key?sig=1"
