"""Calls that arrive while the store is busy with earlier ones go to it together, as one call.

A worker's results arrive a message (or a `finishedMany` frame) at a time from many connections; each finish alone
costs a store transaction (on PostgreSQL, a connection and three round trips). `Batcher` gives the store every
call waiting when it is free again: at low load a call runs alone at once, under load the batches grow by
themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await batcher.many(items)` answers each item with `run(batch)[i]` for the batch it went in, at most
    `most` a batch. When a batch fails, its items are retried one by one, so one item's error is its own: `run`
    must change nothing when it raises (one transaction)."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], most: int = 256) -> None:
        self._run = run
        self._most = most
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether calls are waiting or running."""
        return self._task is not None

    async def many(self, items: Sequence[T]) -> list[R | Exception]:
        """Each item's answer, or the error that item alone met. The items wait together, so they go in the
        same batch unless it fills up (`most`) before them."""
        futures = [self._wait_for(item) for item in items]
        answers: list[R | Exception] = []
        for future in futures:
            try:
                answers.append(await future)
            except Exception as exc:
                answers.append(exc)
        return answers

    def _wait_for(self, item: T) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._task is None:
            self._task = loop.create_task(self._drain(), name="asman-batcher")
        return future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                self._running = self._waiting[: self._most]
                del self._waiting[: self._most]
                await self._settle(self._running)
        finally:
            # Cancelled (the server stops): nobody is left to answer these.
            for _, future in self._running + self._waiting:
                future.cancel()
            self._running, self._waiting = [], []
            self._task = None

    async def _settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            answers = await self._run([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1:
                for one in batch:
                    await self._settle([one])
                return
            future = batch[0][1]
            if not future.done():
                future.set_exception(exc)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
