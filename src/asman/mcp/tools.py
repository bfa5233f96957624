"""The MCP server and its tools: upstream's (submit_job, follow_job, get_job_status, list_jobs, cancel_job,
upload_file, the `queue://<q>/jobs` resource), with the same names and parameters, and Asman's additions
(get_output, wait_for_job).

Every tool reaches Asman through the SDK's `AsyncClient` that the transport hands it (`Backend`): over loopback
to the server's own socket for `/mcp`, to `--api` for `asman mcp`. Tools answer upstream's way, pretty JSON in
one text block (also as structured content); a bad argument or a refusal from the server is a tool error
(`isError`) whose message says what to fix, never a protocol or server error."""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent
from mcp_types import Resource as MCPResource
from pydantic import Field, ValidationError

from asman._version import __version__
from asman.client import AsyncClient, AsyncJob, Finished, JobStatus, LogLine, LogsWritten, StateChanged
from asman.client._datarefs import decode_inline, url_ref
from asman.client.errors import WaitTimeout
from asman.core.errors import AsmanError, InvalidInput, NotFound
from asman.core.names import BLOB_KEY, safe_relative_path
from asman.mcp import results
from asman.mcp.results import finished_summary, links, log_text, status_json

DEFAULT_QUEUE = "public1"  # upstream's default, so prompts written for it keep working
LIST_SCAN = 5000  # jobs read to count a queue for list_jobs; a queue that long is summarised, not listed
BLOB_IN_URL = re.compile(r"/f/([0-9a-f]{64})(?:$|[?#])")

INSTRUCTIONS = (
    "Asman runs containerized jobs on public compute queues. A queue is just a name (any worker started with "
    "`asman worker <queue>` takes its jobs); a job is an image (or a Dockerfile / git repository to build), a "
    "command, env and input files. submit_job returns a jobId and links to share; follow_job streams the logs "
    "as progress notifications until the job ends; get_output reads a file the job wrote under /outputs. "
    "A non-zero exit code still finishes with finishedReason Success: check exitCode."
)


@dataclass(frozen=True)
class Backend:
    """How a tool reaches Asman: the client, whose URL is also the origin of every link the tools return."""

    client: AsyncClient

    @property
    def origin(self) -> str:
        return self.client.url


BackendFor = Callable[[Context[Any, Any]], Backend]
Tool = Callable[..., Awaitable[CallToolResult]]


def ok(data: dict[str, Any]) -> CallToolResult:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def failure(code: str, message: str) -> CallToolResult:
    text = json.dumps({"success": False, "error": code, "message": message}, indent=2, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def describe_arguments(tool: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        problems.append(
            f"'{where}' is required" if item["type"] == "missing" else f"'{where}': {item['msg']}"
        )
    return f"invalid arguments for {tool}: {'; '.join(problems)}. Fix them and call {tool} again."


class AsmanMCP(MCPServer[Any]):
    """The MCP server of one Asman API; `backend_for` tells each tool call which client to use."""

    def __init__(self, backend_for: BackendFor) -> None:
        super().__init__("asman", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
        self.backend_for = backend_for
        self._parameters: dict[str, list[str]] = {}

    def add_asman_tool(self, tool: Tool) -> None:
        self.add_tool(tool, structured_output=False)
        names = [name for name in inspect.signature(tool).parameters if name != "ctx"]
        self._parameters[tool.__name__] = names

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        known = self._parameters.get(name)
        if known is None:  # answered like every other refusal, not with the SDK's bare text
            return failure(
                "unknown_tool", f"no tool {name[:80]!r}; the tools are {', '.join(self._parameters)}"
            )
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            # A misspelt argument would otherwise be dropped silently and its default used instead.
            return failure(
                "invalid_arguments",
                f"{name} has no argument {', '.join(map(repr, unknown))}; its arguments are {', '.join(known)}",
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            cause = error.__cause__
            if isinstance(cause, ValidationError):
                return failure("invalid_arguments", describe_arguments(name, cause))
            if isinstance(cause, AsmanError):  # the SDK's and the server's refusals already say what to do
                return failure(cause.code, cause.message)
            raise

    async def list_resources(self) -> list[MCPResource]:
        # Upstream lists its default queue's jobs; reading any queue://<q>/jobs goes through the template.
        default = MCPResource(
            uri=f"queue://{DEFAULT_QUEUE}/jobs",
            name=f"{DEFAULT_QUEUE} jobs",
            description=f"The jobs of the queue {DEFAULT_QUEUE}, newest first (any queue: queue://<q>/jobs)",
            mime_type="application/json",
        )
        return [*await super().list_resources(), default]


def backend(ctx: Context[Any, Any]) -> Backend:
    server = ctx.mcp_server
    assert isinstance(server, AsmanMCP), "Asman's tools run on AsmanMCP"
    return server.backend_for(ctx)


# -- argument types: upstream's names, described for the agent -----------------------------------------------

JobId = Annotated[str, Field(description="The job id: 64 hex digits, as submit_job returned it")]
QueueName = Annotated[
    str, Field(description="The queue: a name of 1-128 characters from A-Z a-z 0-9 . _ ~ -")
]
TimeoutSeconds = Annotated[int, Field(ge=1, le=3600, description="How long to wait, in seconds")]


# -- tools ----------------------------------------------------------------------------------------------------


def _build(
    image: str | None, git_repo: str | None, dockerfile: str | None, build_context: str | None
) -> dict[str, Any]:
    """The part of a definition that says what to run: an image, or a build from a git repo or a Dockerfile."""
    if image and git_repo:
        raise InvalidInput("give either image or gitRepo, not both: gitRepo builds its own image")
    if image and dockerfile:
        raise InvalidInput("give either image or dockerfile, not both: a dockerfile builds its own image")
    if build_context and not git_repo:
        raise InvalidInput("buildContext is a folder of gitRepo: give gitRepo too, or drop buildContext")
    if git_repo:
        build: dict[str, Any] = {"context": git_repo}
        if build_context and build_context not in (".", "./"):
            build["buildContext"] = build_context
        if dockerfile:
            build["dockerfile"] = dockerfile
        return {"build": build}
    if dockerfile:
        return {"build": {"dockerfile": dockerfile}}
    if image:
        return {"image": image}
    raise InvalidInput(
        "say what to run: image (e.g. 'python:3.12-alpine'), gitRepo (a repository with a Dockerfile)"
        " or dockerfile (the contents of a Dockerfile)"
    )


def _file_ref(client: AsyncClient, name: str, where: str) -> dict[str, Any]:
    """An uploaded file as an input: its key (from upload_file) or any http(s) URL."""
    if BLOB_KEY.fullmatch(where):
        return url_ref(client.url, where)
    if match := BLOB_IN_URL.search(where):
        return url_ref(client.url, match.group(1))
    if where.startswith(("http://", "https://")):
        return {"type": "url", "value": where}
    raise InvalidInput(
        f"files[{name!r}] must be the key upload_file returned (64 hex digits) or an http(s) URL, not {where[:80]!r}"
    )


async def submit_job(
    ctx: Context[Any, Any],
    queue: QueueName = DEFAULT_QUEUE,
    image: Annotated[
        str | None, Field(description="The Docker image to run, e.g. 'python:3.12-alpine'")
    ] = None,
    gitRepo: Annotated[
        str | None,
        Field(description="Build the image from this git repository (https URL; /tree/<ref> picks a branch)"),
    ] = None,
    dockerfile: Annotated[
        str | None, Field(description="Build the image from this Dockerfile (its contents, inline)")
    ] = None,
    buildContext: Annotated[str | None, Field(description="The folder of gitRepo to build in")] = None,
    command: Annotated[
        str, Field(description="The command, split like a shell would")
    ] = "echo 'Hello World'",
    inputs: Annotated[
        dict[str, str] | None,
        Field(description="Text files for the job, by name: the job reads them at /inputs/<name>"),
    ] = None,
    env: Annotated[dict[str, str] | None, Field(description="Environment variables of the job")] = None,
    maxDuration: Annotated[
        str, Field(description="Stop the job after this long: '90s', '20m', '2h'")
    ] = "30m",
    namespace: Annotated[
        str,
        Field(
            description="Who wants the job (default '_'). In any other namespace a newer job replaces the"
            " unfinished older ones"
        ),
    ] = "_",
    files: Annotated[
        dict[str, str] | None,
        Field(
            description="Asman: files uploaded with upload_file, by name in /inputs: name -> its key or URL"
        ),
    ] = None,
) -> CallToolResult:
    """Submit a job: run a command in a container on the queue's workers. Returns the job id and links.

    Identical jobs (same definition) run once: submitting one that already succeeded returns its stored
    result at once. Follow it with follow_job, or wait_for_job, then read outputs with get_output."""
    client = backend(ctx).client
    definition: dict[str, Any] = {
        **_build(image, gitRepo, dockerfile, buildContext),
        "command": command,
        "maxDuration": maxDuration,
    }
    if env:
        definition["env"] = env
    if files:
        definition["inputs"] = {name: _file_ref(client, name, where) for name, where in files.items()}
        if clash := sorted(set(files) & set(inputs or {})):
            raise InvalidInput(f"{', '.join(clash)} given both in inputs and in files: keep one")
    job = await client.queue(queue).submit(definition=definition, inputs=inputs, namespace=namespace)
    status = await job.status()
    origin = backend(ctx).origin
    cached = status.finished
    data: dict[str, Any] = {
        "success": True,
        "jobId": job.id,
        "queue": queue,
        "state": status.state.value,
        **links(origin, queue, job.id),
        "definition": {
            "image": image,
            "hasDockerfile": bool(dockerfile),
            "hasBuild": "build" in definition,
            "command": command,
            "filesCount": len(inputs or {}) + len(files or {}),
            "envCount": len(env or {}),
            "maxDuration": maxDuration,
        },
        "namespace": namespace,
        "message": (
            f"The job already ran: its stored result is ready ({status.reason.value if status.reason else ''})."
            if cached
            else f"Job {job.id} is {status.state.value} in queue {queue}: a worker of that queue runs it."
        ),
        "nextStep": "Call get_job_status for the result."
        if cached
        else "Call follow_job (jobId, queue) to stream its logs until it ends, or wait_for_job.",
    }
    if (self_contained := results.self_contained_url(origin, queue, await job.definition())) is not None:
        data["selfContainedUrl"] = self_contained
    return ok(data)


async def _still_running(origin: str, job: AsyncJob, seconds: int, again: str) -> CallToolResult:
    status = await job.status()
    return ok(
        {
            "jobId": job.id,
            "queue": job.queue,
            **links(origin, job.queue, job.id),
            "state": status.state.value,
            "finished": False,
            "note": f"the job is still {status.state.value} after {seconds} s: call {again} again to keep"
            " waiting, or cancel_job",
        }
    )


async def follow_job(
    ctx: Context[Any, Any],
    jobId: JobId,
    queue: QueueName,
    timeoutSeconds: TimeoutSeconds = 600,
    includeBuildLogs: Annotated[bool, Field(description="Also stream the image build's log lines")] = True,
) -> CallToolResult:
    """Follow a job until it finishes, streaming each new log line and state change as a progress notification
    (send a progressToken to receive them). Returns the final state, exit code, outputs and the tail of the logs."""
    origin = backend(ctx).origin
    job = backend(ctx).client.job(queue, jobId)
    lines: list[LogLine] = []
    progress, live = 0, False
    try:
        async with contextlib.aclosing(job.events(timeoutSeconds)) as events:
            async for event in events:
                if isinstance(event, StateChanged):
                    status = event.status
                    live = live or not status.finished
                    progress += 1
                    reason = f" ({status.reason.value})" if status.reason else ""
                    await ctx.report_progress(progress, None, f"▸ {status.state.value}{reason}")
                elif isinstance(event, LogsWritten):
                    fresh = [line for line in event.lines if includeBuildLogs or line.step == "run"]
                    if fresh:
                        lines += fresh
                        progress += len(fresh)
                        await ctx.report_progress(progress, None, "\n".join(log_text(fresh)))
                elif isinstance(event, Finished):
                    summary = finished_summary(origin, queue, jobId, event.result, event.result.logs or lines)
                    return ok({**summary, "streamedLive": live})
    except WaitTimeout:
        return await _still_running(origin, job, timeoutSeconds, "follow_job")
    raise AsmanError(f"the event stream of job {jobId} ended without a result: call follow_job again")


async def wait_for_job(
    ctx: Context[Any, Any],
    jobId: JobId,
    queue: QueueName = DEFAULT_QUEUE,
    timeoutSeconds: TimeoutSeconds = 300,
) -> CallToolResult:
    """Asman: wait (without streaming) until a job finishes, at most timeoutSeconds. Returns how it ended,
    or `finished: false` when the time ran out (the job goes on)."""
    origin = backend(ctx).origin
    job = backend(ctx).client.job(queue, jobId)
    try:
        result = await job.wait(timeoutSeconds, check=False)
    except WaitTimeout:
        return await _still_running(origin, job, timeoutSeconds, "wait_for_job")
    return ok(finished_summary(origin, queue, jobId, result))


async def get_job_status(
    ctx: Context[Any, Any],
    jobId: JobId,
    queue: QueueName = DEFAULT_QUEUE,
    includeResult: Annotated[bool, Field(description="Include the result of a finished job")] = True,
) -> CallToolResult:
    """A job's state (Queued, Running, Finished), its worker and, once finished, its result: statusCode (the
    exit code), logs, outputs, duration."""
    origin = backend(ctx).origin
    job = backend(ctx).client.job(queue, jobId)
    status = await job.status()
    result = await job.result() if includeResult and status.finished else None
    return ok(
        {
            "success": True,
            "jobId": jobId,
            "queue": queue,
            **links(origin, queue, jobId),
            "status": status_json(status),
            "result": results.result_json(origin, queue, result) if result else None,
        }
    )


async def list_jobs(
    ctx: Context[Any, Any],
    queue: QueueName = DEFAULT_QUEUE,
    limit: Annotated[int, Field(ge=1, le=200, description="At most this many jobs")] = 50,
    state: Annotated[
        Literal["Queued", "Running", "Finished"] | None, Field(description="Only jobs in this state")
    ] = None,
) -> CallToolResult:
    """The jobs of a queue, most recent first, with their state, worker and finished reason."""
    everything: list[JobStatus] = await backend(ctx).client.queue(queue).jobs(limit=LIST_SCAN)
    matching = [job for job in everything if state is None or job.state.value == state]
    return ok(
        {
            "success": True,
            "queue": queue,
            "totalJobs": len(everything),
            "totalMatchingJobs": len(matching),
            "filters": {"state": state, "limit": limit},
            "jobs": [status_json(job) for job in matching[:limit]],
        }
    )


async def cancel_job(
    ctx: Context[Any, Any],
    jobId: JobId,
    queue: QueueName = DEFAULT_QUEUE,
    namespace: Annotated[
        str,
        Field(description="Withdraw this namespace's interest; '*' (the default) cancels it for everyone"),
    ] = "*",
) -> CallToolResult:
    """Cancel a job: a running container is stopped. The job ends Cancelled once no namespace wants it."""
    job = backend(ctx).client.job(queue, jobId)
    await job.cancel(namespace)
    status = await job.status()
    message = f"Cancelled job {jobId} in namespace {namespace}."
    if not status.finished:
        message += f" It is still {status.state.value}: " + (
            "its worker is stopping it." if namespace == "*" else "other namespaces still want it."
        )
    return ok(
        {
            "success": True,
            "jobId": jobId,
            "queue": queue,
            "namespace": namespace,
            "state": status.state.value,
            "message": message,
        }
    )


async def upload_file(
    ctx: Context[Any, Any],
    filename: Annotated[str, Field(description="A name for the file (the job sees it under /inputs)")],
    content: Annotated[str, Field(description="The file's content: text, or base64 with encoding 'base64'")],
    contentType: Annotated[str, Field(description="Its media type (informational)")] = "text/plain",
    encoding: Annotated[Literal["text", "base64"], Field(description="How content is written")] = "text",
) -> CallToolResult:
    """Upload a file to the server's blob store, to give to jobs with submit_job's `files`
    (`files={"<filename>": "<key>"}`); also downloadable at downloadUrl."""
    name = safe_relative_path(filename)
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=True)
        except ValueError:
            raise InvalidInput("content is not valid base64: send it as text with encoding 'text'") from None
    else:
        data = content.encode("utf-8")
    client = backend(ctx).client
    key = await client.put_blob(data)
    return ok(
        {
            "success": True,
            "filename": name,
            "key": key,
            "contentType": contentType,
            "encoding": encoding,
            "size": len(data),
            "downloadUrl": f"{client.url}/f/{key}",
            "message": f"Uploaded {len(data)} bytes. Give it to a job with submit_job"
            f' files={{"{name}": "{key}"}}: the job reads /inputs/{name}.',
        }
    )


async def _read_blob(client: AsyncClient, name: str, ref: dict[str, Any], limit: int) -> bytes:
    """An output stored as a blob, read from this server only (never a URL the worker chose), up to `limit`."""
    key = ref.get("hash") if BLOB_KEY.fullmatch(str(ref.get("hash") or "")) else None
    if key is None and (match := BLOB_IN_URL.search(str(ref.get("value") or ""))):
        key = match.group(1)
    if key is None:
        raise NotFound(f"output {name!r} is stored outside this server: download it from {ref.get('value')}")
    return await client.read_blob(key, limit)


async def get_output(
    ctx: Context[Any, Any],
    jobId: JobId,
    path: Annotated[str, Field(description="The output file, relative to /outputs, e.g. 'result.txt'")],
    queue: QueueName = DEFAULT_QUEUE,
    maxBytes: Annotated[
        int, Field(ge=1, le=4_194_304, description="Refuse files larger than this many bytes")
    ] = 262_144,
) -> CallToolResult:
    """Asman: read a file a finished job wrote under /outputs: text as it is, anything else as base64."""
    client = backend(ctx).client
    job = client.job(queue, jobId)
    result = await job.result()
    if result is None:
        status = await job.status()
        raise InvalidInput(f"job {jobId} is {status.state.value}, not finished: call wait_for_job first")
    name = path.removeprefix("/outputs/").lstrip("/")
    ref = result.outputs.get(name)
    if ref is None:
        written = ", ".join(sorted(result.outputs)) or "none (a job's outputs are the files under /outputs)"
        raise NotFound(f"job {jobId} has no output {name!r}; its outputs: {written}")
    data = decode_inline(name, ref)
    if data is None:
        data = await _read_blob(client, name, ref, maxBytes)
    url = results.output_url(client.url, queue, jobId, name)
    if len(data) > maxBytes:
        raise InvalidInput(
            f"output {name!r} is larger than maxBytes ({maxBytes}): raise maxBytes or download it from {url}"
        )
    try:
        content, encoding = data.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return ok(
        {
            "success": True,
            "jobId": jobId,
            "queue": queue,
            "path": name,
            "size": len(data),
            "encoding": encoding,
            "content": content,
            "downloadUrl": url,
        }
    )


async def queue_jobs(queue: str, ctx: Context[Any, Any]) -> str:
    """The jobs of a queue, most recent first (as list_jobs gives them)."""
    answer = await list_jobs(ctx, queue=queue, limit=200)
    return str(answer.content[0].text) if isinstance(answer.content[0], TextContent) else "{}"


TOOLS: tuple[Tool, ...] = (
    submit_job,
    follow_job,
    get_job_status,
    list_jobs,
    cancel_job,
    upload_file,
    get_output,
    wait_for_job,
)


def build_server(backend_for: BackendFor) -> AsmanMCP:
    server = AsmanMCP(backend_for)
    for tool in TOOLS:
        server.add_asman_tool(tool)
    server.resource("queue://{queue}/jobs", name="queue jobs", mime_type="application/json")(queue_jobs)
    return server
