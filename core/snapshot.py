"""Immutable views of the fleet that the engine hands to every reader.

Views (TUI, --once reports, exporters) render these and nothing else, so a
test can build them by hand with a fixed clock: no engine, no probes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.details import Details
from core.ratelimit import RateLimit
from core.results import ProbeResult, Status


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: str = "closed"
    """closed · open · half-open"""
    failures: int = 0
    fail_max: int = 5
    reset_timeout: float = 60.0
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    """When an open breaker admits its half-open trial (opened_at + reset_timeout)."""
    trial_in_flight: bool = False
    last_error: str = ""

    def retry_in(self, now: datetime) -> float | None:
        """Seconds until the half-open trial; None unless open."""
        if self.state != "open" or self.retry_at is None:
            return None
        return max(0.0, (self.retry_at - now).total_seconds())


@dataclass(frozen=True, slots=True)
class LatencyStats:
    last_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    samples: int = 0


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A service's identity as the config fixes it: written once, shared by the state and every snapshot."""

    name: str
    kind: str
    """A registered probe kind: "http", "mcp", ..."""
    target: str
    """What is probed: a URL, or a command line (secrets already masked)."""
    interval: float = 30.0
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    transport: str | None = None
    config_summary: Mapping[str, Any] = field(default_factory=dict)
    """The service's effective config, secrets masked, for detail views."""


@dataclass(frozen=True, slots=True)
class ProbeTally:
    """What the probes of a service add up to. The state replaces it with `after(result)` on every result
    and each snapshot shares it: counted in one place, declared in one place."""

    probes: int = 0
    consecutive_failures: int = 0
    retries: int = 0
    """Retries spent in total (attempts beyond the first)."""
    last_checked: datetime | None = None
    details: Details | None = None
    """The last known findings (for MCP: protocol, server, tools...); a failure without findings keeps them."""

    def after(self, result: ProbeResult) -> ProbeTally:
        contacted = result.contacted
        return ProbeTally(
            probes=self.probes + 1,
            consecutive_failures=(0 if result.ok else self.consecutive_failures + 1)
            if contacted
            else self.consecutive_failures,
            retries=self.retries + max(0, result.attempts - 1) if contacted else self.retries,
            last_checked=result.started_at,
            details=result.details if result.details is not None else self.details,
        )


@dataclass(frozen=True, slots=True)
class ServiceLive:
    """What the engine says about a service between results: paused, probing, its rate limits and gate, when
    it is probed next. The state replaces it as these change and each snapshot shares it: declared once."""

    paused: bool = False
    probing: bool = False
    rate_limits: tuple[RateLimit, ...] = ()
    gate_until: datetime | None = None
    """No request is sent to this service before this time (rate limited)."""
    next_probe_at: datetime | None = None


class ServiceFields:
    """Read access to a service's `info`, `tally` and `live` by their field names (`service.name`, `.probes`,
    `.paused`...), for the state and the snapshot alike. Only properties: the fields are declared once."""

    __slots__ = ()
    info: ServiceInfo
    tally: ProbeTally
    live: ServiceLive

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def target(self) -> str:
        return self.info.target

    @property
    def interval(self) -> float:
        return self.info.interval

    @property
    def tags(self) -> tuple[str, ...]:
        return self.info.tags

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.info.depends_on

    @property
    def transport(self) -> str | None:
        return self.info.transport

    @property
    def config_summary(self) -> Mapping[str, Any]:
        return self.info.config_summary

    @property
    def probes(self) -> int:
        return self.tally.probes

    @property
    def consecutive_failures(self) -> int:
        return self.tally.consecutive_failures

    @property
    def retries(self) -> int:
        return self.tally.retries

    @property
    def last_checked(self) -> datetime | None:
        return self.tally.last_checked

    @property
    def details(self) -> Details | None:
        return self.tally.details

    @property
    def paused(self) -> bool:
        return self.live.paused

    @property
    def probing(self) -> bool:
        return self.live.probing

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return self.live.rate_limits

    @property
    def gate_until(self) -> datetime | None:
        return self.live.gate_until

    @property
    def next_probe_at(self) -> datetime | None:
        return self.live.next_probe_at


@dataclass(frozen=True, slots=True)
class ServiceSnapshot(ServiceFields):
    info: ServiceInfo
    status: Status = Status.UNKNOWN
    reason: str = "not probed yet"
    tally: ProbeTally = ProbeTally()
    live: ServiceLive = ServiceLive()
    last_result: ProbeResult | None = None
    history: Sequence[ProbeResult] = ()
    """Oldest first, bounded: a tuple, or the engine's `core.ring.HistoryView` (equal to the tuple of its
    results, which it rebuilds only when read)."""
    latency: LatencyStats = field(default_factory=LatencyStats)
    uptime: float | None = None
    """Fraction of contacted probes in `history` that were up or degraded."""
    breaker: BreakerSnapshot = field(default_factory=BreakerSnapshot)
    breaker_history: tuple[tuple[datetime, str, str], ...] = ()
    """(when, old, new) breaker transitions, oldest first, bounded."""

    def with_live(self, **changes: Any) -> ServiceSnapshot:
        """This snapshot with some of its live fields changed (`paused=True`...): for views that show an
        action's effect before the engine's next snapshot does."""
        return replace(self, live=replace(self.live, **changes))


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    taken_at: datetime
    services: tuple[ServiceSnapshot, ...]
    config_path: str | None = None
    seq: int = 0
    """The seq of the last engine event this snapshot reflects: a view reads events from seq + 1 on."""

    @property
    def overall(self) -> Status:
        """The worst status in the fleet (unknown counts only if nothing else is known)."""
        if not self.services:
            return Status.UNKNOWN
        return max((s.status for s in self.services), key=lambda st: st.severity)

    def counts(self) -> dict[Status, int]:
        totals = dict.fromkeys(Status, 0)
        for service in self.services:
            totals[service.status] += 1
        return totals

    def get(self, name: str) -> ServiceSnapshot | None:
        for service in self.services:
            if service.name == name:
                return service
        return None
