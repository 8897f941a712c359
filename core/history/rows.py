"""The writes the recorder hands the writer thread, and how one batch of them is applied.

Rows are plain frozen records built on the event loop from events (cheap), and
turned into SQL on the writer thread (the costly part), in one transaction per batch.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.results import Status

BAD = (Status.DOWN.value, Status.DEGRADED.value)


@dataclass(frozen=True, slots=True)
class ResultRow:
    service: str
    at: float
    status: str
    ok: bool
    contacted: bool
    latency_ms: float | None
    attempts: int
    http_status: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A status transition: opens, worsens or closes the service's incident."""

    service: str
    at: float
    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerRow:
    service: str
    at: float
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class RateLimitRow:
    service: str
    at: float
    resource: str
    limit: int | None
    remaining: int | None
    reset_at: float | None


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """An MCP server's inventory as fingerprinted at one probe; stored only when the fingerprint changes."""

    service: str
    at: float
    fingerprint: str
    tools: int
    resources: int
    prompts: int
    changes: str
    """JSON list of the InventoryChanged events seen since the last stored row ("[]": none)."""


@runtime_checkable
class Write(Protocol):
    """A write defined outside this module (alert incidents, the outbox, silences, tool pins).

    Submitted like any row, so it lands in the same batch transaction as the rows
    around it: an alert's state and the notification it decided commit together.
    """

    def apply(self, conn: sqlite3.Connection) -> int:
        """Run inside the batch's transaction; return the rows written."""
        ...


Op = ResultRow | StatusRow | BreakerRow | RateLimitRow | InventoryRow | Write


def apply_ops(conn: sqlite3.Connection, ops: list[Op], fingerprints: dict[str, str]) -> int:
    """Apply one batch inside the caller's transaction; return the rows written."""
    results = [
        (r.service, r.at, r.status, int(r.ok), int(r.contacted), r.latency_ms, r.attempts, r.http_status, r.reason)
        for r in ops
        if isinstance(r, ResultRow)
    ]
    conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", results)
    written = len(results)
    for op in ops:
        if isinstance(op, StatusRow):
            written += _apply_status(conn, op)
        elif isinstance(op, BreakerRow):
            conn.execute("INSERT INTO breaker_events VALUES (?, ?, ?, ?)", (op.service, op.at, op.old, op.new))
            written += 1
        elif isinstance(op, RateLimitRow):
            conn.execute(
                "INSERT INTO rate_limits VALUES (?, ?, ?, ?, ?, ?)",
                (op.service, op.at, op.resource, op.limit, op.remaining, op.reset_at),
            )
            written += 1
        elif isinstance(op, InventoryRow):
            written += _apply_inventory(conn, op, fingerprints)
        elif isinstance(op, Write):
            written += op.apply(conn)
    return written


def _apply_status(conn: sqlite3.Connection, op: StatusRow) -> int:
    """Down or degraded opens an incident (or keeps the open one, marking it down if it got worse);
    up closes it. Unknown changes nothing: it says nothing about the service. An incident left open by
    a previous run goes on if the service is still failing after the restart, and closes when it recovers."""
    row = conn.execute(
        "SELECT id, status FROM incidents WHERE service = ? AND ended IS NULL ORDER BY started DESC LIMIT 1",
        (op.service,),
    ).fetchone()
    if op.new in BAD:
        if row is None:
            conn.execute(
                "INSERT INTO incidents (service, status, started, reason) VALUES (?, ?, ?, ?)",
                (op.service, op.new, op.at, op.reason),
            )
            return 1
        if op.new == Status.DOWN.value and row[1] != Status.DOWN.value:
            conn.execute("UPDATE incidents SET status = ? WHERE id = ?", (op.new, row[0]))
        return 0
    if op.new == Status.UP.value and row is not None:
        conn.execute("UPDATE incidents SET ended = ?, end_reason = ? WHERE id = ?", (op.at, op.reason, row[0]))
        return 1
    return 0


def _apply_inventory(conn: sqlite3.Connection, op: InventoryRow, fingerprints: dict[str, str]) -> int:
    last = fingerprints.get(op.service)
    if last is None:
        row = conn.execute(
            "SELECT fingerprint FROM inventory WHERE service = ? ORDER BY at DESC LIMIT 1", (op.service,)
        ).fetchone()
        last = row[0] if row else ""
    if last == op.fingerprint:
        return 0
    conn.execute(
        "INSERT INTO inventory VALUES (?, ?, ?, ?, ?, ?, ?)",
        (op.service, op.at, op.fingerprint, op.tools, op.resources, op.prompts, op.changes),
    )
    fingerprints[op.service] = op.fingerprint
    return 1
