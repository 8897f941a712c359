"""Pins in the history database: the first inventory seen for a service is approved (trust on first use).

One row per service holds the approved tools and the tools last seen. Every
process that monitors a fleet (a TUI, `lookout serve`, each cron `--once`) reads
and writes these rows directly, in short autocommit statements under SQLite's
own locking and busy timeout: not through the history's recording lock, which
only one process holds, since a `--once` run beside a recording daemon must
still compare with the same pins. Writes are rare (a first sight, a change, an
approval); a probe that sees what it saw before only reads.

Blocking calls: an async caller runs them in a thread.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from core.details import ToolChange
from core.history.schema import DDL, connect
from core.pins.diff import PinDiff, diff_tools, tool_changes
from core.pins.prints import ToolSet

COLUMNS = "service, approved_at, approved_fingerprint, approved_tools, seen_at, seen_fingerprint, seen_tools"


@dataclass(frozen=True, slots=True)
class PinRecord:
    """One service's pin: what was approved (and when), what was seen last (and when)."""

    service: str
    approved_at: float
    approved: ToolSet
    approved_fingerprint: str
    seen_at: float
    seen: ToolSet
    seen_fingerprint: str
    first_sight: bool = False
    """This call pinned the service (it had no pin before)."""

    @property
    def pending(self) -> bool:
        """What is listed now differs from what was approved."""
        return self.approved_fingerprint != self.seen_fingerprint

    def diff(self) -> PinDiff:
        return diff_tools(self.approved, self.seen) if self.pending else PinDiff()

    def changes(self) -> tuple[ToolChange, ...]:
        return tool_changes(self.approved, self.seen) if self.pending else ()


class PinStore:
    """The `tool_pins` table of one history file; safe to share between threads (one connection, a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(DDL)  # every table, so a history recorder later finds the file as it expects
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def get(self, service: str) -> PinRecord | None:
        with self._lock:
            return self._get(self._connection(), service)

    def approved_fingerprint(self, service: str) -> str | None:
        """Cheap: what a running monitor polls to notice an approval made by another process."""
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT approved_fingerprint FROM tool_pins WHERE service = ?", (service,))
                .fetchone()
            )
        return str(row[0]) if row else None

    def services(self) -> list[str]:
        with self._lock:
            rows = self._connection().execute("SELECT service FROM tool_pins ORDER BY service").fetchall()
        return [str(row[0]) for row in rows]

    def observe(self, service: str, seen: ToolSet, at: float) -> PinRecord:
        """Record what a probe listed: pinned as approved if the service has no pin yet; returns the pin.

        Two processes seeing a new service at once agree: the first insert wins, the other reads it.
        """
        fingerprint = seen.fingerprint
        with self._lock:
            conn = self._connection()
            record = self._get(conn, service)
            if record is None:
                tools = seen.to_json()
                inserted = conn.execute(
                    f"INSERT OR IGNORE INTO tool_pins ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (service, at, fingerprint, tools, at, fingerprint, tools),
                ).rowcount
                record = self._get(conn, service)
                assert record is not None
                if inserted:
                    return replace(record, first_sight=True)
            if record.seen_fingerprint == fingerprint:
                return record
            conn.execute(
                "UPDATE tool_pins SET seen_at = ?, seen_fingerprint = ?, seen_tools = ? WHERE service = ?",
                (at, fingerprint, seen.to_json(), service),
            )
            return replace(record, seen_at=at, seen=seen, seen_fingerprint=fingerprint)

    def approve(self, service: str, at: float, *, expected: str | None = None) -> PinRecord | None:
        """Make the tools last seen the approved ones; None if the service has no pin, or if `expected`
        (the seen fingerprint the approver was shown) is no longer what was seen last."""
        with self._lock:
            conn = self._connection()
            query = (
                "UPDATE tool_pins SET approved_at = ?, approved_fingerprint = seen_fingerprint, "
                "approved_tools = seen_tools WHERE service = ?"
            )
            params: tuple[object, ...] = (at, service)
            if expected is not None:
                query += " AND seen_fingerprint = ?"
                params += (expected,)
            if not conn.execute(query, params).rowcount:
                return None
            return self._get(conn, service)

    @staticmethod
    def _get(conn: sqlite3.Connection, service: str) -> PinRecord | None:
        row = conn.execute(f"SELECT {COLUMNS} FROM tool_pins WHERE service = ?", (service,)).fetchone()
        if row is None:
            return None
        return PinRecord(
            service=str(row[0]),
            approved_at=float(row[1]),
            approved_fingerprint=str(row[2]),
            approved=ToolSet.from_json(row[3]),
            seen_at=float(row[4]),
            seen_fingerprint=str(row[5]),
            seen=ToolSet.from_json(row[6]),
        )
