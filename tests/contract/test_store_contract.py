"""One contract for every queue store: the same tests against SQLite (the reference) and PostgreSQL.

Written from SPEC section 1 and SqliteStore's behaviour. Each test gets an empty store (a fresh SQLite file or
a fresh PostgreSQL database). Times are explicit milliseconds, so nothing here depends on the wall clock.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from asman.core.errors import BackendUnavailable
from asman.core.states import FinishedReason, JobState
from asman.core.trust import Trust
from asman.store import Store, open_store
from asman.store.base import LogBatch, LogCount, WorkerRow

T0 = 1_700_000_000_000
DAY = 86_400_000
EXPIRES = T0 + 30 * DAY
LEASE = 30_000
Q = "queue-a"
SHARED = "token:shared"  # a trust domain several queues share

QUEUED, RUNNING, FINISHED = JobState.QUEUED, JobState.RUNNING, JobState.FINISHED
SUCCESS, ERROR = FinishedReason.SUCCESS, FinishedReason.ERROR


async def append(
    store: Store, job: str, attempt: int, step: str, lines: list[list[Any]], expires: int = EXPIRES
) -> None:
    """Store lines after those the attempt's step holds, as the server does."""
    before = (await store.log_counts(Q, job, attempt)).get(step, LogCount())
    text = orjson.dumps(lines).decode()
    after = LogCount(before.next_seq + len(lines), before.lines + len(lines), before.bytes + len(text))
    assert await store.append_logs(LogBatch(Q, job, attempt, step, text, before, after, expires))


def jid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def definition(name: str, gpus: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"image": "alpine:3.19", "command": f"echo {name}"}
    if gpus is not None:
        data["requirements"] = {"gpus": gpus}
    return data


Submit = Callable[..., Any]


async def submit(
    store: Store,
    name: str,
    *,
    queue: str = Q,
    namespace: str = "_",
    at: int = T0,
    gpus: int | None = None,
    expires: int = EXPIRES,
    domain: str | None = None,
) -> Any:
    return await store.submit(queue, jid(name), definition(name, gpus), namespace, at, expires, domain=domain)


async def run(
    store: Store,
    name: str,
    reason: FinishedReason = SUCCESS,
    *,
    queue: str = Q,
    at: int = T0,
    domain: str | None = None,
    outputs: dict[str, Any] | None = None,
) -> int:
    """Claim the job (it must be the oldest queued) and finish it; returns the attempt."""
    [assignment] = await store.claim(queue, "w1", 1, 0, at + LEASE, at)
    assert assignment.job_id == jid(name)
    result = {
        "StatusCode": 0,
        "reason": reason.value,
        "attempt": assignment.attempt,
        "outputs": outputs or {},
    }
    finished = await store.finish(
        queue, jid(name), assignment.attempt, reason, result, at + 1, EXPIRES, domain=domain
    )
    assert finished is not None
    return assignment.attempt


# -- submit, dedupe and cache ---------------------------------------------------------------------------------


async def test_submit_queues_a_new_job(store: Store) -> None:
    outcome = await submit(store, "a")
    job = outcome.job
    assert (job.queue, job.job_id, job.state, job.reason, job.attempt, job.worker) == (
        Q,
        jid("a"),
        QUEUED,
        None,
        0,
        None,
    )
    assert (job.queued_ms, job.updated_ms, job.namespaces) == (T0, T0, ("_",))
    assert [(t.job_id, t.state, t.reason, t.attempt, t.time_ms) for t in outcome.transitions] == [
        (jid("a"), QUEUED, None, 0, T0)
    ]
    assert outcome.stop == []
    assert await store.get_definition(jid("a")) == definition("a")
    assert await store.get_result(jid("a")) is None
    fetched = await store.get_job(Q, jid("a"))
    assert fetched == job


async def test_unknown_job_reads_are_empty(store: Store) -> None:
    assert await store.get_job(Q, jid("nope")) is None
    assert await store.get_definition(jid("nope")) is None
    assert await store.get_result(jid("nope")) is None
    assert await store.cancel(Q, jid("nope"), "_", T0) is None
    assert await store.delete(Q, jid("nope"), T0) is None
    assert await store.release(Q, jid("nope"), 1, T0) is None
    assert await store.finish(Q, jid("nope"), 1, SUCCESS, {}, T0, EXPIRES) is None
    assert not await store.is_current(Q, jid("nope"), 1)
    assert await store.read_logs(jid("nope"), "run", 0) == ([], 0)
    assert await store.counts("empty") == {}
    assert await store.claim("empty", "w1", 4, 0, T0 + LEASE, T0) == []
    await store.ping()


async def test_resubmitting_a_queued_or_running_job_dedupes_and_adds_the_namespace(store: Store) -> None:
    await submit(store, "a")
    again = await submit(store, "a", at=T0 + 1)
    assert again.transitions == [] and again.stop == []
    assert again.job.state is QUEUED and again.job.namespaces == ("_",)
    other = await submit(store, "a", namespace="tab", at=T0 + 2)
    assert other.transitions == []
    assert other.job.namespaces == ("_", "tab")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 3)
    running = await submit(store, "a", namespace="third", at=T0 + 4)
    assert running.transitions == []
    assert running.job.state is RUNNING and running.job.attempt == assignment.attempt == 1
    assert running.job.namespaces == ("_", "tab", "third")
    assert await store.counts(Q) == {"Running": 1}


async def test_success_is_served_from_cache_without_rerun(store: Store) -> None:
    await submit(store, "a")
    await run(store, "a", SUCCESS, at=T0 + 10)
    assert (await store.get_result(jid("a")) or {})["StatusCode"] == 0
    again = await submit(store, "a", at=T0 + 100)
    assert again.transitions == []
    assert (again.job.state, again.job.reason, again.job.attempt) == (FINISHED, SUCCESS, 1)
    assert await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 101) == []
    # A queue of another trust domain (each queue is its own by default) runs the job itself.
    elsewhere = await submit(store, "a", queue="queue-b", at=T0 + 200)
    assert (elsewhere.job.state, elsewhere.job.attempt) == (QUEUED, 0)


async def test_within_a_trust_domain_a_success_is_served_to_every_queue(store: Store) -> None:
    await submit(store, "a", domain=SHARED)
    await run(store, "a", SUCCESS, at=T0 + 10, domain=SHARED)
    elsewhere = await submit(store, "a", queue="queue-b", at=T0 + 200, domain=SHARED)
    assert (elsewhere.job.state, elsewhere.job.reason, elsewhere.job.attempt) == (FINISHED, SUCCESS, 0)
    assert [(t.queue, t.state, t.reason) for t in elsewhere.transitions] == [("queue-b", FINISHED, SUCCESS)]
    assert await store.counts("queue-b") == {"Finished": 1}
    served = await store.get_result(jid("a"), Trust("queue-b", SHARED))
    assert served is not None and (served["queue"], served["domain"]) == (Q, SHARED)


@pytest.mark.parametrize(
    "reason",
    [ERROR, FinishedReason.TIMED_OUT, FinishedReason.CANCELLED],
)
async def test_a_failed_run_is_queued_again_on_resubmit(store: Store, reason: FinishedReason) -> None:
    await submit(store, "a")
    await run(store, "a", reason, at=T0 + 10)
    assert (await store.get_result(jid("a")) or {})["reason"] == reason.value
    again = await submit(store, "a", at=T0 + 100)
    assert [(t.state, t.reason, t.attempt, t.time_ms) for t in again.transitions] == [
        (QUEUED, None, 1, T0 + 100)
    ]
    assert (again.job.state, again.job.reason, again.job.worker, again.job.queued_ms) == (
        QUEUED,
        None,
        None,
        T0,
    )
    assert await store.get_result(jid("a")) is None  # the failed result is dropped
    [assignment] = await store.claim(Q, "w2", 1, 0, T0 + LEASE, T0 + 101)
    assert assignment.attempt == 2  # attempts keep counting across reruns: stale attempt 1 stays fenced off
    assert await store.finish(Q, jid("a"), 1, SUCCESS, {}, T0 + 102, EXPIRES) is None


async def test_cancelled_job_runs_again_on_resubmit(store: Store) -> None:
    await submit(store, "a")
    cancelled = await store.cancel(Q, jid("a"), "_", T0 + 1)
    assert cancelled is not None and cancelled.reason is FinishedReason.CANCELLED
    again = await submit(store, "a", at=T0 + 2)
    assert again.job.state is QUEUED and again.job.namespaces == ("_",)
    assert [t.state for t in again.transitions] == [QUEUED]


async def test_deleted_job_runs_again_on_resubmit(store: Store) -> None:
    await submit(store, "a")
    await run(store, "a", SUCCESS, at=T0 + 1)
    deleted = await store.delete(Q, jid("a"), T0 + 2)
    assert deleted is not None
    assert (deleted.state, deleted.reason, deleted.attempt, deleted.worker, deleted.time_ms) == (
        FINISHED,
        FinishedReason.DELETED,
        1,
        "w1",
        T0 + 2,
    )
    assert await store.get_result(jid("a")) is None
    row = await store.get_job(Q, jid("a"))
    assert row is not None and (row.state, row.reason, row.namespaces) == (
        FINISHED,
        FinishedReason.DELETED,
        (),
    )
    assert await store.counts(Q) == {"Finished": 1}
    again = await submit(store, "a", at=T0 + 3)
    assert [t.state for t in again.transitions] == [QUEUED]
    assert await store.counts(Q) == {"Queued": 1}


# -- namespaces -----------------------------------------------------------------------------------------------


async def test_cancel_removes_one_namespace_until_none_is_left(store: Store) -> None:
    await submit(store, "a", namespace="n1", at=T0)
    await submit(store, "a", namespace="n2", at=T0 + 1)
    assert await store.cancel(Q, jid("a"), "n1", T0 + 2) is None
    row = await store.get_job(Q, jid("a"))
    assert row is not None and row.state is QUEUED and row.namespaces == ("n2",)
    assert await store.cancel(Q, jid("a"), "not-there", T0 + 3) is None
    finished = await store.cancel(Q, jid("a"), "n2", T0 + 4)
    assert finished is not None
    assert (finished.state, finished.reason, finished.time_ms) == (FINISHED, FinishedReason.CANCELLED, T0 + 4)
    row = await store.get_job(Q, jid("a"))
    assert row is not None and (row.state, row.reason, row.namespaces) == (
        FINISHED,
        FinishedReason.CANCELLED,
        (),
    )
    assert await store.cancel(Q, jid("a"), "n2", T0 + 5) is None  # already finished
    assert await store.counts(Q) == {"Finished": 1}


async def test_cancel_all_namespaces_with_star(store: Store) -> None:
    await submit(store, "a", namespace="n1", at=T0)
    await submit(store, "a", namespace="n2", at=T0 + 1)
    await submit(store, "a", at=T0 + 2)
    finished = await store.cancel(Q, jid("a"), "*", T0 + 3)
    assert finished is not None and finished.reason is FinishedReason.CANCELLED


async def test_cancel_a_running_job_reports_its_attempt_and_worker(store: Store) -> None:
    await submit(store, "a")
    [assignment] = await store.claim(Q, "w7", 1, 0, T0 + LEASE, T0 + 1)
    finished = await store.cancel(Q, jid("a"), "_", T0 + 2)
    assert finished is not None
    assert (finished.attempt, finished.worker, finished.state) == (assignment.attempt, "w7", FINISHED)
    assert not await store.is_current(Q, jid("a"), assignment.attempt)
    # The worker's late report of the cancelled attempt is dropped.
    assert await store.finish(Q, jid("a"), assignment.attempt, SUCCESS, {}, T0 + 3, EXPIRES) is None
    assert await store.get_result(jid("a")) is None


async def test_newer_job_replaces_older_ones_in_a_non_default_namespace(store: Store) -> None:
    await submit(store, "other-tab", namespace="tab2", at=T0)
    await submit(store, "old", namespace="tab", at=T0 + 1)
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 2)
    assert assignment.job_id == jid("other-tab")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 3)
    assert assignment.job_id == jid("old")
    # A running job replaced: finished, and its worker must be told to stop it.
    outcome = await submit(store, "mid", namespace="tab", at=T0 + 4)
    assert [(t.job_id, t.state, t.reason) for t in outcome.transitions] == [
        (jid("mid"), QUEUED, None),
        (jid("old"), FINISHED, FinishedReason.JOB_REPLACED_BY_CLIENT),
    ]
    assert [(t.job_id, t.attempt, t.worker, t.time_ms) for t in outcome.stop] == [
        (jid("old"), 1, "w1", T0 + 4)
    ]
    assert not await store.is_current(Q, jid("old"), 1)
    # A queued job replaced: finished, nothing to stop.
    await submit(store, "shared", namespace="_", at=T0 + 5)
    outcome = await submit(store, "shared", namespace="tab", at=T0 + 6)
    assert [(t.job_id, t.reason) for t in outcome.transitions] == [
        (jid("mid"), FinishedReason.JOB_REPLACED_BY_CLIENT)
    ]
    assert outcome.stop == []
    assert outcome.job.namespaces == ("_", "tab")
    # A job also wanted in another namespace only loses this one.
    outcome = await submit(store, "new", namespace="tab", at=T0 + 7)
    assert [(t.job_id, t.state) for t in outcome.transitions] == [(jid("new"), QUEUED)]
    shared = await store.get_job(Q, jid("shared"))
    assert shared is not None and shared.state is QUEUED and shared.namespaces == ("_",)
    other = await store.get_job(Q, jid("other-tab"))
    assert other is not None and other.state is RUNNING and other.namespaces == ("tab2",)
    # Submitting the same job again in its namespace replaces nothing more.
    assert (await submit(store, "new", namespace="tab", at=T0 + 8)).transitions == []
    assert await store.counts(Q) == {"Finished": 2, "Queued": 2, "Running": 1}
    # Finished jobs are not replaced again; a cached Success in the namespace stays as it is.
    other_done = await store.finish(Q, jid("other-tab"), 1, SUCCESS, {}, T0 + 9, EXPIRES)
    assert other_done is not None
    assert [t.job_id for t in (await submit(store, "later", namespace="tab2", at=T0 + 10)).transitions] == [
        jid("later")
    ]


async def test_the_default_namespace_never_replaces(store: Store) -> None:
    await submit(store, "a")
    outcome = await submit(store, "b")
    assert [t.job_id for t in outcome.transitions] == [jid("b")]
    assert await store.counts(Q) == {"Queued": 2}


async def test_requeueing_a_failed_job_replaces_newer_ones_in_its_namespace(store: Store) -> None:
    await submit(store, "a", namespace="tab", at=T0)
    await run(store, "a", ERROR, at=T0 + 1)
    await submit(store, "b", namespace="tab", at=T0 + 2)
    outcome = await submit(store, "a", namespace="tab", at=T0 + 3)
    assert (jid("b"), FinishedReason.JOB_REPLACED_BY_CLIENT) in [
        (t.job_id, t.reason) for t in outcome.transitions
    ]


async def test_a_delete_drops_only_the_deleting_queues_interest_and_result(store: Store) -> None:
    # The attack of issue 17: submit a known job to your own queue and delete it there, to drop its result
    # everywhere. A queue of the same domain, and one of another, both keep theirs.
    await submit(store, "a", queue="q1", domain=SHARED)
    await run(store, "a", SUCCESS, queue="q1", at=T0 + 1, domain=SHARED)
    await submit(store, "a", queue="q2", at=T0 + 2, domain=SHARED)  # finished at once, from q1's result
    await submit(store, "a", queue="q3", at=T0 + 2)
    await run(store, "a", SUCCESS, queue="q3", at=T0 + 2)
    await store.delete("q2", jid("a"), T0 + 3)
    await submit(store, "a", queue="attacker", at=T0 + 4)
    await store.delete("attacker", jid("a"), T0 + 5)
    again = await submit(store, "a", queue="q1", at=T0 + 6, domain=SHARED)
    assert (again.job.state, again.job.reason, again.transitions) == (FINISHED, SUCCESS, [])
    assert (
        await store.submit(Q, jid("a"), definition("a"), "_", T0 + 6, EXPIRES, domain=SHARED)
    ).job.state is FINISHED
    assert (await submit(store, "a", queue="q3", at=T0 + 6)).job.state is FINISHED
    for queue, domain in (("q1", SHARED), ("q2", SHARED), ("q3", None)):
        assert await store.get_result(jid("a"), Trust.of(queue, domain)) is not None
    # The deleting queue itself runs the job again on its next submit.
    assert (await submit(store, "a", queue="q2", at=T0 + 7, domain=SHARED)).job.state is QUEUED


async def test_a_result_from_another_trust_domain_is_never_served(store: Store) -> None:
    # The other attack of issue 17: resubmit a known job to your own queue and answer it with your own worker.
    victim = Trust("victim", "token:victims")
    await submit(store, "a", queue="attacker", at=T0)
    await run(store, "a", SUCCESS, queue="attacker", at=T0 + 1, outputs={"out": {"value": "evil"}})
    outcome = await submit(store, "a", queue=victim.queue, at=T0 + 2, domain=victim.domain)
    assert outcome.job.state is QUEUED  # not the attacker's success
    assert await store.get_result(jid("a"), victim) is None
    await run(
        store,
        "a",
        SUCCESS,
        queue=victim.queue,
        at=T0 + 3,
        domain=victim.domain,
        outputs={"out": {"value": "good"}},
    )
    # A newer run on the attacker's queue changes nothing the victim sees.
    await store.delete("attacker", jid("a"), T0 + 4)
    await submit(store, "a", queue="attacker", at=T0 + 5)
    await run(store, "a", SUCCESS, queue="attacker", at=T0 + 6, outputs={"out": {"value": "evil"}})
    served = await store.get_result(jid("a"), victim)
    assert served is not None and served["outputs"] == {"out": {"value": "good"}}
    assert (served["queue"], served["domain"]) == ("victim", "token:victims")
    # The global lookup shows the newest, and says where it was made.
    newest = await store.get_result(jid("a"))
    assert newest is not None and (newest["queue"], newest["domain"]) == ("attacker", "queue:attacker")
    # A queue that is its own domain trusts its own results only.
    mine = await store.get_result(jid("a"), Trust.of("attacker"))
    assert mine is not None and mine["outputs"] == {"out": {"value": "evil"}}
    assert await store.get_result(jid("a"), Trust.of("bystander")) is None


# -- claims ---------------------------------------------------------------------------------------------------


async def test_claims_are_fifo_and_carry_the_definition(store: Store) -> None:
    for index, name in enumerate(["first", "second", "third"]):
        await submit(store, name, at=T0 + index)
    claimed = await store.claim(Q, "w1", 2, 0, T0 + LEASE, T0 + 10)
    assert [(a.job_id, a.attempt, a.queue, a.time_ms) for a in claimed] == [
        (jid("first"), 1, Q, T0 + 10),
        (jid("second"), 1, Q, T0 + 10),
    ]
    assert claimed[0].definition == definition("first")
    row = await store.get_job(Q, jid("first"))
    assert row is not None and (row.state, row.worker, row.attempt, row.updated_ms) == (
        RUNNING,
        "w1",
        1,
        T0 + 10,
    )
    assert await store.is_current(Q, jid("first"), 1)
    [last] = await store.claim(Q, "w2", 5, 0, T0 + LEASE, T0 + 11)
    assert last.job_id == jid("third")
    assert await store.claim(Q, "w2", 5, 0, T0 + LEASE, T0 + 12) == []
    assert await store.counts(Q) == {"Running": 3}
    assert await store.claim("queue-b", "w2", 5, 0, T0 + LEASE, T0 + 12) == []


async def test_claims_skip_jobs_that_need_more_gpus_than_the_worker_has(store: Store) -> None:
    await submit(store, "two-gpus", gpus=2, at=T0)
    await submit(store, "cpu-only", at=T0 + 1)
    await submit(store, "one-gpu", gpus=1, at=T0 + 2)
    assert [a.job_id for a in await store.claim(Q, "cpu", 5, 0, T0 + LEASE, T0 + 3)] == [jid("cpu-only")]
    assert [a.job_id for a in await store.claim(Q, "gpu1", 5, 1, T0 + LEASE, T0 + 4)] == [jid("one-gpu")]
    assert [a.job_id for a in await store.claim(Q, "gpu2", 5, 2, T0 + LEASE, T0 + 5)] == [jid("two-gpus")]


# -- attempts, fencing, leases --------------------------------------------------------------------------------


async def test_finish_is_fenced_by_attempt(store: Store) -> None:
    await submit(store, "a")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    assert await store.finish(Q, jid("a"), assignment.attempt + 1, SUCCESS, {}, T0 + 2, EXPIRES) is None
    done = await store.finish(
        Q, jid("a"), assignment.attempt, ERROR, {"error": "pull failed"}, T0 + 3, EXPIRES
    )
    assert done is not None
    assert (done.state, done.reason, done.attempt, done.worker, done.time_ms) == (
        FINISHED,
        ERROR,
        1,
        "w1",
        T0 + 3,
    )
    assert await store.get_result(jid("a")) == {"error": "pull failed", "queue": Q, "domain": "queue:" + Q}
    # A second report of the same attempt is stale too: the job is no longer Running.
    assert await store.finish(Q, jid("a"), assignment.attempt, SUCCESS, {}, T0 + 4, EXPIRES) is None
    assert await store.get_result(jid("a")) == {"error": "pull failed", "queue": Q, "domain": "queue:" + Q}


async def test_renew_extends_current_leases_and_reports_stale_ones(store: Store) -> None:
    await submit(store, "a", at=T0)
    await submit(store, "b", at=T0 + 1)
    claimed = await store.claim(Q, "w1", 2, 0, T0 + 1_000, T0 + 2)
    assert [a.attempt for a in claimed] == [1, 1]
    stale = await store.renew(Q, "w1", [(jid("a"), 1), (jid("b"), 7), (jid("zzz"), 1)], T0 + 10_000)
    assert stale == [(jid("b"), 7), (jid("zzz"), 1)]
    # a's lease now runs to T0 + 10 s; b's expired at T0 + 1 s.
    expired = await store.expire_leases(T0 + 5_000, 3)
    assert [(t.job_id, t.state, t.attempt, t.worker) for t in expired] == [(jid("b"), QUEUED, 1, None)]
    assert await store.renew(Q, "w1", [(jid("b"), 1)], T0 + 20_000) == [(jid("b"), 1)]
    assert await store.renew(Q, "w1", [], T0 + 20_000) == []
    # Renewing from a reconnected worker under another id moves the job to it.
    assert await store.renew(Q, "w1-again", [(jid("a"), 1)], T0 + 20_000) == []
    row = await store.get_job(Q, jid("a"))
    assert row is not None and row.worker == "w1-again"


async def test_expired_leases_requeue_until_the_retry_budget_is_spent(store: Store) -> None:
    await submit(store, "a")
    now = T0
    for attempt in (1, 2):
        [assignment] = await store.claim(Q, f"w{attempt}", 1, 0, now + 1_000, now)
        assert assignment.attempt == attempt
        assert await store.expire_leases(now + 999, 3) == []  # not yet
        [requeued] = await store.expire_leases(now + 1_001, 3)
        assert (requeued.state, requeued.reason, requeued.attempt, requeued.worker, requeued.time_ms) == (
            QUEUED,
            None,
            attempt,
            None,
            now + 1_001,
        )
        assert not await store.is_current(Q, jid("a"), attempt)
        # The lost worker's late result is dropped.
        assert await store.finish(Q, jid("a"), attempt, SUCCESS, {}, now + 1_002, EXPIRES) is None
        now += 10_000
    [assignment] = await store.claim(Q, "w3", 1, 0, now + 1_000, now)
    assert assignment.attempt == 3
    [lost] = await store.expire_leases(now + 1_001, 3)
    assert (lost.state, lost.reason, lost.attempt, lost.worker) == (
        FINISHED,
        FinishedReason.WORKER_LOST,
        3,
        "w3",
    )
    assert await store.expire_leases(now + 100_000, 3) == []
    assert await store.counts(Q) == {"Finished": 1}
    # WorkerLost is a failure: resubmitting runs it again with a fresh budget.
    again = await submit(store, "a", at=now + 2_000)
    assert [t.state for t in again.transitions] == [QUEUED]
    [assignment] = await store.claim(Q, "w4", 1, 0, now + 3_000, now + 2_001)
    assert assignment.attempt == 4
    [requeued] = await store.expire_leases(now + 3_001, 3)
    assert requeued.state is QUEUED


async def test_expire_leases_covers_every_queue(store: Store) -> None:
    await submit(store, "a", queue="q1")
    await submit(store, "b", queue="q2")
    await store.claim("q1", "w", 1, 0, T0 + 10, T0)
    await store.claim("q2", "w", 1, 0, T0 + 10, T0)
    expired = await store.expire_leases(T0 + 11, 1)  # a budget of 1: the first loss is final
    assert sorted((t.queue, t.state, t.reason) for t in expired) == [
        ("q1", FINISHED, FinishedReason.WORKER_LOST),
        ("q2", FINISHED, FinishedReason.WORKER_LOST),
    ]


async def test_release_hands_a_job_back_without_spending_budget(store: Store) -> None:
    await submit(store, "a")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    assert await store.release(Q, jid("a"), assignment.attempt + 1, T0 + 2) is None  # stale
    released = await store.release(Q, jid("a"), assignment.attempt, T0 + 3)
    assert released is not None
    assert (released.state, released.attempt, released.worker, released.time_ms) == (QUEUED, 1, None, T0 + 3)
    assert await store.release(Q, jid("a"), assignment.attempt, T0 + 4) is None  # no longer running
    [again] = await store.claim(Q, "w2", 1, 0, T0 + LEASE, T0 + 5)
    assert again.attempt == 2
    assert await store.counts(Q) == {"Running": 1}


# -- listings and counts --------------------------------------------------------------------------------------


async def test_list_is_newest_first_with_a_cursor_and_a_state_filter(store: Store) -> None:
    names = [f"job{index}" for index in range(5)]
    for index, name in enumerate(names):
        await submit(store, name, at=T0 + index, namespace="_")
    await submit(store, "job1", namespace="x", at=T0 + 10)
    await store.claim(Q, "w1", 2, 0, T0 + LEASE, T0 + 20)  # job0 and job1 run
    page = await store.list_jobs(Q, 2, None, None)
    assert [job.job_id for job in page.jobs] == [jid("job4"), jid("job3")]
    assert page.next_cursor is not None
    page2 = await store.list_jobs(Q, 2, page.next_cursor, None)
    assert [job.job_id for job in page2.jobs] == [jid("job2"), jid("job1")]
    assert sorted(page2.jobs[1].namespaces) == ["_", "x"]
    page3 = await store.list_jobs(Q, 2, page2.next_cursor, None)
    assert [job.job_id for job in page3.jobs] == [jid("job0")]
    assert page3.next_cursor is None
    exact = await store.list_jobs(Q, 5, None, None)
    assert len(exact.jobs) == 5 and exact.next_cursor is None
    running = await store.list_jobs(Q, 10, None, RUNNING)
    assert [job.job_id for job in running.jobs] == [jid("job1"), jid("job0")]
    assert all(job.state is RUNNING and job.worker == "w1" for job in running.jobs)
    queued = await store.list_jobs(Q, 1, None, QUEUED)
    assert [job.job_id for job in queued.jobs] == [jid("job4")]
    queued2 = await store.list_jobs(Q, 5, queued.next_cursor, QUEUED)
    assert [job.job_id for job in queued2.jobs] == [jid("job3"), jid("job2")]
    assert (await store.list_jobs("elsewhere", 10, None, None)).jobs == []


async def test_a_list_with_records_carries_definitions_and_results(store: Store) -> None:
    await submit(store, "done", at=T0)
    await run(store, "done", at=T0 + 1)
    await submit(store, "waiting", at=T0 + 2)
    plain = await store.list_jobs(Q, 10, None, None)
    assert [(job.definition, job.result) for job in plain.jobs] == [(None, None), (None, None)]
    page = await store.list_jobs(Q, 1, None, None, records_for=Trust.of(Q))
    [waiting] = page.jobs
    assert (waiting.job_id, waiting.definition, waiting.result) == (
        jid("waiting"),
        definition("waiting"),
        None,
    )
    [done] = (await store.list_jobs(Q, 1, page.next_cursor, None, records_for=Trust.of(Q))).jobs
    assert done.definition == definition("done")
    assert done.result is not None and done.result["StatusCode"] == 0
    assert done.namespaces == ("_",)
    # A reader outside the domain that made the result is not served it.
    [unseen] = (await store.list_jobs(Q, 1, page.next_cursor, None, records_for=Trust(Q, "stranger"))).jobs
    assert (unseen.definition, unseen.result) == (definition("done"), None)


async def test_counts_follow_every_transition(store: Store) -> None:
    for index in range(6):
        await submit(store, f"j{index}", at=T0 + index)
    assert await store.counts(Q) == {"Queued": 6}
    claimed = await store.claim(Q, "w1", 4, 0, T0 + 1_000, T0 + 10)
    assert await store.counts(Q) == {"Queued": 2, "Running": 4}
    await store.finish(Q, claimed[0].job_id, 1, SUCCESS, {}, T0 + 11, EXPIRES)
    await store.release(Q, claimed[1].job_id, 1, T0 + 12)
    await store.cancel(Q, jid("j5"), "_", T0 + 13)
    assert await store.counts(Q) == {"Queued": 2, "Running": 2, "Finished": 2}
    await store.expire_leases(T0 + 2_000, 3)
    assert await store.counts(Q) == {"Queued": 4, "Finished": 2}
    await store.delete(Q, claimed[0].job_id, T0 + 2_001)  # finished -> finished: no change
    await store.delete(Q, jid("j4"), T0 + 2_002)  # queued -> finished
    assert await store.counts(Q) == {"Queued": 3, "Finished": 3}
    # Many more changes (enough to make a store fold its counters) keep the totals right.
    for round_ in range(40):
        [assignment] = await store.claim(Q, "w1", 1, 0, T0 + 10_000, T0 + 3_000 + round_)
        await store.release(Q, assignment.job_id, assignment.attempt, T0 + 3_000 + round_)
        assert await store.counts(Q) == {"Queued": 3, "Finished": 3}
    assert await store.counts("other") == {}


# -- logs -----------------------------------------------------------------------------------------------------


async def test_logs_read_since_a_cursor_for_the_latest_attempt(store: Store) -> None:
    job = jid("a")
    await append(store, job, 1, "run", [["one", 1, False], ["two", 2, True]])
    await append(store, job, 1, "run", [["three", 3, False]])
    await append(store, job, 1, "build", [["step 1", 1, False]])
    assert await store.read_logs(job, "run", 0) == (
        [["one", 1, False], ["two", 2, True], ["three", 3, False]],
        3,
    )
    assert await store.read_logs(job, "run", 2) == ([["three", 3, False]], 3)
    assert await store.read_logs(job, "run", 3) == ([], 3)
    assert await store.read_logs(job, "run", 10) == ([], 3)
    assert await store.read_logs(job, "build", 0) == ([["step 1", 1, False]], 1)
    # A new attempt starts a fresh log; the older attempt's lines are no longer shown.
    await append(store, job, 2, "run", [["retry", 9, False]])
    assert await store.read_logs(job, "run", 0) == ([["retry", 9, False]], 1)
    assert await store.read_logs(job, "build", 0) == ([["step 1", 1, False]], 1)
    unicode = [["héllo ✓ \u0000-free", 10, False]]
    await append(store, jid("u"), 1, "run", unicode)
    assert await store.read_logs(jid("u"), "run", 0) == (unicode, 1)


async def test_logged_attempts_name_each_jobs_latest_attempt_with_lines_of_a_step(store: Store) -> None:
    assert await store.logged_attempts(Q, [], "run") == {}
    await append(store, jid("a"), 1, "run", [["one", 1, False]])
    await append(store, jid("a"), 2, "run", [["two", 2, False]])
    await append(store, jid("b"), 1, "build", [["step", 1, False]])
    ids = [jid("a"), jid("b"), jid("none")]
    assert await store.logged_attempts(Q, ids, "run") == {jid("a"): 2}
    assert await store.logged_attempts(Q, ids, "build") == {jid("b"): 1}
    assert await store.logged_attempts("elsewhere", ids, "run") == {}


async def test_delete_drops_the_queues_result(store: Store) -> None:
    await submit(store, "a")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    await append(store, jid("a"), assignment.attempt, "run", [["x", 1, False]])
    # The same job run in another queue keeps a log of its own.
    text = orjson.dumps([["y", 1, False]]).decode()
    theirs = LogBatch("other", jid("a"), 1, "run", text, LogCount(), LogCount(1, 1, len(text)), EXPIRES)
    assert await store.append_logs(theirs)
    deleted = await store.delete(Q, jid("a"), T0 + 2)
    assert deleted is not None and (deleted.attempt, deleted.worker) == (1, "w1")
    # Logs are kept per queue: the deleting queue's go, another queue's stay.
    assert await store.read_logs(jid("a"), "run", 0, queue=Q) == ([], 0)
    assert await store.read_logs(jid("a"), "run", 0, queue="other") == ([["y", 1, False]], 1)
    assert await store.log_counts(Q, jid("a"), 1) == {}
    assert await store.get_result(jid("a")) is None
    assert await store.get_definition(jid("a")) == definition("a")
    assert not await store.is_current(Q, jid("a"), 1)
    assert await store.counts(Q) == {"Finished": 1}


async def test_the_exit_code_is_kept_with_the_row_and_travels_with_a_cached_result(store: Store) -> None:
    await submit(store, "code")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0)
    result = {"reason": "Success", "StatusCode": 3}
    finished = await store.finish(Q, jid("code"), assignment.attempt, SUCCESS, result, T0 + 1, EXPIRES)
    assert finished is not None and finished.exit_code == 3
    row = await store.get_job(Q, jid("code"))
    assert row is not None and row.exit_code == 3 and row.summary()["exitCode"] == 3
    assert [job.exit_code for job in (await store.list_jobs(Q, 10, None, None)).jobs] == [3]
    # The same job in another queue of its trust domain is a cached success, exit code included.
    elsewhere = await submit(store, "code", queue="elsewhere", at=T0 + 2, domain="queue:" + Q)
    assert elsewhere.job.state is FINISHED and elsewhere.job.exit_code == 3
    assert elsewhere.transitions[0].exit_code == 3


async def test_no_exit_code_without_one_and_none_once_queued_again(store: Store) -> None:
    await submit(store, "broken")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0)
    error = {"reason": "Error", "error": "no such image"}
    finished = await store.finish(Q, jid("broken"), assignment.attempt, ERROR, error, T0 + 1, EXPIRES)
    assert finished is not None and finished.exit_code is None
    row = await store.get_job(Q, jid("broken"))
    assert row is not None and "exitCode" not in row.summary()
    await submit(store, "failing")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 2)
    await store.finish(Q, jid("failing"), assignment.attempt, ERROR, {"StatusCode": 2}, T0 + 3, EXPIRES)
    again = await submit(store, "failing", at=T0 + 4)
    assert again.job.state is QUEUED and again.job.exit_code is None


# -- workers --------------------------------------------------------------------------------------------------


async def test_workers_are_upserted_listed_and_removed(store: Store) -> None:
    row = WorkerRow(Q, "w-b", "replica-1", {"slots": 2, "gpus": 0}, T0)
    await store.upsert_worker(row)
    await store.upsert_worker(WorkerRow(Q, "w-a", "replica-2", {"slots": 1}, T0 + 5))
    await store.upsert_worker(WorkerRow("other", "w-c", "replica-1", {}, T0 + 5))
    listed = await store.list_workers(Q, T0)
    assert [(w.worker_id, w.replica, w.info, w.seen_ms) for w in listed] == [
        ("w-a", "replica-2", {"slots": 1}, T0 + 5),
        ("w-b", "replica-1", {"slots": 2, "gpus": 0}, T0),
    ]
    assert [w.worker_id for w in await store.list_workers(Q, T0 + 1)] == ["w-a"]
    await store.upsert_worker(WorkerRow(Q, "w-b", "replica-1", {"slots": 3}, T0 + 10))
    assert [(w.worker_id, w.info, w.seen_ms) for w in await store.list_workers(Q, T0 + 6)] == [
        ("w-b", {"slots": 3}, T0 + 10)
    ]
    # The same worker id on two replicas (a reconnect that landed elsewhere) is two rows.
    await store.upsert_worker(WorkerRow(Q, "w-b", "replica-2", {"slots": 3}, T0 + 11))
    assert len(await store.list_workers(Q, T0)) == 3
    # Distinct workers per queue, for the composer's queue picker.
    assert await store.served_queues(T0) == {Q: 2, "other": 1}
    assert await store.served_queues(T0 + 6) == {Q: 1}
    await store.remove_worker(Q, "w-b", "replica-1")
    assert [(w.worker_id, w.replica) for w in await store.list_workers(Q, T0)] == [
        ("w-a", "replica-2"),
        ("w-b", "replica-2"),
    ]
    await store.remove_worker(Q, "never", "replica-1")


# -- expiry ---------------------------------------------------------------------------------------------------


async def test_sweep_deletes_what_expired_and_keeps_the_rest(store: Store) -> None:
    await submit(store, "old", expires=T0 + DAY)
    await submit(store, "young", expires=T0 + 3 * DAY)
    await run(store, "old", SUCCESS, at=T0 + 1)  # its result expires with EXPIRES (30 days)
    await append(store, jid("old"), 1, "run", [["x", 1, False]], T0 + DAY)
    await store.upsert_worker(WorkerRow(Q, "stale", "r", {}, T0))
    await store.upsert_worker(WorkerRow(Q, "fresh", "r", {}, T0 + 2 * DAY))
    assert await store.sweep(T0 + DAY // 2) == 0
    removed = await store.sweep(T0 + 2 * DAY)
    # old's namespace, queue row, definition, logs and their counts; its result lives on until its own expiry.
    assert removed == 5
    assert await store.log_counts(Q, jid("old"), 1) == {}
    assert await store.get_job(Q, jid("old")) is None
    assert await store.get_definition(jid("old")) is None
    assert await store.read_logs(jid("old"), "run", 0) == ([], 0)
    assert await store.get_result(jid("old")) is not None
    assert await store.get_job(Q, jid("young")) is not None
    assert await store.counts(Q) == {"Queued": 1}
    assert [w.worker_id for w in await store.list_workers(Q, 0)] == ["fresh"]
    assert (await store.list_jobs(Q, 10, None, None)).jobs[0].job_id == jid("young")
    # The cached result is still served: the job comes back finished.
    again = await submit(store, "old", at=T0 + 2 * DAY)
    assert (again.job.state, again.job.reason) == (FINISHED, SUCCESS)
    assert await store.sweep(EXPIRES + 1) >= 1
    assert await store.get_result(jid("old")) is None
    assert await store.counts(Q) == {}


async def test_resubmit_extends_expiry(store: Store) -> None:
    await submit(store, "a", expires=T0 + DAY)
    await store.cancel(Q, jid("a"), "_", T0 + 1)
    await submit(store, "a", at=T0 + 2, expires=T0 + 5 * DAY)  # a rerun: expiry pushed out
    await store.sweep(T0 + 2 * DAY)
    assert await store.get_job(Q, jid("a")) is not None
    assert await store.get_definition(jid("a")) is not None


# -- several replicas on one database -------------------------------------------------------------------------


@pytest.fixture
async def two_stores(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first, second = open_store(store_url), open_store(store_url)
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_concurrent_claims_from_two_replicas_hand_out_each_job_once(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    jobs = 40
    for index in range(jobs):
        await submit(first, f"job{index}", at=T0 + index)

    async def worker(store: Store, name: str) -> list[str]:
        got: list[str] = []
        for _ in range(jobs):
            claimed = await store.claim(Q, name, 2, 0, T0 + LEASE, T0 + 100)
            got.extend(a.job_id for a in claimed)
            if not claimed:
                break
        return got

    results = await asyncio.gather(*(worker(store, f"w{i}") for i, store in enumerate([first, second] * 3)))
    claimed = [job for got in results for job in got]
    assert len(claimed) == jobs
    assert set(claimed) == {jid(f"job{index}") for index in range(jobs)}
    assert await first.counts(Q) == {"Running": jobs}


async def test_concurrent_submits_of_one_job_make_one_row(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    outcomes = await asyncio.gather(
        *(submit(store, "same", namespace=f"ns{i}", at=T0 + i) for i, store in enumerate([first, second] * 4))
    )
    queued = [t for outcome in outcomes for t in outcome.transitions if t.state is QUEUED]
    assert len(queued) == 1
    row = await first.get_job(Q, jid("same"))
    assert row is not None and sorted(row.namespaces) == [f"ns{i}" for i in range(8)]
    assert await second.counts(Q) == {"Queued": 1}


async def test_concurrent_lease_expiry_requeues_each_lease_once(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    for index in range(10):
        await submit(first, f"job{index}", at=T0 + index)
    await first.claim(Q, "w", 10, 0, T0 + 10, T0)
    results = await asyncio.gather(*(store.expire_leases(T0 + 11, 3) for store in [first, second] * 3))
    assert sorted(t.job_id for batch in results for t in batch) == sorted(jid(f"job{i}") for i in range(10))
    assert await first.counts(Q) == {"Queued": 10}


# -- PostgreSQL specifics -------------------------------------------------------------------------------------


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    stores = [open_store(postgres_url) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        outcome = await submit(stores[0], "a")
        assert outcome.job.state is QUEUED
        assert (await stores[3].get_job(Q, jid("a"))) is not None
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_unreachable_postgres_is_backend_unavailable(postgres_url: str) -> None:
    from tests.support.server import free_port

    store = open_store(f"postgresql://asman:secret@127.0.0.1:{free_port()}/nowhere")
    with pytest.raises(BackendUnavailable) as raised:
        await store.open()
    assert "Check" in raised.value.message and "ASMAN_DATABASE_URL" in raised.value.message
    assert "secret" not in raised.value.message
    missing = open_store(postgres_url.rsplit("/", 1)[0] + "/no_such_database")
    with pytest.raises(BackendUnavailable):
        await missing.open()
    closed = open_store(postgres_url)
    with pytest.raises(BackendUnavailable):
        await closed.ping()  # never opened


async def test_postgres_recovers_after_its_connections_are_cut(postgres_url: str) -> None:
    import asyncpg

    store = open_store(postgres_url)
    await store.open()
    try:
        await submit(store, "a")
        await asyncio.gather(*(store.get_job(Q, jid("a")) for _ in range(6)))  # several pooled connections
        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        # Nothing ran on the dead connections yet, so the store retries on fresh ones: no error at all.
        for _ in range(3):
            row = await store.get_job(Q, jid("a"))
            assert row is not None and row.state is QUEUED
        assert (await submit(store, "b")).job.state is QUEUED
        assert (await store.get_job(Q, jid("a"))) is not None
    finally:
        await store.close()


# -- schema upgrades ------------------------------------------------------------------------------------------


async def _execute(store_url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Plain SQL on the store's database, as an older version of Asman would have written it."""
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            for sql, args in statements:
                conn.execute(sql, args)
        return
    import asyncpg

    conn = await asyncpg.connect(store_url)
    try:
        for sql, args in statements:
            numbered = sql
            for index in range(1, len(args) + 1):
                numbered = numbered.replace("?", f"${index}", 1)
            await conn.execute(numbered, *args)
    finally:
        await conn.close()


async def test_a_store_made_by_an_older_version_is_upgraded_in_place(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asman.store import migrate

    dialect = "sqlite" if store_url.startswith("sqlite") else "postgres"
    every = migrate.migrations(dialect)
    assert len(every) > 1, "this test needs a later migration to upgrade to"
    monkeypatch.setattr(migrate, "migrations", lambda _dialect: every[:1])
    old = open_store(store_url)
    await old.open()  # the schema of version 1
    await old.close()
    kept, cached, made_here = jid("kept"), jid("cached"), jid("made here")
    await _execute(
        store_url,
        [
            (
                "INSERT INTO jobs (id, definition, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
                (job, "{}", T0, EXPIRES),
            )
            for job in (kept, cached, made_here)
        ]
        + [
            (
                "INSERT INTO queue_jobs (queue, job_id, state, reason, gpus, queued_ms, updated_ms, expires_ms,"
                " attempt) VALUES (?, ?, ?, ?, 0, ?, ?, ?, 1)",  # queued again after its first attempt
                (Q, kept, "Queued", None, T0, T0, EXPIRES),
            ),
            (
                "INSERT INTO results (job_id, reason, result, finished_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                (cached, "Success", '{"reason":"Success","StatusCode":0}', T0, EXPIRES),
            ),
            (
                "INSERT INTO results (job_id, reason, result, finished_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                (made_here, "Success", f'{{"reason":"Success","StatusCode":0,"queue":"{Q}"}}', T0, EXPIRES),
            ),
            (
                "INSERT INTO workers (queue, worker_id, replica, info, running, seen_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (Q, "old-worker", "r", "{}", "[]", T0),
            ),
            (
                "INSERT INTO logs (job_id, attempt, step, lines, expires_ms) VALUES (?, ?, ?, ?, ?)",
                (kept, 1, "run", '[["an old line", 1, false]]', EXPIRES),
            ),
        ],
    )

    monkeypatch.undo()
    upgraded = open_store(store_url)
    await upgraded.open()
    try:
        row = await upgraded.get_job(Q, kept)
        assert row is not None and row.state is QUEUED and row.exit_code is None
        # Results kept before trust domains were still read. One that names the queue it was made on is a
        # cached success there (without an exit code, kept before exit codes were), and only there.
        outcome = await submit(upgraded, "made here", queue=Q)
        assert (
            outcome.job.state is FINISHED and outcome.job.reason is SUCCESS and outcome.job.exit_code is None
        )
        served = await upgraded.get_result(made_here, Trust.of(Q))
        assert served is not None and (served["StatusCode"], served["queue"], served["domain"]) == (0, Q, "")
        assert (await submit(upgraded, "made here", queue="another")).job.state is QUEUED
        # One that does not say where it was made is trusted by no queue, and still shows in the global lookup.
        assert (await submit(upgraded, "cached", queue="another")).job.state is QUEUED
        assert await upgraded.get_result(cached, Trust.of("another")) is None
        assert (await upgraded.get_result(cached) or {}).get("StatusCode") == 0
        # Run-log lines stored before lines kept their newline get it back; new lines are kept as written.
        await append(upgraded, kept, 1, "run", [["partial", 2, False]])
        assert await upgraded.read_logs(kept, "run", 0) == (
            [["an old line\n", 1, False], ["partial", 2, False]],
            2,
        )
        await upgraded.upsert_worker(WorkerRow(Q, "w", "r", {"slots": 1}, T0))
        assert [w.worker_id for w in await upgraded.list_workers(Q, T0)] == ["old-worker", "w"]
    finally:
        await upgraded.close()
    reopened = open_store(store_url)
    await reopened.open()  # every migration applied once: opening again changes nothing
    await reopened.close()


async def test_log_counts_are_kept_and_a_raced_batch_stores_nothing(store: Store) -> None:
    job = jid("counted")
    await append(store, job, 1, "run", [["one", 1, False], ["two", 2, True]])
    await append(store, job, 1, "build", [["b", 1, False]])
    counts = await store.log_counts(Q, job, 1)
    assert counts["run"] == LogCount(2, 2, len(orjson.dumps([["one", 1, False], ["two", 2, True]])))
    assert counts["build"].lines == 1 and await store.log_counts(Q, job, 2) == {}
    assert await store.log_counts("another-queue", job, 1) == {}
    # A batch written from counts that have moved on (another connection wrote meanwhile) changes nothing.
    stale = LogBatch(Q, job, 1, "run", '[["again",3,false]]', LogCount(), LogCount(1, 1, 19), EXPIRES)
    assert await store.append_logs(stale) is False
    assert await store.read_logs(job, "run", 0) == ([["one", 1, False], ["two", 2, True]], 2)
    assert (await store.log_counts(Q, job, 1))["run"] == counts["run"]
    # The same job's attempt 1 in another queue is another log.
    other = LogBatch(
        "another-queue", job, 1, "run", '[["there",1,false]]', LogCount(), LogCount(1, 1, 19), EXPIRES
    )
    assert await store.append_logs(other)
    assert await store.read_logs(job, "run", 0, queue="another-queue") == ([["there", 1, False]], 1)
    assert await store.read_logs(job, "run", 0, queue=Q) == ([["one", 1, False], ["two", 2, True]], 2)


async def test_logs_are_read_a_page_at_a_time(store: Store) -> None:
    job = jid("long")
    for batch in range(30):
        await append(store, job, 1, "run", [[f"{batch}-{n}\n", n, False] for n in range(100)])
    page, total = await store.read_logs(job, "run", 150, 250)
    assert total == 3000 and len(page) == 250
    assert page[0][0] == "1-50\n" and page[-1][0] == "3-99\n"
    page, _ = await store.read_logs(job, "run", 2990, 250)
    assert [line[0] for line in page] == [f"29-{n}\n" for n in range(90, 100)]


async def test_one_output_and_the_reason_are_read_without_the_whole_result(store: Store) -> None:
    await submit(store, "outs")
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    outputs = {"a.txt": {"type": "utf8", "value": "A"}, 'we"ird/na.me': {"type": "utf8", "value": "W"}}
    result = {"reason": "Success", "StatusCode": 0, "outputs": outputs}
    await store.finish(Q, jid("outs"), assignment.attempt, SUCCESS, result, T0 + 2, EXPIRES)
    here = Trust.of(Q)
    assert await store.result_reason(jid("outs"), here) == "Success"
    assert await store.result_output(jid("outs"), "a.txt", here) == outputs["a.txt"]
    assert await store.result_output(jid("outs"), 'we"ird/na.me', here) == outputs['we"ird/na.me']
    assert await store.result_output(jid("outs"), "missing", here) is None
    assert await store.result_reason(jid("nope"), here) is None
    assert await store.result_output(jid("nope"), "a.txt", here) is None
    # A queue outside the domain that made the result is served neither.
    stranger = Trust("elsewhere", "another-domain")
    assert await store.result_reason(jid("outs"), stranger) is None
    assert await store.result_output(jid("outs"), "a.txt", stranger) is None


async def test_postgres_plain_submit_and_claim_are_one_statement_each(postgres_url: str) -> None:
    # Each is a single statement, atomic by itself: BEGIN and COMMIT around it would be two more round trips.
    store = open_store(f"{postgres_url}?pool_size=1")
    await store.open()
    sent: list[str] = []
    try:
        async with store._pool.acquire() as conn:  # type: ignore[attr-defined]  # the pool's one connection
            conn.add_query_logger(
                lambda logged: sent.append(logged.query.split(None, 1)[0].upper().rstrip(";"))
            )
        await submit(store, "one")
        assert sent == ["WITH"]
        sent.clear()
        [assignment] = await store.claim(Q, "w1", 4, 0, T0 + LEASE, T0)
        assert sent == ["WITH"] and assignment.job_id == jid("one")
        sent.clear()
        # A program that goes on past its first statement still runs in one transaction.
        await submit(store, "one", namespace="tab", at=T0 + 1)
        assert sent[0] == "BEGIN" and sent[-1] == "COMMIT", sent
    finally:
        await store.close()
