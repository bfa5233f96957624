"""What the MCP tools answer, built from the SDK's models: the links a person can open, a job's status and the
summary of a finished job. Pure functions, no I/O."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from asman.client import JobResult, JobStatus, LogLine

# An agent reads the result whole: a long log is cut to its end, which is where failures are explained.
TAIL_LINES = 100
# Upstream leaves the self-contained link out past this length: browsers and chat clients truncate longer URLs.
SELF_CONTAINED_MAX = 32_768


def encode_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent, so links decode in the web client exactly as upstream's do."""
    return quote(text, safe="-_.!~*'()")


def view_url(origin: str, queue: str, job_id: str) -> str:
    return f"{origin}/j/{job_id}#?queue={encode_uri_component(queue)}"


def result_url(origin: str, queue: str, job_id: str) -> str:
    return f"{origin}/q/{queue}/j/{job_id}/result.json"


def output_url(origin: str, queue: str, job_id: str, name: str) -> str:
    return f"{origin}/q/{queue}/j/{job_id}/outputs/{quote(name)}"


def self_contained_url(origin: str, queue: str, definition: dict[str, Any]) -> str | None:
    """A link that carries the whole job: opening it shows the job, and runs it on a queue that never saw it."""
    text = json.dumps(definition, separators=(",", ":"), ensure_ascii=False)
    encoded = base64.b64encode(encode_uri_component(text).encode("ascii")).decode("ascii")
    url = f"{origin}/#?job={encoded}&queue={encode_uri_component(queue)}"
    return url if len(url) <= SELF_CONTAINED_MAX else None


def links(origin: str, queue: str, job_id: str) -> dict[str, str]:
    view = view_url(origin, queue, job_id)
    return {
        "viewUrl": view,
        "resultUrl": result_url(origin, queue, job_id),
        "shareWithUser": f"Watch the job live and see its logs and outputs at {view}",
    }


def status_json(status: JobStatus) -> dict[str, Any]:
    data: dict[str, Any] = {
        "jobId": status.job_id,
        "state": status.state.value,
        "finishedReason": status.reason.value if status.reason else None,
        "worker": status.worker,
        "time": status.updated_ms,
        "queuedTime": status.queued_ms,
        "namespaces": list(status.namespaces),
    }
    if status.exit_code is not None:
        data["exitCode"] = status.exit_code
    return data


def log_text(lines: list[LogLine]) -> list[str]:
    return [("[build] " if line.step == "build" else "") + line.text.rstrip("\n") for line in lines]


def log_tail(lines: list[LogLine]) -> tuple[list[str], str | None]:
    """The last log lines as text, and a note when earlier ones were left out."""
    text = log_text(lines[-TAIL_LINES:])
    if len(lines) <= TAIL_LINES:
        return text, None
    return text, f"showing the last {TAIL_LINES} of {len(lines)} log lines; the job page has them all"


def outputs_json(origin: str, queue: str, result: JobResult) -> dict[str, str]:
    """Each output file's download link, by its path under /outputs."""
    return {name: output_url(origin, queue, result.job_id, name) for name in sorted(result.outputs)}


def result_json(origin: str, queue: str, result: JobResult) -> dict[str, Any]:
    """A finished job's result under upstream's names (get_job_status's `result`)."""
    logs, _ = log_tail(result.logs)
    return {
        "statusCode": result.exit_code,
        "duration": result.duration_ms,
        "isTimedOut": result.timed_out,
        "error": result.error,
        "outputs": outputs_json(origin, queue, result),
        "logs": logs,
    }


def finished_summary(
    origin: str, queue: str, job_id: str, result: JobResult, lines: list[LogLine] | None = None
) -> dict[str, Any]:
    """How a job ended, for follow_job and wait_for_job: state, exit code, outputs and the tail of the logs.

    `lines` are the log lines seen live; without them the result's own logs are used."""
    logs, note = log_tail(lines if lines is not None else result.logs)
    summary: dict[str, Any] = {
        "jobId": job_id,
        "queue": queue,
        **links(origin, queue, job_id),
        "state": "Finished",
        "finishedReason": result.reason.value,
        "exitCode": result.exit_code,
        "programSucceeded": result.ok,
        "durationMs": result.duration_ms,
        "isTimedOut": result.timed_out,
        "error": result.error,
        "outputFiles": sorted(result.outputs),
        "outputs": outputs_json(origin, queue, result),
        "logLineCount": len(lines if lines is not None else result.logs),
        "logs": logs,
        "message": f"The job {result.describe()}.",
    }
    if note:
        summary["note"] = note
    if result.outputs:
        summary["nextStep"] = "Read an output with get_output (jobId, queue, path)."
    return summary
