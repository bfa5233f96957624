"""The batcher: calls waiting while a batch runs go together in the next one; a failed batch is retried item by
item, so each error stays its item's."""

from __future__ import annotations

import asyncio

import pytest

from asman.server.batcher import Batcher


async def test_calls_that_wait_share_the_next_batch_in_order() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await release.wait()
        return [item * 10 for item in items]

    batcher = Batcher(run, most=3)
    first = asyncio.create_task(batcher(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert await asyncio.gather(*rest) == [20, 30, 40, 50, 60]
    assert batches == [[1], [2, 3, 4], [5, 6]]


async def test_a_failed_batch_is_retried_one_by_one() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        if 2 in items:
            raise ValueError("two")
        return items

    batcher = Batcher(run)
    results = await asyncio.gather(*(batcher(n) for n in (1, 2, 3)), return_exceptions=True)
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert batches == [[1, 2, 3], [1], [2], [3]]
    with pytest.raises(ValueError):
        await batcher(2)
