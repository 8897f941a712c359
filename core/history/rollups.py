"""Hourly roll-ups and retention, done in small steps on the writer thread.

Raw results are kept for days, roll-ups (per service and hour: probes,
failures, latency percentiles) for a year and more. An hour is rolled up once
it is `ROLLUP_GRACE` seconds past, so a probe that started in it and finished
late is counted; `meta.rolled_until` marks the boundary: below it the
roll-ups are the record, above it the raw rows. Raw rows are never pruned
before they are rolled up. Every step touches at most a few hundred rows and
one hour, so a write of fresh results never waits long behind maintenance
(and the event loop never waits at all: this runs on the writer's thread).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from core.history.ranks import weighted_percentile

HOUR = 3600
ROLLUP_GRACE = 600.0
PRUNE_BATCH = 500


def rolled_until(conn: sqlite3.Connection) -> float:
    """The boundary below which roll-ups are complete (0: nothing rolled up yet)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'rolled_until'").fetchone()
    return float(row[0]) if row else 0.0


def roll_up_step(conn: sqlite3.Connection, now: float) -> bool:
    """Roll up the oldest complete hour not rolled up yet, in one transaction. True if there may be more."""
    done = rolled_until(conn)
    limit = (now - ROLLUP_GRACE) // HOUR * HOUR
    if done >= limit:
        return False
    first = conn.execute("SELECT min(at) FROM results WHERE at >= ?", (done,)).fetchone()[0]
    if first is None or first >= limit:
        return False  # the boundary stays at the last hour rolled up: nothing is ever counted twice or skipped
    hour = first // HOUR * HOUR
    rows = conn.execute(
        "SELECT service, ok, contacted, latency_ms FROM results WHERE at >= ? AND at < ?", (hour, hour + HOUR)
    ).fetchall()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(service, int(hour), *numbers) for service, numbers in hour_rollups(rows).items()],
        )
        _set_rolled_until(conn, hour + HOUR)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return bool(hour + HOUR < limit)


def hour_rollups(
    rows: list[tuple[str, int, int, float | None]],
) -> dict[str, tuple[int, int, int, float | None, float | None, float | None, int]]:
    """Per service: (probes, contacted, failures, p50, p95, p99, latency samples), as the live state counts them:
    failures and uptime among contacted probes only, latency among contacted successes only."""
    probes: dict[str, int] = defaultdict(int)
    contacted: dict[str, int] = defaultdict(int)
    failures: dict[str, int] = defaultdict(int)
    latencies: dict[str, list[float]] = defaultdict(list)
    for service, ok, reached, latency in rows:
        probes[service] += 1
        if not reached:
            continue
        contacted[service] += 1
        if not ok:
            failures[service] += 1
        elif latency is not None:
            latencies[service].append(latency)
    out = {}
    for service, count in probes.items():
        values = [(value, 1) for value in latencies[service]]
        out[service] = (
            count,
            contacted[service],
            failures[service],
            weighted_percentile(values, 0.50),
            weighted_percentile(values, 0.95),
            weighted_percentile(values, 0.99),
            len(values),
        )
    return out


def prune_step(conn: sqlite3.Connection, now: float, raw_retention: float, rollup_retention: float) -> int:
    """Delete at most `PRUNE_BATCH` expired rows per table; return how many went (0: nothing left to prune)."""
    raw_cutoff = min(now - raw_retention, rolled_until(conn))
    long_cutoff = now - rollup_retention
    deleted = 0
    for table, column, cutoff in (
        ("results", "at", raw_cutoff),
        ("rate_limits", "at", now - raw_retention),
        ("breaker_events", "at", long_cutoff),
        ("inventory", "at", long_cutoff),
        ("incidents", "ended", long_cutoff),  # an open incident (ended NULL) is never pruned
        ("alert_incidents", "closed", long_cutoff),  # nor an open alert incident (closed NULL)
        ("silences", "ends", long_cutoff),
    ):
        cursor = conn.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} < ? LIMIT ?)",
            (cutoff, PRUNE_BATCH),
        )
        deleted += cursor.rowcount
    cursor = conn.execute(
        "DELETE FROM rollups WHERE (service, hour) IN (SELECT service, hour FROM rollups WHERE hour < ? LIMIT ?)",
        (long_cutoff, PRUNE_BATCH),
    )
    return deleted + cursor.rowcount


def _set_rolled_until(conn: sqlite3.Connection, value: float) -> None:
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('rolled_until', ?)", (repr(float(value)),))
