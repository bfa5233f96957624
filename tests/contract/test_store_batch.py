"""The batch submit verb on every store: each job of a batch is answered, in order, exactly as a single submit
of it would have been, and its effects are the same."""

from __future__ import annotations

from typing import Any

from asman.core.states import FinishedReason, JobState
from asman.core.trust import own_domain
from asman.core.webhooks import Hooks, Target
from asman.store import Store
from asman.store.base import JobRow, Submission, SubmitOutcome
from tests.contract.test_store_contract import (
    DAY,
    ERROR,
    EXPIRES,
    FINISHED,
    LEASE,
    QUEUED,
    SUCCESS,
    T0,
    definition,
    jid,
    run,
    submit,
)

SHARED = "shared-domain"


def sub(name: str, namespace: str = "_", gpus: int | None = None) -> Submission:
    return Submission(jid(name), definition(name, gpus), namespace)


def shape(outcome: SubmitOutcome) -> tuple[Any, ...]:
    """An outcome without what differs between the twin queues: names, row numbers, and the attempts of the job
    that ran in one and was a kept success in the other."""
    job = outcome.job
    return (
        job.job_id,
        job.state,
        job.reason,
        job.namespaces,
        job.exit_code,
        [(t.job_id, t.state, t.reason, t.attempt, t.exit_code) for t in outcome.transitions],
        [(t.job_id, t.state) for t in outcome.stop],
    )


def row_shape(job: JobRow | None) -> tuple[Any, ...]:
    assert job is not None
    return (job.job_id, job.state, job.reason, job.namespaces, job.exit_code)


async def test_a_batch_of_new_jobs_is_queued_in_order(store: Store) -> None:
    names = [f"n{i}" for i in range(2500)]  # more than one statement's worth of rows
    outcomes = await store.submit_many("sweep", [sub(name) for name in names], T0, EXPIRES)
    assert [outcome.job.job_id for outcome in outcomes] == [jid(name) for name in names]
    assert {(o.job.state, o.job.namespaces, o.job.queued_ms) for o in outcomes} == {(QUEUED, ("_",), T0)}
    assert all(
        [(t.job_id, t.state, t.attempt) for t in o.transitions] == [(o.job.job_id, QUEUED, 0)]
        for o in outcomes
    )
    assert await store.counts("sweep") == {"Queued": 2500}
    assert await store.get_definition(jid("n7")) == definition("n7")
    assert await store.get_job("sweep", jid("n7")) == outcomes[7].job
    claimed = await store.claim("sweep", "w1", 3, 0, T0 + LEASE, T0)
    assert [a.job_id for a in claimed] == [jid(name) for name in names[:3]]
    assert claimed[0].definition == definition("n0")


async def test_a_batch_answers_as_single_submits_would(store: Store) -> None:
    """Twin queues in the same state: one gets the batch, the other the same submits one at a time. All three
    queues share a trust domain, so a success kept on one is served on the others."""
    for queue in ("batch", "single"):
        await submit(store, "running", queue=queue, domain=SHARED)
        [running] = await store.claim(queue, "w1", 1, 0, T0 + LEASE, T0)
        assert running.job_id == jid("running")
        for name, reason in (("ok", SUCCESS), ("failed", ERROR)):
            if (
                await submit(store, name, queue=queue, domain=SHARED)
            ).job.state is QUEUED:  # else a success kept already
                await run(store, name, reason, queue=queue, domain=SHARED)
        await submit(store, "queued", queue=queue, domain=SHARED)
        await submit(store, "rival", queue=queue, namespace="tab", domain=SHARED)
    await submit(store, "cached", queue="elsewhere", domain=SHARED)
    await run(store, "cached", SUCCESS, queue="elsewhere", domain=SHARED)
    batch = [
        sub("new-1"),
        sub("queued"),
        sub("running", namespace="other"),
        sub("ok"),
        sub("failed"),
        sub("new-1"),  # a repeat within the batch
        sub("new-2", namespace="tab"),  # replaces the rival
        sub("cached"),  # a success kept from another queue of the domain
        sub("new-1", namespace="extra"),
        sub("gpu", gpus=1),
    ]
    at = T0 + 100
    together = await store.submit_many("batch", batch, at, EXPIRES, domain=SHARED)
    alone = [
        await store.submit("single", s.job_id, s.definition, s.namespace, at, EXPIRES, domain=SHARED)
        for s in batch
    ]
    assert [shape(o) for o in together] == [shape(o) for o in alone]
    assert together[0].job.state is QUEUED and together[7].job.state is FINISHED
    assert together[7].job.reason is FinishedReason.SUCCESS
    assert together[6].transitions[-1].job_id == jid("rival")
    for s in batch:
        assert row_shape(await store.get_job("batch", s.job_id)) == row_shape(
            await store.get_job("single", s.job_id)
        )
    assert await store.counts("batch") == await store.counts("single")


async def test_a_batch_is_not_served_successes_from_outside_its_trust_domain(store: Store) -> None:
    for name in ("plain", "named"):
        await submit(store, name, queue="stranger")
        await run(store, name, SUCCESS, queue="stranger")
    outcomes = await store.submit_many(
        "victim", [sub("plain"), sub("named", namespace="tab")], T0 + 9, EXPIRES
    )
    assert [o.job.state for o in outcomes] == [QUEUED, QUEUED]
    # A queue that trusts the stranger's domain is served its success, on the batch's fast path too.
    trusting = await store.submit_many(
        "friend", [sub("plain")], T0 + 9, EXPIRES, domain=own_domain("stranger")
    )
    assert (trusting[0].job.state, trusting[0].job.reason) == (FINISHED, SUCCESS)


async def test_a_repeat_within_a_batch_makes_one_job_and_one_event(store: Store) -> None:
    outcomes = await store.submit_many("sweep", [sub("a"), sub("b"), sub("a")], T0, EXPIRES)
    assert [o.job.job_id for o in outcomes] == [jid("a"), jid("b"), jid("a")]
    assert [len(o.transitions) for o in outcomes] == [1, 1, 0]
    assert outcomes[2].job.state is JobState.QUEUED
    assert await store.counts("sweep") == {"Queued": 2}


async def test_a_batch_of_jobs_the_queue_has_changes_nothing(store: Store) -> None:
    first = await store.submit_many("sweep", [sub("a"), sub("b")], T0, EXPIRES)
    again = await store.submit_many("sweep", [sub("b"), sub("a")], T0 + 5, EXPIRES)
    assert [o.job for o in again] == [first[1].job, first[0].job]
    assert [o.transitions for o in again] == [[], []]


async def test_an_empty_batch_is_answered_empty(store: Store) -> None:
    assert await store.submit_many("sweep", [], T0, EXPIRES) == []


async def test_a_batch_entry_with_webhooks_writes_its_deliveries_as_a_single_submit(store: Store) -> None:
    hooks = Hooks(
        Target("q-1", "https://hooks.example/x", "{}"),
        Target("f-1", "https://hooks.example/x", "{}"),
        "https://asman.example",
        DAY,
    )
    with_hooks = Submission(jid("hooked"), definition("hooked"), "_", hooks)
    outcomes = await store.submit_many("sweep", [sub("plain"), with_hooks], T0, EXPIRES)
    assert [o.job.state for o in outcomes] == [QUEUED, QUEUED]
    [delivery] = await store.claim_deliveries(T0, 10, T0 + LEASE)
    assert (delivery.id, delivery.job_id) == ("q-1", jid("hooked"))
    await run(store, "plain", queue="sweep")
    await run(store, "hooked", queue="sweep")
    [finished] = await store.claim_deliveries(T0 + 10, 10, T0 + 10 + LEASE)
    assert finished.job_id == jid("hooked") and finished.id != "q-1"
