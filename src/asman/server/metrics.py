"""Prometheus text for one queue: queue_length (Queued + Running, what autoscalers read), jobs per state,
workers, and a histogram of job durations finished on this replica."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


class DurationHistograms:
    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe(self, queue: str, seconds: float) -> None:
        counts = self._counts.setdefault(queue, [0] * (len(BUCKETS) + 1))
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self._sums[queue] = self._sums.get(queue, 0.0) + seconds

    def family(self, queue: str) -> HistogramMetricFamily:
        counts = self._counts.get(queue, [0] * (len(BUCKETS) + 1))
        cumulative, running = [], 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        family = HistogramMetricFamily(
            "job_duration_seconds", "Duration of jobs finished on this replica", labels=["queue"]
        )
        family.add_metric([queue], cumulative, self._sums.get(queue, 0.0))
        return family


class _QueueCollector(Collector):
    def __init__(
        self, queue: str, counts: dict[str, int], workers: int, histogram: HistogramMetricFamily
    ) -> None:
        self._queue, self._counts, self._workers, self._histogram = queue, counts, workers, histogram

    def collect(self) -> Iterable[Metric]:
        length = GaugeMetricFamily("queue_length", "Jobs queued or running", labels=["queue"])
        length.add_metric([self._queue], self._counts.get("Queued", 0) + self._counts.get("Running", 0))
        yield length
        by_state = GaugeMetricFamily("queue_jobs", "Jobs in the queue by state", labels=["queue", "state"])
        for state in ("Queued", "Running", "Finished", "Removed"):
            by_state.add_metric([self._queue, state], self._counts.get(state, 0))
        yield by_state
        workers = GaugeMetricFamily("queue_workers", "Workers connected to the queue", labels=["queue"])
        workers.add_metric([self._queue], self._workers)
        yield workers
        yield self._histogram


def render(queue: str, counts: dict[str, int], workers: int, histograms: DurationHistograms) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_QueueCollector(queue, counts, workers, histograms.family(queue)))
    return generate_latest(registry)
