"""Per-service state the engine keeps, and the immutable snapshots it hands out.

Only the engine writes here. Latency percentiles and uptime are derived from
the bounded history when a snapshot is taken, not maintained incrementally:
the history is small, and derived numbers cannot drift from the data.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.events import safe_limits
from core.ratelimit import RateLimit
from core.results import ProbeResult, Status
from core.sanitize import REASON_LIMIT, clean_line
from core.snapshot import BreakerSnapshot, LatencyStats, ProbeTally, ServiceFields, ServiceInfo, ServiceSnapshot

HISTORY = 120
BREAKER_HISTORY = 20


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: always a value that was really observed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_stats(history: Iterable[ProbeResult]) -> LatencyStats:
    values = [r.latency_ms for r in history if r.contacted and r.ok and r.latency_ms is not None]
    last = values[-1] if values else None
    ordered = sorted(values)
    return LatencyStats(
        last_ms=last,
        p50_ms=percentile(ordered, 0.50),
        p95_ms=percentile(ordered, 0.95),
        p99_ms=percentile(ordered, 0.99),
        samples=len(ordered),
    )


def uptime(history: Iterable[ProbeResult]) -> float | None:
    """Share of probes that reached the service and found it up or degraded.

    Probes the gate or breaker skipped are left out: they measured nothing.
    """
    contacted = [r for r in history if r.contacted]
    if not contacted:
        return None
    return sum(1 for r in contacted if r.ok) / len(contacted)


@dataclass
class ServiceState(ServiceFields):
    """The engine's live record of one service. Identity and counted results are shared frozen records
    (`info`, `tally`): a snapshot takes them as they are, so a field is declared once, not per copy."""

    info: ServiceInfo
    tally: ProbeTally = field(default_factory=ProbeTally)
    status: Status = Status.UNKNOWN
    reason: str = "not probed yet"
    history: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=HISTORY))
    breaker_history: deque[tuple[datetime, str, str]] = field(default_factory=lambda: deque(maxlen=BREAKER_HISTORY))
    paused: bool = False
    probing: bool = False
    rate_limits: tuple[RateLimit, ...] = ()
    gate_until: datetime | None = None
    next_probe_at: datetime | None = None

    def record(self, result: ProbeResult) -> None:
        self.history.append(result)
        self.status = result.status
        self.reason = result.reason
        self.tally = self.tally.after(result)

    def snapshot(self, breaker: BreakerSnapshot, *, status: Status, reason: str) -> ServiceSnapshot:
        history = tuple(self.history)
        return ServiceSnapshot(
            info=self.info,
            status=status,
            reason=reason,
            tally=self.tally,
            paused=self.paused,
            probing=self.probing,
            last_result=history[-1] if history else None,
            history=history,
            latency=latency_stats(history),
            uptime=uptime(history),
            breaker=_safe_breaker(breaker),
            breaker_history=tuple(self.breaker_history),
            rate_limits=safe_limits(self.rate_limits),
            gate_until=self.gate_until,
            next_probe_at=self.next_probe_at,
        )


def _safe_breaker(breaker: BreakerSnapshot) -> BreakerSnapshot:
    """The breaker's last error is the raw text of the exception it counted: shown only once made safe."""
    shown = clean_line(breaker.last_error, REASON_LIMIT)
    return breaker if shown == breaker.last_error else replace(breaker, last_error=shown)


def apply_dependencies(
    own: Mapping[str, tuple[Status, str]], depends_on: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[Status, str]]:
    """A service whose own probe is fine but whose dependency is down is degraded, and says why.

    Its own failure always wins: "down: HTTP 500" is more useful than blaming a dependency.
    """
    effective = dict(own)
    for name, deps in depends_on.items():
        status, reason = own[name]
        if status not in (Status.UP, Status.DEGRADED):
            continue
        down = [dep for dep in deps if own.get(dep, (Status.UNKNOWN, ""))[0] is Status.DOWN]
        if down:
            which = ", ".join(down)
            verb = "is" if len(down) == 1 else "are"
            note = f"depends on {which}, which {verb} down"
            effective[name] = (Status.DEGRADED, f"{note}; {reason}" if reason else note)
    return effective
