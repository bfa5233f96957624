"""What sweeps need but the network: filling job templates, parameter matrices, splitting a batch by the
server's limits, and following many jobs from one queue's events. Shared by `Client` and `AsyncClient` (and
the CLI's `job add --matrix`)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from asman.client._models import JobResult, JobStatus
from asman.core.states import FinishedReason, JobState

# What a batch request carries at most, below the server's default limits (ASMAN_MAX_BATCH_JOBS, 10,000, and
# ASMAN_MAX_BATCH_BYTES, 64 MiB); a server with lower limits answers 413, and the batch is split further.
BATCH_JOBS = 5000
BATCH_BYTES = 8 * 1024**2

# `{name}`, but not `${name}`: that is the job's environment variable, which the worker substitutes.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """`template` (a definition, or any JSON value) with `{name}` replaced by `values[name]` in every string,
    keys included. Braces around other text stay as they are, so `${n}`, `${HOME}` or `awk '{print $1}'`
    survive."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)
    if isinstance(template, Mapping):
        return {fill(key, values): fill(value, values) for key, value in template.items()}
    if isinstance(template, (list, tuple)):
        return [fill(item, values) for item in template]
    return template


def item_values(item: Any) -> dict[str, str]:
    """The placeholders an item of `map` fills: a mapping's keys, else `{item}`."""
    if isinstance(item, Mapping):
        return {str(key): str(value) for key, value in item.items()}
    return {"item": str(item)}


def parse_axis(text: str) -> tuple[str, list[str]]:
    """`K=a,b,c` -> ("K", ["a", "b", "c"]); a ValueError naming what is wrong otherwise."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.fullmatch(key):
        raise ValueError(f"--matrix {text!r}: write NAME=value1,value2,... (NAME as in a shell variable)")
    found = [value.strip() for value in values.split(",")]
    if not values.strip() or any(not value for value in found):
        raise ValueError(f"--matrix {text!r}: give one or more comma-separated values, none empty")
    return key, found


def matrix(axes: Sequence[str]) -> list[dict[str, str]]:
    """Every combination of the `--matrix` axes, the last axis changing fastest (like nested loops)."""
    parsed = [parse_axis(axis) for axis in axes]
    keys = [key for key, _ in parsed]
    if len(set(keys)) != len(keys):
        raise ValueError(f"--matrix names {sorted(k for k in keys if keys.count(k) > 1)[0]} twice")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in parsed))]


def batches(
    bodies: Sequence[dict[str, Any]], jobs: int = BATCH_JOBS, size: int = BATCH_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """The bodies in consecutive batches of at most `jobs` entries and about `size` bytes of JSON."""
    batch: list[dict[str, Any]] = []
    used = 0
    for body in bodies:
        length = len(json.dumps(body, separators=(",", ":"))) + 1
        if batch and (len(batch) >= jobs or used + length > size):
            yield batch
            batch, used = [], 0
        batch.append(body)
        used += length
    if batch:
        yield batch


def entry_error(index: int, answer: Any) -> str | None:
    """Why the batch answer of submission `index` is a refusal, or None when it was accepted."""
    if isinstance(answer, dict) and answer.get("success") and answer.get("jobId"):
        return None
    message = answer.get("message") if isinstance(answer, dict) else None
    return f"job {index}: {message if message else repr(answer)}"


def light_result(status: JobStatus) -> JobResult:
    """A finished job's result as its queue's events tell it: how it ended, without logs or outputs."""
    return JobResult(
        job_id=status.job_id,
        reason=status.reason or FinishedReason.ERROR,
        exit_code=status.exit_code,
        worker=status.worker or "",
        attempt=status.attempt,
        raw=status.raw,
    )


class Tracker:
    """Which of a sweep's jobs (in one queue) have finished, from the queue's `job` events and listings."""

    def __init__(self, job_ids: Iterable[str]) -> None:
        self.pending = set(job_ids)
        self.finished: dict[str, JobStatus] = {}

    def feed(self, data: Any, queue: str) -> list[str]:
        """Take one job's state (a `job` event's data, or an entry of a listing); the ids newly finished."""
        if not isinstance(data, dict) or data.get("state") != JobState.FINISHED.value:
            return []
        job_id = data.get("jobId")
        if job_id not in self.pending:
            return []
        self.pending.discard(job_id)
        self.finished[job_id] = JobStatus.from_json(data, queue)
        return [job_id]
