"""/metrics as prometheus_client renders it: series and values from hand-built snapshots and events.

No engine here: a snapshot and a stream of typed events are all the exposition
reads, so each claim is checked against numbers the test chose.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from core.details import McpDetails, ToolInfo
from core.events import BreakerChanged, InventoryChanged, ProbeCompleted
from core.ratelimit import MAX_RESOURCE_NAME, MAX_RESOURCES, RateLimit
from core.results import ProbeResult, Status
from core.serve.counters import MetricsRecorder
from core.serve.metrics import MetricsFrame, render, resource_label
from core.snapshot import BreakerSnapshot, FleetSnapshot, ProbeTally, ServiceInfo, ServiceLive, ServiceSnapshot

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _result(service: str, status: Status, ms: float | None, *, attempts: int = 1, contacted: bool = True):
    return ProbeResult(
        service=service, started_at=NOW, status=status, latency_ms=ms, attempts=attempts, contacted=contacted
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _fleet(*services: ServiceSnapshot) -> FleetSnapshot:
    return FleetSnapshot(taken_at=NOW, services=services, seq=1)


def _recorded(*events) -> MetricsRecorder:
    recorder = MetricsRecorder()
    for event in events:
        recorder.record(event)
    return recorder


def test_results_durations_and_retries_are_counted_per_service() -> None:
    api = ServiceSnapshot(
        ServiceInfo("api", "http", "http://127.0.0.1/", tags=("core", "web")),
        status=Status.DOWN,
        last_result=_result("api", Status.DOWN, 300.0, attempts=3),
        tally=ProbeTally(probes=4, last_checked=NOW),
        breaker=BreakerSnapshot(state="open"),
    )
    events = [
        ProbeCompleted(NOW, "api", _result("api", Status.UP, 40.0)),
        ProbeCompleted(NOW, "api", _result("api", Status.UP, 1200.0)),
        ProbeCompleted(NOW, "api", _result("api", Status.DOWN, 300.0, attempts=3)),
        ProbeCompleted(NOW, "api", _result("api", Status.DOWN, None, attempts=0, contacted=False)),
        BreakerChanged(NOW, "api", "closed", "open"),
    ]
    body, content_type = render(MetricsFrame(_fleet(api), _recorded(*events).copy()))
    samples = _samples(body.decode())
    assert content_type.startswith("text/plain")
    assert _value(samples, "lookout_probes_total", service="api", result="up") == 2
    assert _value(samples, "lookout_probes_total", service="api", result="down") == 1
    assert _value(samples, "lookout_probes_total", service="api", result="skipped") == 1
    assert _value(samples, "lookout_probe_retries_total", service="api") == 2
    assert _value(samples, "lookout_probe_duration_seconds_bucket", service="api", le="0.1") == 1
    assert _value(samples, "lookout_probe_duration_seconds_bucket", service="api", le="0.5") == 2
    assert _value(samples, "lookout_probe_duration_seconds_bucket", service="api", le="2.5") == 3
    assert _value(samples, "lookout_probe_duration_seconds_bucket", service="api", le="+Inf") == 3
    assert _value(samples, "lookout_probe_duration_seconds_count", service="api") == 3
    assert abs(_value(samples, "lookout_probe_duration_seconds_sum", service="api") - 1.54) < 1e-9
    assert _value(samples, "lookout_breaker_transitions_total", service="api", to="open") == 1
    assert _value(samples, "lookout_service_status", service="api", lookout_service_status="down") == 1
    assert _value(samples, "lookout_service_status", service="api", lookout_service_status="up") == 0
    assert _value(samples, "lookout_breaker_state", service="api", lookout_breaker_state="open") == 1
    assert _value(samples, "lookout_probe_success", service="api") == 0
    assert _value(samples, "lookout_last_probe_timestamp_seconds", service="api") == NOW.timestamp()
    info = {"service": "api", "kind": "http", "transport": "", "tags": "core,web"}
    assert _value(samples, "lookout_service_info", **info) == 1
    assert any(name == "lookout_build_info" for name, _ in samples)


def test_a_service_never_probed_has_no_success_sample_and_zero_counts() -> None:
    fresh = ServiceSnapshot(ServiceInfo("fresh", "http", "http://127.0.0.1/"))
    samples = _samples(render(MetricsFrame(_fleet(fresh), {}))[0].decode())
    assert ("lookout_probe_success", (("service", "fresh"),)) not in samples
    assert _value(samples, "lookout_service_status", service="fresh", lookout_service_status="unknown") == 1
    assert _value(samples, "lookout_probes_total", service="fresh", result="up") == 0
    assert _value(samples, "lookout_probe_duration_seconds_count", service="fresh") == 0


def test_mcp_inventory_context_and_cold_start() -> None:
    details = McpDetails(
        transport="stdio",
        tools=(ToolInfo("a"), ToolInfo("b"), ToolInfo("c")),
        resources=("r1",),
        prompts=("p1", "p2"),
        context_tokens=321,
        cold_start=1500.0,
    )
    docs = ServiceSnapshot(
        ServiceInfo("docs", "mcp", "python -m docs", transport="stdio"),
        status=Status.UP,
        tally=ProbeTally(probes=1, details=details),
    )
    first = ProbeResult(service="docs", started_at=NOW, status=Status.UP, latency_ms=1600.0, details=details)
    later = ProbeResult(
        service="docs", started_at=NOW, status=Status.UP, latency_ms=5.0, details=replace(details, cold_start=None)
    )
    events = [
        ProbeCompleted(NOW, "docs", first),
        InventoryChanged(NOW, "docs", "tools", added=("c",)),
        InventoryChanged(NOW, "docs", "tools"),
        ProbeCompleted(NOW, "docs", later),
    ]
    samples = _samples(render(MetricsFrame(_fleet(docs), _recorded(*events).copy()))[0].decode())
    assert _value(samples, "lookout_mcp_tools", service="docs") == 3
    assert _value(samples, "lookout_mcp_resources", service="docs") == 1
    assert _value(samples, "lookout_mcp_prompts", service="docs") == 2
    assert _value(samples, "lookout_mcp_context_tokens", service="docs") == 321
    assert _value(samples, "lookout_mcp_cold_start_seconds", service="docs") == 1.5, "kept past the session's start"
    assert _value(samples, "lookout_mcp_inventory_changes_total", service="docs", kind="tools") == 2
    assert _value(samples, "lookout_mcp_inventory_changes_total", service="docs", kind="prompts") == 0
    assert _value(samples, "lookout_service_info", service="docs", kind="mcp", transport="stdio", tags="") == 1


def test_rate_limit_resources_are_sanitized_and_capped() -> None:
    reset = NOW + timedelta(hours=1)
    hostile = tuple(
        RateLimit(resource=f'res {n} "x"\\y{{}}=' + "z" * 100, limit=100, remaining=n, reset_at=reset)
        for n in range(MAX_RESOURCES + 15)
    )
    limits = (RateLimit(resource="core", limit=60, remaining=0, reset_at=reset), *hostile)
    gh = ServiceSnapshot(ServiceInfo("gh", "http", "http://127.0.0.1/"), live=ServiceLive(rate_limits=limits))
    samples = _samples(render(MetricsFrame(_fleet(gh), {}))[0].decode())
    assert _value(samples, "lookout_rate_limit_limit", service="gh", resource="core") == 60
    assert _value(samples, "lookout_rate_limit_remaining", service="gh", resource="core") == 0
    assert _value(samples, "lookout_rate_limit_reset_timestamp_seconds", service="gh", resource="core") == (
        reset.timestamp()
    )
    resources = {dict(labels)["resource"] for name, labels in samples if name == "lookout_rate_limit_limit"}
    assert len(resources) == MAX_RESOURCES
    for resource in resources:
        assert len(resource) <= MAX_RESOURCE_NAME
        assert all(char.isalnum() or char in "_.:/-" for char in resource)
    assert resource_label('a b"c') == "a_b_c"


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    api = ServiceSnapshot(ServiceInfo("api", "http", "http://127.0.0.1/"), status=Status.UP)
    frame = MetricsFrame(_fleet(api), _recorded(ProbeCompleted(NOW, "api", _result("api", Status.UP, 10.0))).copy())
    body, content_type = render(frame, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.rstrip().endswith("# EOF")
    families = {family.name: family for family in parse_openmetrics(text)}
    assert families["lookout_service_status"].type == "stateset"
    assert families["lookout_probes"].type == "counter"
    assert families["lookout_service"].type == "info"


def test_a_service_removed_from_the_config_leaves_the_exposition() -> None:
    """Counts are read for the services in the snapshot only: a reload that drops one ends its series."""
    recorder = _recorded(ProbeCompleted(NOW, "gone", _result("gone", Status.UP, 10.0)))
    kept = ServiceSnapshot(ServiceInfo("kept", "http", "http://127.0.0.1/"))
    text = render(MetricsFrame(_fleet(kept), recorder.copy()))[0].decode()
    assert 'service="gone"' not in text
    assert 'service="kept"' in text


def test_long_service_names_stay_distinct_series() -> None:
    """Series that collide fail a whole scrape in Prometheus: labels from the config are never clipped."""
    stem = "x" * 300
    services = tuple(ServiceSnapshot(ServiceInfo(f"{stem}-{n}", "http", "http://127.0.0.1/")) for n in range(2))
    samples = _samples(render(MetricsFrame(_fleet(*services), {}))[0].decode())
    assert {dict(labels)["service"] for name, labels in samples if name == "lookout_service_info"} == {
        f"{stem}-0",
        f"{stem}-1",
    }


async def test_a_rendering_in_steps_writes_the_same_bytes_as_one_rendering() -> None:
    """`lookout serve` renders on its event loop a slice of services at a time; joined, the slices are
    byte for byte prometheus_client's rendering of the whole fleet, as text and as OpenMetrics."""
    from core.alerts.health import NotificationStats
    from core.serve.metrics import STEP_SERVICES, render_pieces_in_steps

    reset = NOW + timedelta(hours=1)
    details = McpDetails(transport="stdio", tools=(ToolInfo("a"),), context_tokens=12, cold_start=800.0)
    services = []
    events = []
    for n in range(STEP_SERVICES * 3 + 7):
        name = f'svc-{n} "quoted" \\ back'
        status = (Status.UP, Status.DOWN, Status.DEGRADED, Status.UNKNOWN)[n % 4]
        mcp = n % 5 == 0
        limits = (RateLimit(resource=f"core-{n}", limit=60, remaining=n, reset_at=reset),) if n % 3 == 0 else ()
        services.append(
            ServiceSnapshot(
                ServiceInfo(name, "mcp" if mcp else "http", "http://127.0.0.1/", tags=("a", f"t{n % 2}")),
                status=status,
                tally=ProbeTally(probes=n, details=details if mcp else None),
                live=ServiceLive(rate_limits=limits),
                breaker=BreakerSnapshot(state=("closed", "open", "half-open")[n % 3]),
            )
        )
        if status is not Status.UNKNOWN:
            events.append(ProbeCompleted(NOW, name, _result(name, status, float(n), attempts=1 + n % 2)))
    notifications = NotificationStats(counts={("hook", "delivered"): 3}, pending={"hook": 1})
    frame = MetricsFrame(_fleet(*services), _recorded(*events).copy(), notifications)
    for accept in ("", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"):
        whole = render(frame, accept)
        pieces, content_type = await render_pieces_in_steps(frame, accept)
        assert content_type == whole[1]
        assert b"".join(pieces) == whole[0]
    empty = MetricsFrame(_fleet(), {})
    pieces, content_type = await render_pieces_in_steps(empty)
    assert (b"".join(pieces), content_type) == render(empty)
