"""One MCP service's tools against their pin: first sight pins them, a difference is a degraded check.

The pin is read afresh at every probe (another process may have approved since),
and written only when what is listed changes. While the tools differ from the
approved ones, a small poll notices an approval made elsewhere (`lookout tools
approve`, another TUI) and asks for a probe at once, so the service is up again
within seconds rather than at its next interval.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from core.details import ToolChange
from core.events import LogLevel, ToolsUnapproved
from core.pins.prints import ToolSet
from core.pins.store import PinRecord, PinStore
from core.probes.base import ProbeContext
from core.results import Check

APPROVAL_POLL = 2.0
"""Seconds between two looks for an approval while a service's tools differ from their pin."""
CONDITION = "tools as approved"


@dataclass(frozen=True, slots=True)
class PinVerdict:
    state: str
    """pinned (first sight), approved (as approved) or changed."""
    check: Check
    changes: tuple[ToolChange, ...] = ()


class ToolPinning:
    """Lives as long as the probe; `aclose` ends its approval poll."""

    def __init__(self, service_name: str, ctx: ProbeContext) -> None:
        self._name = service_name
        self._ctx = ctx
        self._published: tuple[str, str] | None = None
        self._warned = False
        self._poll: asyncio.Task[None] | None = None

    async def judge(self, seen: ToolSet) -> PinVerdict | None:
        """The check for this probe's tools; None when no pins are kept (or the pin file cannot be used)."""
        store = self._ctx.pins()
        if store is None:
            return None
        now = self._ctx.now()
        try:
            record = await asyncio.to_thread(store.observe, self._name, seen, now.timestamp())
        except (sqlite3.Error, OSError) as error:
            if not self._warned:
                self._warned = True
                self._ctx.log(LogLevel.WARNING, f"tool pins unavailable ({error}); tools are not compared", "engine")
            return None
        self._warned = False
        if record.first_sight:
            self._ctx.log(LogLevel.INFO, f"pinned {len(seen)} tools as first seen (trust on first use)", "engine")
        if not record.pending:
            self._published = None
            self._stop_poll()
            state = "pinned" if record.first_sight else "approved"
            return PinVerdict(state, Check(CONDITION, True, f"{len(seen)} tools as approved"))
        self._announce(record, now)
        self._start_poll(store, record.approved_fingerprint)
        return PinVerdict("changed", Check(CONDITION, False, record.diff().describe()), record.changes())

    def _announce(self, record: PinRecord, now: datetime) -> None:
        """One event per new difference, not one per probe."""
        key = (record.approved_fingerprint, record.seen_fingerprint)
        if key == self._published:
            return
        self._published = key
        diff = record.diff()
        self._ctx.publish(
            ToolsUnapproved(
                at=now,
                service=self._name,
                added=diff.added,
                removed=diff.removed,
                changed=diff.changed_names(),
                approved_at=datetime.fromtimestamp(record.approved_at, UTC),
            )
        )

    def _start_poll(self, store: PinStore, approved: str) -> None:
        if self._poll is None or self._poll.done():
            self._poll = asyncio.create_task(self._await_approval(store, approved), name=f"pins:{self._name}")

    def _stop_poll(self) -> None:
        if self._poll is not None and not self._poll.done():
            self._poll.cancel()
        self._poll = None

    async def _await_approval(self, store: PinStore, approved: str) -> None:
        while True:
            await asyncio.sleep(APPROVAL_POLL)
            try:
                current = await asyncio.to_thread(store.approved_fingerprint, self._name)
            except (sqlite3.Error, OSError):
                continue  # a busy or briefly unreadable file: look again at the next round
            if current != approved:
                self._ctx.probe_now()
                return

    async def aclose(self) -> None:
        poll, self._poll = self._poll, None
        if poll is not None and not poll.done():
            poll.cancel()
            await asyncio.wait({poll})
