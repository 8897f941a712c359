"""Reading the history: uptime and latency by window, recent results, incidents.

Windows longer than an hour read the hourly roll-ups below `rolled_until`
and the raw rows above it, so `lookout history` over a month of a hundred
services reads tens of thousands of rows, not millions. Their latency
percentiles are therefore approximate: each hour's percentile weighted by its
samples (exact within an hour, and for the 1 h window, read from raw rows).
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from core.history.ranks import weighted_percentile
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


class _Series:
    """One service's rows in time order, as columns: hourly roll-ups below the boundary, raw rows above it."""

    def __init__(self) -> None:
        self.hours: list[float] = []
        self.contacted: list[int] = []
        self.failures: list[int] = []
        self.latency: tuple[list[tuple[float, int]], ...] = tuple([] for _ in FRACTIONS)
        """Per fraction, each hour's (percentile, samples); (0.0, 0) for an hour without a latency, which
        weighs nothing, so the columns stay aligned with `hours` and a window is one slice of each."""
        self.raw_at: list[float] = []
        self.raw: list[tuple[int, int, float | None]] = []

    def window(self, seconds: float, now: float, boundary: float) -> dict[str, Any]:
        start = now - seconds
        contacted = failures = 0
        latencies: list[list[tuple[float, int]]] = [[] for _ in FRACTIONS]
        if seconds > HOUR:  # hours that overlap the window, from the roll-ups; the rest from raw rows
            first = bisect_right(self.hours, start - HOUR)  # the first hour ending after the start
            contacted, failures = sum(self.contacted[first:]), sum(self.failures[first:])
            latencies = [column[first:] for column in self.latency]
            start = max(start, boundary)
        raw_latencies: list[tuple[float, int]] = []
        for ok, reached, latency in self.raw[bisect_left(self.raw_at, start) :]:
            if not reached:
                continue
            contacted += 1
            if not ok:
                failures += 1
            elif latency is not None:
                raw_latencies.append((latency, 1))
        out: dict[str, Any] = {
            "uptime": (contacted - failures) / contacted if contacted else None,
            "probes": contacted,
            "failures": failures,
        }
        for (key, fraction), bucket in zip(FRACTIONS, latencies, strict=True):
            out[key] = weighted_percentile(bucket + raw_latencies, fraction)
        return out


def summaries(conn: sqlite3.Connection, names: Sequence[str] | None, now: float) -> dict[str, dict[str, Any]]:
    """Per service: {"service", "windows": {"1h"|"24h"|"7d"|"30d": {uptime, probes, failures, p50_ms, ...}}}."""
    boundary = rolled_until(conn)
    longest = max(seconds for _, seconds in WINDOWS)
    where, params = _service_filter(names)
    series: dict[str, _Series] = defaultdict(_Series)
    rollup_rows = conn.execute(
        "SELECT service, hour, contacted, failures, coalesce(p50_ms, 0), coalesce(p95_ms, 0), coalesce(p99_ms, 0), "
        f"latency_samples FROM rollups WHERE hour >= ? AND hour < ?{where} ORDER BY hour",
        ((now - longest) // HOUR * HOUR, boundary, *params),
    ).fetchall()
    rollup_rows.sort(key=itemgetter(0))  # by service; stable, so each service's hours stay in order
    for service, group in groupby(rollup_rows, key=itemgetter(0)):
        # Columns by zip, in C: a month of a hundred services is 72,000 rows. A missing percentile (an hour
        # without a successful probe) is 0 with weight 0: it counts for nothing.
        _, hours, contacted, failures, p50, p95, p99, samples = zip(*group, strict=True)
        one = series[service]
        one.hours, one.contacted, one.failures = list(hours), list(contacted), list(failures)
        one.latency = (
            list(zip(p50, samples, strict=True)),
            list(zip(p95, samples, strict=True)),
            list(zip(p99, samples, strict=True)),
        )
    raw_rows = conn.execute(
        f"SELECT service, at, ok, contacted, latency_ms FROM results WHERE at >= ?{where} ORDER BY at",
        (min(now - HOUR, max(boundary, now - longest)), *params),
    )
    for service, at, ok, contacted, latency in raw_rows:
        one = series[service]
        one.raw_at.append(at)
        one.raw.append((ok, contacted, latency))
    wanted = list(names) if names is not None else sorted(series)
    return {
        name: {
            "service": name,
            "windows": {label: series[name].window(seconds, now, boundary) for label, seconds in WINDOWS},
        }
        for name in wanted
    }


def empty_summary(name: str) -> dict[str, Any]:
    """A service recorded once but with nothing in any window (only roll-ups older than 30 days)."""
    return {"service": name, "windows": {label: _Series().window(seconds, 0.0, 0.0) for label, seconds in WINDOWS}}


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
    """Every service with roll-ups or raw results, sorted. Below the roll-up boundary every raw result has
    its roll-up, so only raw rows above it are read (the index on time keeps that to the last hour or so)."""
    rows = conn.execute(
        "SELECT DISTINCT service FROM rollups UNION SELECT DISTINCT service FROM results WHERE at >= ?",
        (rolled_until(conn),),
    ).fetchall()
    return sorted(row[0] for row in rows)


def _service_filter(names: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    if names is None:
        return "", ()
    return f" AND service IN ({','.join('?' * len(names))})", tuple(names)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
