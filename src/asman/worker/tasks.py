"""Background tasks that are held, named and supervised.

The event loop keeps only a weak reference to a task: one that nobody holds can vanish mid-run, and the exception
of one that nobody awaits surfaces late, if ever. A `TaskSet` holds each task until it ends, logs a failure when
it happens and tells its owner, and cancels and awaits whatever is left on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

OnFailure = Callable[["asyncio.Task[Any]", BaseException], None]


class TaskSet:
    def __init__(self, on_failure: OnFailure | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_failure = on_failure

    def spawn(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        log.error("background task %s failed", task.get_name(), exc_info=error)
        if self._on_failure is not None:
            self._on_failure(task, error)

    def _others(self) -> set[asyncio.Task[Any]]:
        # A task of the set may be the one shutting it down: it must not wait for, or cancel, itself.
        return self._tasks - {asyncio.current_task()}

    async def wait(self, timeout: float | None = None) -> None:
        """Wait up to `timeout` seconds for the tasks running now to end."""
        tasks = self._others()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def cancel(self) -> None:
        """Cancel every task and wait until each has ended."""
        tasks = self._others()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
