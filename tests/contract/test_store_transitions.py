"""Every store agrees with `core.states.transition`: each verb, from each state a job can be in.

A job is put in a state through the store's own verbs, one verb is applied, and the job's state and reason
afterwards must be what `transition` says, or unchanged where it refuses the move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from asman.core.states import FinishedReason, IllegalTransition, JobState, Verb, transition
from asman.store import Store

T0 = 1_700_000_000_000
EXPIRES = T0 + 30 * 86_400_000
LEASE = 30_000
Q = "transitions"
NS = "tab-1"  # a non-default namespace, so a newer job can replace ours
JOB = hashlib.sha256(b"the job").hexdigest()
RIVAL = hashlib.sha256(b"a newer job").hexdigest()


def definition(name: str) -> dict[str, Any]:
    return {"image": "alpine:3.19", "command": f"echo {name}"}


async def _queued(store: Store) -> None:
    await store.submit(Q, JOB, definition("job"), NS, T0, EXPIRES)


async def _running(store: Store) -> None:
    await _queued(store)
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    assert assignment.job_id == JOB


def _finished(reason: FinishedReason) -> Callable[[Store], Awaitable[None]]:
    async def setup(store: Store) -> None:
        await _running(store)
        assert await store.finish(Q, JOB, 1, reason, {"reason": reason.value}, T0 + 2, EXPIRES) is not None

    return setup


async def _cancelled(store: Store) -> None:
    await _queued(store)
    assert await store.cancel(Q, JOB, NS, T0 + 2) is not None


async def _absent(store: Store) -> None:
    return None


STARTS: dict[str, tuple[Callable[[Store], Awaitable[None]], JobState | None, FinishedReason | None]] = {
    "absent": (_absent, None, None),
    "queued": (_queued, JobState.QUEUED, None),
    "running": (_running, JobState.RUNNING, None),
    "succeeded": (_finished(FinishedReason.SUCCESS), JobState.FINISHED, FinishedReason.SUCCESS),
    "failed": (_finished(FinishedReason.ERROR), JobState.FINISHED, FinishedReason.ERROR),
    "cancelled": (_cancelled, JobState.FINISHED, FinishedReason.CANCELLED),
}

NOW = T0 + LEASE + 10  # every lease of the setups has run out by now


async def _apply(store: Store, verb: str) -> None:
    row = await store.get_job(Q, JOB)
    attempt = row.attempt if row is not None else 1
    if verb == "submit":
        await store.submit(Q, JOB, definition("job"), NS, NOW, EXPIRES)
    elif verb == "claim":
        await store.claim(Q, "w2", 1, 0, NOW + LEASE, NOW)
    elif verb == "renew":
        await store.renew(Q, "w1", [(JOB, attempt)], NOW + LEASE)
    elif verb == "finish":
        await store.finish(Q, JOB, attempt, FinishedReason.SUCCESS, {"reason": "Success"}, NOW, EXPIRES)
    elif verb == "release":
        await store.release(Q, JOB, attempt, NOW)
    elif verb in ("expire", "expire-last"):
        await store.expire_leases(NOW, 3 if verb == "expire" else 1)
    elif verb == "cancel":
        await store.cancel(Q, JOB, NS, NOW)
    elif verb == "replace":
        await store.submit(Q, RIVAL, definition("rival"), NS, NOW, EXPIRES)
    elif verb == "delete":
        await store.delete(Q, JOB, NOW)
    else:
        raise AssertionError(verb)


def _expected(
    start: str, state: JobState | None, reason: FinishedReason | None, verb: str
) -> tuple[JobState | None, FinishedReason | None]:
    try:
        return transition(
            state,
            Verb.EXPIRE if verb.startswith("expire") else Verb(verb),
            reason=FinishedReason.SUCCESS,
            kept_success=start == "succeeded",
            budget_spent=verb == "expire-last",
        )
    except IllegalTransition:
        return (state, reason)  # refused: nothing changes


VERBS = [verb.value for verb in Verb if verb is not Verb.EXPIRE] + ["expire", "expire-last"]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("start", list(STARTS))
async def test_each_store_moves_as_the_transition_function_says(store: Store, start: str, verb: str) -> None:
    setup, state, reason = STARTS[start]
    await setup(store)
    row = await store.get_job(Q, JOB)
    assert ((row.state, row.reason) if row else (None, None)) == (state, reason), "the setup is off"
    await _apply(store, verb)
    row = await store.get_job(Q, JOB)
    assert ((row.state, row.reason) if row else (None, None)) == _expected(start, state, reason, verb)


async def test_namespaces_are_listed_in_the_order_they_were_added(store: Store) -> None:
    # Names whose order by time is not their order by name.
    for offset, namespace in enumerate(("zeta", "_", "alpha", "mid")):
        await store.submit(Q, JOB, definition("job"), namespace, T0 + offset, EXPIRES)
    row = await store.get_job(Q, JOB)
    assert row is not None and row.namespaces == ("zeta", "_", "alpha", "mid")
    [listed] = (await store.list_jobs(Q, 10, None, None)).jobs
    assert listed.namespaces == ("zeta", "_", "alpha", "mid")
    outcome = await store.submit(Q, JOB, definition("job"), "beta", T0 + 9, EXPIRES)
    assert outcome.job.namespaces == ("zeta", "_", "alpha", "mid", "beta")


@pytest.mark.parametrize("verb", ["renew", "finish", "release"])
async def test_a_wrong_token_moves_nothing_and_the_right_one_does(store: Store, verb: str) -> None:
    """An attempt is bound to its secret: a worker that knows only the (public) attempt number cannot renew,
    finish or release it; the one handed the assignment can."""
    await _queued(store)
    [assignment] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    assert len(assignment.token) >= 16
    for token in ("", "guessed", assignment.token[:-1]):
        if verb == "renew":
            assert await store.renew(Q, "thief", [(JOB, 1)], NOW + LEASE, [token]) == [(JOB, 1)]
        elif verb == "finish":
            assert (
                await store.finish(Q, JOB, 1, FinishedReason.SUCCESS, {}, NOW, EXPIRES, token=token) is None
            )
        else:
            assert await store.release(Q, JOB, 1, NOW, token) is None
        row = await store.get_job(Q, JOB)
        assert row is not None and (row.state, row.worker) == (JobState.RUNNING, "w1")
    if verb == "renew":
        assert await store.renew(Q, "w1-again", [(JOB, 1)], NOW + LEASE, [assignment.token]) == []
        expected: tuple[JobState, str | None] = (JobState.RUNNING, "w1-again")
    elif verb == "finish":
        assert await store.finish(Q, JOB, 1, FinishedReason.SUCCESS, {}, NOW, EXPIRES, token=assignment.token)
        expected = (JobState.FINISHED, "w1")
    else:
        assert await store.release(Q, JOB, 1, NOW, assignment.token)
        expected = (JobState.QUEUED, None)
    row = await store.get_job(Q, JOB)
    assert row is not None and (row.state, row.worker) == expected


async def test_each_attempt_gets_a_token_of_its_own(store: Store) -> None:
    await _queued(store)
    [first] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 1)
    assert await store.release(Q, JOB, 1, T0 + 2, first.token)
    [second] = await store.claim(Q, "w1", 1, 0, T0 + LEASE, T0 + 3)
    assert second.attempt == 2 and second.token != first.token
    assert (
        await store.finish(Q, JOB, 2, FinishedReason.SUCCESS, {}, T0 + 4, EXPIRES, token=first.token) is None
    )
