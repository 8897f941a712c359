"""Reading the history: uptime and latency by window, recent results, incidents.

Windows longer than an hour read the hourly roll-ups below `rolled_until`
and the raw rows above it, so `lookout history` over a month of a hundred
services reads tens of thousands of rows, not millions. Their latency
percentiles are therefore approximate: each hour's percentile weighted by its
samples (exact within an hour, and for the 1 h window, read from raw rows).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.history.rollups import HOUR, rolled_until
from core.results import ProbeResult, Status

WINDOWS: tuple[tuple[str, float], ...] = (("1h", 3600.0), ("24h", 86400.0), ("7d", 7 * 86400.0), ("30d", 30 * 86400.0))
FRACTIONS = (("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99))


@dataclass(frozen=True, slots=True)
class Incident:
    service: str
    status: str
    started: float
    ended: float | None
    reason: str
    end_reason: str | None

    def duration(self, now: float) -> float:
        """Seconds from start to recovery, or to `now` while it goes on."""
        return (self.ended if self.ended is not None else now) - self.started

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "service": self.service,
            "status": self.status,
            "start": _iso(self.started),
            "end": _iso(self.ended) if self.ended is not None else None,
            "duration_s": round(self.duration(now), 3),
            "ongoing": self.ended is None,
            "reason": self.reason,
        }


class _Window:
    """Counts and weighted latencies of one service over one window."""

    def __init__(self) -> None:
        self.contacted = 0
        self.failures = 0
        self.latencies: dict[str, list[tuple[float, int]]] = {key: [] for key, _ in FRACTIONS}

    def add_raw(self, ok: int, contacted: int, latency: float | None) -> None:
        if not contacted:
            return
        self.contacted += 1
        if not ok:
            self.failures += 1
        elif latency is not None:
            for key, _ in FRACTIONS:
                self.latencies[key].append((latency, 1))

    def add_rollup(self, contacted: int, failures: int, values: Sequence[float | None], samples: int) -> None:
        self.contacted += contacted
        self.failures += failures
        if samples:
            for (key, _), value in zip(FRACTIONS, values, strict=True):
                if value is not None:
                    self.latencies[key].append((value, samples))

    def as_json(self) -> dict[str, Any]:
        up = (self.contacted - self.failures) / self.contacted if self.contacted else None
        out: dict[str, Any] = {"uptime": up, "probes": self.contacted, "failures": self.failures}
        for key, fraction in FRACTIONS:
            out[key] = weighted_percentile(self.latencies[key], fraction)
        return out


def weighted_percentile(values: list[tuple[float, int]], fraction: float) -> float | None:
    """Nearest-rank over (value, weight) pairs: with all weights 1 it is `core.state.percentile`."""
    if not values:
        return None
    ordered = sorted(values)
    total = sum(weight for _, weight in ordered)
    rank = max(1.0, fraction * total)
    seen = 0
    for value, weight in ordered:
        seen += weight
        if seen >= rank:
            return value
    return ordered[-1][0]


def summaries(conn: sqlite3.Connection, names: Sequence[str] | None, now: float) -> dict[str, dict[str, Any]]:
    """Per service: {"service", "windows": {"1h"|"24h"|"7d"|"30d": {uptime, probes, failures, p50_ms, ...}}}."""
    boundary = rolled_until(conn)
    longest = max(seconds for _, seconds in WINDOWS)
    start_all = now - longest
    where, params = _service_filter(names)
    windows: dict[str, dict[str, _Window]] = defaultdict(lambda: {label: _Window() for label, _ in WINDOWS})
    rollup_rows = conn.execute(
        "SELECT service, hour, contacted, failures, p50_ms, p95_ms, p99_ms, latency_samples FROM rollups "
        f"WHERE hour >= ? AND hour < ?{where}",
        (start_all // HOUR * HOUR, boundary, *params),
    )
    for service, hour, contacted, failures, p50, p95, p99, samples in rollup_rows:
        for label, seconds in WINDOWS:
            if seconds > HOUR and hour + HOUR > now - seconds:
                windows[service][label].add_rollup(contacted, failures, (p50, p95, p99), samples)
    raw_start = min(now - HOUR, max(boundary, start_all))
    raw_rows = conn.execute(
        f"SELECT service, at, ok, contacted, latency_ms FROM results WHERE at >= ?{where}",
        (raw_start, *params),
    )
    for service, at, ok, contacted, latency in raw_rows:
        for label, seconds in WINDOWS:
            in_window = at >= now - seconds
            counted_raw = seconds <= HOUR or at >= boundary
            if in_window and counted_raw:
                windows[service][label].add_raw(ok, contacted, latency)
    wanted = list(names) if names is not None else sorted(windows)
    return {
        name: {"service": name, "windows": {label: w.as_json() for label, w in windows[name].items()}}
        for name in wanted
    }


def summary(conn: sqlite3.Connection, name: str, now: float) -> dict[str, Any]:
    return summaries(conn, [name], now)[name]


def recent_results(conn: sqlite3.Connection, name: str, n: int) -> list[ProbeResult]:
    rows = conn.execute(
        "SELECT at, status, reason, latency_ms, attempts, contacted, http_status FROM results "
        "WHERE service = ? ORDER BY at DESC LIMIT ?",
        (name, n),
    ).fetchall()
    return [
        ProbeResult(
            service=name,
            started_at=datetime.fromtimestamp(at, UTC),
            status=Status(status),
            reason=reason,
            latency_ms=latency,
            attempts=attempts,
            contacted=bool(contacted),
            http_status=http_status,
        )
        for at, status, reason, latency, attempts, contacted, http_status in reversed(rows)
    ]


def incidents(conn: sqlite3.Connection, name: str | None, since: float | None, limit: int) -> list[Incident]:
    """Incidents that were open at any time after `since` (all with None), newest first."""
    clauses: list[str] = ["(ended IS NULL OR ended >= ?)"]
    params: list[float | str] = [since if since is not None else float("-inf")]
    if name is not None:
        clauses.append("service = ?")
        params.append(name)
    rows = conn.execute(
        "SELECT service, status, started, ended, reason, end_reason FROM incidents "
        f"WHERE {' AND '.join(clauses)} ORDER BY started DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [Incident(*row) for row in rows]


def services(conn: sqlite3.Connection) -> list[str]:
    """Every service with roll-ups or raw results, sorted."""
    rows = conn.execute("SELECT DISTINCT service FROM rollups UNION SELECT DISTINCT service FROM results").fetchall()
    return sorted(row[0] for row in rows)


def _service_filter(names: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    if names is None:
        return "", ()
    return f" AND service IN ({','.join('?' * len(names))})", tuple(names)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
