"""TES task <-> Asman job, with no I/O: a task becomes a job definition, a job row and result become a task.

The whole task travels in the definition's `tes` field (kept, never hashed), and a digest of it is a tag, so the
job id covers it. Each POST adds a fresh nonce tag too, so a task is a new run with its own id, as TES clients
expect; a task that opts in to Asman's content cache leaves the nonce out and identical tasks share one job.
The TES task id is the Asman job id.
"""

from __future__ import annotations

import hashlib
import shlex
import uuid
from datetime import UTC, datetime
from typing import Any

from asman.core.definition import canonical_json
from asman.core.errors import InvalidInput
from asman.core.states import FinishedReason, JobState
from asman.tes.models import FileType, TesState, TesTask, TesTaskLog, View

# Where the task sits in a job definition, and in a worker's result.
TES_FIELD = "tes"
TASK_TAG_PREFIX = "tes:"
RUN_TAG_PREFIX = "tes-run:"
CACHE_TAG = "asman.cache"
# The worker's run-log line before each executor starts: the first one turns INITIALIZING into RUNNING.
EXECUTOR_NOTE = "[asman] TES executor"
# Its last line after a cancel, once the containers are gone: until then a cancelled task is CANCELING.
STOPPED_NOTE = "[asman] TES task stopped after the cancel"

# backend_parameters Asman understands; any other is ignored, or refused when backend_parameters_strict.
BACKEND_PARAMETERS = ("cache", "gpus", "max_duration", "shm_size")
_RESERVED_PATHS = ("/proc", "/sys", "/dev")
_TRUE = ("1", "true", "yes")

# FULL keeps everything; BASIC drops input contents, executor stdout/stderr and system logs.
_FINISHED_STATES = {
    FinishedReason.CANCELLED: TesState.CANCELED,
    FinishedReason.DELETED: TesState.CANCELED,
    FinishedReason.JOB_REPLACED_BY_CLIENT: TesState.CANCELED,
    FinishedReason.ERROR: TesState.SYSTEM_ERROR,
    FinishedReason.WORKER_LOST: TesState.SYSTEM_ERROR,
    # The program ran past its limit: its own doing, as a non-zero exit is.
    FinishedReason.TIMED_OUT: TesState.EXECUTOR_ERROR,
}


def _check_path(path: str, what: str) -> None:
    parts = path.split("/")
    if not path.startswith("/") or ".." in parts or "\x00" in path:
        raise InvalidInput(f"{what} {path[:200]!r} must be an absolute path without '..'")
    for reserved in _RESERVED_PATHS:
        if path == reserved or path.startswith(reserved + "/"):
            raise InvalidInput(f"{what} {path[:200]!r}: {reserved} belongs to the container engine")


def check_task(task: TesTask) -> None:
    """Refuse a task no worker could run: no executors, relative paths, inputs without a source, unknown
    backend parameters under backend_parameters_strict."""
    if not task.executors:
        raise InvalidInput("a TES task needs at least one executor: executors[{image, command}]")
    for index, executor in enumerate(task.executors):
        for name in ("workdir", "stdin", "stdout", "stderr"):
            value = getattr(executor, name)
            if value:
                _check_path(value, f"executors[{index}].{name}")
    for index, item in enumerate(task.inputs or []):
        _check_path(item.path, f"inputs[{index}].path")
        # TES: a non-empty content wins over url; an empty one (with no url) is an empty file.
        if item.content is None and item.url is None:
            raise InvalidInput(f"inputs[{index}] needs a 'url' or a 'content'")
        inline = bool(item.content) or item.url is None
        if inline and item.type is FileType.DIRECTORY:
            raise InvalidInput(f"inputs[{index}]: inline 'content' makes a FILE, not a DIRECTORY")
    for index, output in enumerate(task.outputs or []):
        _check_path(output.path_prefix or output.path, f"outputs[{index}].path")
    for volume in task.volumes or []:
        _check_path(volume, "volume")
    resources = task.resources
    if resources and resources.backend_parameters_strict:
        unknown = sorted(set(resources.backend_parameters or {}) - set(BACKEND_PARAMETERS))
        if unknown:
            raise InvalidInput(
                f"unknown backend_parameters {', '.join(unknown)} (backend_parameters_strict is set);"
                f" this backend knows {', '.join(BACKEND_PARAMETERS)}"
            )


def _parameter(task: TesTask, name: str) -> str | None:
    resources = task.resources
    return (resources.backend_parameters or {}).get(name) if resources else None


def wants_cache(task: TesTask) -> bool:
    """Whether the task opted in to Asman's content cache (tag `asman.cache` or backend parameter `cache`)."""
    flag = (task.tags or {}).get(CACHE_TAG) or _parameter(task, "cache") or ""
    return flag.lower() in _TRUE


def task_definition(task: TesTask, nonce: str | None = None) -> dict[str, Any]:
    """The Asman job definition that runs `task`. `nonce` makes it a fresh run (ignored when cached)."""
    check_task(task)
    assert task.executors
    stored = task.model_dump(mode="json", exclude_none=True, exclude={"id", "state", "logs", "creation_time"})
    digest = hashlib.sha256(canonical_json(stored).encode("utf-8")).hexdigest()
    tags = [TASK_TAG_PREFIX + digest]
    if not wants_cache(task):
        tags.append(RUN_TAG_PREFIX + (nonce or uuid.uuid4().hex))
    first = task.executors[0]
    # image and command show the task on the dashboard and CLI; the worker runs the executors from `tes`.
    definition: dict[str, Any] = {
        "image": first.image,
        "command": shlex.join(first.command),
        "tags": tags,
        TES_FIELD: stored,
    }
    requirements: dict[str, Any] = {}
    resources = task.resources
    if resources and resources.cpu_cores:
        requirements["cpus"] = resources.cpu_cores
    if resources and resources.ram_gb:
        requirements["memory"] = f"{max(1, round(resources.ram_gb * 1024))}m"
    gpus = _parameter(task, "gpus")
    if gpus:
        if not gpus.isdigit():
            raise InvalidInput(f"backend_parameters.gpus must be a whole number, not {gpus[:40]!r}")
        requirements["gpus"] = int(gpus)
    if requirements:
        definition["requirements"] = requirements
    for parameter, field in (("max_duration", "maxDuration"), ("shm_size", "shmSize")):
        value = _parameter(task, parameter)
        if value:
            definition[field] = value
    return definition


def stored_task(definition: dict[str, Any] | None) -> TesTask | None:
    """The TES task a job definition carries, or None for a job that is not a TES task."""
    raw = (definition or {}).get(TES_FIELD)
    return TesTask.model_validate(raw) if isinstance(raw, dict) else None


def rfc3339(epoch_ms: int) -> str:
    return (
        datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def task_state(
    state: JobState,
    reason: FinishedReason | None,
    result: dict[str, Any] | None,
    started: bool = False,
    stopping: bool = False,
) -> TesState:
    """The TES state of a job. `started`: the running attempt has begun its first executor (its run log has a
    line), which tells RUNNING from INITIALIZING (inputs, images). `stopping`: the job was cancelled while a
    worker had it, and the worker has not yet said its containers are gone (CANCELING)."""
    if state is JobState.QUEUED:
        return TesState.QUEUED
    if state is JobState.RUNNING:
        return TesState.RUNNING if started else TesState.INITIALIZING
    if reason is FinishedReason.CANCELLED and stopping:
        return TesState.CANCELING
    if reason is FinishedReason.SUCCESS:
        code = (result or {}).get("StatusCode")
        return TesState.COMPLETE if code == 0 else TesState.EXECUTOR_ERROR
    if reason is None:
        return TesState.CANCELED  # a Removed tombstone
    return _FINISHED_STATES.get(reason, TesState.SYSTEM_ERROR)


def task_log(result: dict[str, Any]) -> TesTaskLog:
    """The TES log of a finished attempt: the worker's own record, plus the error as a system log."""
    raw = result.get(TES_FIELD)
    log = TesTaskLog.model_validate(raw) if isinstance(raw, dict) else TesTaskLog()
    if result.get("error") and result.get("reason") != FinishedReason.SUCCESS:
        log.system_logs = [*(log.system_logs or []), str(result["error"])]
    return log


def task_view(
    job_id: str,
    task: TesTask,
    state: TesState,
    queued_ms: int,
    result: dict[str, Any] | None,
    view: View,
) -> dict[str, Any]:
    """A task as GET tasks answers it, in the asked view, with TES schema fields only."""
    if view is View.MINIMAL:
        return {"id": job_id, "state": state.value}
    shown = task.model_copy(deep=True)
    shown.id, shown.state, shown.creation_time = job_id, state, rfc3339(queued_ms)
    if result is not None:
        shown.logs = [task_log(result)]
    if view is View.BASIC:
        for item in shown.inputs or []:
            item.content = None
        for log in shown.logs or []:
            log.system_logs = None
            for executor_log in log.logs:
                executor_log.stdout = executor_log.stderr = None
    return shown.model_dump(mode="json", exclude_none=True)


def matches(task: TesTask, name_prefix: str | None, tags: list[tuple[str, str | None]]) -> bool:
    """The GET tasks filters: a name prefix, and tags (a key without a value means "has this key")."""
    if name_prefix and not (task.name or "").startswith(name_prefix):
        return False
    own = task.tags or {}
    return all(key in own and (value is None or own[key] == value) for key, value in tags)
