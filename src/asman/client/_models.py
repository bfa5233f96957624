"""What the client hands back: a job's status, its result, its log lines and its live events.

Plain frozen dataclasses built from the server's JSON (the raw JSON stays available as `.raw`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from asman.core.states import FinishedReason, JobState

Step = Literal["run", "build"]


class LogLine(NamedTuple):
    """One line a job wrote: `stderr` tells the two streams apart; `step` is "build" while an image is built.

    `text` is the line without its newline; `ended` says whether the program ended it with one (the last line
    of an output may have none), so `text + "\n" * ended` is exactly what was written."""

    text: str
    time_ms: int
    stderr: bool = False
    step: Step = "run"
    ended: bool = True

    @property
    def written(self) -> str:
        return self.text + "\n" if self.ended else self.text


def log_lines(raw: Any, step: Step = "run") -> list[LogLine]:
    """Log lines from the wire shape `[[text, epochMs, isStdErr?], ...]`, skipping malformed entries. Run-log
    text keeps the newline it was written with; build-log lines and the worker's own notes have none."""
    lines: list[LogLine] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, list) and item:
            time_ms = item[1] if len(item) > 1 and isinstance(item[1], int) else 0
            text = str(item[0])
            ended = text.endswith("\n") or step == "build"
            stderr = bool(item[2]) if len(item) > 2 else False
            lines.append(LogLine(text.removesuffix("\n"), time_ms, stderr, step, ended))
        elif isinstance(item, str):
            lines.append(LogLine(item.removesuffix("\n"), 0, False, step, item.endswith("\n")))
    return lines


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _reason(value: Any) -> FinishedReason | None:
    try:
        return FinishedReason(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class JobStatus:
    """Where a job is: `state` (Queued, Running, Finished), and once finished, `reason` (Success, Error...)."""

    job_id: str
    queue: str
    state: JobState
    reason: FinishedReason | None = None
    worker: str = ""
    attempt: int = 0
    queued_ms: int = 0
    updated_ms: int = 0
    namespaces: tuple[str, ...] = ()
    # The container's exit code, once the job ran to its end (a non-zero exit is still a Success).
    exit_code: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.state is JobState.FINISHED

    @classmethod
    def from_json(cls, data: dict[str, Any], queue: str = "") -> JobStatus:
        try:
            state = JobState(data.get("state") or JobState.QUEUED)
        except ValueError:
            state = JobState.QUEUED
        return cls(
            job_id=str(data.get("jobId", "")),
            queue=str(data.get("queue") or queue),
            state=state,
            reason=_reason(data.get("finishedReason")),
            worker=str(data.get("worker") or ""),
            attempt=int(data.get("attempt") or 0),
            queued_ms=int(data.get("queuedTime") or 0),
            updated_ms=int(data.get("time") or 0),
            namespaces=tuple(data.get("namespaces") or ()),
            exit_code=data["exitCode"] if isinstance(data.get("exitCode"), int) else None,
            raw=data,
        )


@dataclass(frozen=True)
class JobResult:
    """How a finished job ended. `ok` is true when it ran and exited 0; `exit_code` is the container's."""

    job_id: str
    reason: FinishedReason
    exit_code: int | None = None
    error: str | None = None
    timed_out: bool = False
    duration_ms: int | None = None
    logs: list[LogLine] = field(default_factory=list, repr=False)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    worker: str = ""
    attempt: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.reason is FinishedReason.SUCCESS and self.exit_code == 0

    @property
    def stdout(self) -> str:
        """What the container wrote to stdout, byte for byte (as far as the result keeps it)."""
        return "".join(line.written for line in self.logs if not line.stderr and line.step == "run")

    @property
    def stderr(self) -> str:
        return "".join(line.written for line in self.logs if line.stderr and line.step == "run")

    def describe(self) -> str:
        """One sentence for people: how the job ended and, when it failed, why."""
        if self.reason is FinishedReason.SUCCESS:
            return f"exited with code {self.exit_code}" if self.exit_code else "succeeded"
        text = {
            FinishedReason.ERROR: "failed",
            FinishedReason.TIMED_OUT: "timed out",
            FinishedReason.CANCELLED: "was cancelled",
            FinishedReason.WORKER_LOST: "lost its worker too many times",
            FinishedReason.JOB_REPLACED_BY_CLIENT: "was replaced by a newer job in its namespace",
            FinishedReason.DELETED: "was deleted",
        }[self.reason]
        return f"{text}: {self.error}" if self.error else text

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> JobResult:
        """From a job's JSON view (`{jobId, state, finishedReason, results: FinishedJob, ...}`) or a bare
        finished job (`{finishedReason, finished: {reason, result}, ...}`, as result.json has it)."""
        finished_job = _object(view.get("results") if "results" in view else view)
        finished = _object(finished_job.get("finished"))
        run = _object(finished.get("result"))
        reason = (
            _reason(view.get("finishedReason"))
            or _reason(finished_job.get("finishedReason"))
            or _reason(finished.get("reason"))
            or FinishedReason.ERROR
        )
        code = run.get("StatusCode")
        return cls(
            job_id=str(view.get("jobId", "")),
            reason=reason,
            exit_code=code if isinstance(code, int) else None,
            error=run.get("error") or None,
            timed_out=bool(run.get("isTimedOut")) or reason is FinishedReason.TIMED_OUT,
            duration_ms=run.get("duration"),
            logs=log_lines(run.get("logs")),
            outputs=dict(run.get("outputs") or {}),
            worker=str(finished.get("worker") or finished_job.get("worker") or view.get("worker") or ""),
            attempt=int(finished_job.get("attempt") or view.get("attempt") or 0),
            raw=view,
        )


@dataclass(frozen=True)
class StateChanged:
    """The job moved: Queued, Running (on `status.worker`), Finished."""

    status: JobStatus


@dataclass(frozen=True)
class LogsWritten:
    """New log lines, in order, never repeated across reconnections."""

    lines: list[LogLine]


@dataclass(frozen=True)
class Finished:
    """The last event of a job's stream."""

    result: JobResult


JobEvent = StateChanged | LogsWritten | Finished
