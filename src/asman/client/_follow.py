"""Following a job's live events, with no I/O: every decision `Job.events` and `AsyncJob.events` share.

The events ride the job's Server-Sent Events stream (`GET /q/<queue>/j/<id>/stream`), not polling. A dropped
connection is reopened with the id of the last event (`Last-Event-ID`), so the server sends only the lines
missed meanwhile; `Watch` still drops any line already seen (a server that replays everything). `Follow` says
how long a read may block, when to reopen the stream, and how long to pause after a drop, until the
reconnection budget is spent. The callers only open, read and sleep."""

from __future__ import annotations

import json
import time

from asman.client._base import Retry, unreachable
from asman.client._jobs import JobBase
from asman.client._models import (
    Finished,
    JobEvent,
    JobResult,
    JobStatus,
    LogsWritten,
    StateChanged,
    Step,
    log_lines,
)
from asman.client._sse import ServerSentEvent, SSEDecoder
from asman.client.errors import WaitTimeout

# The server sends a keep-alive every 15 s: three missed ones mean the connection is dead.
STREAM_READ_TIMEOUT = 45.0
KEEPALIVE_SECONDS = 15.0
# Once a stream has worked, a drop is most likely a server restart: keep reconnecting for about a minute.
RECONNECT = Retry(attempts=15, first_delay=0.25, max_delay=5.0)
# A stream open this long has worked: its drop starts a fresh reconnection budget (one that keeps ending at
# once uses the budget up instead of reconnecting forever).
STABLE_SECONDS = 5.0


class Watch:
    """Turns a job's SSE events into `JobEvent`s, across reconnections, without repeating log lines."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.seen: dict[str, int] = {"run": 0, "build": 0}
        # Lines the current connection has sent per step: where a log event without a `cursor` starts.
        self.position: dict[str, int] = {"run": 0, "build": 0}
        self.connections = 0
        self.last_event_id = ""

    def connected(self) -> None:
        if not self.last_event_id:
            self.position = {"run": 0, "build": 0}  # a fresh connection replays the logs from the first line
        self.connections += 1

    def feed(self, event: ServerSentEvent) -> list[JobEvent]:
        self.last_event_id = event.id or self.last_event_id
        try:
            data = json.loads(event.data) if event.data else None
        except ValueError:
            return []
        if event.event == "state" and isinstance(data, dict):
            return [StateChanged(JobStatus.from_json(data, self.queue))]
        if event.event in ("run-log", "build-log"):
            step: Step = "run" if event.event == "run-log" else "build"
            # `{lines, cursor}`: the new lines, and how many the stream has sent so far.
            lines = log_lines(data.get("lines") if isinstance(data, dict) else data, step)
            cursor = data.get("cursor") if isinstance(data, dict) else None
            end = cursor if isinstance(cursor, int) else self.position[step] + len(lines)
            self.position[step] = end
            fresh = lines[max(0, self.seen[step] - (end - len(lines))) :]
            self.seen[step] = max(self.seen[step], end)
            return [LogsWritten(fresh)] if fresh else []
        if event.event == "final" and isinstance(data, dict):
            result = JobResult.from_view(data)
            events: list[JobEvent] = [StateChanged(JobStatus.from_json(data, self.queue))]
            if not self.seen["run"] and result.logs:
                # Logs no longer stored on their own (expired, or a cached result): the result still has them.
                events.append(LogsWritten(result.logs))
            events.append(Finished(result))
            return events
        return []


class Deadline:
    def __init__(self, timeout: float | None, job: JobBase) -> None:
        self.at = None if timeout is None else time.monotonic() + timeout
        self.timeout = timeout
        self.job = job

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def check(self) -> None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise WaitTimeout(
                f"job {self.job.id} in queue {self.job.queue} did not finish within {self.timeout:g} s;"
                f" it goes on: wait again, or cancel it ({self.job.url})"
            )

    def read_timeout(self) -> float:
        """How long one read may block: short enough to notice the deadline, long enough for keep-alives."""
        self.check()
        remaining = self.remaining()
        return STREAM_READ_TIMEOUT if remaining is None else max(0.05, min(STREAM_READ_TIMEOUT, remaining))

    def should_reconnect(self, read_timeout: float) -> bool:
        """Near the deadline, reopen the stream with a read timeout that ends at the deadline."""
        remaining = self.remaining()
        return remaining is not None and remaining < KEEPALIVE_SECONDS and read_timeout > remaining + 0.5


class Follow:
    """One `events()` call: the stream's lines in, job events out, and what to do when the stream breaks.

    A caller loops: `read_timeout()`, open the stream, `connected()`, then for each line `feed(line)` and yield
    its events, stop once `finished`, reopen when `keep_reading()` says no; after a drop, sleep `dropped(error)`
    seconds. A read that times out just reopens: `read_timeout()` raises WaitTimeout past the deadline."""

    def __init__(self, job: JobBase, timeout: float | None, retry: Retry, api_url: str) -> None:
        self.deadline = Deadline(timeout, job)
        self.watch = Watch(job.queue)
        self.finished = False
        self._api_url = api_url
        self._delays = retry.delays()
        self._decoder = SSEDecoder()
        self._opened = 0.0
        self._stable = False

    def read_timeout(self) -> float:
        return self.deadline.read_timeout()

    def headers(self) -> dict[str, str]:
        """What the next connection sends: where the last one stopped."""
        return {"Last-Event-ID": self.watch.last_event_id} if self.watch.last_event_id else {}

    def connected(self) -> None:
        if not self.watch.connections:
            self._delays = RECONNECT.delays()  # it worked once: a drop now is likely a server restart
        self.watch.connected()
        self._decoder = SSEDecoder()
        self._opened, self._stable = time.monotonic(), False

    def feed(self, line: str) -> list[JobEvent]:
        if not self._stable and time.monotonic() - self._opened > STABLE_SECONDS:
            self._stable, self._delays = True, RECONNECT.delays()  # a stream that lasted: a fresh budget
        event = self._decoder.feed(line)
        events = self.watch.feed(event) if event else []
        self.finished = any(isinstance(job_event, Finished) for job_event in events)
        return events

    def keep_reading(self, read_timeout: float) -> bool:
        """False to reopen the stream now, with a read timeout that ends at the deadline; WaitTimeout past it."""
        self.deadline.check()
        return not self.deadline.should_reconnect(read_timeout)

    def dropped(self, error: Exception) -> float:
        """The pause before reopening a stream that broke; ServerUnreachable once the budget is spent."""
        delay = next(self._delays)
        if delay is None:
            raise unreachable(self._api_url, error) from None
        remaining = self.deadline.remaining()
        return delay if remaining is None else max(0.0, min(delay, remaining))
