"""The agent endpoints of the API app: `/mcp` (MCP Streamable HTTP, stateless), `/mcp/health`, `/mcp/info`,
`/llms.txt` and `/llms-full.txt`, all added by `mount_agents(app)`.

Stateless means every MCP request is served on its own, by whichever replica gets it: no session id, no state
kept between requests, `initialize` optional. The tools reach the API over loopback, to the very socket the
request came in on, through a transport that keeps the request's public origin in every URL the SDK builds,
so the links and blob URLs in job definitions are the ones a person or a remote worker can open."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from asman._version import __version__
from asman.client import AsyncClient
from asman.mcp import llms
from asman.mcp.tools import DEFAULT_QUEUE, TOOLS, Backend, build_server
from asman.settings import Settings

log = logging.getLogger(__name__)

# Both kinds, as upstream answers a missing Accept or `*/*`; the SDK alone would refuse those with 406.
MCP_ACCEPT = b"application/json, text/event-stream"
MAX_CLIENTS = 32  # one per public origin seen; origins come from Host headers, so the cache is bounded


class _Loopback(httpx.AsyncBaseTransport):
    """Sends what is addressed to the public origin to this process's own socket; the Host header (set when
    the request was built) keeps naming the public origin, so the server builds its links for it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, origin: str, target: str) -> None:
        self._inner = inner
        public, local = httpx.URL(origin), httpx.URL(target)
        self._public = (public.scheme, public.host, public.port)
        self._local = local

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (url.scheme, url.host, url.port) == self._public:
            request.url = url.copy_with(
                scheme=self._local.scheme, host=self._local.host, port=self._local.port
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """The inner transport is shared by every client: the mount closes it."""


class _Clients:
    """SDK clients by (public origin, loopback address), sharing one connection pool to the loopback."""

    def __init__(self) -> None:
        self._pool = httpx.AsyncHTTPTransport()
        self._clients: OrderedDict[tuple[str, str], AsyncClient] = OrderedDict()

    def get(self, origin: str, target: str) -> AsyncClient:
        key = (origin, target)
        client = self._clients.get(key)
        if client is None:
            client = AsyncClient(origin, transport=_Loopback(self._pool, origin, target))
            self._clients[key] = client
            if len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)  # dropped, not closed: a call may still use it
        self._clients.move_to_end(key)
        return client

    async def aclose(self) -> None:
        self._clients.clear()
        await self._pool.aclose()


def public_origin(request: Request, settings: Settings) -> str:
    return settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"


def loopback_address(scope: Scope, settings: Settings) -> str:
    """This process's own socket: where the request came in (uvicorn's scope `server`), else the bind address."""
    server = scope.get("server")
    host, port = (server[0], server[1]) if server and server[1] else (settings.host, settings.port)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in str(host):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _stopped_early(task: asyncio.Task[None]) -> None:
    log.error("the MCP session manager stopped while the app runs; /mcp fails until a restart: %r", task)


class _McpEndpoint:
    """The SDK's Streamable HTTP handler, with a fresh session manager for each run of the app's lifespan."""

    def __init__(self) -> None:
        self.clients: _Clients | None = None
        self.manager: StreamableHTTPSessionManager | None = None

    def backend_for(self, ctx: Context[Any, Any]) -> Backend:
        request = ctx.request_context.request
        assert isinstance(request, Request) and self.clients is not None, "an MCP call outside /mcp"
        settings: Settings = request.app.state.settings
        origin = public_origin(request, settings)
        return Backend(self.clients.get(origin, loopback_address(request.scope, settings)))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        server = build_server(self.backend_for)
        # JSON-RPC is answered as Server-Sent Events (upstream's clients read the last `data:` line), and
        # progress notifications can go out before the answer.
        manager = StreamableHTTPSessionManager(server._lowlevel_server, stateless=True, json_response=False)
        ready, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with manager.run():
                ready.set()
                await stop.wait()

        # The manager's task group must be entered and left by one task: a task of its own, since whoever runs
        # the app's lifespan may start and end it from different tasks (as the in-process test fixtures do).
        task = asyncio.create_task(serve(), name="mcp-session-manager")
        task.add_done_callback(lambda done: None if stop.is_set() else _stopped_early(done))
        started = asyncio.create_task(ready.wait(), name="mcp-session-manager-ready")
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if task.done():
            task.result()  # it failed to start: raise why
        self.clients, self.manager = _Clients(), manager
        try:
            yield
        finally:
            self.manager = None
            stop.set()
            await task
            await self.clients.aclose()
            self.clients = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            response = JSONResponse(
                {"error": "unavailable", "message": "the MCP endpoint is starting or stopping: retry"}, 503
            )
            await response(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "DELETE":
            await JSONResponse(None)(scope, receive, send)  # no session to end, as upstream answers
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            scope = {**scope, "headers": _with_mcp_accept(scope["headers"])}
        await self.manager.handle_request(scope, receive, send)


def _with_mcp_accept(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    accept = b",".join(value for name, value in headers if name == b"accept").lower()
    if (
        accept
        and b"*/*" not in accept
        and b"application/json" not in accept
        and b"event-stream" not in accept
    ):
        return headers  # a client that wants something else entirely gets the SDK's 406
    return [(name, value) for name, value in headers if name != b"accept"] + [(b"accept", MCP_ACCEPT)]


class McpHealth(BaseModel):
    """/mcp/health, for /openapi.json only (the route answers a dict)."""

    model_config = ConfigDict(extra="allow")
    status: str
    server: str
    version: str


class McpInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    server: dict[str, Any]
    endpoints: dict[str, str]


def _health(request: Request) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "status": "healthy",
        "server": "asman-mcp",
        "version": __version__,
        "capabilities": ["tools", "resources", "progress"],
        "queue": DEFAULT_QUEUE,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _info(request: Request) -> dict[str, Any]:
    origin = public_origin(request, request.app.state.settings)
    return {
        "server": {"name": "asman-mcp", "version": __version__, "transport": "streamable-http (stateless)"},
        "workflow": [
            "submit_job: an image (or gitRepo / dockerfile), a command, inputs and env -> jobId and links",
            "follow_job: stream the logs as progress notifications until the job finishes",
            "get_output: read a file the job wrote under /outputs (wait_for_job waits without streaming)",
            "get_job_status, list_jobs, cancel_job, upload_file",
        ],
        "capabilities": {
            "tools": [tool.__name__ for tool in TOOLS],
            "resources": ["queue://<queue>/jobs"],
        },
        "endpoints": {
            "mcp": f"{origin}/mcp",
            "health": f"{origin}/mcp/health",
            "info": f"{origin}/mcp/info",
            "llms": f"{origin}/llms.txt",
            "llmsFull": f"{origin}/llms-full.txt",
            "openapi": f"{origin}/openapi.json",
        },
        "documentation": {
            "stdio": "asman mcp --api " + origin,
            "llms": f"{origin}/llms.txt",
        },
    }


def _json_route(build: Callable[[Request], dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(build(request))

    return endpoint


def _text_route(full: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        origin = public_origin(request, request.app.state.settings)
        return PlainTextResponse(llms.render(request.app, origin, full=full), media_type="text/markdown")

    return endpoint


def mount_agents(app: FastAPI) -> None:
    endpoint = _McpEndpoint()
    app.router.routes.append(Route("/mcp", endpoint, methods=["GET", "POST", "DELETE"]))
    for path, build, summary, operation_id, model in (
        ("/mcp/health", _health, "MCP endpoint health", "getMcpHealth", McpHealth),
        ("/mcp/info", _info, "MCP tools and endpoints", "getMcpInfo", McpInfo),
    ):
        app.add_api_route(
            path,
            _json_route(build),
            methods=["GET"],
            tags=["agents"],
            summary=summary,
            operation_id=operation_id,
            responses={200: {"model": model, "description": "OK"}},
        )
    for path, full, summary, operation_id in (
        ("/llms.txt", False, "Asman for LLMs (Markdown)", "getLlmsTxt"),
        ("/llms-full.txt", True, "Asman for LLMs: the full reference", "getLlmsFullTxt"),
    ):
        app.add_api_route(
            path,
            _text_route(full),
            methods=["GET"],
            tags=["agents"],
            summary=summary,
            operation_id=operation_id,
            response_class=Response,
            responses={
                200: {"description": "Markdown", "content": {"text/markdown": {"schema": {"type": "string"}}}}
            },
        )
    # Both log every request at INFO: each MCP request, and each loopback call of a tool.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with outer(app_) as state, endpoint.running():
            yield state

    app.router.lifespan_context = lifespan
