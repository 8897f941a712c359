"""A hand-built mixed fleet at a fixed time: up, degraded, down, an open breaker, a quota near zero.

Snapshot tests render this and nothing else, so their screens never depend on a live probe or the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.clock import FakeClock
from core.details import McpDetails, ServerInfo, ToolInfo
from core.events import BreakerChanged, Event, LogEvent, LogLevel, StatusChanged
from core.ratelimit import RateLimit
from core.results import ProbeResult, Status
from core.snapshot import (
    BreakerSnapshot,
    FleetSnapshot,
    LatencyStats,
    ProbeTally,
    ServiceInfo,
    ServiceLive,
    ServiceSnapshot,
)

NOW = datetime(2026, 11, 25, 3, 0, 0, tzinfo=UTC)


def clock() -> FakeClock:
    return FakeClock(NOW)


def _history(name: str, latencies: list[float], status: Status = Status.UP) -> tuple[ProbeResult, ...]:
    return tuple(
        ProbeResult(name, NOW - timedelta(seconds=30 * (len(latencies) - i)), status, latency_ms=value, attempts=1)
        for i, value in enumerate(latencies)
    )


TOOLS = (
    ToolInfo("search-docs", "Search the documentation.", {"type": "object"}),
    ToolInfo("get-page", "Fetch one page as Markdown.", {"type": "object"}),
)


def mcp_details(name: str, version: str = "1.4.2", tools: int = 2, transport: str = "stdio") -> McpDetails:
    return McpDetails(
        transport=transport,
        protocol_version="2026-07-28",
        era="modern",
        server=ServerInfo(name=name, version=version),
        capabilities=("tools", "resources", "prompts"),
        instructions_chars=64,
        tools=TOOLS[:tools],
        resources=("docs://index", "docs://changelog"),
        resource_templates=("docs://page/{slug}",),
        prompts=("summarize", "explain"),
        context_chars=420,
        context_tokens=105,
        cold_start=812.0,
    )


LIVE_FIELDS = ("paused", "probing", "rate_limits", "gate_until", "next_probe_at")


def service(
    name: str,
    kind: str,
    target: str,
    *,
    transport: str | None = None,
    tags: tuple[str, ...] = (),
    config_summary: dict[str, Any] | None = None,
    probes: int = 0,
    consecutive_failures: int = 0,
    retries: int = 0,
    last_checked: datetime | None = None,
    details: McpDetails | None = None,
    **live: Any,
) -> ServiceSnapshot:
    """A snapshot from flat keywords: identity into `ServiceInfo`, counted results into `ProbeTally`."""
    info = ServiceInfo(name, kind, target, tags=tags, transport=transport, config_summary=config_summary or {})
    tally = ProbeTally(probes, consecutive_failures, retries, last_checked, details)
    live_fields = {key: live.pop(key) for key in LIVE_FIELDS if key in live}
    return ServiceSnapshot(info=info, tally=tally, live=ServiceLive(**live_fields), **live)


def fleet() -> FleetSnapshot:
    docs_history = _history("docs-mcp", [12, 14, 11, 30, 13, 12, 15, 12])
    services = (
        service(
            name="docs-mcp",
            kind="mcp",
            target="python -m docs_server",
            status=Status.UP,
            reason="",
            transport="stdio",
            last_result=docs_history[-1],
            history=docs_history,
            latency=LatencyStats(12, 12, 30, 30, 8),
            uptime=1.0,
            probes=8,
            last_checked=NOW - timedelta(seconds=12),
            next_probe_at=NOW + timedelta(seconds=18),
            details=mcp_details("docs-demo"),
            tags=("mcp", "docs"),
            config_summary={"kind": "mcp", "command": "python", "env": {"API_KEY": "***"}},
        ),
        service(
            name="remote-mcp",
            kind="mcp",
            target="https://mcp.example.test/mcp",
            status=Status.DEGRADED,
            reason="missing tools: deploy",
            transport="http",
            latency=LatencyStats(240, 220, 480, 480, 5),
            uptime=0.8,
            history=_history("remote-mcp", [200, 240, 480, 220, 240]),
            last_checked=NOW - timedelta(seconds=3),
            details=mcp_details("remote", "0.9.0", 1, transport="http"),
        ),
        service(
            name="crashy-mcp",
            kind="mcp",
            target="python -m crashy",
            status=Status.DOWN,
            reason="process exited with code 1: fatal: simulated crash",
            transport="stdio",
            consecutive_failures=5,
            uptime=0.5,
            last_checked=NOW - timedelta(seconds=40),
            breaker=BreakerSnapshot(
                state="open",
                failures=5,
                fail_max=5,
                opened_at=NOW - timedelta(seconds=20),
                retry_at=NOW + timedelta(seconds=40),
                last_error="process exited with code 1: fatal: simulated crash",
            ),
            retries=8,
        ),
        service(
            name="github-api",
            kind="http",
            target="https://api.github.test/rate_limit",
            status=Status.DEGRADED,
            reason="core quota low: 212/5000 left (4.2% < 10%), resets in 41m",
            latency=LatencyStats(95, 90, 140, 150, 10),
            uptime=1.0,
            last_checked=NOW - timedelta(seconds=5),
            rate_limits=(
                RateLimit(
                    "core",
                    5000,
                    212,
                    4788,
                    NOW + timedelta(minutes=41),
                    "github",
                    exhausts_at=NOW + timedelta(minutes=9),
                ),
                RateLimit("search", 30, 30, 0, NOW + timedelta(seconds=50), "github"),
            ),
            tags=("api", "github"),
        ),
        service(
            name="llm-api",
            kind="http",
            target="https://llm.example.test/v1/models",
            status=Status.UP,
            reason="",
            latency=LatencyStats(310, 300, 420, 500, 10),
            uptime=1.0,
            last_checked=NOW - timedelta(seconds=8),
            rate_limits=(RateLimit("requests", 60, 41, 19, NOW + timedelta(minutes=6), "openai"),),
        ),
        service(
            name="billing-api",
            kind="http",
            target="http://127.0.0.1:9/health",
            status=Status.DOWN,
            reason="connection refused",
            consecutive_failures=2,
            last_checked=NOW - timedelta(seconds=2),
            breaker=BreakerSnapshot(state="closed", failures=2, fail_max=5, last_error="connection refused"),
            paused=False,
        ),
    )
    return FleetSnapshot(taken_at=NOW, services=services, config_path="/etc/lookout/services.yaml")


def events() -> list[Event]:
    """What the engine publishes, typed: the log pane words the transitions itself."""
    return [
        LogEvent(NOW - timedelta(seconds=40), LogLevel.INFO, "engine started: 6 services"),
        LogEvent(NOW - timedelta(seconds=25), LogLevel.INFO, "fatal: simulated crash", "crashy-mcp", "stderr"),
        BreakerChanged(NOW - timedelta(seconds=20), "crashy-mcp", "closed", "open"),
        LogEvent(NOW - timedelta(seconds=5), LogLevel.WARNING, "core quota low: 212/5000 left", "github-api"),
        StatusChanged(NOW - timedelta(seconds=2), "billing-api", Status.UNKNOWN, Status.DOWN, "connection refused"),
    ]
