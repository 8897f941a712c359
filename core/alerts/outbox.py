"""The outbox's rows in the history file: what each write does, and what a start reads back.

Every change is a `Write` op submitted to the history store, so it lands in the
writer's batch transaction next to the rows around it (never a second writer).
One row per (notification key, channel): that pair is the unit of
at-least-once delivery. Nothing here runs on the event loop but building ops.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.alerts.notification import Notification
from core.history.schema import connect

PENDING = "pending"
DELIVERED = "delivered"
ABANDONED = "abandoned"
"""Still undelivered after the retention: given up (the next prune forgets it)."""


@dataclass(frozen=True, slots=True)
class Enqueued:
    """A new delivery: pending. Inserting a pair already there changes nothing (a repeat enqueue is no repeat)."""

    key: str
    channel: str
    incident_id: str
    transition: str
    body: str
    created: float

    def apply(self, conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO alert_outbox VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, 0, '', 0)",
            (self.key, self.channel, self.incident_id, self.transition, self.body, self.created, PENDING, self.created),
        )
        return cursor.rowcount


@dataclass(frozen=True, slots=True)
class Attempted:
    """A round failed: the row stays pending, with when it is tried next and why it failed."""

    key: str
    channel: str
    attempts: int
    next_at: float
    error: str

    def apply(self, conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "UPDATE alert_outbox SET attempts = ?, next_at = ?, last_error = ? "
            "WHERE key = ? AND channel = ? AND state = ?",
            (self.attempts, self.next_at, self.error, self.key, self.channel, PENDING),
        )
        return cursor.rowcount


@dataclass(frozen=True, slots=True)
class Delivered:
    """A delivery succeeded. `firing`: an Alertmanager alert now re-sent until resolved; `resolves`: the
    incident whose firing alert this delivery resolved on this channel (its resends stop, after a restart too)."""

    key: str
    channel: str
    at: float
    attempts: int
    late: bool
    firing: bool = False
    resolves: str | None = None

    def apply(self, conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "UPDATE alert_outbox SET state = ?, delivered_at = ?, attempts = ?, late = ?, last_error = '', "
            "next_at = NULL, firing = ? WHERE key = ? AND channel = ?",
            (DELIVERED, self.at, self.attempts, int(self.late), int(self.firing), self.key, self.channel),
        )
        written = cursor.rowcount
        if self.resolves is not None:
            written += conn.execute(
                "UPDATE alert_outbox SET firing = 0 WHERE channel = ? AND incident_id = ? AND firing = 1",
                (self.channel, self.resolves),
            ).rowcount
        return written


@dataclass(frozen=True, slots=True)
class Pruned:
    """Forget delivered rows older than the retention (not a firing alert's: its resends need it), and give up
    pending ones decided before it: a notification about a month-old incident helps no one."""

    before: float

    def apply(self, conn: sqlite3.Connection) -> int:
        deleted = conn.execute(
            "DELETE FROM alert_outbox WHERE state != ? AND firing = 0 AND COALESCE(delivered_at, created) < ?",
            (PENDING, self.before),
        ).rowcount
        abandoned = conn.execute(
            "UPDATE alert_outbox SET state = ?, next_at = NULL WHERE state = ? AND created < ?",
            (ABANDONED, PENDING, self.before),
        ).rowcount
        return deleted + abandoned


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A row as read back at start."""

    notification: Notification
    channel: str
    created: float
    state: str
    attempts: int
    delivered_at: float | None
    late: bool
    last_error: str
    firing: bool


_COLUMNS = "channel, body, created, state, attempts, delivered_at, late, last_error, firing"


def _row(row: tuple[object, ...]) -> StoredDelivery | None:
    channel, body, created, state, attempts, delivered_at, late, last_error, firing = row
    try:
        notification = Notification.from_json(json.loads(str(body)))
    except (ValueError, KeyError, TypeError):
        return None  # a row this version cannot read is left where it is, not delivered half-understood
    return StoredDelivery(
        notification=notification,
        channel=str(channel),
        created=float(created),  # type: ignore[arg-type]
        state=str(state),
        attempts=int(attempts),  # type: ignore[call-overload]
        delivered_at=None if delivered_at is None else float(delivered_at),  # type: ignore[arg-type]
        late=bool(late),
        last_error=str(last_error),
        firing=bool(firing),
    )


@dataclass(frozen=True, slots=True)
class StoredOutbox:
    pending: list[StoredDelivery]
    """Oldest first: delivered in the order they were decided."""
    firing: list[StoredDelivery]
    """Alertmanager alerts delivered as firing and not yet resolved: their resends resume."""
    recent: list[StoredDelivery]
    """The newest rows, newest first: what `recent()` shows right after a start."""


def read_outbox(path: Path, recent: int) -> StoredOutbox:
    """What a start needs from the file (read-only; a file without the table reads as empty)."""
    conn = connect(path, readonly=True)
    try:
        try:
            pending = conn.execute(
                f"SELECT {_COLUMNS} FROM alert_outbox WHERE state = ? ORDER BY created, key", (PENDING,)
            ).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return StoredOutbox([], [], [])
            raise
        firing = conn.execute(f"SELECT {_COLUMNS} FROM alert_outbox WHERE firing = 1 ORDER BY created").fetchall()
        latest = conn.execute(
            f"SELECT {_COLUMNS} FROM alert_outbox ORDER BY created DESC LIMIT ?", (max(0, recent),)
        ).fetchall()
    finally:
        conn.close()

    def rows(found: list[tuple[object, ...]]) -> list[StoredDelivery]:
        return [item for item in map(_row, found) if item is not None]

    return StoredOutbox(rows(pending), rows(firing), rows(latest))
