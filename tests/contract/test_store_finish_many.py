"""`finish_many`, on SQLite and PostgreSQL: many attempts' outcomes in one transaction, each fenced, kept in its
trust domain and firing its callbacks as `finish` alone does, answered in order."""

from __future__ import annotations

import hashlib

import pytest

from asman.core.states import FinishedReason, IllegalTransition, JobState
from asman.core.webhooks import Hooks, Target
from asman.store import Store
from asman.store.base import Assignment, Report

T0 = 1_700_000_000_000
EXPIRES = T0 + 30 * 86_400_000
LEASE = 60_000
Q = "queue-a"
DOMAIN = "token:batch"
SUCCESS, ERROR = FinishedReason.SUCCESS, FinishedReason.ERROR


def jid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


async def running(store: Store, *names: str, hooked: str | None = None) -> dict[str, Assignment]:
    """Submit `names` (the `hooked` one with a finished callback) and claim them all."""
    for at, name in enumerate(names):
        hooks = Hooks(
            None, Target("f-1", "https://hooks.example/x", "{}"), "https://asman.example", 86_400_000
        )
        definition = {"image": "alpine:3.19", "command": f"echo {name}"}
        await store.submit(
            Q, jid(name), definition, "_", T0 + at, EXPIRES, hooks=hooks if name == hooked else None
        )
    claimed = await store.claim(Q, "w1", len(names), 0, T0 + LEASE, T0 + 10)
    by_id = {assignment.job_id: assignment for assignment in claimed}
    return {name: by_id[jid(name)] for name in names}


def report(
    name: str, assignment: Assignment, reason: FinishedReason = SUCCESS, token: str | None = None
) -> Report:
    result = {"StatusCode": 0 if reason is SUCCESS else 1, "reason": reason.value, "n": name}
    return Report(Q, jid(name), assignment.attempt, reason, result, DOMAIN, token or assignment.token)


async def test_each_report_is_fenced_kept_and_fires_its_callbacks(store: Store) -> None:
    jobs = await running(store, "a", "b", "c", "d", hooked="a")
    a, b, c, d = (jobs[name] for name in "abcd")
    changes = await store.finish_many(
        [
            report("a", a),
            report("b", b, token="guessed"),  # not its token: stays Running
            report("c", c, ERROR),
            Report(Q, jid("d"), d.attempt + 1, SUCCESS, {}, DOMAIN, d.token),  # not its attempt
        ],
        T0 + 20,
        EXPIRES,
    )
    assert [(change.job_id, change.reason) if change else None for change in changes] == [
        (jid("a"), SUCCESS),
        None,
        (jid("c"), ERROR),
        None,
    ]
    for name, state in (("a", JobState.FINISHED), ("b", JobState.RUNNING), ("c", JobState.FINISHED)):
        row = await store.get_job(Q, jid(name))
        assert row is not None and row.state is state
    assert await store.get_result(jid("a")) == {
        "StatusCode": 0,
        "reason": "Success",
        "n": "a",
        "queue": Q,
        "domain": DOMAIN,
    }
    assert await store.get_result(jid("b")) is None
    [fired] = await store.claim_deliveries(T0 + 30, 10, T0 + 30 + LEASE)
    assert (fired.id, fired.event, fired.reason) == ("f-1", "finished", "Success")
    # The fenced-out report changed nothing: its holder still finishes it.
    [later] = await store.finish_many([report("b", b)], T0 + 40, EXPIRES)
    assert later is not None and later.time_ms == T0 + 40


async def test_a_job_named_twice_is_finished_once_by_the_report_with_its_token(store: Store) -> None:
    jobs = await running(store, "a", "b")
    a, b = jobs["a"], jobs["b"]
    changes = await store.finish_many(
        [report("a", a, token="guessed"), report("b", b), report("a", a, ERROR), report("a", a)],
        T0 + 20,
        EXPIRES,
    )
    assert [(change.job_id, change.reason) if change else None for change in changes] == [
        None,
        (jid("b"), SUCCESS),
        (jid("a"), ERROR),
        None,
    ]
    result = await store.get_result(jid("a"))
    assert result is not None and result["reason"] == "Error"


async def test_a_report_no_worker_may_give_writes_nothing(store: Store) -> None:
    jobs = await running(store, "a", "b")
    with pytest.raises(IllegalTransition):
        await store.finish_many(
            [report("a", jobs["a"]), report("b", jobs["b"], FinishedReason.WORKER_LOST)], T0 + 20, EXPIRES
        )
    row = await store.get_job(Q, jid("a"))
    assert row is not None and row.state is JobState.RUNNING
    assert await store.finish_many([], T0 + 30, EXPIRES) == []
