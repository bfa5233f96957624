"""The batcher: calls waiting while a batch runs go together in the next one; a failed batch is retried item by
item, so each error stays its item's."""

from __future__ import annotations

import asyncio

from asman.server.batcher import Batcher


def held(most: int) -> tuple[Batcher[int, int], list[list[int]], asyncio.Event]:
    """A batcher whose batches wait for the event, the batches it ran, and the event."""
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await release.wait()
        return [item * 10 for item in items]

    return Batcher(run, most=most), batches, release


async def test_calls_that_wait_share_the_next_batch_in_order() -> None:
    batcher, batches, release = held(most=3)
    first = asyncio.create_task(batcher.many([1]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher.many([n])) for n in range(2, 7)]
    await asyncio.sleep(0)
    release.set()
    assert await first == [10]
    assert await asyncio.gather(*rest) == [[20], [30], [40], [50], [60]]
    assert batches == [[1], [2, 3, 4], [5, 6]]


async def test_the_items_of_one_call_wait_together() -> None:
    batcher, batches, release = held(most=4)
    first = asyncio.create_task(batcher.many([1]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    several = asyncio.create_task(batcher.many([2, 3, 4, 5, 6]))
    alone = asyncio.create_task(batcher.many([7]))
    await asyncio.sleep(0)
    release.set()
    assert await first == [10]
    assert await several == [20, 30, 40, 50, 60]
    assert await alone == [70]
    # In one batch with each other, as far as the batch's limit allows.
    assert batches == [[1], [2, 3, 4, 5], [6, 7]]


async def test_a_failed_batch_is_retried_one_by_one() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        if 2 in items:
            raise ValueError("two")
        return items

    batcher = Batcher(run)
    results = await batcher.many([1, 2, 3])
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert batches == [[1, 2, 3], [1], [2], [3]]
    [alone] = await batcher.many([2])
    assert isinstance(alone, ValueError)
