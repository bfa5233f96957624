"""GA4GH TES 1.1 on every queue: `/q/<queue>/ga4gh/tes/v1/...`, and `/ga4gh/tes/v1/...` for the server's TES queue
(the `tes_queue` setting). Thin: tasks become jobs through `JobService.submit`, and answers are built by
`asman.tes.mapping` from the job's row, definition and result."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from asman._version import __version__
from asman.core.definition import DEFAULT_NAMESPACE
from asman.core.errors import InvalidInput, NotFound
from asman.core.names import check_job_id, check_queue
from asman.core.protocol import STEP_RUN
from asman.core.states import FinishedReason, JobState
from asman.server.http import JSONResponse, read_json
from asman.server.service import JobService, describe_validation
from asman.store.base import JobRow
from asman.tes.mapping import (
    BACKEND_PARAMETERS,
    STOPPED_NOTE,
    matches,
    stored_task,
    task_definition,
    task_state,
    task_view,
)
from asman.tes.models import (
    Organization,
    TesCreateTaskResponse,
    TesServiceInfo,
    TesState,
    TesTask,
    View,
)

router = APIRouter()

DEFAULT_PAGE_SIZE = 256
MAX_PAGE_SIZE = 2048
_SCAN_BATCH = 500
PREFIXES = ("/ga4gh/tes/v1", "/q/{queue}/ga4gh/tes/v1")
# How long a container engine may take to kill an executor after the worker asks.
_ENGINE_STOP_SECONDS = 2.0


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def _queue(request: Request, queue: str | None) -> str:
    name = queue or _service(request).settings.tes_queue
    check_queue(name)
    return name


def _view(text: str | None, default: View) -> View:
    try:
        return View(text) if text else default
    except ValueError:
        raise InvalidInput(f"view must be MINIMAL, BASIC or FULL, not {(text or '')[:40]!r}") from None


def _response(model: Any) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json", exclude_none=True))


async def service_info(request: Request, queue: str | None = None) -> JSONResponse:
    name = _queue(request, queue)
    base = str(request.base_url).rstrip("/")
    return _response(
        TesServiceInfo(
            id=f"org.asman.tes.{name}",
            name=f"Asman queue {name}",
            description="GA4GH TES on a public Asman compute queue: tasks run on workers anyone runs.",
            organization=Organization(name="Asman", url=base),
            documentationUrl=f"{base}/docs",
            version=__version__,
            storage=[
                "s3:// (workers started with --s3-endpoint)",
                "file:// (local mode)",
                "http://",
                "https://",
            ],
            tesResources_backend_parameters=list(BACKEND_PARAMETERS),
        )
    )


async def create_task(request: Request, queue: str | None = None) -> JSONResponse:
    service = _service(request)
    name = _queue(request, queue)
    body = await read_json(request, service.settings.max_body_bytes)
    try:
        task = TesTask.model_validate(body)
    except ValidationError as error:
        raise InvalidInput(f"invalid TES task: {describe_validation(error.errors())}") from None
    row = await service.submit(name, {"definition": task_definition(task)}, lambda: str(request.base_url))
    return _response(TesCreateTaskResponse(id=row.job_id))


async def _started(service: JobService, rows: list[JobRow]) -> set[str]:
    """The running jobs whose current attempt has begun an executor (the worker logs a line before each)."""
    running = [row for row in rows if row.state is JobState.RUNNING]
    if not running:
        return set()
    logged = await service.store.logged_attempts(rows[0].queue, [row.job_id for row in running], STEP_RUN)
    return {row.job_id for row in running if logged.get(row.job_id) == row.attempt}


async def _stopping(service: JobService, rows: list[JobRow]) -> set[str]:
    """The jobs cancelled while a worker had them whose worker has not yet reported its containers gone (its
    last run-log line says so).

    The worker hears of a cancel at once and kills the containers straight away: so past two heartbeats and a
    little time for the engine, or a lease, the task is CANCELED even if its worker never reports."""
    now = service.now()
    settings = service.settings
    window_ms = min(settings.lease_seconds, 2 * settings.heartbeat_seconds + _ENGINE_STOP_SECONDS) * 1000
    found: set[str] = set()
    for row in rows:
        # A requeue clears the worker: one is kept only by a cancel that found the job Running.
        if (
            row.reason is not FinishedReason.CANCELLED
            or row.worker is None
            or now - row.updated_ms > window_ms
        ):
            continue
        # The last line only: the log may be long.
        counts = await service.store.log_counts(row.queue, row.job_id, row.attempt)
        total = counts[STEP_RUN].lines if STEP_RUN in counts else 0
        lines, _ = (
            await service.store.read_logs(row.job_id, STEP_RUN, total - 1, 1, row.queue) if total else ([], 0)
        )
        if not lines or not str(lines[-1][0]).startswith(STOPPED_NOTE):
            found.add(row.job_id)
    return found


async def get_task(request: Request, id: str, queue: str | None = None) -> JSONResponse:
    service = _service(request)
    name = _queue(request, queue)
    check_job_id(id)
    row = await service.require_job(name, id)
    task = stored_task(await service.store.get_definition(row.job_id))
    if task is None:
        raise NotFound(f"job {id} in queue {name} is not a TES task")
    result = await service.result(row.job_id, row.queue)
    started, stopping = await _started(service, [row]), await _stopping(service, [row])
    state = task_state(row.state, row.reason, result, id in started, id in stopping)
    view = _view(request.query_params.get("view"), View.MINIMAL)
    return JSONResponse(task_view(id, task, state, row.queued_ms, _finished(row, result), view))


def _finished(row: JobRow, result: dict[str, Any] | None) -> dict[str, Any] | None:
    # A result left from an earlier run says nothing about a rerun still queued or running.
    return result if row.reason is not None else None


def _page_token(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(base64.urlsafe_b64decode(text.encode("ascii") + b"==").decode("ascii"))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInput("page_token is not one this server gave out: start again without it") from None


def _tag_filters(request: Request) -> list[tuple[str, str | None]]:
    keys = request.query_params.getlist("tag_key")
    values = request.query_params.getlist("tag_value")
    if len(values) > len(keys):
        raise InvalidInput("each tag_value needs a tag_key before it")
    # A key without a value (or with an empty one) asks only that the task has the key.
    return [(key, values[index] or None if index < len(values) else None) for index, key in enumerate(keys)]


async def list_tasks(request: Request, queue: str | None = None) -> JSONResponse:
    """Newest first, by the queue's own order (its sequence number), so pages are exact and stable: the token
    is the sequence number of the page's last task."""
    service = _service(request)
    name = _queue(request, queue)
    params = request.query_params
    view = _view(params.get("view"), View.MINIMAL)
    size_text = params.get("page_size") or str(DEFAULT_PAGE_SIZE)
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    page_size = int(size_text)
    state_text = params.get("state")
    try:
        wanted_state = TesState(state_text) if state_text else None
    except ValueError:
        raise InvalidInput(f"unknown state {(state_text or '')[:40]!r}") from None
    tags = _tag_filters(request)
    name_prefix = params.get("name_prefix")
    cursor = _page_token(params.get("page_token"))
    tasks: list[dict[str, Any]] = []
    last_seq: int | None = None
    more = False
    # Unfiltered, one batch of page_size + 1 rows is the whole page (in a queue of TES tasks alone).
    filtered = bool(wanted_state or tags or name_prefix)
    batch = _SCAN_BATCH if filtered else min(_SCAN_BATCH, page_size + 1)
    while not more:
        # One store read per batch: the rows come with their definitions and results.
        page = await service.store.list_jobs(name, batch, cursor, None, records_for=service.trust(name))
        started = await _started(service, page.jobs)
        for row in page.jobs:
            task = stored_task(row.definition)
            if task is None or not matches(task, name_prefix, tags):
                continue
            result = row.result
            # Reads only for a task cancelled in the last lease while a worker had it.
            stopping = await _stopping(service, [row])
            state = task_state(row.state, row.reason, result, row.job_id in started, row.job_id in stopping)
            if wanted_state is not None and state is not wanted_state:
                continue
            if len(tasks) == page_size:
                more = True
                break
            tasks.append(task_view(row.job_id, task, state, row.queued_ms, _finished(row, result), view))
            last_seq = row.seq
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    body: dict[str, Any] = {"tasks": tasks}
    if more and last_seq is not None:
        body["next_page_token"] = base64.urlsafe_b64encode(str(last_seq).encode()).decode().rstrip("=")
    return JSONResponse(body)


async def cancel_task(request: Request, id: str, queue: str | None = None) -> JSONResponse:
    service = _service(request)
    name = _queue(request, queue)
    check_job_id(id)
    await service.cancel(name, id, DEFAULT_NAMESPACE)
    return JSONResponse({})


# The same operations on the default TES queue and on any queue; operationIds (TES's own names) tell them apart.
for _prefix, _scope in zip(PREFIXES, ("", "InQueue"), strict=True):
    for _path, _endpoint, _method, _name in (
        ("/service-info", service_info, "GET", "tesServiceInfo"),
        ("/tasks", create_task, "POST", "tesCreateTask"),
        ("/tasks", list_tasks, "GET", "tesListTasks"),
        ("/tasks/{id}:cancel", cancel_task, "POST", "tesCancelTask"),
        ("/tasks/{id}", get_task, "GET", "tesGetTask"),
    ):
        router.add_api_route(
            _prefix + _path, _endpoint, methods=[_method], operation_id=_name + _scope, tags=["tes"]
        )
