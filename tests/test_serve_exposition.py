"""/metrics written by core.serve.exposition is byte for byte what prometheus_client writes, in every format."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from core.alerts.health import NotificationStats
from core.ratelimit import RateLimit
from core.serve.counters import ServiceCounts
from core.serve.exposition import render_fast
from core.serve.metrics import FleetCollector, MetricsFrame, render
from core.snapshot import ServiceInfo, ServiceLive
from tests.fleet_samples import fleet

NOW = datetime(2026, 12, 7, tzinfo=UTC)
ACCEPTS = [
    "",
    "text/plain",
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
]


def frame() -> MetricsFrame:
    """The sample fleet, plus names and label values that need escaping, counts, and alert notifications."""
    sample = fleet()
    odd = replace(
        sample.services[0],
        info=ServiceInfo('we"ird\\name', "http", "x", tags=("a b", 'q"t')),
        live=ServiceLive(rate_limits=(RateLimit('re"s\\x\n', limit=5000, remaining=0.5, reset_at=NOW),)),
    )
    services = (*sample.services, odd)
    counts = {
        service.name: ServiceCounts(
            results={"up": 3 + k, "degraded": 0, "down": k, "unknown": 0, "skipped": 1},
            buckets=[k, 1, 0, 2, 0, 1],
            duration_sum=0.1 * k + 1e-7,
            duration_count=4 + k,
            retries=k * 1234567,
            breaker_transitions={"open": k} if k % 2 else {},
            inventory_changes={"tools": 2} if k % 3 == 0 else {},
            cold_start=1.5 if k % 2 else None,
        )
        for k, service in enumerate(services)
    }
    stats = NotificationStats(counts={("ok", "delivered"): 3}, pending={"ok": 1})
    return MetricsFrame(replace(sample, services=services), counts, stats)


@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_fast_exposition_is_prometheus_clients_to_the_byte(accept: str) -> None:
    encoder, content_type = choose_encoder(accept)
    assert render_fast(FleetCollector(frame()).collect(), content_type) == encoder(FleetCollector(frame()))
    assert render(frame(), accept) == (encoder(FleetCollector(frame())), content_type)


class Families:
    def __init__(self, *families: Metric) -> None:
        self.families = families

    def collect(self) -> tuple[Metric, ...]:
        return self.families


@pytest.mark.parametrize(
    "family",
    [
        GaugeMetricFamily("lookout_x", "x", value=1.0, unit="seconds"),
        CounterMetricFamily("lookout_y", "y", value=1.0, created=5.0),
        GaugeMetricFamily("lookout.dotted", "a name outside the legacy alphabet", value=1.0),
    ],
    ids=["unit", "created", "dotted-name"],
)
def test_what_it_cannot_promise_is_left_to_prometheus_client(family: Metric) -> None:
    for accept in ACCEPTS[:3]:
        encoder, content_type = choose_encoder(accept)
        assert render_fast([family], content_type) is None or render_fast([family], content_type) == encoder(
            Families(family)
        )
    assert render_fast([family], choose_encoder("text/plain")[1]) is None
    assert render_fast([GaugeMetricFamily("g", "g", value=1.0)], "application/openmetrics-text; escaping=dots") is None


def test_values_print_as_go_would() -> None:
    family = GaugeMetricFamily("lookout_v", "v", labels=["k"])
    for k, value in enumerate([0.0, -0.0, 1.0, 12345678.0, 1e21, 1e-7, float("inf"), float("-inf"), float("nan"), 3]):
        family.add_metric([str(k)], value)
    for accept in ACCEPTS[:3]:
        encoder, content_type = choose_encoder(accept)
        assert render_fast([family], content_type) == encoder(Families(family))
