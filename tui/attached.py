"""The fleet of a running `lookout serve`, read over its status API: a monitor without an engine of its own.

The daemon already probes the fleet (and holds its MCP servers); a second
engine would probe everything twice. So this source follows the daemon's event
stream, re-reads its fleet document whenever something happened (or the stream
was resynced or reconnected), and sends the monitor's actions as POSTs. Its
methods return at once, as the protocol asks: HTTP happens in background tasks.
The document carries the daemon's tallies, percentiles and uptime; each
service's newest results (sparklines, the detail screen's table) come with it
once per connection and then one by one from the stream's probe_completed
events, so what is re-read on every event stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core.alerts.overview import AlertsOverview
from core.bus import ViewItem
from core.clock import Clock, SystemClock
from core.events import LogEvent, LogLevel
from core.results import ProbeResult
from core.sanitize import LOG_LIMIT, NAME_LIMIT, clean_line
from core.serve.api import FLEET_RECENT
from core.serve.client import ServeClient, ServerEvent, parse_result, parse_time, with_newest
from core.snapshot import FleetSnapshot

if TYPE_CHECKING:
    from pathlib import Path

    from core.alerts.evaluator import AlertView
    from core.pins.store import PinRecord
    from core.serve.api import HistoryProvider

RECONNECT = 2.0
"""Seconds between attempts to reach the daemon again after its stream ended or failed."""
ALERTS_REFRESH = 3.0
"""Seconds between two reads of the daemon's /api/v1/alerts (alert states, channel health, notifications)."""


class AttachedSource:
    """A `FleetSource` over a daemon at `url` (bearer `token` when it asks for one)."""

    def __init__(self, url: str, *, token: str | None = None, clock: Clock | None = None) -> None:
        self.url = url
        self.clock = clock or SystemClock()
        self.silences_path: Path | None = None
        """The daemon's history file, when known: a silence written there reaches the daemon's alerts."""
        self._client = ServeClient(url, token)
        self.history: HistoryProvider | None = self._client
        """The daemon owns the history file: the detail screen's uptime by window comes from its status API."""
        self._snapshot = FleetSnapshot(taken_at=self.clock.now(), services=())
        self._log: list[ViewItem] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._follow: asyncio.Task[None] | None = None
        self._refresh_wanted = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None
        self._rings: dict[str, deque[tuple[int, ProbeResult]]] = {}
        """Per service, its newest results with the seq they came with: seeded from the fleet document's
        `recent` once per connection, then one per probe_completed event (the panels' sparklines, the detail
        screen's table), so the document re-read on every event need not carry them."""
        self._seed_wanted = True
        self._alerts: AlertsOverview = AlertsOverview(off=f"not read from serve at {url} yet")
        self._alerts_read = False
        self._alerts_wanted = asyncio.Event()
        self._alerts_reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._note(LogLevel.INFO, f"attached to serve at {self.url}")
        try:
            self._snapshot = self._adopt(await self._client.fleet(recent=True), seeded=True)
            self._seed_wanted = False
        except Exception as error:  # the stream's follower retries; the log pane says why the fleet is empty
            self._note(LogLevel.WARNING, f"serve at {self.url}: {_brief(error)}")
        self._follow = asyncio.create_task(self._follow_events())
        self._refresher = asyncio.create_task(self._refresh_loop())
        self._alerts_reader = asyncio.create_task(self._alerts_loop())

    async def stop(self) -> None:
        tasks = [t for t in (self._follow, self._refresher, self._alerts_reader, *self._tasks) if t is not None]
        self._follow = self._refresher = self._alerts_reader = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    def snapshot(self) -> FleetSnapshot:
        return self._snapshot

    def take_events(self) -> list[ViewItem]:
        events, self._log = self._log, []
        return events

    def probe_now(self, name: str | None) -> None:
        self._send("/api/v1/probe" if name is None else _path(name, "probe"))

    def toggle_pause(self, name: str) -> bool:
        """Says the new state at once (the daemon's own answer follows in the next fleet document)."""
        service = self._snapshot.get(name)
        paused = not (service is not None and service.paused)
        self._send(_path(name, "pause" if paused else "resume"))
        services = tuple(s.with_live(paused=paused) if s.name == name else s for s in self._snapshot.services)
        self._snapshot = replace(self._snapshot, services=services)
        return paused

    def alert_state(self, name: str) -> tuple[AlertView, ...]:
        """The daemon evaluates the alerts: its last /api/v1/alerts read says (at most ALERTS_REFRESH old)."""
        return tuple(self._alerts.states.get(name, ()))

    def alerts_overview(self) -> AlertsOverview:
        return self._alerts

    def refresh_alerts(self) -> None:
        self._alerts_wanted.set()

    def reset_breaker(self, name: str) -> None:
        self._send(_path(name, "reset"))

    async def approve_tools(self, name: str, fingerprint: str) -> str:
        """Approve in the daemon's history file, as `lookout tools approve` does: pins live there, any
        process may make that short write, and the daemon's next probe of `name` (asked for at once)
        sees the approval. Off the UI thread; `fingerprint` guards against tools changed meanwhile."""
        path = self.silences_path
        if path is None:
            return f"attached to a daemon whose history file is unknown: approve with `lookout tools approve {name}`"
        approved = await asyncio.to_thread(_approve, path, name, fingerprint)
        if approved is None:
            return f"the tools of {name} changed meanwhile (or were never pinned): look again"
        self.probe_now(name)
        return f"approved the {len(approved.approved)} tools {name} lists now"

    # -- background ------------------------------------------------------------------------------

    def _send(self, path: str) -> None:
        task = asyncio.get_running_loop().create_task(self._post(path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, path: str) -> None:
        try:
            await self._client.action(path)
        except Exception as error:  # the daemon gone or refusing: say so in the log pane, the view goes on
            self._note(LogLevel.ERROR, f"serve at {self.url} refused {path}: {_brief(error)}")
        self._refresh_wanted.set()

    async def _follow_events(self) -> None:
        """The daemon's stream, for ever: each event asks for a fresh fleet document; a lost stream is retried."""
        lost = False
        while True:
            try:
                async for event in self._client.events():
                    if lost:
                        lost = False
                        self._note(LogLevel.INFO, f"reattached to serve at {self.url}")
                    self._on_event(event)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not lost:
                    self._note(LogLevel.WARNING, f"lost serve at {self.url}: {_brief(error)}; retrying")
                lost = True
            else:
                if not lost:
                    self._note(LogLevel.WARNING, f"serve at {self.url} ended its event stream; retrying")
                lost = True
            await asyncio.sleep(RECONNECT)

    def _on_event(self, event: ServerEvent) -> None:
        if event.name in ("snapshot", "resync"):  # a new connection, or events lost: the rings start again
            self._seed_wanted = True
        elif event.name == "probe_completed":
            self._on_result(event.data)
        level, text = event.data.get("level"), event.data.get("text")
        if isinstance(level, str) and isinstance(text, str):
            service = event.data.get("service")
            self._log.append(
                LogEvent(
                    at=parse_time(event.data.get("at")) or self.clock.now(),
                    level=_level(level),
                    message=clean_line(text, LOG_LIMIT),
                    service=clean_line(service, NAME_LIMIT) if isinstance(service, str) else None,
                    source="serve",
                )
            )
        self._refresh_wanted.set()

    async def _refresh_loop(self) -> None:
        """One fleet read at a time, however many events asked: a burst of events costs one request."""
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted.clear()
            seed, self._seed_wanted = self._seed_wanted, False
            try:
                self._snapshot = self._adopt(await self._client.fleet(recent=seed), seeded=seed)
            except asyncio.CancelledError:
                raise
            except Exception:  # the stream's follower reports a lost daemon; the last view stays on screen
                self._seed_wanted = self._seed_wanted or seed
                continue

    def _on_result(self, data: dict[str, Any]) -> None:
        service, seq, brief = data.get("service"), data.get("seq"), data.get("result")
        if not (isinstance(service, str) and isinstance(seq, int) and isinstance(brief, dict)):
            return
        ring = self._rings.get(service)
        if ring is not None and (not ring or ring[-1][0] < seq):  # a new service waits for its first document
            ring.append((seq, parse_result(service, brief)))

    def _adopt(self, snapshot: FleetSnapshot, *, seeded: bool) -> FleetSnapshot:
        """The daemon's document with each service's history from its ring. Seeded (the document carries
        `recent`, as of its seq), a ring restarts from the document plus the events it already holds from
        after that seq; otherwise the ring stands, and the document's last result (in full) ends it."""
        services = []
        for service in snapshot.services:
            ring = self._rings.get(service.name)
            if seeded or ring is None:
                later = [entry for entry in ring or () if entry[0] > snapshot.seq]
                ring = deque(((snapshot.seq, r) for r in service.history), maxlen=FLEET_RECENT)
                ring.extend(later)
                self._rings[service.name] = ring
            history = with_newest(tuple(result for _, result in ring), service.last_result)
            services.append(replace(service, history=history))
        for gone in self._rings.keys() - {service.name for service in snapshot.services}:
            del self._rings[gone]
        return replace(snapshot, services=tuple(services))

    async def _alerts_loop(self) -> None:
        """Read /api/v1/alerts every ALERTS_REFRESH seconds, or at once when asked (the screen opened)."""
        while True:
            try:
                self._alerts = await self._client.alerts()
                self._alerts_read = True
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a lost daemon is reported by the stream's follower; say it here too
                if not self._alerts_read:
                    self._alerts = replace(self._alerts, off=f"serve at {self.url}: alerts not read ({_brief(error)})")
            self._alerts_wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._alerts_wanted.wait(), ALERTS_REFRESH)

    def _note(self, level: LogLevel, message: str) -> None:
        self._log.append(LogEvent(at=self.clock.now(), level=level, message=clean_line(message, LOG_LIMIT)))


def _approve(path: Path, name: str, fingerprint: str) -> PinRecord | None:
    from core.pins.store import PinStore

    store = PinStore(path)
    try:
        return store.approve(name, time.time(), expected=fingerprint)
    finally:
        store.close()


def _path(name: str, action: str) -> str:
    return f"/api/v1/services/{quote(name, safe='')}/{action}"


def _level(label: str) -> LogLevel:
    return LogLevel.__members__.get(label.upper(), LogLevel.INFO)


def _brief(error: Exception) -> str:
    return clean_line(str(error) or type(error).__name__, LOG_LIMIT)
