"""The hub against late events: a submit's Queued event may reach the hub after the dispatcher claimed the job
(the two are published independently). A late event must not take the job away from its worker."""

from __future__ import annotations

from asman.core import protocol
from tests.support import events
from tests.support.fake_worker import FakeWorker
from tests.support.server import Served


async def test_a_late_queued_event_leaves_the_running_attempt_alone(served: Served) -> None:
    job_id = await served.submit("late", "y")
    worker = FakeWorker(served.url, "late", "w-late")
    await worker.connect()
    assigned = await worker.receive_type(protocol.ASSIGN)
    assert assigned["attempt"] == 1
    # The submit's own Queued event (attempt 0), arriving now.
    served.notifier.deliver(events.state("late", job_id, attempt=0, time=1))
    try:
        unexpected = await worker.receive(timeout=1)
        raise AssertionError(f"the worker was told something: {unexpected}")
    except TimeoutError:
        pass
    await worker.heartbeat([{"jobId": job_id, "attempt": 1}])
    await worker.finish(job_id, 1)
    state = await served.wait_finished("late", job_id)
    assert state["attempt"] == 1 and state["finishedReason"] == "Success"
    await worker.close()


async def test_a_current_queued_event_takes_the_job_back(served: Served) -> None:
    job_id = await served.submit("requeued", "y")
    worker = FakeWorker(served.url, "requeued", "w-requeued")
    await worker.connect()
    await worker.receive_type(protocol.ASSIGN)
    # Queued again after attempt 1 (its lease expired on another replica, say): the worker must let it go.
    served.notifier.deliver(events.state("requeued", job_id, attempt=1, time=2))
    rejected = await worker.receive_type(protocol.REJECTED, timeout=5)
    assert rejected["jobId"] == job_id and rejected["attempt"] == 1
    await worker.close()
