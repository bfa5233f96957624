"""Prometheus metrics, in two scopes.

- Per queue (`GET /q/<queue>/metrics`): `asman_queue_length` (Queued + Running, what autoscalers read), jobs per
  state, workers, and a histogram of job durations finished on this replica. Upstream's unprefixed
  `queue_length` is kept beside them, so autoscalers written for upstream keep working.
- Per replica (`GET /metrics`): prometheus-client's process, platform and GC collectors, and the HTTP requests
  this replica answered, by method, route template and status.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "asman_"
JOB_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Requests no route matched, and methods no route serves: one series for each, so what a client makes up (random
# paths, made-up methods) cannot grow the label set.
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Histograms:
    """Bucket counts and sums per label values, kept by hand: one bisect and two additions per observation, far
    cheaper on the hot path than prometheus-client's labelled Histogram (label checks and a lock per call).
    Observed from the event loop only."""

    def __init__(
        self, name: str, documentation: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> None:
        self.name, self.documentation, self.labels, self.buckets = name, documentation, labels, buckets
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = {}

    def observe(self, key: tuple[str, ...], seconds: float) -> None:
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0] * (len(self.buckets) + 1)
        counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self._sums[key] = self._sums.get(key, 0.0) + seconds

    def series(self) -> list[tuple[str, ...]]:
        return list(self._counts)

    def total(self, key: tuple[str, ...]) -> int:
        return sum(self._counts.get(key, ()))

    def family(self, keys: Iterable[tuple[str, ...]] | None = None) -> HistogramMetricFamily:
        """The histogram of `keys` (every series observed if None; a key never observed reads as zeros)."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=list(self.labels))
        bounds = (*map(str, self.buckets), "+Inf")
        for key in self.series() if keys is None else keys:
            cumulative, running = [], 0
            for bound, count in zip(bounds, self._counts.get(key, [0] * len(bounds)), strict=True):
                running += count
                cumulative.append((bound, running))
            family.add_metric(list(key), cumulative, self._sums.get(key, 0.0))
        return family


def job_durations() -> Histograms:
    return Histograms(
        PREFIX + "job_duration_seconds", "Duration of jobs finished on this replica", ("queue",), JOB_BUCKETS
    )


class _QueueCollector(Collector):
    def __init__(
        self, queue: str, counts: dict[str, int], workers: int, histogram: HistogramMetricFamily
    ) -> None:
        self._queue, self._counts, self._workers, self._histogram = queue, counts, workers, histogram

    def collect(self) -> Iterable[Metric]:
        active = self._counts.get("Queued", 0) + self._counts.get("Running", 0)
        for name, text in (
            (PREFIX + "queue_length", "Jobs queued or running"),
            ("queue_length", "Jobs queued or running (upstream's name, for its autoscalers)"),
        ):
            length = GaugeMetricFamily(name, text, labels=["queue"])
            length.add_metric([self._queue], active)
            yield length
        by_state = GaugeMetricFamily(
            PREFIX + "queue_jobs", "Jobs in the queue by state", labels=["queue", "state"]
        )
        for state in ("Queued", "Running", "Finished", "Removed"):
            by_state.add_metric([self._queue, state], self._counts.get(state, 0))
        yield by_state
        workers = GaugeMetricFamily(
            PREFIX + "queue_workers", "Workers connected to the queue", labels=["queue"]
        )
        workers.add_metric([self._queue], self._workers)
        yield workers
        yield self._histogram


def render_queue(queue: str, counts: dict[str, int], workers: int, durations: Histograms) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_QueueCollector(queue, counts, workers, durations.family([(queue,)])))
    return generate_latest(registry)


# -- the replica ----------------------------------------------------------------------------------------------


class _HttpCollector(Collector):
    def __init__(self, requests: Histograms) -> None:
        self._requests = requests

    def collect(self) -> Iterable[Metric]:
        # The count is read off the histogram at scrape time, so a request costs one observation, not two.
        total = CounterMetricFamily(
            PREFIX + "http_requests", "HTTP requests answered", labels=list(self._requests.labels)
        )
        for key in self._requests.series():
            total.add_metric(list(key), self._requests.total(key))
        yield total
        yield self._requests.family()


class ReplicaMetrics:
    """This replica's registry: the process it runs in and the HTTP requests it answered."""

    def __init__(self) -> None:
        self.requests = Histograms(
            PREFIX + "http_request_duration_seconds",
            "Time from request to the end of the response",
            ("method", "route", "status"),
            HTTP_BUCKETS,
        )
        # A registry of its own, not prometheus-client's global one: several apps can live in one process.
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(_HttpCollector(self.requests))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", UNMATCHED))
    return UNMATCHED


class HttpMetrics:
    """ASGI middleware: time every HTTP request and count it by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ReplicaMetrics) -> None:
        self.app = app
        self._observe = metrics.requests.observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before it starts a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"]
            self._observe(
                (method if method in METHODS else "other", _route_template(scope), str(status)),
                time.perf_counter() - started,
            )
