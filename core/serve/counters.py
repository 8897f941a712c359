"""What the metrics count over time: a recorder of the engine's event stream.

A snapshot says how things are; a Prometheus counter or histogram says how
often something happened since the daemon started, which no snapshot holds.
So the counts live here, fed by every event. This is a recorder, not a view:
a view that falls behind gets a `Resync` in place of the events it lost, and
a counter that silently misses results would lie. Counting is a few integer
additions per event, so `record` does it inline (the recorder contract allows
work that returns at once) instead of queueing to a task: cheaper, and never
sampled away as a `QueuedRecorder` would thin results under backlog.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from core.details import McpDetails
from core.events import BreakerChanged, Event, InventoryChanged, ProbeCompleted

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
"""Upper bounds (seconds) of the probe duration histogram. Few on purpose: every bucket is one series
per service, and a scrape of 1,000 services renders them all. They split what an operator acts on:
fast (<100 ms), normal, slow (>1 s), very slow (>2.5 s) and near a timeout (>10 s)."""

RESULTS = ("up", "degraded", "down", "unknown", "skipped")
"""`lookout_probes_total{result}`: a status, or "skipped" for a probe the gate or an open breaker
kept from sending anything (it says nothing about the service's health)."""


@dataclass(slots=True)
class ServiceCounts:
    """Everything counted for one service since the daemon started."""

    results: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    """Probes whose duration fell at or below each bound and above the previous one (not cumulative)."""
    duration_sum: float = 0.0
    duration_count: int = 0
    retries: int = 0
    breaker_transitions: dict[str, int] = field(default_factory=dict)
    """Transitions by the state entered."""
    inventory_changes: dict[str, int] = field(default_factory=dict)
    """Changes by what changed (tools, resources, prompts)."""
    cold_start: float | None = None
    """Seconds the last new MCP session took to start: only a probe that opened a session measures it, and
    the snapshot holds the last probe's findings, so the figure is kept here until the next one."""

    def copy(self) -> ServiceCounts:
        return ServiceCounts(
            results=dict(self.results),
            buckets=list(self.buckets),
            duration_sum=self.duration_sum,
            duration_count=self.duration_count,
            retries=self.retries,
            breaker_transitions=dict(self.breaker_transitions),
            inventory_changes=dict(self.inventory_changes),
            cold_start=self.cold_start,
        )

    def cumulative_buckets(self) -> list[int]:
        """Counts at or below each bound, as a histogram exposes them."""
        total, out = 0, []
        for count in self.buckets:
            total += count
            out.append(total)
        return out


class MetricsRecorder:
    """Counts results, durations, retries, breaker transitions and inventory changes per service."""

    def __init__(self) -> None:
        self._services: dict[str, ServiceCounts] = {}

    def record(self, event: Event) -> None:
        if isinstance(event, ProbeCompleted):
            self._result(event)
        elif isinstance(event, BreakerChanged):
            counts = self._counts(event.service)
            counts.breaker_transitions[event.new] = counts.breaker_transitions.get(event.new, 0) + 1
        elif isinstance(event, InventoryChanged):
            counts = self._counts(event.service)
            counts.inventory_changes[event.kind] = counts.inventory_changes.get(event.kind, 0) + 1

    def _result(self, event: ProbeCompleted) -> None:
        result = event.result
        counts = self._counts(event.service)
        if isinstance(result.details, McpDetails) and result.details.cold_start is not None:
            counts.cold_start = result.details.cold_start / 1000
        if not result.contacted:
            counts.results["skipped"] += 1
            return
        counts.results[result.status.value] = counts.results.get(result.status.value, 0) + 1
        counts.retries += max(0, result.attempts - 1)
        if result.latency_ms is not None:
            seconds = max(0.0, result.latency_ms / 1000)
            index = bisect.bisect_left(DURATION_BUCKETS, seconds)
            if index < len(DURATION_BUCKETS):
                counts.buckets[index] += 1
            counts.duration_sum += seconds
            counts.duration_count += 1

    def _counts(self, service: str) -> ServiceCounts:
        counts = self._services.get(service)
        if counts is None:
            counts = self._services[service] = ServiceCounts()
        return counts

    def copy(self) -> dict[str, ServiceCounts]:
        """A copy the renderer may read in another thread while the engine goes on counting."""
        return {name: counts.copy() for name, counts in self._services.items()}
