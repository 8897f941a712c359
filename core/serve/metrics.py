"""`/metrics`: the fleet as Prometheus series, built by prometheus_client from a snapshot and the counts.

Names follow Prometheus conventions and the monitors users know: blackbox_exporter's
`probe_success` and `probe_duration_seconds` become `lookout_probe_success` and
`lookout_probe_duration_seconds`, Gatus' `results_total{success}` becomes
`lookout_probes_total{result}`. Labels come from the config (service names, kind,
transport, tags), except rate-limit resource names, which the monitored server
chooses: those are reduced to a safe alphabet and capped per service, so a server
cannot grow the label set. The exposition is prometheus_client's own (text, or
OpenMetrics when the Accept header asks); rendering runs off the event loop, over
a frame taken on it.
"""

from __future__ import annotations

import asyncio
import platform
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
)

from core import __version__
from core.alerts.health import NotificationStats
from core.alerts.metrics import notification_metrics
from core.details import McpDetails
from core.ratelimit import MAX_RESOURCE_NAME, MAX_RESOURCES, RateLimit
from core.results import Status
from core.sanitize import clean_line
from core.serve.counters import DURATION_BUCKETS, RESULTS, ServiceCounts
from core.snapshot import FleetSnapshot, ServiceSnapshot

BREAKER_STATES = ("closed", "open", "half-open")
INVENTORY_KINDS = ("tools", "resources", "resource templates", "prompts")
"""What core.probes.mcp.changes reports changes of: each gets a series from the first probe (at 0)."""
_UNSAFE_RESOURCE = re.compile(r"[^A-Za-z0-9_.:/-]")


@dataclass(frozen=True, slots=True)
class MetricsFrame:
    """What one scrape renders: a snapshot and a copy of the counts, both taken on the event loop."""

    snapshot: FleetSnapshot
    counts: dict[str, ServiceCounts]
    notifications: NotificationStats | None = None
    """The alert dispatcher's counts, when this process delivers alerts."""


STEP_SERVICES = 25
"""Services rendered between two yields to the event loop (~25 x 25 samples: a few ms of CPU)."""


class _Family:
    """A registry of one metric family, as prometheus_client's encoders take one."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self._metric


async def render_pieces_in_steps(frame: MetricsFrame, accept: str = "") -> tuple[list[bytes], str]:
    """What `render` writes, as pieces to be joined in order, made on the event loop a slice of services at a
    time, yielding in between.

    Rendering 1,000 services is ~0.2-0.3 s of CPU. In a worker thread it shared the interpreter with
    the loop, which then waited for the lock after each of its short sleeps (the schedule's p99 lag
    while scraped was ~50 ms); in steps of STEP_SERVICES, no step holds the loop longer than a few ms.
    Every byte is still prometheus_client's: each family of each slice goes through its encoder, and
    the pieces of one family are joined with its header (HELP, TYPE, UNIT) kept only from the first.
    """
    encoder, content_type = choose_encoder(accept)
    end = b"# EOF\n"
    families: dict[str, list[bytes]] = {}
    services = frame.snapshot.services
    for start in range(0, max(1, len(services)), STEP_SERVICES):
        part = services[start : start + STEP_SERVICES]
        first = start == 0
        sliced = MetricsFrame(replace(frame.snapshot, services=part), frame.counts, frame.notifications)
        for metric in FleetCollector(sliced, fleet_wide=first).collect():
            text = encoder(_Family(metric))
            if text.endswith(end):
                text = text[: -len(end)]
            pieces = families.get(metric.name)
            if pieces is None:
                families[metric.name] = [text]
            else:
                pieces.append(_samples_only(text))
        await asyncio.sleep(0)
    ordered = [piece for pieces in families.values() for piece in pieces]
    if content_type.startswith("application/openmetrics-text"):
        ordered.append(end)
    return ordered, content_type


def _samples_only(text: bytes) -> bytes:
    """A family's exposition without its leading comment lines (sample lines never start with '#')."""
    start = 0
    while text.startswith(b"#", start):
        start = text.index(b"\n", start) + 1
    return text[start:]


def render(frame: MetricsFrame, accept: str = "") -> tuple[bytes, str]:
    """(body, content type) for a scrape; OpenMetrics when `accept` asks for it. Blocking: run in a thread."""
    encoder, content_type = choose_encoder(accept)
    return encoder(FleetCollector(frame)), content_type


def resource_label(resource: str) -> str:
    """A rate-limit resource name as a label value: the server's text, reduced to a safe alphabet."""
    return _UNSAFE_RESOURCE.sub("_", resource)[:MAX_RESOURCE_NAME] or "_"


def service_label(name: str) -> str:
    """A name from the config as a label value. Never clipped: two long names cut to one label would be
    duplicate series, which fail the whole scrape (the loader already refuses control characters)."""
    return clean_line(name, None)


class FleetCollector:
    """A prometheus_client collector over one frame (anything with `collect()` is one)."""

    def __init__(self, frame: MetricsFrame, *, fleet_wide: bool = True) -> None:
        """`fleet_wide`: also the families not about any one service (build info, notifications); a
        rendering in slices of services asks for them with its first slice only."""
        self._frame = frame
        self._fleet_wide = fleet_wide

    def collect(self) -> Iterator[Metric]:
        services = self._frame.snapshot.services
        counts = self._frame.counts
        if self._fleet_wide:
            build = InfoMetricFamily("lookout_build", "The running Lookout.")
            build.add_metric([], {"version": __version__, "python": platform.python_version()})
            yield build
        yield from _identity(services)
        yield from _health(services)
        yield from _counted(services, counts)
        yield from _rate_limits(services)
        yield from _mcp(services, counts)
        if self._fleet_wide and self._frame.notifications is not None:
            yield from notification_metrics(self._frame.notifications)


def _identity(services: tuple[ServiceSnapshot, ...]) -> Iterator[Metric]:
    info = InfoMetricFamily("lookout_service", "A monitored service as configured.", labels=["service"])
    for service in services:
        info.add_metric(
            [service_label(service.name)],
            {
                "kind": service_label(service.kind),
                "transport": service_label(service.transport or ""),
                "tags": ",".join(service_label(tag) for tag in service.tags),
            },
        )
    yield info


def _health(services: tuple[ServiceSnapshot, ...]) -> Iterator[Metric]:
    status = StateSetMetricFamily("lookout_service_status", "The service's status.", labels=["service"])
    success = GaugeMetricFamily(
        "lookout_probe_success", "1 if the last probe found the service up or degraded, else 0.", labels=["service"]
    )
    last = GaugeMetricFamily(
        "lookout_last_probe_timestamp_seconds", "When the service was last probed (Unix time).", labels=["service"]
    )
    breaker = StateSetMetricFamily("lookout_breaker_state", "The service's circuit breaker.", labels=["service"])
    for service in services:
        label = [service_label(service.name)]
        status.add_metric(label, {state.value: service.status is state for state in Status})
        breaker.add_metric(label, {state: service.breaker.state == state for state in BREAKER_STATES})
        if service.last_result is not None:
            success.add_metric(label, 1.0 if service.last_result.ok else 0.0)
        if service.last_checked is not None:
            last.add_metric(label, service.last_checked.timestamp())
    yield from (status, success, last, breaker)


def _counted(services: tuple[ServiceSnapshot, ...], counts: dict[str, ServiceCounts]) -> Iterator[Metric]:
    probes = CounterMetricFamily(
        "lookout_probes",
        "Probes by result (skipped: the gate or an open breaker sent nothing).",
        labels=["service", "result"],
    )
    retries = CounterMetricFamily("lookout_probe_retries", "Attempts beyond the first.", labels=["service"])
    duration = HistogramMetricFamily(
        "lookout_probe_duration_seconds", "How long probes that reached the service took.", labels=["service"]
    )
    transitions = CounterMetricFamily(
        "lookout_breaker_transitions", "Circuit breaker transitions, by the state entered.", labels=["service", "to"]
    )
    bounds = [*(str(bound) for bound in DURATION_BUCKETS), "+Inf"]
    for service in services:
        name = service_label(service.name)
        tally = counts.get(service.name) or ServiceCounts()
        for result in RESULTS:
            probes.add_metric([name, result], tally.results.get(result, 0))
        retries.add_metric([name], tally.retries)
        cumulative = [*tally.cumulative_buckets(), tally.duration_count]
        duration.add_metric([name], list(zip(bounds, cumulative, strict=True)), tally.duration_sum)
        for state, count in sorted(tally.breaker_transitions.items()):
            transitions.add_metric([name, service_label(state)], count)
    yield from (probes, retries, duration, transitions)


def _rate_limits(services: tuple[ServiceSnapshot, ...]) -> Iterator[Metric]:
    labels = ["service", "resource"]
    limit = GaugeMetricFamily("lookout_rate_limit_limit", "Requests allowed in the window.", labels=labels)
    remaining = GaugeMetricFamily("lookout_rate_limit_remaining", "Requests left in the window.", labels=labels)
    reset = GaugeMetricFamily(
        "lookout_rate_limit_reset_timestamp_seconds", "When the window resets (Unix time).", labels=labels
    )
    for service in services:
        name = service_label(service.name)
        for item in _capped(service.rate_limits):
            label = [name, resource_label(item.resource)]
            if item.limit is not None:
                limit.add_metric(label, item.limit)
            if item.remaining is not None:
                remaining.add_metric(label, item.remaining)
            if item.reset_at is not None:
                reset.add_metric(label, item.reset_at.timestamp())
    yield from (limit, remaining, reset)


def _capped(limits: tuple[RateLimit, ...]) -> list[RateLimit]:
    """At most MAX_RESOURCES resources, each label once (two names may reduce to the same label)."""
    seen: set[str] = set()
    kept: list[RateLimit] = []
    for item in limits:
        label = resource_label(item.resource)
        if label in seen:
            continue
        seen.add(label)
        kept.append(item)
        if len(kept) >= MAX_RESOURCES:
            break
    return kept


def _mcp(services: tuple[ServiceSnapshot, ...], counts: dict[str, ServiceCounts]) -> Iterator[Metric]:
    tools = GaugeMetricFamily("lookout_mcp_tools", "Tools the MCP server lists.", labels=["service"])
    resources = GaugeMetricFamily("lookout_mcp_resources", "Resources the MCP server lists.", labels=["service"])
    prompts = GaugeMetricFamily("lookout_mcp_prompts", "Prompts the MCP server lists.", labels=["service"])
    tokens = GaugeMetricFamily(
        "lookout_mcp_context_tokens", "Approximate tokens the tool list costs an agent's context.", labels=["service"]
    )
    cold = GaugeMetricFamily(
        "lookout_mcp_cold_start_seconds",
        "Spawn or connect to finished handshake, last new session.",
        labels=["service"],
    )
    changes = CounterMetricFamily(
        "lookout_mcp_inventory_changes",
        "Changes of the server's tools, resources or prompts.",
        labels=["service", "kind"],
    )
    for service in services:
        details = service.details
        if not isinstance(details, McpDetails):
            continue
        label = [service_label(service.name)]
        tools.add_metric(label, details.tool_count)
        resources.add_metric(label, details.resource_count)
        prompts.add_metric(label, details.prompt_count)
        tokens.add_metric(label, details.context_tokens)
        tally = counts.get(service.name) or ServiceCounts()
        if tally.cold_start is not None:
            cold.add_metric(label, tally.cold_start)
        seen = tally.inventory_changes
        for kind in sorted({*INVENTORY_KINDS, *seen}):
            changes.add_metric([*label, service_label(kind).replace(" ", "_")], seen.get(kind, 0))
    yield from (tools, resources, prompts, tokens, cold, changes)
