"""The history file's tables, and opening it safely: WAL, a busy timeout, a corrupt file moved aside.

Times are Unix seconds (REAL), so windows and retention are plain comparisons
and the file reads the same in any time zone. Text from monitored servers
(reasons, resource and tool names) arrives already made safe by the engine.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
"""Short writes by other processes (later: silences, approvals) wait their turn up to this long."""

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    service TEXT NOT NULL, at REAL NOT NULL, status TEXT NOT NULL, ok INTEGER NOT NULL,
    contacted INTEGER NOT NULL, latency_ms REAL, attempts INTEGER NOT NULL,
    http_status INTEGER, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_service ON results (service, at);
CREATE INDEX IF NOT EXISTS results_by_time ON results (at);
CREATE TABLE IF NOT EXISTS rollups (
    service TEXT NOT NULL, hour INTEGER NOT NULL, probes INTEGER NOT NULL, contacted INTEGER NOT NULL,
    failures INTEGER NOT NULL, p50_ms REAL, p95_ms REAL, p99_ms REAL, latency_samples INTEGER NOT NULL,
    PRIMARY KEY (service, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_by_time ON rollups (hour);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, service TEXT NOT NULL, status TEXT NOT NULL, started REAL NOT NULL,
    ended REAL, reason TEXT NOT NULL, end_reason TEXT
);
CREATE INDEX IF NOT EXISTS incidents_by_service ON incidents (service, started);
CREATE TABLE IF NOT EXISTS breaker_events (
    service TEXT NOT NULL, at REAL NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS breaker_by_service ON breaker_events (service, at);
CREATE TABLE IF NOT EXISTS rate_limits (
    service TEXT NOT NULL, at REAL NOT NULL, resource TEXT NOT NULL,
    lim INTEGER, remaining INTEGER, reset_at REAL
);
CREATE INDEX IF NOT EXISTS rate_limits_by_service ON rate_limits (service, at);
CREATE TABLE IF NOT EXISTS inventory (
    service TEXT NOT NULL, at REAL NOT NULL, fingerprint TEXT NOT NULL, tools INTEGER NOT NULL,
    resources INTEGER NOT NULL, prompts INTEGER NOT NULL, changes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inventory_by_service ON inventory (service, at);
-- alerts: outbox
-- One row per (notification key, channel): pending until delivered; `late` when it could not be delivered
-- when decided; `firing` marks an Alertmanager alert being re-sent until its incident resolves (resumed on start).
CREATE TABLE IF NOT EXISTS alert_outbox (
    key TEXT NOT NULL, channel TEXT NOT NULL, incident_id TEXT NOT NULL, transition TEXT NOT NULL,
    body TEXT NOT NULL, created REAL NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_at REAL, delivered_at REAL, late INTEGER NOT NULL, last_error TEXT NOT NULL, firing INTEGER NOT NULL,
    PRIMARY KEY (key, channel)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_outbox_by_state ON alert_outbox (state, created);
CREATE INDEX IF NOT EXISTS alert_outbox_by_time ON alert_outbox (created);
-- tool pins
CREATE TABLE IF NOT EXISTS tool_pins (
    service TEXT PRIMARY KEY, approved_at REAL NOT NULL, approved_fingerprint TEXT NOT NULL,
    approved_tools TEXT NOT NULL, seen_at REAL NOT NULL, seen_fingerprint TEXT NOT NULL, seen_tools TEXT NOT NULL
);
-- alerts: rules and silences
CREATE TABLE IF NOT EXISTS alert_incidents (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, service TEXT NOT NULL, opened REAL NOT NULL, closed REAL,
    status TEXT NOT NULL, previous_status TEXT NOT NULL, reason TEXT NOT NULL, opening TEXT NOT NULL,
    sent INTEGER NOT NULL, reminders INTEGER NOT NULL, last_sent REAL, quiet INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_incidents_open ON alert_incidents (closed, rule, service);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY, target TEXT NOT NULL, starts REAL NOT NULL, ends REAL NOT NULL,
    reason TEXT NOT NULL, created REAL NOT NULL, expired REAL
);
CREATE INDEX IF NOT EXISTS silences_by_end ON silences (ends);
"""


class CorruptHistory(Exception):
    """The file is not a readable SQLite database."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every use needs. `readonly` never creates or changes the file."""
    if readonly:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def prepare(conn: sqlite3.Connection) -> None:
    """Make the file ready to record: WAL (readers never block the writer, a crash loses at most the
    transaction under way), synchronous=NORMAL (durable at each WAL checkpoint, fast commits), tables."""
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(DDL)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as error:
        if _is_corruption(error):
            raise CorruptHistory(str(error)) from error
        raise
    if row is None or row[0] != "ok":
        raise CorruptHistory(str(row[0]) if row else "quick_check returned nothing")


def move_aside(path: Path, *, now: float | None = None) -> Path:
    """Rename a corrupt database (and its WAL and shared-memory files) to `<name>.corrupt-<time>`; return it.

    Kept, not deleted: what it held may still be recoverable with `sqlite3 .recover`.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now if now is not None else time.time()))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def _is_corruption(error: sqlite3.DatabaseError) -> bool:
    text = str(error).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text
