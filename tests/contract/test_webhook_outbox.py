"""The webhook outbox, on SQLite and PostgreSQL: which submits and finishes write deliveries (in their own
transaction), and how senders claim, postpone and drop them. Times are explicit milliseconds."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from asman.core.states import FinishedReason, JobState
from asman.core.webhooks import Delivery, Hooks, Target
from asman.store import Store, open_store

T0 = 1_700_000_000_000
DAY = 86_400_000
EXPIRES = T0 + 30 * DAY
LIFETIME = 28 * DAY
LEASE = 60_000
Q = "queue-a"
ORIGIN = "https://asman.example"
SUCCESS, ERROR = FinishedReason.SUCCESS, FinishedReason.ERROR


# Every queue here shares one trust domain, so a success made on one is a cached success on the others.
DOMAIN = "token:hooks"


def jid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def hooks(
    tag: str, *, queued: bool = True, finished: bool = True, url: str = "https://hooks.example/x"
) -> Hooks:
    return Hooks(
        Target(f"q-{tag}", url, '{"n":1}') if queued else None,
        Target(f"f-{tag}", url, "{}") if finished else None,
        ORIGIN,
        LIFETIME,
    )


async def submit(
    store: Store, name: str, with_hooks: Hooks | None, *, namespace: str = "_", queue: str = Q, at: int = T0
) -> Any:
    definition = {"image": "alpine:3.19", "command": f"echo {name}"}
    return await store.submit(
        queue, jid(name), definition, namespace, at, EXPIRES, hooks=with_hooks, domain=DOMAIN
    )


async def claim_all(store: Store, at: int) -> list[Delivery]:
    return sorted(await store.claim_deliveries(at, 100, at + LEASE), key=lambda d: d.id)


async def finish(store: Store, name: str, reason: FinishedReason, at: int, status: int = 0) -> None:
    [assignment] = await store.claim(Q, "w1", 1, 0, at + LEASE, at)
    assert assignment.job_id == jid(name)
    result = {"StatusCode": status, "reason": reason.value}
    assert await store.finish(
        Q, jid(name), assignment.attempt, reason, result, at + 1, EXPIRES, domain=DOMAIN
    )


async def test_a_new_job_writes_its_queued_delivery(store: Store) -> None:
    await submit(store, "a", hooks("1"), namespace="tab")
    [delivery] = await claim_all(store, T0)
    assert delivery == Delivery(
        id="q-1",
        event="queued",
        queue=Q,
        job_id=jid("a"),
        namespace="tab",
        url="https://hooks.example/x",
        config='{"n":1}',
        origin=ORIGIN,
        reason=None,
        exit_code=None,
        attempt=1,
        expires_ms=T0 + LIFETIME,
    )
    assert delivery.body() == {"jobId": jid("a"), "queue": Q, "namespace": "tab", "config": {"n": 1}}


async def test_no_delivery_on_a_dedupe_or_a_cached_success(store: Store) -> None:
    await submit(store, "a", hooks("1", finished=False))
    await submit(store, "a", hooks("2", finished=False), at=T0 + 1)  # still queued: a dedupe
    [first] = await claim_all(store, T0 + 2)
    assert first.id == "q-1"
    await store.drop_delivery(first.id)
    await finish(store, "a", SUCCESS, T0 + 3)
    cached = await submit(store, "a", hooks("3"), at=T0 + 10)
    elsewhere = await submit(store, "a", hooks("4"), queue="queue-b", at=T0 + 11)
    assert cached.job.state is elsewhere.job.state is JobState.FINISHED
    assert await claim_all(store, T0 + 12) == []
    # Nor does a kept success wait for a finish: deleting it (which finishes it again) fires nothing.
    await store.delete(Q, jid("a"), T0 + 13)
    await store.delete("queue-b", jid("a"), T0 + 14)
    assert await claim_all(store, T0 + 15) == []


async def test_a_failed_job_queued_again_writes_a_queued_delivery(store: Store) -> None:
    await submit(store, "a", None)
    await finish(store, "a", ERROR, T0 + 1)
    again = await submit(store, "a", hooks("2", finished=False), at=T0 + 10)
    assert again.job.state is JobState.QUEUED
    assert [d.id for d in await claim_all(store, T0 + 10)] == ["q-2"]


async def test_finished_callbacks_fire_once_when_the_job_finishes(store: Store) -> None:
    await submit(store, "a", hooks("1", queued=False))
    await submit(store, "a", hooks("2", queued=False), at=T0 + 1)  # same namespace and URL: one callback
    await submit(store, "a", hooks("3", queued=False), namespace="tab", at=T0 + 2)
    assert await claim_all(store, T0 + 3) == []  # nothing before the job finishes
    await finish(store, "a", SUCCESS, T0 + 10, status=7)
    fired = await claim_all(store, T0 + 20)
    assert [(d.id, d.event, d.namespace, d.reason, d.exit_code) for d in fired] == [
        ("f-1", "finished", "_", "Success", 7),
        ("f-3", "finished", "tab", "Success", 7),
    ]
    assert fired[0].expires_ms == T0 + 11 + LIFETIME
    assert fired[0].body() == {
        "jobId": jid("a"),
        "queue": Q,
        "namespace": "_",
        "config": {},
        "state": "Finished",
        "finishedReason": "Success",
        "exitCode": 7,
        "resultUrl": f"{ORIGIN}/q/{Q}/j/{jid('a')}/result.json",
    }
    # Queued again and finished again: the callbacks were spent on the first finish.
    for delivery in fired:
        await store.drop_delivery(delivery.id)
    await store.delete(Q, jid("a"), T0 + 30)
    assert await claim_all(store, T0 + 40) == []


async def test_every_way_of_finishing_fires_the_callbacks(store: Store) -> None:
    await submit(store, "cancelled", hooks("c", queued=False))
    await store.cancel(Q, jid("cancelled"), "_", T0 + 1)
    await submit(store, "deleted", hooks("d", queued=False), at=T0 + 2)
    await store.delete(Q, jid("deleted"), T0 + 3)
    await submit(store, "old", hooks("o", queued=False), namespace="tab", at=T0 + 4)
    await submit(store, "new", None, namespace="tab", at=T0 + 5)  # replaces "old" in its namespace
    await store.cancel(Q, jid("new"), "tab", T0 + 6)
    await submit(store, "lost", hooks("l", queued=False), at=T0 + 7)
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + 8, T0 + 7)
    assert assignment.job_id == jid("lost")
    assert await store.expire_leases(T0 + 9, retry_budget=1)
    fired = await claim_all(store, T0 + 10)
    assert {(d.id, d.reason) for d in fired} == {
        ("f-c", "Cancelled"),
        ("f-d", "Deleted"),
        ("f-o", "JobReplacedByClient"),
        ("f-l", "WorkerLost"),
    }


async def test_a_claim_leases_its_deliveries(store: Store) -> None:
    await submit(store, "a", hooks("1", finished=False))
    [first] = await claim_all(store, T0)
    assert first.attempt == 1
    assert await claim_all(store, T0 + LEASE - 1) == []  # held by the first sender
    [again] = await claim_all(store, T0 + LEASE)  # its lease ran out: a crash, say
    assert (again.id, again.attempt) == ("q-1", 2)
    # The first sender's attempt no longer holds the delivery: its failure changes nothing.
    assert not await store.postpone_delivery("q-1", 1, T0 + LEASE + 1, "late")
    assert await store.postpone_delivery("q-1", 2, T0 + LEASE + 5_000, "the receiver answered 500")
    assert await claim_all(store, T0 + LEASE + 4_999) == []
    [third] = await claim_all(store, T0 + LEASE + 5_000)
    assert third.attempt == 3
    await store.drop_delivery("q-1")
    assert await claim_all(store, T0 + 10 * LEASE) == []


async def test_claims_take_the_oldest_first_and_never_share(store: Store) -> None:
    for index in range(12):
        await submit(store, f"job-{index}", hooks(f"{index:02}", finished=False), at=T0 + index)
    oldest = await store.claim_deliveries(T0 + 100, 2, T0 + LEASE)
    assert sorted(d.id for d in oldest) == ["q-00", "q-01"]
    claims = await asyncio.gather(*(store.claim_deliveries(T0 + 100, 3, T0 + LEASE) for _ in range(5)))
    ids = [d.id for claim in claims for d in claim]
    assert len(ids) == len(set(ids)) == 10


async def test_expired_deliveries_are_not_sent_and_are_swept(store: Store) -> None:
    await submit(store, "a", hooks("1"))
    assert await claim_all(store, T0 + LIFETIME) == []
    assert await store.sweep(T0 + LIFETIME + 1) >= 1
    assert await store.sweep(EXPIRES + 1) >= 1  # the queue entry, with the callback waiting on it
    assert await store.sweep(EXPIRES + 2) == 0


async def test_the_outbox_outlives_the_store_being_closed(store_url: str, tmp_path: Path) -> None:
    first = open_store(store_url)
    await first.open()
    await submit(first, "a", hooks("1"))
    await first.close()
    reopened = open_store(store_url)
    await reopened.open()
    try:
        await reopened.cancel(Q, jid("a"), "_", T0 + 1)
        assert [d.id for d in await claim_all(reopened, T0 + 2)] == ["f-1", "q-1"]
    finally:
        await reopened.close()
