"""Server-Sent-Event streams served by a real uvicorn in the test's own event loop, so a test can reach into
the notifier: lose events on purpose, then check a `resync` brings every stream back to the truth."""

from __future__ import annotations

import asyncio
import re
import socket as sockets
from collections.abc import Callable
from typing import Any, cast

import httpx
import orjson
import pytest

from asman.client import AsyncClient
from asman.client._models import Finished, LogsWritten
from asman.client._sse import ServerSentEvent, SSEDecoder
from asman.core.events import Resync, StateChanged
from asman.server import sse
from tests.support.events import state
from tests.support.fake_worker import FakeWorker
from tests.support.server import Served, sse_events


class Stream:
    """An SSE client collecting (event, data) pairs in the background."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self.task = asyncio.create_task(self._read(url))

    async def _read(self, url: str) -> None:
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", url) as response,
        ):
            assert response.status_code == 200
            async for pair in sse_events(response):
                self.events.append(pair)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    async def wait_for(self, kind: str, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while kind not in self.kinds():
                assert not self.task.done() or self.task.exception() is None, self.task.exception()
                await asyncio.sleep(0.02)

    def close(self) -> None:
        self.task.cancel()


async def test_resync_after_lost_events_brings_streams_to_the_current_state(served: Served) -> None:
    job_id = await served.submit("lost", "echo lost")
    job_stream = Stream(f"{served.url}/q/lost/j/{job_id}/stream")
    queue_stream = Stream(f"{served.url}/q/lost/events")
    await job_stream.wait_for("state")
    await queue_stream.wait_for("hello")

    # The replica goes deaf, as when its LISTEN connection to PostgreSQL is down: the job runs unseen.
    notifier = served.notifier
    notifier.deliver = lambda event: None
    worker = FakeWorker(served.url, "lost", "w-lost")
    await worker.connect()
    await worker.receive_type("assign")
    await worker.log(job_id, 1, "a line nobody was told about")
    await worker.finish(job_id, 1)
    await served.wait_finished("lost", job_id)
    assert job_stream.kinds() == ["state"], "the lost events must really have been lost"

    del notifier.deliver
    notifier.deliver_everywhere(Resync())
    await job_stream.wait_for("final")
    await queue_stream.wait_for("resync")
    await asyncio.wait_for(job_stream.task, 5)  # a finished job's stream ends
    assert (
        "run-log",
        {"lines": [["a line nobody was told about", 0, False]], "cursor": 1},
    ) in job_stream.events
    states = [data["state"] for kind, data in job_stream.events if kind == "state"]
    assert states == ["Queued", "Finished"]
    assert job_stream.events[-1][1]["results"]["finishedReason"] == "Success"
    queue_stream.close()
    await worker.close()


async def test_a_stream_sends_each_log_line_once_across_a_resync(served: Served) -> None:
    job_id = await served.submit("once", "echo once")
    worker = FakeWorker(served.url, "once", "w-once")
    await worker.connect()
    await worker.receive_type("assign")
    await worker.log(job_id, 1, "first")
    stream = Stream(f"{served.url}/q/once/j/{job_id}/stream")
    await stream.wait_for("run-log")
    served.notifier.deliver_everywhere(Resync())
    await worker.log(job_id, 1, "second")
    await worker.finish(job_id, 1)
    await stream.wait_for("final")
    lines = [line[0] for kind, data in stream.events if kind == "run-log" for line in data["lines"]]
    assert lines == ["first", "second"]
    await worker.close()


async def test_watchers_are_counted_and_forgotten_when_they_leave(served: Served) -> None:
    streams = [Stream(f"{served.url}/q/count/events") for _ in range(5)]
    for stream in streams:
        await stream.wait_for("hello")
    assert await served.clients("count") == 5
    for stream in streams:
        stream.close()
    async with asyncio.timeout(10):
        while await served.clients("count") != 0:
            await asyncio.sleep(0.05)
    # Nothing of theirs stays subscribed: only the hub and the metrics listen now.
    assert not served.notifier._by_queue.get("count")


async def test_a_queue_stream_sees_only_its_own_queue(served: Served) -> None:
    mine = Stream(f"{served.url}/q/mine/events")
    await mine.wait_for("hello")
    await served.submit("other", "echo other")
    job_id = await served.submit("mine", "echo mine")
    await mine.wait_for("job")
    jobs = [data for kind, data in mine.events if kind == "job"]
    assert [(data["jobId"], data["queue"], data["state"]) for data in jobs] == [(job_id, "mine", "Queued")]
    mine.close()


async def test_stream_errors_are_the_documented_json_answers(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        unknown = await client.get(f"/q/errors/j/{'0' * 64}/stream")
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "not_found"
        bad_queue = await client.get("/q/bad%20queue/events")
        assert bad_queue.status_code == 400
        assert "queue" in bad_queue.json()["message"]


async def test_streams_carry_cors_headers(served: Served) -> None:
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=10) as client,
        client.stream("GET", "/q/cors/events", headers={"Origin": "https://elsewhere.example"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in response.headers


async def test_a_watcher_that_stops_reading_is_disconnected(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "STALLED_CLIENT_SECONDS", 1.0)
    job_id = await served.submit("stalled", "echo a lot")
    worker = FakeWorker(served.url, "stalled", "w-stalled")
    await worker.connect()
    await worker.receive_type("assign")
    # A client with a tiny receive buffer that reads the response head, then nothing more.
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", int(served.url.rsplit(":", 1)[1]), limit=1 << 16
    )
    stalled = writer.get_extra_info("socket")
    stalled.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    writer.write(f"GET /q/stalled/j/{job_id}/stream HTTP/1.1\r\nHost: asman\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    cast(asyncio.ReadTransport, writer.transport).pause_reading()
    async with asyncio.timeout(10):
        while await served.clients("stalled") != 1:
            await asyncio.sleep(0.05)
    # Megabytes of log lines, far more than the socket buffers between the two hold.
    line = "x" * 1000
    for batch in range(8):
        await worker.send(
            {
                "type": "log",
                "jobId": job_id,
                "attempt": 1,
                "step": "run",
                "logs": [[f"{batch}-{index} {line}", 0, False] for index in range(1000)],
            }
        )
    async with asyncio.timeout(20):
        while await served.clients("stalled") != 0:
            await asyncio.sleep(0.1)
    # Everyone else is still served.
    other = Stream(f"{served.url}/q/stalled/events")
    await other.wait_for("hello")
    other.close()
    writer.close()
    await worker.close()


class Resumable:
    """A job stream read event by event, keeping the id of the last one, as EventSource does."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.events: list[ServerSentEvent] = []

    async def read_until(self, done: Callable[[list[ServerSentEvent]], bool], timeout: float = 10) -> None:
        decoder = SSEDecoder()
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", self.url, headers=self.headers) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                if event is not None:
                    self.events.append(event)
                    if done(self.events):
                        return

    def run_lines(self) -> list[str]:
        return [
            line[0]
            for event in self.events
            if event.event == "run-log"
            for line in orjson.loads(event.data)["lines"]
        ]


def lines_seen(count: int) -> Callable[[list[ServerSentEvent]], bool]:
    return lambda events: (
        sum(len(orjson.loads(e.data)["lines"]) for e in events if e.event == "run-log") >= count
    )


@pytest.mark.parametrize("how", ["header", "query"])
async def test_a_reconnection_with_the_last_event_id_gets_only_the_missing_lines(
    served: Served, how: str
) -> None:
    job_id = await served.submit("resume", f"echo resume {how}")
    worker = FakeWorker(served.url, "resume", "w-resume")
    await worker.connect()
    await worker.receive_type("assign")
    for text in ("one", "two"):
        await worker.log(job_id, 1, text)
    url = f"{served.url}/q/resume/j/{job_id}/stream"
    first = Resumable(url)
    await first.read_until(lines_seen(2))
    assert first.run_lines() == ["one", "two"]
    assert all(event.id for event in first.events), "every event carries an id"
    last = first.events[-1].id

    for text in ("three", "four"):  # written while nobody watched
        await worker.log(job_id, 1, text)
    if how == "header":
        again = Resumable(url, {"Last-Event-ID": last})
    else:
        again = Resumable(f"{url}?lastEventId={last}")

    async def more_lines_then_finish() -> None:
        async with asyncio.timeout(10):
            while len(again.run_lines()) < 2:
                await asyncio.sleep(0.02)
        await worker.log(job_id, 1, "five")
        await worker.finish(job_id, 1)

    follower = asyncio.create_task(more_lines_then_finish())
    await again.read_until(lambda events: events[-1].event == "final")
    await follower
    assert again.run_lines() == ["three", "four", "five"], "exactly the missing lines, once, in order"
    assert again.events[0].event == "state"
    cursors = [orjson.loads(e.data)["cursor"] for e in again.events if e.event == "run-log"]
    assert cursors[-1] == 5

    # Resuming after the end sends no line again; an id that is not ours replays everything.
    after = Resumable(url, {"Last-Event-ID": again.events[-1].id})
    await after.read_until(lambda events: events[-1].event == "final")
    assert after.run_lines() == []
    stranger = Resumable(url, {"Last-Event-ID": "not-an-id"})
    await stranger.read_until(lambda events: events[-1].event == "final")
    assert stranger.run_lines() == ["one", "two", "three", "four", "five"]
    await worker.close()


class Recording(httpx.AsyncHTTPTransport):
    """A real transport that remembers the headers of each stream request."""

    def __init__(self) -> None:
        super().__init__()
        self.resumes: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            self.resumes.append(request.headers.get("last-event-id"))
        return await super().handle_async_request(request)


async def test_the_sdk_resumes_a_dropped_stream_from_its_last_event(served: Served) -> None:
    job_id = await served.submit("sdk-resume", "echo sdk")
    worker = FakeWorker(served.url, "sdk-resume", "w-sdk")
    await worker.connect()
    await worker.receive_type("assign")
    await worker.log(job_id, 1, "before")
    transport = Recording()
    lines: list[str] = []
    async with AsyncClient(served.url, transport=transport) as client:
        events = client.job("sdk-resume", job_id).events(timeout=20)
        async for event in events:
            if isinstance(event, LogsWritten):
                lines += [line.text for line in event.lines]
                if lines == ["before"]:
                    # The server drops the stream (as for a slow client); the job goes on meanwhile.
                    for callback in list(served.notifier._by_queue["sdk-resume"].values()):
                        if isinstance(getattr(callback, "__self__", None), sse.Subscription):
                            callback.__self__.end()
                    await worker.log(job_id, 1, "after")
                    await worker.finish(job_id, 1)
            if isinstance(event, Finished):
                break
    assert lines == ["before", "after"]
    assert transport.resumes[0] is None
    assert transport.resumes[1] == "1:0:1", "the reconnection says where the last one stopped"
    await worker.close()


class RawWatcher:
    """A queue stream read over a bare socket whose reading can be paused, so its buffers fill up."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received = b""

    @classmethod
    async def open(cls, served: Served, queue: str) -> RawWatcher:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", int(served.url.rsplit(":", 1)[1]), limit=1 << 16
        )
        writer.write(f"GET /q/{queue}/events HTTP/1.1\r\nHost: asman\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        watcher = cls(reader, writer)
        await watcher.read_until(lambda: b"event: hello" in watcher.received)
        return watcher

    def pause(self) -> None:
        cast(asyncio.ReadTransport, self.writer.transport).pause_reading()

    def resume(self) -> None:
        cast(asyncio.ReadTransport, self.writer.transport).resume_reading()

    async def read_until(self, done: Callable[[], bool], timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                chunk = await self.reader.read(1 << 16)
                assert chunk, "the server closed the stream"
                self.received += chunk

    def close(self) -> None:
        self.writer.close()


async def wait_for_clients(served: Served, queue: str, count: int, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while await served.clients(queue) != count:
            await asyncio.sleep(0.05)


def big_job(queue: str, index: int) -> StateChanged:
    """A state change of ~20 KB, so that a few hundred fill every buffer between a stalled client and us."""
    return state(queue, f"{index:05d}" + "x" * 20_000)


async def test_a_watcher_whose_socket_is_full_gets_every_event_once_in_order(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished: list[int] = []  # writes begun outside the watcher's task that its task had to finish
    finish = sse.EventStreamResponse.finish

    async def counted_finish(self: sse.EventStreamResponse) -> None:
        finished.append(1)
        await finish(self)

    monkeypatch.setattr(sse.EventStreamResponse, "finish", counted_finish)
    full, other = await RawWatcher.open(served, "full"), await RawWatcher.open(served, "full")
    await wait_for_clients(served, "full", 2)
    full.pause()
    count = 400
    for index in range(count):
        await served.notifier.publish(big_job("full", index))
        if index % 10 == 0:
            await asyncio.sleep(0)  # some events find the watcher idle, others busy finishing a write
    await other.read_until(lambda: other.received.count(b"event: job") == count)
    assert finished, "some write had to wait for the paused client"
    full.resume()
    await full.read_until(lambda: full.received.count(b"event: job") == count)
    order = [int(index) for index in re.findall(rb'"jobId":"(\d{5})x', full.received)]
    assert order == list(range(count))
    assert [int(i) for i in re.findall(rb'"jobId":"(\d{5})x', other.received)] == list(range(count))
    full.close()
    other.close()


async def test_a_watcher_that_stops_reading_a_queue_stream_is_disconnected(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "STALLED_CLIENT_SECONDS", 1.0)
    stalled = await RawWatcher.open(served, "stuck")
    await wait_for_clients(served, "stuck", 1)
    stalled.pause()
    for index in range(400):
        await served.notifier.publish(big_job("stuck", index))
        await asyncio.sleep(0)
    await wait_for_clients(served, "stuck", 0, timeout=20)
    assert not served.notifier._by_queue.get("stuck")
    stalled.close()


async def test_a_watcher_that_falls_too_far_behind_on_a_queue_stream_is_ended(served: Served) -> None:
    behind = await RawWatcher.open(served, "behind")
    await wait_for_clients(served, "behind", 1)
    behind.pause()
    for index in range(sse.BUFFER + 400):  # queued at once: the task never catches up
        await served.notifier.publish(big_job("behind", index))
    await wait_for_clients(served, "behind", 0)
    behind.close()


async def test_a_watcher_that_went_away_is_dropped_while_events_flow(served: Served) -> None:
    gone, staying = await RawWatcher.open(served, "gone"), await RawWatcher.open(served, "gone")
    await wait_for_clients(served, "gone", 2)
    gone.close()
    for index in range(50):
        await served.notifier.publish(state("gone", f"j{index}"))
        await asyncio.sleep(0.01)
    await wait_for_clients(served, "gone", 1)
    await staying.read_until(lambda: staying.received.count(b"event: job") == 50)
    assert len(served.notifier._by_queue["gone"]) == 1
    staying.close()
