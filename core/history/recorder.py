"""The engine's events, turned into history rows.

A `QueuedRecorder`: the engine's `record` returns at once, and `handle` (on
the event loop, cheap) builds rows and hands them to the store's writer thread.
When the writer falls behind (a slow disk), `handle` waits a little, so the
recorder's own queue grows and thins raw results by sampling, as
`QueuedRecorder` does, instead of memory growing without bound; transitions
(incidents, breaker changes) are never dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict
from datetime import datetime

from core.details import McpDetails
from core.events import (
    BreakerChanged,
    Event,
    InventoryChanged,
    ProbeCompleted,
    RateLimitsUpdated,
    StatusChanged,
)
from core.history.rows import BreakerRow, InventoryRow, RateLimitRow, ResultRow, StatusRow
from core.history.store import HistoryStore
from core.recorder import QueuedRecorder
from core.results import ProbeResult

WRITER_BACKLOG = 20_000
"""Rows waiting for the writer beyond which the recorder slows down (and its queue starts sampling)."""
BACKOFF = 0.05


class HistoryRecorder(QueuedRecorder):
    """Records results, incidents, breaker transitions, rate-limit samples and inventory fingerprints."""

    def __init__(self, store: HistoryStore) -> None:
        super().__init__()
        self.store = store
        self._inventory_changes: dict[str, list[dict[str, object]]] = defaultdict(list)

    async def handle(self, event: Event) -> None:
        while self.store.backlog > WRITER_BACKLOG and self.store.recording:
            await asyncio.sleep(BACKOFF)
        if isinstance(event, ProbeCompleted):
            self.store.submit(result_row(event.result))
            details = event.result.details
            if isinstance(details, McpDetails) and event.result.ok:
                self.store.submit(self._inventory_row(event.service, event.at, details))
        elif isinstance(event, StatusChanged):
            self.store.submit(StatusRow(event.service, _ts(event.at), event.old.value, event.new.value, event.reason))
        elif isinstance(event, BreakerChanged):
            self.store.submit(BreakerRow(event.service, _ts(event.at), event.old, event.new))
        elif isinstance(event, RateLimitsUpdated):
            for limit in event.limits:
                reset = _ts(limit.reset_at) if limit.reset_at is not None else None
                self.store.submit(
                    RateLimitRow(event.service, _ts(event.at), limit.resource, limit.limit, limit.remaining, reset)
                )
        elif isinstance(event, InventoryChanged):
            change: dict[str, object] = {
                "kind": event.kind,
                "added": event.added,
                "removed": event.removed,
                "changed": event.changed,
            }
            self._inventory_changes[event.service].append(change)

    async def aclose(self) -> None:
        """Record what is queued, then wait for the writer to commit it (off the event loop)."""
        await super().aclose()
        await asyncio.to_thread(self.store.flush)

    def _inventory_row(self, service: str, at: datetime, details: McpDetails) -> InventoryRow:
        changes = self._inventory_changes.pop(service, [])
        return InventoryRow(
            service=service,
            at=_ts(at),
            fingerprint=inventory_fingerprint(details),
            tools=details.tool_count,
            resources=details.resource_count + details.resource_template_count,
            prompts=details.prompt_count,
            changes=json.dumps(changes, ensure_ascii=False),
        )


def result_row(result: ProbeResult) -> ResultRow:
    return ResultRow(
        service=result.service,
        at=_ts(result.started_at),
        status=result.status.value,
        ok=result.ok,
        contacted=result.contacted,
        latency_ms=result.latency_ms,
        attempts=result.attempts,
        http_status=result.http_status,
        reason=result.reason,
    )


def inventory_fingerprint(details: McpDetails) -> str:
    """One hash over everything an agent sees of the server's offer: tools (as their own fingerprints
    say), resources, templates and prompts. Order-independent: a server listing the same in another order
    has not changed."""
    parts = [
        "tools:" + ",".join(sorted(tool.fingerprint for tool in details.tools)),
        "resources:" + ",".join(sorted(details.resources)),
        "templates:" + ",".join(sorted(details.resource_templates)),
        "prompts:" + ",".join(sorted(details.prompts)),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _ts(at: datetime) -> float:
    return at.timestamp()
