"""Job endpoints: submit, list, look up, files, namespaces, cancel, delete, copy."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from asman.core.errors import InvalidInput, NotFound
from asman.core.names import check_job_id, check_namespace, check_queue, safe_relative_path
from asman.core.states import JobState
from asman.server.files import ref_response
from asman.server.http import JSONResponse, read_body, read_json, wants_html
from asman.server.openapi import answers, file
from asman.server.schemas import (
    BatchAnswer,
    Cancelled,
    Copied,
    DefinitionAnswer,
    Deleted,
    GlobalJobAnswer,
    JobAnswer,
    JobList,
    LogsAnswer,
    NamespacesAnswer,
    ResultAnswer,
    Submitted,
)
from asman.server.service import JobService
from asman.server.views import KEPT_REASONS, finished_job, job_view, queue_job
from asman.server.web import index_page
from asman.store.base import JobRow

router = APIRouter(tags=["jobs"])
NDJSON = "application/x-ndjson"
EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])

SUBMIT_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "`{definition, control?, id?}`; a bare definition is accepted too",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SubmitBody"}}},
    }
}
BATCH_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Submissions, each as `POST /q/{queue}` takes one: a JSON array, or one per line"
        " (Content-Type application/x-ndjson). At most ASMAN_MAX_BATCH_JOBS of them in ASMAN_MAX_BATCH_BYTES.",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/SubmitBody"}}
            },
            NDJSON: {"schema": {"type": "string"}},
        },
    }
}
SUBMIT_ANSWERS = answers(
    Submitted,
    400,
    413,
    422,
    description="Queued, joined a Queued or Running job, or a kept result (Finished)",
)


FILE_ANSWERS = file(redirect="A redirect: to a presigned URL for blobs in S3, or to the URL the job names")
LOGS_ANSWERS = answers(LogsAnswer)
COPY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["queue"],
                    "properties": {
                        "queue": {"type": "string"},
                        "control": {"$ref": "#/components/schemas/Control"},
                    },
                }
            }
        },
    }
}


def _file_route(path: str, summary: str, operation_id: str) -> Callable[[EndpointT], EndpointT]:
    """A route answering with a file's bytes or a redirect to them, never JSON."""
    return router.get(
        path, summary=summary, operation_id=operation_id, response_class=Response, responses=FILE_ANSWERS
    )


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


class DirectRoute(APIRoute):
    """A route whose endpoint reads the request and builds the response itself: FastAPI still documents it from
    the endpoint's signature, but skips its per-request dependency solving and exit stacks, which cost more
    than the whole submit on the hot path. The endpoint is called with the path parameters and the Request;
    its errors reach the app's exception handlers (ExceptionMiddleware) exactly as from any other route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request=request, **request.path_params)
            return response

        return handler

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods is None or scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # FastAPI's own 405
            return
        request = Request(scope, receive, send)
        response: Response = await self.endpoint(request=request, **scope["path_params"])
        await response(scope, receive, send)


def _submitted(job: JobRow) -> dict[str, Any]:
    return {
        "success": True,
        "jobId": job.job_id,
        "state": job.state.value,
        **({"finishedReason": job.reason.value} if job.reason else {}),
    }


async def submit(queue: str, request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, service.settings.max_body_bytes)
    job = await service.submit(queue, body, lambda: str(request.base_url))
    return JSONResponse(_submitted(job))


def batch_entries(body: bytes, ndjson: bool) -> list[Any]:
    """A batch body's entries: a JSON array, or one JSON value per line. An NDJSON line that is not JSON is an
    entry of its own (answered with its error); a body that is not an array fails whole."""
    if not ndjson:
        entries = orjson.loads(body) if body.strip() else []
        if not isinstance(entries, list):
            raise InvalidInput(
                "a batch is a JSON array of submissions, or one submission per line with Content-Type"
                " application/x-ndjson"
            )
        return entries
    found: list[Any] = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            found.append(InvalidInput(f"line {number} is not JSON ({exc})"))
    return found


async def submit_batch(queue: str, request: Request) -> Response:
    service = _service(request)
    check_queue(queue)
    body = await read_body(request, service.settings.max_batch_bytes)
    ndjson = request.headers.get("content-type", "").startswith(NDJSON)
    try:
        entries = batch_entries(body, ndjson)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON ({exc}): send a JSON array of submissions") from exc
    answered = await service.submit_many(queue, entries, lambda: str(request.base_url))
    return JSONResponse(
        [
            _submitted(job)
            if isinstance(job, JobRow)
            else {"success": False, "status": job.status_code, "error": job.code, "message": job.message}
            for job in answered
        ]
    )


router.add_api_route(
    "/q/{queue}/batch",
    submit_batch,
    methods=["POST"],
    openapi_extra=BATCH_SCHEMA,
    responses=answers(
        BatchAnswer,
        400,
        413,
        description="Each submission's answer, in order: as a single submit's, or that entry's own error",
    ),
    summary="Submit many jobs at once",
    operation_id="submitJobs",
    route_class_override=DirectRoute,
)


router.add_api_route(
    "/q/{queue}",
    submit,
    methods=["POST"],
    openapi_extra=SUBMIT_SCHEMA,
    responses=SUBMIT_ANSWERS,
    summary="Submit a job",
    operation_id="submitJob",
    route_class_override=DirectRoute,
)
router.add_api_route(
    "/q/{queue}/j",
    submit,
    methods=["POST"],
    openapi_extra=SUBMIT_SCHEMA,
    responses=SUBMIT_ANSWERS,
    summary="Submit a job (alias)",
    operation_id="submitJobAlias",
    route_class_override=DirectRoute,
)


@router.get(
    "/q/{queue}", summary="List the jobs in a queue", operation_id="listJobs", responses=answers(JobList)
)
@router.get(
    "/q/{queue}/j",
    summary="List the jobs in a queue (alias)",
    operation_id="listJobsAlias",
    responses=answers(JobList),
)
async def list_jobs(
    queue: str, request: Request, limit: int = 100, cursor: int | None = None, state: str | None = None
) -> Response:
    if wants_html(request):
        return index_page(request.app.state.page_headers)
    check_queue(queue)
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    job_state = None
    if state is not None:
        try:
            job_state = JobState(state)
        except ValueError:
            raise InvalidInput(
                f"unknown state {state!r}: use one of {', '.join(s.value for s in JobState)}"
            ) from None
    page = await _service(request).store.list_jobs(queue, limit, cursor, job_state)
    return JSONResponse(
        {"data": {job.job_id: queue_job(job) for job in page.jobs}, "nextCursor": page.next_cursor}
    )


@router.get(
    "/q/{queue}/j/{job_id}",
    summary="A job: definition, results and state",
    operation_id="getJob",
    responses=answers(JobAnswer),
)
async def get_job(queue: str, job_id: str, request: Request) -> Response:
    if wants_html(request):
        return index_page(request.app.state.page_headers)
    service = _service(request)
    row = await service.require_job(queue, job_id)
    return JSONResponse({"data": await service.job_view(row)})


async def _global_view(request: Request, job_id: str) -> Response:
    check_job_id(job_id)
    service = _service(request)
    definition = await service.store.get_definition(job_id)
    if definition is None:
        raise NotFound(f"no job {job_id}: it was never submitted or has expired")
    # Whichever queue made the newest result: its `queue` and `trust` fields say which, and whose it is.
    view = job_view(None, definition, await service.result(job_id, None))
    return JSONResponse({"data": {"jobId": job_id, **view}})


@router.get(
    "/j/{job_id}.json",
    summary="Global lookup of a job's definition and result (JSON)",
    operation_id="lookupJobJson",
    responses=answers(GlobalJobAnswer),
)
async def get_job_json(job_id: str, request: Request) -> Response:
    return await _global_view(request, job_id)


@router.get(
    "/j/{job_id}",
    summary="A job's page for browsers; its definition and result for scripts",
    operation_id="lookupJob",
    responses=answers(GlobalJobAnswer),
)
async def get_job_global(job_id: str, request: Request) -> Response:
    if wants_html(request):
        return index_page(request.app.state.page_headers)
    return await _global_view(request, job_id)


@router.get(
    "/j/{job_id}/definition.json",
    summary="A job's definition",
    operation_id="getGlobalDefinition",
    responses=answers(DefinitionAnswer),
)
@router.get(
    "/q/{queue}/j/{job_id}/definition.json",
    summary="A job's definition (queue-scoped)",
    operation_id="getDefinition",
    responses=answers(DefinitionAnswer),
)
async def definition_json(job_id: str, request: Request, queue: str | None = None) -> Response:
    check_job_id(job_id)
    return JSONResponse({"data": await _service(request).store.get_definition(job_id)})


@router.get(
    "/j/{job_id}/result.json",
    summary="A job's result",
    operation_id="getGlobalResult",
    responses=answers(ResultAnswer),
)
@router.get(
    "/j/{job_id}/results.json",
    summary="A job's result (alias)",
    operation_id="getGlobalResultAlias",
    responses=answers(ResultAnswer),
)
@router.get(
    "/q/{queue}/j/{job_id}/result.json",
    summary="A job's result (queue-scoped)",
    operation_id="getResult",
    responses=answers(ResultAnswer),
)
@router.get(
    "/q/{queue}/j/{job_id}/results.json",
    summary="A job's result (queue-scoped alias)",
    operation_id="getResultAlias",
    responses=answers(ResultAnswer),
)
async def result_json(job_id: str, request: Request, queue: str | None = None) -> Response:
    check_job_id(job_id)
    service = _service(request)
    stored = await service.result(job_id, check_queue(queue) if queue is not None else None)
    if stored is None:
        return JSONResponse({"data": None})
    row = await service.store.get_job(queue, job_id) if queue is not None else None
    finished = row if row is not None and row.state is JobState.FINISHED else None
    return JSONResponse({"data": finished_job(stored, finished)})


@_file_route("/j/{job_id}/inputs/{file:path}", "A job's input file", "getGlobalInputFile")
@_file_route("/q/{queue}/j/{job_id}/inputs/{file:path}", "A job's input file (queue-scoped)", "getInputFile")
async def input_file(job_id: str, file: str, request: Request, queue: str | None = None) -> Response:
    check_job_id(job_id)
    name = safe_relative_path(file)
    service = _service(request)
    definition = await service.store.get_definition(job_id)
    if definition is None:
        raise NotFound("Job not found")
    refs = {**(definition.get("configFiles") or {}), **(definition.get("inputs") or {})}
    return await ref_response(service.blobs, refs.get(name, refs.get(file)), name, "Input")


@_file_route("/j/{job_id}/outputs/{file:path}", "A job's output file", "getGlobalOutputFile")
@_file_route(
    "/q/{queue}/j/{job_id}/outputs/{file:path}", "A job's output file (queue-scoped)", "getOutputFile"
)
async def output_file(job_id: str, file: str, request: Request, queue: str | None = None) -> Response:
    check_job_id(job_id)
    name = safe_relative_path(file)
    service = _service(request)
    found = await service.served_output(job_id, name, check_queue(queue) if queue is not None else None)
    if found is None:
        raise NotFound("Finished job not found")
    return await ref_response(service.blobs, found.ref, name, "Output")


@router.get(
    "/q/{queue}/j/{job_id}/namespaces.json",
    summary="Namespaces that want a job",
    operation_id="getNamespaces",
    responses=answers(NamespacesAnswer),
)
async def namespaces_json(queue: str, job_id: str, request: Request) -> Response:
    row = await _service(request).store.get_job(check_queue(queue), check_job_id(job_id))
    return JSONResponse({"data": sorted(row.namespaces) if row else []})


LOG_PAGE_LINES = 10_000
_FINAL_REASONS = {reason.value for reason in KEPT_REASONS}


def _since(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    try:
        return max(0, math.floor(float(raw)))
    except (ValueError, OverflowError):
        raise InvalidInput("`since` must be a number") from None


async def _logs(request: Request, job_id: str, step: str, queue: str | None = None) -> Response:
    if step not in ("run", "build"):
        raise NotFound("logs are at run-logs.json and build-logs.json")
    check_job_id(job_id)
    since = _since(request.query_params.get("since"))
    service = _service(request)
    lines, total = await service.store.read_logs(job_id, step, since, LOG_PAGE_LINES, queue)
    # A page at a time: `nextCursor` is where the next one starts, `total` how many lines there are so far.
    cursor = since + len(lines) if lines else total
    final = cursor >= total and await service.served_reason(job_id, queue) in _FINAL_REASONS
    return JSONResponse(
        {"data": lines, "sliceStart": since, "nextCursor": cursor, "isFinal": final, "total": total}
    )


@router.get(
    "/q/{queue}/j/{job_id}/{step}-logs.json",
    summary="Logs so far: run or build (?since=N)",
    operation_id="getLogs",
    responses=LOGS_ANSWERS,
)
async def logs_json(queue: str, job_id: str, step: str, request: Request) -> Response:
    return await _logs(request, job_id, step, check_queue(queue))


@router.get(
    "/j/{job_id}/{step}-logs.json",
    summary="Logs of a job, in whatever queue it ran (?since=N)",
    operation_id="getGlobalLogs",
    responses=LOGS_ANSWERS,
)
async def global_logs_json(job_id: str, step: str, request: Request) -> Response:
    return await _logs(request, job_id, step)


@router.post(
    "/q/{queue}/j/{job_id}/cancel",
    summary="Cancel a job (namespace from ?namespace=, default _)",
    operation_id="cancelJob",
    responses=answers(Cancelled),
)
async def cancel(queue: str, job_id: str, request: Request, namespace: str = "_") -> Response:
    row = await _service(request).cancel(queue, job_id, check_namespace(namespace))
    return JSONResponse(
        {
            "success": True,
            "jobId": job_id,
            "namespace": namespace,
            "state": row.state.value,
            "finishedReason": row.reason.value if row.reason else None,
        }
    )


@router.post(
    "/q/{queue}/j/{job_id}/{namespace}/cancel",
    summary="Cancel a job in one namespace",
    operation_id="cancelJobInNamespace",
    responses=answers(Cancelled),
)
async def cancel_namespace(queue: str, job_id: str, namespace: str, request: Request) -> Response:
    return await cancel(queue, job_id, request, namespace)


@router.delete(
    "/q/{queue}/j/{job_id}",
    summary="Finish a job as Deleted and drop its result",
    operation_id="deleteJob",
    responses=answers(Deleted),
)
async def delete(queue: str, job_id: str, request: Request) -> Response:
    await _service(request).delete(queue, job_id)
    return JSONResponse({"success": True, "jobId": job_id})


@router.post(
    "/j/{job_id}/copy",
    summary="Push the same job to another queue",
    operation_id="copyJob",
    responses=answers(Copied, 413, 422),
    openapi_extra=COPY_SCHEMA,
)
async def copy(job_id: str, request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, service.settings.max_body_bytes)
    job = await service.copy(job_id, body, lambda: str(request.base_url))
    return JSONResponse({"success": True, "jobId": job.job_id, "queue": job.queue, "state": job.state.value})
