"""The in-process notifier's listener sets and an SSE watcher's bounded subscription, without a server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import cast

import pytest
from starlette.types import Message

from asman.core.events import Event, Resync, StateChanged
from asman.events.local import LocalNotifier
from asman.server import sse
from asman.server.sse import BUFFER, Subscription
from tests.support.events import logs, state


async def test_listeners_of_a_queue_get_only_its_events_and_global_ones_get_all() -> None:
    notifier = LocalNotifier()
    everything: list[Event] = []
    only_a: list[Event] = []
    notifier.subscribe(everything.append)
    stop_a = notifier.subscribe(only_a.append, "a")
    one, two = state("a", "j1"), state("b", "j2")
    await notifier.publish(one)
    await notifier.publish(two)
    assert everything == [one, two] and only_a == [one]
    stop_a()
    await notifier.publish(one)
    assert only_a == [one]
    resync = Resync()
    notifier.subscribe(only_a.append, "a")
    notifier.deliver_everywhere(resync)
    assert everything[-1] is resync and only_a[-1] is resync


async def test_a_broken_listener_does_not_starve_the_others() -> None:
    notifier = LocalNotifier()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    notifier.subscribe(broken, "q")
    notifier.subscribe(seen.append, "q")
    await notifier.publish(state("q", "j"))
    assert len(seen) == 1


async def test_a_watcher_gets_events_in_order_and_keep_alive_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "KEEPALIVE_SECONDS", 0.05)
    notifier = LocalNotifier()
    subscription = Subscription(notifier, "q", lambda event: isinstance(event, StateChanged))
    events = [state("q", f"j{index}") for index in range(3)]
    for event in events:
        await notifier.publish(event)
    await notifier.publish(logs("q", "j0", []))  # not accepted
    assert [await subscription.next() for _ in range(3)] == events
    assert await asyncio.wait_for(subscription.next(), 1) is None  # nothing new: a keep-alive tick
    later = state("q", "j9")
    asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(notifier.publish(later)))
    assert await asyncio.wait_for(subscription.next(), 1) == later
    subscription.close()


async def test_a_watcher_that_falls_too_far_behind_is_ended() -> None:
    notifier = LocalNotifier()
    subscription = Subscription(notifier, "q", lambda event: True)
    for index in range(BUFFER + 1):
        await notifier.publish(state("q", f"j{index}"))
    with pytest.raises(EOFError):
        await subscription.next()
    subscription.close()
    assert not notifier._by_queue


def test_run_durations_ignore_a_late_event_of_an_earlier_attempt() -> None:
    from asman.server.app import _observe_durations

    observed: list[tuple[tuple[str, ...], float]] = []

    class Histograms:
        def observe(self, key: tuple[str, ...], seconds: float) -> None:
            observed.append((key, seconds))

    listener = _observe_durations(Histograms())  # type: ignore[arg-type]
    listener(state("q", "j", "Running", attempt=1, time=1_000))
    listener(state("q", "j", "Queued", attempt=0, time=900))  # the submit's, late
    listener(state("q", "j", "Finished", attempt=1, time=3_500))
    assert observed == [(("q",), 2.5)]
    # Queued again after attempt 1 (a lost worker): that run is not a duration to count.
    listener(state("q", "j", "Running", attempt=2, time=4_000))
    listener(state("q", "j", "Queued", attempt=2, time=5_000))
    listener(state("q", "j", "Finished", attempt=2, time=6_000))
    assert observed == [(("q",), 2.5)]


class Peer:
    """The ASGI side of one stream: records what is sent, fails a write when told, and disconnects."""

    def __init__(self, fail_at: int = 0) -> None:
        self.sent: list[bytes] = []
        self.fail_at = fail_at
        self.gone = asyncio.Event()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            if len(self.sent) + 1 == self.fail_at:
                raise OSError("connection reset")
            self.sent.append(cast(bytes, message["body"]))

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}


def job_id(event: Event | None) -> bytes:
    assert isinstance(event, StateChanged)
    return event.job_id.encode()


def queue_stream(notifier: LocalNotifier, resumed: list[int]) -> sse.EventStreamResponse:
    """A stream whose events are written as `<job>` from outside its task and as `[job]` by the task."""
    subscription = Subscription(notifier, "q", lambda event: True, direct=lambda e: b"<%s>" % job_id(e))

    async def body() -> AsyncGenerator[bytes]:
        yield b"hello"
        while True:
            resumed.append(1)
            try:
                event = await subscription.next()
            except EOFError:
                return
            yield b"tick" if event is None else b"[%s]" % job_id(event)

    return sse.EventStreamResponse(subscription, body())


async def test_queue_events_reach_an_idle_watcher_without_waking_its_task() -> None:
    notifier, peer, resumed = LocalNotifier(), Peer(), list[int]()
    response = queue_stream(notifier, resumed)
    served = asyncio.create_task(response({"type": "http"}, peer.receive, peer.send))
    while not resumed:
        await asyncio.sleep(0)
    for index in range(5):
        await notifier.publish(state("q", f"j{index}"))
        if index != 2:
            await asyncio.sleep(0)  # j2 and j3 are queued together: one write
    await asyncio.sleep(0)
    assert peer.sent == [b"hello", b"<j0>", b"<j1>", b"<j2><j3>", b"<j4>"]
    assert len(resumed) == 1, "the stream's task slept through every event"
    peer.gone.set()
    await asyncio.wait_for(served, 1)
    assert not notifier._by_queue


async def test_a_write_that_fails_outside_the_task_ends_the_stream_as_its_own_would() -> None:
    notifier, peer, resumed = LocalNotifier(), Peer(fail_at=3), list[int]()
    response = queue_stream(notifier, resumed)
    served = asyncio.create_task(response({"type": "http"}, peer.receive, peer.send))
    while not resumed:
        await asyncio.sleep(0)
    for index in range(3):
        await notifier.publish(state("q", f"j{index}"))
        await asyncio.sleep(0)
    await asyncio.wait_for(served, 1)  # the OSError is the client gone: the response just ends
    assert peer.sent == [b"hello", b"<j0>"]
    assert not notifier._by_queue
