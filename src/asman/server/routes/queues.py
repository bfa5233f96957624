"""Queue endpoints: a fresh private queue, status, metrics (and their deprecated paths), health, and the
replica's own metrics."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from asman.core.names import check_queue, new_queue_name
from asman.core.states import JobState
from asman.server.http import JSONResponse
from asman.server.metrics import render_queue
from asman.server.openapi import answers
from asman.server.schemas import NewQueue, QueueStatus, Ready
from asman.server.service import JobService
from asman.store.base import WorkerRow

router = APIRouter()
QUEUES: list[str | Enum] = ["queues"]


@router.get(
    "/healthz",
    summary="Liveness",
    response_class=PlainTextResponse,
    tags=["server"],
    operation_id="getHealth",
)
async def healthz() -> str:
    return "OK"


@router.get(
    "/readyz",
    summary="Readiness: the store answers",
    tags=["server"],
    operation_id="getReadiness",
    responses=answers(Ready),
)
async def readyz(request: Request) -> Response:
    await request.app.state.service.store.ping()
    return JSONResponse({"ready": True})


@router.get(
    "/metrics",
    summary="Prometheus metrics of this replica",
    response_class=PlainTextResponse,
    operation_id="replicaMetrics",
    tags=QUEUES,
)
async def replica_metrics(request: Request) -> Response:
    return Response(request.app.state.replica_metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.post(
    "/q",
    summary="Mint a fresh, unguessable queue name",
    operation_id="newQueue",
    tags=QUEUES,
    status_code=201,
    responses=answers(NewQueue, status=201, description="A fresh queue"),
)
async def new_queue(request: Request) -> Response:
    queue = new_queue_name()
    return JSONResponse(
        {"queue": queue, "url": f"{str(request.base_url).rstrip('/')}/q/{queue}"}, status_code=201
    )


async def connected_workers(service: JobService, queue: str) -> list[WorkerRow]:
    # A worker unseen for three heartbeats is gone even if its replica could not say so.
    return await service.store.list_workers(
        queue, service.now() - int(service.settings.heartbeat_seconds * 3000) - 5000
    )


@router.get(
    "/queues",
    summary="Queues that have connected workers, with how many each",
    operation_id="listServedQueues",
    tags=QUEUES,
)
async def served_queues(request: Request) -> Response:
    # So a newcomer's first job goes to a queue something serves, not to a name nothing listens on.
    service: JobService = request.app.state.service
    since = service.now() - int(service.settings.heartbeat_seconds * 3000) - 5000
    served = await service.store.served_queues(since)
    return JSONResponse({"queues": [{"queue": name, "workers": n} for name, n in served.items()]})


async def queue_status(service: JobService, queue: str, clients: int, address: str = "") -> dict[str, Any]:
    check_queue(queue)
    workers = await connected_workers(service, queue)
    # What each worker runs comes from the jobs themselves, which are always current; the worker rows are
    # only refreshed by heartbeats.
    live = (await service.store.list_jobs(queue, 1000, None, JobState.RUNNING)).jobs
    live += (await service.store.list_jobs(queue, 1000, None, JobState.QUEUED)).jobs
    running: dict[str, list[str]] = {}
    for job in live:
        if job.state is JobState.RUNNING:
            running.setdefault(job.worker or "", []).append(job.job_id)
    replica = service.settings.replica_id
    listed = [
        {
            **worker.info,
            "running": running.get(worker.worker_id, []),
            "replica": worker.replica,
            "lastSeen": worker.seen_ms,
        }
        for worker in workers
    ]
    # Upstream's fields: every live job, this replica's workers, and the others' grouped by replica.
    local = {w["id"]: _worker_status(w) for w in listed if w["replica"] == replica}
    others: dict[str, dict[str, Any]] = {}
    for w in listed:
        if w["replica"] != replica:
            server = others.setdefault(w["replica"], {"id": w["replica"], "workers": {}, "jobs": {}})
            server["workers"][w["id"]] = _worker_status(w)
            server["jobs"].update({job: {"state": JobState.RUNNING.value} for job in w["running"]})
    return {
        "queue": queue,
        "counts": await service.store.counts(queue),
        "workers": listed,
        "clients": clients,
        "jobs": {job.job_id: {"state": job.state.value} for job in live},
        "localWorkers": local,
        "otherServers": others,
        "clientCount": clients,
        "queueInfo": {
            "address": address,
            "serverId": replica,
            "broadcastChannel": "postgres"
            if service.settings.store_url.startswith("postgres")
            else "in-isolate",
            "jobCount": len(live),
            "localWorkerCount": len(local),
            "otherWorkerCount": len(listed) - len(local),
            "clientCount": clients,
            "jobStates": [
                {"id": job.job_id[:6], "state": job.state.value, "worker": (job.worker or "none")[:6]}
                for job in live
            ],
        },
    }


def _worker_status(worker: dict[str, Any]) -> dict[str, Any]:
    """Upstream's WorkerStatus of a connected worker."""
    return {
        "time": worker.get("lastSeen"),
        "id": worker.get("id"),
        "cpus": worker.get("slots", 1),
        "gpus": worker.get("gpus", 0),
        "queue": {job: {"jobId": job, "finished": False} for job in worker.get("running", [])},
    }


@router.get(
    "/q/{queue}/status",
    summary="Counts by state, connected workers and clients",
    operation_id="getQueueStatus",
    tags=QUEUES,
    responses=answers(QueueStatus),
)
@router.get(
    "/{queue}/status",
    summary="Queue status (deprecated path)",
    deprecated=True,
    operation_id="getQueueStatusDeprecated",
    tags=QUEUES,
    responses=answers(QueueStatus),
)
async def status(queue: str, request: Request) -> Response:
    clients = request.app.state.watchers.count(queue)
    address = str(request.base_url).rstrip("/")
    return JSONResponse(await queue_status(request.app.state.service, queue, clients, address=address))


@router.get(
    "/q/{queue}/metrics",
    summary="Prometheus metrics for a queue",
    response_class=PlainTextResponse,
    operation_id="getQueueMetrics",
    tags=QUEUES,
)
@router.get(
    "/{queue}/metrics",
    summary="Queue metrics (deprecated path)",
    deprecated=True,
    response_class=PlainTextResponse,
    operation_id="getQueueMetricsDeprecated",
    tags=QUEUES,
)
async def metrics(queue: str, request: Request) -> Response:
    service: JobService = request.app.state.service
    check_queue(queue)
    counts = await service.store.counts(queue)
    workers = len(await connected_workers(service, queue))
    return Response(
        render_queue(queue, counts, workers, request.app.state.histograms), media_type=CONTENT_TYPE_LATEST
    )
