"""Per-service state the engine keeps, and the immutable snapshots it hands out.

Only the engine writes here. Latency percentiles and uptime are defined as
functions of the bounded history (below); the ring keeps the few figures they
read current as results come and go, so a snapshot of a large fleet does not
go over every history again (a test holds the two to the same answers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from core.results import ProbeResult, Status
from core.ring import HISTORY as HISTORY
from core.ring import HistoryRing as HistoryRing
from core.ring import percentile as percentile
from core.sanitize import REASON_LIMIT, clean_line
from core.snapshot import (
    BreakerSnapshot,
    LatencyStats,
    ProbeTally,
    ServiceFields,
    ServiceInfo,
    ServiceLive,
    ServiceSnapshot,
)

BREAKER_HISTORY = 20
_LIVE_FIELDS = frozenset(f.name for f in fields(ServiceLive))


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


@dataclass(slots=True)
class ServiceState(ServiceFields):
    """The engine's live record of one service. Identity, counted results and live fields are shared frozen
    records (`info`, `tally`, `live`): a snapshot takes them as they are, so a field is declared once.

    Every change goes through a method here, which counts a new `version`: a snapshot is built again only
    for a service that changed since the last one (or is being probed now, when its breaker moves under
    it), so a snapshot of a large fleet mostly hands out the records it made before.
    """

    info: ServiceInfo
    tally: ProbeTally = field(default_factory=ProbeTally)
    live: ServiceLive = field(default_factory=ServiceLive)
    status: Status = Status.UNKNOWN
    reason: str = "not probed yet"
    history: HistoryRing = field(default_factory=HistoryRing)
    breaker_history: tuple[tuple[datetime, str, str], ...] = ()
    """The last BREAKER_HISTORY transitions, newest last (a tuple: most services have none, and an empty deque
    of them cost 760 bytes a service)."""
    version: int = 0
    """Counts the changes of this record (and of the breaker's, as the engine reports them)."""
    _cached: tuple[int, ServiceSnapshot] | None = None

    def touch(self) -> None:
        """Something a snapshot shows changed (the breaker, reset by an operator): build it again next time."""
        self.version += 1

    def record(self, result: ProbeResult) -> None:
        self._cached = None  # stale now: let its history view go, so the ring need not copy to keep it
        self.history.append(result)
        self.status = result.status
        self.reason = result.reason
        self.tally = self.tally.after(result)
        self.version += 1

    def seed(self, results: Iterable[ProbeResult]) -> None:
        """Start the history ring from stored results, oldest first (nothing else: nothing was probed yet)."""
        self._cached = None
        self.history.extend(results)
        self.version += 1

    def set_info(self, info: ServiceInfo) -> None:
        self.info = info
        self.version += 1

    def set_live(self, **changes: Any) -> None:
        """Change some of the live fields (`paused=True`, `gate_until=...`).

        Made by hand, not with `dataclasses.replace`: this runs three times a probe, and replace's generic
        walk over the fields was ~2% of a scheduled HTTP probe's CPU."""
        if not changes.keys() <= _LIVE_FIELDS:
            raise TypeError(f"not a live field: {sorted(changes.keys() - _LIVE_FIELDS)}")
        live = self.live
        self.live = ServiceLive(
            paused=changes.get("paused", live.paused),
            probing=changes.get("probing", live.probing),
            rate_limits=changes.get("rate_limits", live.rate_limits),
            gate_until=changes.get("gate_until", live.gate_until),
            next_probe_at=changes.get("next_probe_at", live.next_probe_at),
        )
        self.version += 1

    def set_probing(self, probing: bool) -> None:
        """`set_live(probing=...)` for the engine's two calls a probe: positional, no keyword check."""
        live = self.live
        self.live = ServiceLive(live.paused, probing, live.rate_limits, live.gate_until, live.next_probe_at)
        self.version += 1

    def set_next_probe_at(self, at: datetime | None) -> None:
        """`set_live(next_probe_at=...)` for the schedule's one call a probe."""
        live = self.live
        self.live = ServiceLive(live.paused, live.probing, live.rate_limits, live.gate_until, at)
        self.version += 1

    def breaker_changed(self, at: datetime, old: str, new: str) -> None:
        self.breaker_history = (*self.breaker_history, (at, old, new))[-BREAKER_HISTORY:]
        self.version += 1

    def snapshot(self, breaker: Callable[[], BreakerSnapshot], *, status: Status, reason: str) -> ServiceSnapshot:
        """The service as views see it; `breaker` is asked only when the snapshot is built anew."""
        cached = self._cached
        if cached is not None and cached[0] == self.version and not self.live.probing:
            shown = cached[1]
            if shown.status is status and shown.reason == reason:  # a dependency's status may have moved
                return shown
        history = self.history.view()
        shown = ServiceSnapshot(
            info=self.info,
            status=status,
            reason=reason,
            tally=self.tally,
            live=self.live,
            last_result=self.history.newest,
            history=history,
            latency=self.history.latency(),
            uptime=self.history.uptime(),
            breaker=_safe_breaker(breaker()),
            breaker_history=self.breaker_history,
        )
        self._cached = (self.version, shown)
        return shown


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
