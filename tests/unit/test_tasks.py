"""TaskSet: background tasks held until they end, failures logged and reported, the rest cancelled on shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from asman.worker.tasks import TaskSet


async def test_a_task_nobody_else_holds_runs_to_its_end() -> None:
    tasks = TaskSet()
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.set()

    tasks.spawn(work(), name="orphan")
    gc.collect()
    await asyncio.wait_for(done.wait(), 2)
    await asyncio.sleep(0)
    assert len(tasks) == 0, "an ended task is let go"


async def test_a_failure_is_logged_by_name_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[tuple[str, BaseException]] = []
    tasks = TaskSet(on_failure=lambda task, error: failures.append((task.get_name(), error)))

    async def broken() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="asman.worker.tasks"):
        task = tasks.spawn(broken(), name="heartbeat")
        await asyncio.wait({task})
        await asyncio.sleep(0)
    assert [(name, str(error)) for name, error in failures] == [("heartbeat", "boom")]
    assert "background task heartbeat failed" in caplog.text and "ValueError: boom" in caplog.text


async def test_cancelled_tasks_are_not_failures() -> None:
    failures: list[Any] = []
    tasks = TaskSet(on_failure=lambda task, error: failures.append(error))
    task = tasks.spawn(asyncio.sleep(30), name="sleeper")
    await tasks.cancel()
    assert task.cancelled() and failures == [] and len(tasks) == 0


async def test_cancel_waits_for_every_task_to_end() -> None:
    tasks = TaskSet()
    cleaned: list[str] = []

    async def holds_a_resource(name: str) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself takes a moment
            cleaned.append(name)

    for name in ("a", "b"):
        tasks.spawn(holds_a_resource(name), name=name)
    await asyncio.sleep(0)
    await tasks.cancel()
    assert sorted(cleaned) == ["a", "b"]


async def test_wait_gives_up_after_its_timeout() -> None:
    tasks = TaskSet()
    quick = tasks.spawn(asyncio.sleep(0.01), name="quick")
    slow = tasks.spawn(asyncio.sleep(30), name="slow")
    await tasks.wait(timeout=0.5)
    assert quick.done() and not slow.done()
    await tasks.cancel()


async def test_a_task_may_shut_down_its_own_set() -> None:
    tasks = TaskSet()
    other = tasks.spawn(asyncio.sleep(30), name="other")

    async def shutdown() -> str:
        await tasks.wait(timeout=0.01)
        await tasks.cancel()
        return "stopped"

    assert await asyncio.wait_for(tasks.spawn(shutdown(), name="shutdown"), 2) == "stopped"
    assert other.cancelled()
