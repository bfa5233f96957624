"""MCP, driven with the official SDK's clients: Streamable HTTP at `/mcp` of a real server subprocess (SDK 2.x
in both its modern and its handshake mode, SDK 1.x in an environment of its own, and upstream's raw stateless
requests), and stdio with `asman mcp`; real workers run real containers. Upstream's MCP scenarios (§11
items 24-26 of the wire contract) are the tests named after them."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult

from tests.support.server import ServerProcess, start_server
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
ASMAN = str(Path(sys.executable).parent / "asman")
UPSTREAM_TOOLS = {"submit_job", "follow_job", "get_job_status", "list_jobs", "cancel_job", "upload_file"}
MODES = ("auto", "legacy")  # 2026-07-28 single requests, and the initialize handshake of earlier revisions


def payload(result: CallToolResult) -> dict[str, Any]:
    assert len(result.content) == 1 and result.content[0].type == "text"
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


def refused(result: CallToolResult) -> str:
    """The message of a tool error, which must be upstream's `{success: false, error, message}`."""
    assert result.is_error, result.content
    data = payload(result)
    assert data["success"] is False and data["error"]
    message: str = data["message"]
    return message


class Progress:
    """Collects a tool call's progress notifications."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.messages: list[str] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.messages.append(message or "")


@asynccontextmanager
async def mcp_client(url: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with Client(f"{url}/mcp", mode=mode, read_timeout_seconds=120) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return payload(result)


async def submit(client: Client, stack: Stack, command: str, **arguments: Any) -> dict[str, Any]:
    return await call(
        client, "submit_job", queue=stack.queue, image=stack.image, command=command, **arguments
    )


async def follow(client: Client, job_id: str, queue: str) -> tuple[dict[str, Any], Progress]:
    """follow_job with a progress token: its answer, and the progress notifications that came before it."""
    progress = Progress()
    result = await client.call_tool(
        "follow_job", {"jobId": job_id, "queue": queue}, progress_callback=progress
    )
    assert not result.is_error, result.content
    return payload(result), progress


# -- without containers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_tools_resources_and_arguments(live_server: ServerProcess, mode: str) -> None:
    async with mcp_client(live_server.url, mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert UPSTREAM_TOOLS | {"get_output", "wait_for_job"} == set(tools)
        submit = tools["submit_job"].input_schema["properties"]
        assert {"queue", "image", "gitRepo", "dockerfile", "buildContext", "command", "inputs", "env"} <= set(
            submit
        )
        assert {"maxDuration", "namespace"} <= set(submit)
        assert tools["follow_job"].input_schema["required"] == ["jobId", "queue"]

        listed = [str(resource.uri) for resource in (await client.list_resources()).resources]
        assert "queue://public1/jobs" in listed
        job = await call(client, "submit_job", queue="mq", image="asman/busybox:latest", command="echo 1")
        read = await client.read_resource("queue://mq/jobs")
        jobs = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert [entry["jobId"] for entry in jobs["jobs"]] == [job["jobId"]]
        assert read.contents[0].mime_type == "application/json"


async def test_upstream_submit_job_definition_echo(live_server: ServerProcess) -> None:
    """§11 item 26: the definition summary, and neither image nor gitRepo, or both, is a tool error."""
    async with mcp_client(live_server.url) as client:
        job = await call(
            client,
            "submit_job",
            queue="q26",
            dockerfile="FROM asman/busybox:latest\n",
            command="ls",
            inputs={"a.txt": "a", "b.txt": "b"},
            env={"A": "1", "B": "2", "C": "3"},
            maxDuration="5m",
        )
        assert job["success"] is True and re.fullmatch(r"[0-9a-f]{64}", job["jobId"])
        assert job["definition"] == {
            "image": None,
            "hasDockerfile": True,
            "hasBuild": True,
            "command": "ls",
            "filesCount": 2,
            "envCount": 3,
            "maxDuration": "5m",
        }
        origin = live_server.url
        assert job["viewUrl"] == f"{origin}/j/{job['jobId']}#?queue=q26"
        assert job["resultUrl"] == f"{origin}/q/q26/j/{job['jobId']}/result.json"
        encoded = job["selfContainedUrl"].removeprefix(f"{origin}/#?job=").removesuffix("&queue=q26")
        from urllib.parse import unquote

        carried = json.loads(unquote(base64.b64decode(encoded).decode()))
        assert carried["build"] == {"dockerfile": "FROM asman/busybox:latest\n"}
        assert carried["inputs"]["a.txt"] == {"type": "utf8", "value": "a"}

        # No worker serves q26: waiting gives up, not an error, and the job can still be cancelled.
        for tool in ("follow_job", "wait_for_job"):
            waited = await call(client, tool, jobId=job["jobId"], queue="q26", timeoutSeconds=1)
            assert (waited["finished"], waited["state"]) == (False, "Queued") and tool in waited["note"]
        assert "not finished: call wait_for_job first" in refused(
            await client.call_tool("get_output", {"jobId": job["jobId"], "queue": "q26", "path": "x"})
        )
        cancelled = await call(client, "cancel_job", jobId=job["jobId"], queue="q26")
        assert (cancelled["success"], cancelled["state"]) == (True, "Finished")

        assert "not both" in refused(
            await client.call_tool("submit_job", {"image": "x", "gitRepo": "https://github.com/o/r"})
        )
        assert "say what to run" in refused(await client.call_tool("submit_job", {"queue": "q26"}))


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("submit_job", {"image": "x", "dockerfile": "FROM x"}, "either image or dockerfile"),
    ("submit_job", {"image": "x", "comand": "ls"}, "no argument 'comand'"),
    ("submit_job", {"image": "x", "queue": "no spaces"}, "invalid queue name"),
    ("submit_job", {"image": "x", "inputs": {"../up": "x"}}, "invalid file name"),
    ("submit_job", {"image": "x", "files": {"a": "not-a-key"}}, "must be the key upload_file returned"),
    ("submit_job", {"image": "x", "env": "A=1"}, "'env'"),
    ("follow_job", {"jobId": "0" * 64}, "'queue' is required"),
    ("get_job_status", {"jobId": "abc"}, "a job id is 64 lowercase hex digits"),
    ("get_job_status", {"jobId": "0" * 64, "queue": "q"}, "no job 0000"),
    ("list_jobs", {"limit": 500}, "less than or equal to 200"),
    ("list_jobs", {"state": "Sleeping"}, "'state'"),
    ("cancel_job", {"jobId": "0" * 64, "queue": "q"}, "no job 0000"),
    ("upload_file", {"filename": "a", "content": "%%%", "encoding": "base64"}, "not valid base64"),
    ("upload_file", {"filename": "/etc/x", "content": "x"}, "invalid file name"),
    ("get_output", {"jobId": "0" * 64, "path": "a"}, "no job 0000"),
    ("wait_for_job", {"jobId": "0" * 64, "timeoutSeconds": 0}, "greater than or equal to 1"),
]


async def test_bad_arguments_are_tool_errors_that_say_what_to_fix(live_server: ServerProcess) -> None:
    async with mcp_client(live_server.url) as client:
        for tool, arguments, message in BAD_CALLS:
            text = refused(await client.call_tool(tool, arguments))
            assert message.lower() in text.lower(), (tool, arguments, text)


async def test_stateless_requests_as_upstream_sends_them(live_server: ServerProcess) -> None:
    """No initialize, no session id: each POST is answered on its own as Server-Sent Events; the last `data:`
    line is the response. A missing Accept is fine, notifications get 202, DELETE 200."""
    request = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "list_jobs", "arguments": {"queue": "raw"}},
    }
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        for accept in (None, "*/*", "application/json, text/event-stream"):
            headers = {"accept": accept} if accept else {}
            answer = await http.post("/mcp", json=request, headers=headers)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(
                "text/event-stream"
            )
            assert "mcp-session-id" not in answer.headers
            last = [line for line in answer.text.splitlines() if line.startswith("data:")][-1]
            result = json.loads(last.removeprefix("data:"))["result"]
            assert json.loads(result["content"][0]["text"])["totalJobs"] == 0
        note = await http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert note.status_code == 202
        assert (await http.delete("/mcp")).status_code == 200
        assert (await http.post("/mcp", json=request, headers={"accept": "text/html"})).status_code == 406

        health = (await http.get("/mcp/health")).json()
        assert health["status"] == "healthy" and {"tools", "resources"} <= set(health["capabilities"])
        assert {"server", "workflow", "capabilities", "endpoints", "documentation"} <= set(
            (await http.get("/mcp/info")).json()
        )
        llms = await http.get("/llms.txt")
        assert llms.status_code == 200 and "POST /q/{queue}" in llms.text and "submit_job" in llms.text
        assert f"{live_server.url}/mcp" in llms.text  # examples and links name the server that answered
        full = (await http.get("/llms-full.txt")).text
        assert len(full) > len(llms.text) and "Worker protocol" in full


# -- real containers ------------------------------------------------------------------------------------------


@pytest.mark.docker
async def test_a_job_with_inputs_and_env_followed_live(stack: Stack) -> None:
    """§11 items 24-25: env and inputs reach the job, follow_job streams it from queued to finished as progress
    notifications, outputs are read back (text and binary), get_job_status and list_jobs see it."""
    script = (
        'echo "$GREETING from $JOB_ID"\ncat /inputs/a.txt\nfor i in 1 2 3; do echo line $i; sleep 0.4; done\n'
    )
    script += "wc -c < /inputs/big.txt > /outputs/size.txt\nprintf '\\000\\001\\377' > /outputs/bin.dat\n"
    arguments = {
        "queue": stack.queue,
        "image": stack.image,
        "command": "sh /inputs/run.sh",
        "inputs": {"run.sh": script, "a.txt": "hello from a file\n", "big.txt": "x" * 500},
        "env": {"GREETING": "hi"},
    }
    async with mcp_client(stack.url) as client:
        job_id = (await call(client, "submit_job", **arguments))["jobId"]
        done, progress = await follow(client, job_id, stack.queue)
        assert (done["state"], done["finishedReason"], done["exitCode"]) == ("Finished", "Success", 0)
        assert done["programSucceeded"] is True and done["streamedLive"] is True
        assert done["logs"][:2] == [f"hi from {job_id}", "hello from a file"]
        assert done["outputFiles"] == ["bin.dat", "size.txt"]
        assert len(progress.messages) >= 5, progress.messages
        assert progress.values == sorted(set(progress.values))  # progress only ever grows
        streamed = "\n".join(progress.messages)
        assert "▸ Running" in streamed and "line 2" in streamed and "▸ Finished (Success)" in streamed

        size = await call(client, "get_output", jobId=job_id, queue=stack.queue, path="size.txt")
        assert (size["encoding"], size["content"].strip()) == ("utf8", "500")
        binary = await call(client, "get_output", jobId=job_id, queue=stack.queue, path="/outputs/bin.dat")
        assert (binary["encoding"], base64.b64decode(binary["content"])) == ("base64", b"\x00\x01\xff")
        assert "larger than maxBytes" in refused(
            await client.call_tool(
                "get_output", {"jobId": job_id, "queue": stack.queue, "path": "size.txt", "maxBytes": 2}
            )
        )
        assert "its outputs: bin.dat, size.txt" in refused(
            await client.call_tool("get_output", {"jobId": job_id, "queue": stack.queue, "path": "nope"})
        )

        status = await call(client, "get_job_status", jobId=job_id, queue=stack.queue)
        assert status["status"]["state"] == "Finished" and status["result"]["statusCode"] == 0
        assert "line 3" in status["result"]["logs"]
        listed = await call(client, "list_jobs", queue=stack.queue)
        assert listed["totalJobs"] == 1 and listed["jobs"][0]["jobId"] == job_id
        waited = await call(client, "wait_for_job", jobId=job_id, queue=stack.queue, timeoutSeconds=5)
        assert waited["exitCode"] == 0

        again = await call(client, "submit_job", **arguments)
        assert (again["jobId"], again["state"]) == (job_id, "Finished")  # the stored result, not a rerun


@pytest.mark.docker
async def test_upstream_failures_cancel_and_concurrent_submits(stack: Stack) -> None:
    """§11 items 24-25: a failing job reports statusCode 1 with finishedReason Success and a fixed one 0; three
    concurrent submits all succeed and list_jobs sees them; a long job is cancelled in its namespace."""
    async with mcp_client(stack.url) as client:
        failing = await submit(client, stack, "sh -c 'echo Error message >&2; exit 1'")
        followed = await call(client, "follow_job", jobId=failing["jobId"], queue=stack.queue)
        assert (followed["finishedReason"], followed["exitCode"], followed["programSucceeded"]) == (
            "Success",
            1,
            False,
        )
        assert "Error message" in followed["logs"]
        status = await call(client, "get_job_status", jobId=failing["jobId"], queue=stack.queue)
        assert status["result"]["statusCode"] == 1 and status["status"]["finishedReason"] == "Success"
        fixed = await submit(client, stack, "sh -c 'echo fixed'")
        assert (await call(client, "wait_for_job", jobId=fixed["jobId"], queue=stack.queue))["exitCode"] == 0

        words = ["alpha", "bravo", "charlie"]
        submitted = await asyncio.gather(*(submit(client, stack, f"echo {word}") for word in words))
        assert all(job["success"] for job in submitted) and len({job["jobId"] for job in submitted}) == 3
        listed = {job["jobId"] for job in (await call(client, "list_jobs", queue=stack.queue))["jobs"]}
        assert {job["jobId"] for job in submitted} <= listed
        for word, job in zip(words, submitted, strict=True):
            done = await call(
                client, "wait_for_job", jobId=job["jobId"], queue=stack.queue, timeoutSeconds=60
            )
            assert (done["exitCode"], done["logs"]) == (0, [word])

        long = await submit(client, stack, "sleep 300", namespace="agent")
        for _ in range(200):
            state = (await call(client, "get_job_status", jobId=long["jobId"], queue=stack.queue))["status"]
            if state["state"] == "Running":
                break
            await asyncio.sleep(0.1)
        assert state["state"] == "Running"
        cancelled = await call(
            client, "cancel_job", jobId=long["jobId"], queue=stack.queue, namespace="agent"
        )
        assert cancelled["success"] is True
        ended = await call(client, "wait_for_job", jobId=long["jobId"], queue=stack.queue, timeoutSeconds=60)
        assert ended["finishedReason"] == "Cancelled"


@pytest.mark.docker
async def test_upload_file_then_a_job_reads_it(stack: Stack) -> None:
    text = "uploaded text, " * 40  # over the inline limit
    async with mcp_client(stack.url, "legacy") as client:
        uploaded = await call(client, "upload_file", filename="notes.txt", content=text)
        assert uploaded["size"] == len(text) and uploaded["downloadUrl"].endswith(f"/f/{uploaded['key']}")
        binary = await call(
            client,
            "upload_file",
            filename="b.bin",
            content=base64.b64encode(b"\x01\x02").decode(),
            encoding="base64",
        )
        async with httpx.AsyncClient() as http:
            assert (await http.get(uploaded["downloadUrl"], follow_redirects=True)).text == text
        job = await submit(
            client,
            stack,
            "sh -c 'cp /inputs/notes.txt /outputs/copy.txt; wc -c < /inputs/b.bin'",
            files={"notes.txt": uploaded["key"], "b.bin": binary["downloadUrl"]},
        )
        assert job["definition"]["filesCount"] == 2
        done = await call(client, "follow_job", jobId=job["jobId"], queue=stack.queue)
        assert (done["exitCode"], done["logs"][0].strip()) == (0, "2")
        copy = await call(client, "get_output", jobId=job["jobId"], queue=stack.queue, path="copy.txt")
        assert copy["content"] == text  # a blob output, read back from this server


@pytest.mark.docker
async def test_the_same_over_stdio(stack: Stack, tmp_path: Path) -> None:
    """`asman mcp --api URL`: the tools over stdio, progress notifications included."""
    with (tmp_path / "stdio.err").open("w") as errors:
        server = StdioServerParameters(command=ASMAN, args=["mcp", "--api", stack.url])
        async with Client(stdio_client(server, errlog=errors), read_timeout_seconds=120) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} >= UPSTREAM_TOOLS
            job = await submit(client, stack, "sh -c 'echo over stdio; echo done > /outputs/o.txt'")
            assert job["viewUrl"].startswith(f"{stack.url}/j/")
            done, progress = await follow(client, job["jobId"], stack.queue)
            assert done["exitCode"] == 0 and "over stdio" in "\n".join(progress.messages)
            output = await call(client, "get_output", jobId=job["jobId"], queue=stack.queue, path="o.txt")
            assert output["content"] == "done\n"
            assert "say what to run" in refused(await client.call_tool("submit_job", {}))
    assert "Traceback" not in (tmp_path / "stdio.err").read_text()


@pytest.mark.docker
def test_a_client_on_sdk_1x(stack: Stack) -> None:
    """An agent still on the 1.x SDK: initialize, tools, a followed job with progress, a tool error."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    script = ROOT / "tests" / "support" / "mcp_v1_client.py"
    command = [uv, "run", "--no-project", "--quiet", "--with", "mcp>=1.20,<2", "python", str(script)]
    done = subprocess.run(
        [*command, f"{stack.url}/mcp", stack.queue, stack.image],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "VIRTUAL_ENV": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["server"] == "asman" and set(seen["tools"]) >= UPSTREAM_TOOLS
    assert (seen["followed"]["exitCode"], seen["followed"]["logs"]) == (0, ["from v1", "second line"])
    assert any("from v1" in message for message in seen["progress"])
    assert seen["bad"]["isError"] is True and "say what to run" in seen["bad"]["message"]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.mark.docker
def test_the_mcp_docs_example_runs(bare_stack: Stack) -> None:
    bare_stack.queue = "local"
    bare_stack.add_worker()
    [example] = python_blocks(ROOT / "docs" / "mcp.md")
    done = subprocess.run(
        [sys.executable, "-c", example.replace("http://127.0.0.1:8000", bare_stack.url)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    view, code, content = done.stdout.strip().splitlines()
    assert view.startswith(f"{bare_stack.url}/j/") and (code, content) == ("0", "hi")


@pytest.mark.docker
def test_two_replicas_answer_one_agent(
    tmp_path: Path, docker_host: str, test_image: str, postgres_url: str, s3_url: str
) -> None:
    """No MCP state in a process: the worker is on replica A; the agent submits, follows and reads through B."""
    backend = {"ASMAN_DATABASE_URL": postgres_url, "ASMAN_BLOB_URL": s3_url}
    first = start_server(tmp_path / "a", backend)
    second = start_server(tmp_path / "b", backend)
    stack = Stack(first.url, "replicas", test_image, first, docker_host, tmp_path)
    try:
        stack.add_worker()

        async def agent() -> None:
            async with mcp_client(second.url) as client:
                command = "sh -c 'echo across; head -c 1000 /dev/zero | tr \"\\\\0\" y > /outputs/big.txt'"
                job = await submit(client, stack, command)
                done, progress = await follow(client, job["jobId"], stack.queue)
                assert done["exitCode"] == 0 and "across" in "\n".join(progress.messages)
                big = await call(client, "get_output", jobId=job["jobId"], queue=stack.queue, path="big.txt")
                assert big["content"] == "y" * 1000  # a blob in S3, through replica B

        asyncio.run(agent())
    finally:
        for worker in stack.workers:
            worker.stop()
        second.stop()
        first.stop()
