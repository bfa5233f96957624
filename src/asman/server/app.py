"""The ASGI application: wiring of store, blobs, notifier, service, worker hub, routes and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from asman._version import __version__
from asman.blobs import open_blobs
from asman.core.errors import AsmanError, InvalidInput, NotFound
from asman.core.events import Event, StateChanged
from asman.core.states import JobState
from asman.events.base import Notifier
from asman.events.local import LocalNotifier
from asman.mcp.http import mount_agents
from asman.server.client_ws import PATHS as CLIENT_SOCKET_PATHS
from asman.server.client_ws import ClientRooms, client_socket
from asman.server.fastlane import FastLane
from asman.server.http import JSONResponse, close_socket, error_response, private_strings, wants_html
from asman.server.hub import Hub
from asman.server.limits import HttpLimits, RateLimiter, StreamCap, TokenBuckets, TrustedProxies
from asman.server.metrics import Histograms, HttpMetrics, ReplicaMetrics, job_durations
from asman.server.openapi import document
from asman.server.origins import OriginGuard, Origins
from asman.server.routes import blobs, jobs, queues, stream
from asman.server.routes import tes as tes_routes
from asman.server.service import JobService, describe_validation
from asman.server.web import METAFRAME, STATIC_DIR, WebAssets, docs_page, index_page, page_headers
from asman.server.webhooks import WebhookSender
from asman.server.ws import worker_socket
from asman.settings import Settings, parse_networks, parse_origins
from asman.store import open_store

log = logging.getLogger(__name__)


def _open_notifier(settings: Settings) -> Notifier:
    if settings.store_url.startswith(("postgresql://", "postgres://")):
        from asman.events.postgres import PostgresNotifier  # type: ignore[import-not-found,unused-ignore]

        notifier: Notifier = PostgresNotifier(settings.store_url)
        return notifier
    return LocalNotifier()


async def _sweep_loop(service: JobService) -> None:
    while True:
        try:
            removed = await service.sweep()
            if removed:
                log.info("expiry sweep removed %d rows and blobs", removed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("expiry sweep failed")
        await asyncio.sleep(service.settings.sweep_interval_seconds)


def _observe_durations(histograms: Histograms) -> Callable[[Event], None]:
    started: dict[tuple[str, str], tuple[int, int]] = {}  # (queue, job) -> (attempt, time it began running)

    def listener(event: Event) -> None:
        if not isinstance(event, StateChanged):
            return
        key = (event.queue, event.job_id)
        if event.state is JobState.RUNNING:
            started[key] = (event.attempt, event.time_ms)
        elif key in started and not event.predates(started[key][0]):
            _, begun = started.pop(key)
            if event.state is JobState.FINISHED:
                histograms.observe((event.queue,), max(0, event.time_ms - begun) / 1000)

    return listener


class AsmanAPI(FastAPI):
    """FastAPI, with event streams, submits and worker sockets answered in front of its middleware.

    routes/stream.py and server/fastlane.py say why.
    """

    streams: stream.StreamShortcut | None = None
    lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.streams is not None and await self.streams.serve(scope, receive, send):
            return
        if self.lane is not None and await self.lane.serve(self, scope, receive, send):
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.store_url)
        blob_store = open_blobs(settings.blobs_url)
        notifier = _open_notifier(settings)
        await store.open()
        await blob_store.open()
        await notifier.open()
        service = JobService(settings, store, blob_store, notifier)
        hub = Hub(service)
        webhooks = WebhookSender(service)
        app.state.settings = settings
        app.state.service = service
        app.state.blobs = blob_store
        app.state.hub = hub
        app.state.webhooks = webhooks
        app.state.watchers = stream.Watchers()
        app.state.clients = ClientRooms(service, app.state.watchers)
        app.state.histograms = job_durations()
        unsubscribe = notifier.subscribe(_observe_durations(app.state.histograms))
        hub.start()
        webhooks.start()
        sweeper = asyncio.create_task(_sweep_loop(service), name="asman-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            unsubscribe()
            await app.state.clients.close()
            await webhooks.stop()
            await hub.stop()
            await notifier.close()
            await blob_store.close()
            await store.close()

    app = AsmanAPI(
        title="Asman",
        version=__version__,
        description="Public compute queues: push containerized jobs to a queue URL; workers anyone runs take them.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,  # served below from the vendored Swagger UI, not a CDN
        redoc_url=None,
        # No OpenTelemetry here: FastAPI would otherwise look for a configured provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    limits = app.state.limits = HttpLimits(
        proxies=TrustedProxies(parse_networks(settings.trusted_proxies)),
        buckets=(
            TokenBuckets(settings.rate_limit, settings.rate_burst or 2 * settings.rate_limit)
            if settings.rate_limit > 0
            else None
        ),
        streams=StreamCap(settings.max_streams_per_client),
        origins=Origins(parse_origins(settings.cors_origins)),
    )
    app.streams = stream.StreamShortcut(app)
    pages = app.state.page_headers = page_headers(limits.origins)
    # Added first, so they run innermost; the streams are answered in front of all of it (AsmanAPI).
    if limits.buckets is not None:
        app.add_middleware(RateLimiter, buckets=limits.buckets, proxies=limits.proxies)
    app.add_middleware(OriginGuard, origins=limits.origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if limits.origins.any else sorted(limits.origins.allowed),
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["*"],
        # Chrome asks before a public page may call a server on this computer (local mode's metapages).
        allow_private_network=True,
    )
    # Outermost, so rate-limited and preflight answers are counted and timed too.
    app.state.replica_metrics = ReplicaMetrics()
    app.add_middleware(HttpMetrics, metrics=app.state.replica_metrics)
    app.lane = FastLane(app.state.replica_metrics, enabled=settings.rate_limit <= 0)

    private = private_strings(settings)

    @app.exception_handler(AsmanError)
    async def _asman_error(request: Request, exc: AsmanError) -> Response | None:
        if isinstance(request, WebSocket):
            await close_socket(request, exc, private)
            return None
        if exc.status_code >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return error_response(exc, private)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(InvalidInput(f"invalid request: {describe_validation(exc.errors())}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and wants_html(request) and request.method == "GET":
            return index_page(pages)  # the web client shows its own "not found" page
        if exc.status_code == 404:
            return error_response(
                NotFound(f"no such endpoint: {request.method} {request.url.path} (see /openapi.json)")
            )
        error = AsmanError(str(exc.detail))
        error.status_code = exc.status_code
        error.code = "http_error"
        return error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(AsmanError("internal error: the server logged the details"))

    @app.get("/", include_in_schema=False)
    async def _index() -> Response:
        return index_page(pages)

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> Response:
        return docs_page(pages)

    @app.get(
        "/metaframe.json",
        summary="The web client described as a metaframe (for metapages)",
        operation_id="getMetaframe",
        tags=["web"],
    )
    async def _metaframe() -> Response:
        # Read by the metapage that embeds the web client, from any origin.
        return JSONResponse(METAFRAME, headers={"Access-Control-Allow-Origin": "*"})

    app.include_router(tes_routes.router)
    app.include_router(queues.router)
    app.include_router(blobs.router)
    app.include_router(stream.router)
    app.include_router(jobs.router)
    app.add_api_websocket_route("/q/{queue}/worker", worker_socket)
    for path in CLIENT_SOCKET_PATHS:
        app.add_api_websocket_route(path, client_socket)
    mount_agents(app)
    if STATIC_DIR.is_dir():
        app.mount("/static", WebAssets(directory=STATIC_DIR), name="static")

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
