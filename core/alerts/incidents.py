"""Alert incidents: one per (rule, service) stretch of trouble, and how each is kept in the history file.

An incident's id names its rule, its service and when it opened, hashed, so
it is the same after a restart (the idempotency key of every notification
about it starts with it). What was already said about it (`sent`,
`reminders`, `last_sent`) is stored with it, so a restart never says it again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.alerts.notification import Transition
from core.history.schema import connect


def incident_id(rule: str, service: str, opened: float) -> str:
    digest = hashlib.sha256(f"{rule}\0{service}\0{opened:.6f}".encode()).hexdigest()
    return f"inc-{digest[:20]}"


@dataclass(slots=True)
class Incident:
    id: str
    rule: str
    service: str
    opened: float
    status: str
    """The service's status when this was last bad ("down", "degraded")."""
    previous_status: str
    """The status before the incident opened."""
    reason: str
    opening: Transition = Transition.FIRING
    """What opening it says: FIRING, or FLAPPING for the first reopening within a rule's flap window."""
    sent: bool = False
    """Its opening notification went to the sink (or it is `quiet`: never to be sent)."""
    reminders: int = 0
    last_sent: float | None = None
    quiet: bool = False
    """A reopening while already flapping: recorded, counted, never notified."""
    restored: bool = False
    """Open when the last run stopped: its first good result closes it (no zombie alert left behind)."""
    closed: float | None = None
    opened_seq: int = 0
    """The engine's seq of the event that opened it (this run only): later results are newer than it."""

    def write(self) -> IncidentWrite:
        """The incident as it stands now, as one `alert_incidents` row (a snapshot: later changes are later writes)."""
        return IncidentWrite(
            (
                self.id,
                self.rule,
                self.service,
                self.opened,
                self.closed,
                self.status,
                self.previous_status,
                self.reason,
                self.opening.value,
                int(self.sent),
                self.reminders,
                self.last_sent,
                int(self.quiet),
            )
        )


@dataclass(frozen=True, slots=True)
class IncidentWrite:
    """One incident's row, written (insert or replace) in the history writer's batch transaction."""

    row: tuple[str | float | int | None, ...]

    def apply(self, conn: sqlite3.Connection) -> int:
        conn.execute("INSERT OR REPLACE INTO alert_incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.row)
        return 1


COLUMNS = (
    "id, rule, service, opened, status, previous_status, reason, opening, sent, reminders, last_sent, quiet, closed"
)
RECALL_LIMIT = 10_000
"""At most this many closed incidents are read back at start (the newest): enough for any flap history."""


def load_open(path: Path) -> list[Incident]:
    """Incidents left open by the last run (read-only; [] for a new file)."""
    return _load(path, f"SELECT {COLUMNS} FROM alert_incidents WHERE closed IS NULL ORDER BY opened", ())


def load_closed_since(path: Path, since: float) -> list[Incident]:
    """Incidents closed at or after `since`, oldest first (read-only): what flap damping remembers across a
    restart (when each closed, and whether it was already a flapping reopening)."""
    query = (
        f"SELECT * FROM (SELECT {COLUMNS} FROM alert_incidents WHERE closed IS NOT NULL AND closed >= ?"
        " ORDER BY opened DESC LIMIT ?) ORDER BY opened"
    )
    return _load(path, query, (since, RECALL_LIMIT))


def _load(path: Path, query: str, args: tuple[object, ...]) -> list[Incident]:
    if not path.is_file():
        return []
    conn = connect(path, readonly=True)
    try:
        rows = conn.execute(query, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [
        Incident(
            id=str(r[0]),
            rule=str(r[1]),
            service=str(r[2]),
            opened=float(r[3]),
            status=str(r[4]),
            previous_status=str(r[5]),
            reason=str(r[6]),
            opening=Transition(r[7]),
            sent=bool(r[8]),
            reminders=int(r[9]),
            last_sent=None if r[10] is None else float(r[10]),
            quiet=bool(r[11]),
            restored=r[12] is None,
            closed=None if r[12] is None else float(r[12]),
        )
        for r in rows
    ]


def recent(path: Path, service: str | None = None, limit: int = 50) -> list[dict[str, object]]:
    """The latest incidents (open first), for views and `lookout history`-like listings."""
    if not path.is_file():
        return []
    conn = connect(path, readonly=True)
    try:
        query = "SELECT id, rule, service, opened, closed, status, reason, sent, quiet FROM alert_incidents"
        args: tuple[object, ...] = ()
        if service is not None:
            query += " WHERE service = ?"
            args = (service,)
        query += " ORDER BY closed IS NOT NULL, opened DESC LIMIT ?"
        rows = conn.execute(query, (*args, limit)).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    keys = ("id", "rule", "service", "opened", "closed", "status", "reason", "sent", "quiet")
    return [dict(zip(keys, row, strict=True)) for row in rows]
