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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
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


class _Series:
    """One service's rows as columns, oldest first: hourly roll-ups below the boundary, raw rows above it.

    Columns, not row tuples: a window is a suffix of each, its sums are `sum` over a slice (in C), and
    its percentiles sort plain floats.
    """

    __slots__ = ("contacted", "failures", "hours", "latency", "raw", "raw_at", "weights")

    def __init__(self, rollups: Sequence[tuple[Any, ...]] = (), raw: Sequence[tuple[Any, ...]] = ()) -> None:
        columns = list(zip(*rollups, strict=True)) or [()] * 7
        self.hours: Sequence[int] = columns[0]
        self.contacted: Sequence[int] = columns[1]
        self.failures: Sequence[int] = columns[2]
        self.weights: Sequence[int] = columns[3]
        self.latency: tuple[Sequence[float], ...] = tuple(columns[4:])
        """Per fraction, each hour's percentile (0.0 where the hour had no latency: its weight is 0)."""
        self.raw_at: list[float] = [row[0] for row in raw]
        self.raw: Sequence[tuple[Any, ...]] = raw
        """(at, ok, contacted, latency_ms) per raw result."""

    def windows(self, now: float, boundary: float) -> dict[str, dict[str, Any]]:
        tallies: dict[int, tuple[int, int, list[float]]] = {}  # the 24h, 7d and 30d windows share raw rows
        out: dict[str, dict[str, Any]] = {}
        for label, seconds in WINDOWS:
            start = now - seconds
            first = len(self.hours)  # no roll-ups in the 1h window
            if seconds > HOUR:  # the hours that overlap the window, from the roll-ups; the rest from raw rows
                first = bisect_right(self.hours, start - HOUR)  # the first hour ending after the start
                start = max(start, boundary)
            begin = bisect_left(self.raw_at, start)
            if begin not in tallies:
                tallies[begin] = _tally(self.raw[begin:])
            contacted, failures, raw_latencies = tallies[begin]
            contacted += sum(self.contacted[first:])
            failures += sum(self.failures[first:])
            one: dict[str, Any] = {
                "uptime": (contacted - failures) / contacted if contacted else None,
                "probes": contacted,
                "failures": failures,
            }
            weights = [*self.weights[first:], *[1] * len(raw_latencies)]
            for (key, fraction), column in zip(FRACTIONS, self.latency, strict=True):
                one[key] = _weighted_percentile([*column[first:], *raw_latencies], weights, fraction)
            out[label] = one
        return out


def _tally(raw: Sequence[tuple[Any, ...]]) -> tuple[int, int, list[float]]:
    """Raw results as the live state counts them: (contacted, failures among them, successes' latencies)."""
    contacted = failures = 0
    latencies: list[float] = []
    for _, ok, reached, latency in raw:
        if not reached:
            continue
        contacted += 1
        if not ok:
            failures += 1
        elif latency is not None:
            latencies.append(latency)
    return contacted, failures, latencies


def summaries(conn: sqlite3.Connection, names: Sequence[str] | None, now: float) -> dict[str, dict[str, Any]]:
    """Per service: {"service", "windows": {"1h"|"24h"|"7d"|"30d": {uptime, probes, failures, p50_ms, ...}}}.

    One read transaction, so the boundary, the roll-ups and the raw rows agree while a recorder writes
    (an hour rolled up between two reads would count twice or not at all). Each service is two range
    reads on the primary key and the (service, at) index: the cost follows the window, not the file's
    400 days, and no row is sorted or looked up twice.
    """
    own_transaction = not conn.in_transaction
    if own_transaction:
        conn.execute("BEGIN")
    try:
        boundary = rolled_until(conn)
        longest = max(seconds for _, seconds in WINDOWS)
        hours = ((now - longest) // HOUR * HOUR, boundary)
        raw_from = min(now - HOUR, max(boundary, now - longest))
        out = {}
        for name in services(conn) if names is None else names:
            rollups = conn.execute(_ROLLUPS, (name, *hours)).fetchall()
            raw = conn.execute(_RAW, (name, raw_from)).fetchall()
            if names is None and not rollups and not raw:
                continue  # recorded, but nothing in any window
            out[name] = {"service": name, "windows": _Series(rollups, raw).windows(now, boundary)}
        return out
    finally:
        if own_transaction:
            conn.execute("ROLLBACK")  # a read: nothing to commit


_ROLLUPS = (
    "SELECT hour, contacted, failures, latency_samples, coalesce(p50_ms, 0), coalesce(p95_ms, 0), "
    "coalesce(p99_ms, 0) FROM rollups WHERE service = ? AND hour >= ? AND hour < ? ORDER BY hour"
)
_RAW = "SELECT at, ok, contacted, latency_ms FROM results WHERE service = ? AND at >= ? ORDER BY at"


def _weighted_percentile(values: Sequence[float], weights: Sequence[int], fraction: float) -> float | None:
    """`ranks.weighted_percentile` over two columns: sorts positions by value (float keys, no tuples built);
    the same nearest rank comes out, as ties in value give the same value in any order."""
    order = sorted(range(len(values)), key=values.__getitem__)
    cumulative = list(accumulate(map(weights.__getitem__, order)))
    if not cumulative or cumulative[-1] <= 0:
        return None
    rank = max(1.0, fraction * cumulative[-1])
    return values[order[min(bisect_left(cumulative, rank), len(order) - 1)]]


def empty_summary(name: str) -> dict[str, Any]:
    """A service recorded once but with nothing in any window (only roll-ups older than 30 days)."""
    return {"service": name, "windows": _Series().windows(0.0, 0.0)}


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
    """Every service with roll-ups or raw results, sorted. The roll-ups' names come by a skip scan of their
    primary key (one seek per name, not a read of 400 days of hours); below the roll-up boundary every raw
    result has its roll-up, so only raw rows above it are read (the index on time keeps that to an hour or so)."""
    rows = conn.execute(
        """
        WITH RECURSIVE named(service) AS (
            SELECT min(service) FROM rollups
            UNION ALL
            SELECT (SELECT min(service) FROM rollups WHERE service > named.service) FROM named
            WHERE named.service IS NOT NULL
        )
        SELECT service FROM named WHERE service IS NOT NULL
        UNION SELECT DISTINCT service FROM results WHERE at >= ?
        """,
        (rolled_until(conn),),
    ).fetchall()
    return sorted(row[0] for row in rows)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
