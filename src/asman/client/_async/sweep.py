"""Following jobs of several queues: `as_completed` and `wait_all` over one event stream per queue (the
queue handles' methods of the same names, for the jobs of each queue in turn)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Iterable

from asman.client._async.client import AsyncJob, AsyncQueue
from asman.client._jobs import checked
from asman.client._models import JobResult


def _by_queue(jobs: Iterable[AsyncJob]) -> list[tuple[AsyncQueue, list[int], list[AsyncJob]]]:
    """The jobs grouped by their client and queue, each with its positions in `jobs`."""
    groups: dict[tuple[int, str], tuple[AsyncQueue, list[int], list[AsyncJob]]] = {}
    for index, job in enumerate(jobs):
        key = (id(job.client), job.queue)
        if key not in groups:
            groups[key] = (job.client.queue(job.queue), [], [])
        groups[key][1].append(index)
        groups[key][2].append(job)
    return list(groups.values())


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


async def as_completed(
    jobs: Iterable[AsyncJob], timeout: float | None = None
) -> AsyncGenerator[AsyncJob, None]:
    """Each job once it has finished: the jobs of one queue as they finish, queue after queue."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for queue, _, group in _by_queue(jobs):
        async with contextlib.aclosing(queue.as_completed(group, _left(deadline))) as finished:
            async for job in finished:
                yield job


async def wait_all(
    jobs: Iterable[AsyncJob], timeout: float | None = None, *, check: bool = True, full: bool = True
) -> list[JobResult]:
    """Every job's result once all have finished, in the order of `jobs` (see `AsyncQueue.wait_all`)."""
    handles = list(jobs)
    deadline = None if timeout is None else time.monotonic() + timeout
    results: list[JobResult | None] = [None] * len(handles)
    for queue, places, group in _by_queue(handles):
        found = await queue.wait_all(group, _left(deadline), check=False, full=full)
        for place, result in zip(places, found, strict=True):
            results[place] = result
    done = [result for result in results if result is not None]
    if check:
        for job, result in zip(handles, done, strict=True):
            checked(job, result, check)
    return done
