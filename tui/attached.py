"""The fleet of a running `lookout serve`, read over its status API: a monitor without an engine of its own.

The daemon already probes the fleet (and holds its MCP servers); a second
engine would probe everything twice. So this source follows the daemon's event
stream, re-reads its fleet document whenever something happened (or the stream
was resynced or reconnected), and sends the monitor's actions as POSTs. Its
methods return at once, as the protocol asks: HTTP happens in background tasks.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from core.bus import ViewItem
from core.clock import Clock, SystemClock
from core.events import LogEvent, LogLevel
from core.sanitize import LOG_LIMIT, NAME_LIMIT, clean_line
from core.serve.client import ServeClient, ServerEvent, parse_time
from core.snapshot import FleetSnapshot

if TYPE_CHECKING:
    from core.history import HistoryStore

RECONNECT = 2.0
"""Seconds between attempts to reach the daemon again after its stream ended or failed."""


class AttachedSource:
    """A `FleetSource` over a daemon at `url` (bearer `token` when it asks for one)."""

    def __init__(self, url: str, *, token: str | None = None, clock: Clock | None = None) -> None:
        self.url = url
        self.clock = clock or SystemClock()
        self.history: HistoryStore | None = None
        """None: the daemon owns the history file (its uptime by window is in its status API)."""
        self._client = ServeClient(url, token)
        self._snapshot = FleetSnapshot(taken_at=self.clock.now(), services=())
        self._log: list[ViewItem] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._follow: asyncio.Task[None] | None = None
        self._refresh_wanted = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._note(LogLevel.INFO, f"attached to serve at {self.url}")
        try:
            self._snapshot = await self._client.fleet()
        except Exception as error:  # the stream's follower retries; the log pane says why the fleet is empty
            self._note(LogLevel.WARNING, f"serve at {self.url}: {_brief(error)}")
        self._follow = asyncio.create_task(self._follow_events())
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def stop(self) -> None:
        tasks = [t for t in (self._follow, self._refresher, *self._tasks) if t is not None]
        self._follow = self._refresher = None
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

    def reset_breaker(self, name: str) -> None:
        self._send(_path(name, "reset"))

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
            try:
                self._snapshot = await self._client.fleet()
            except asyncio.CancelledError:
                raise
            except Exception:  # the stream's follower reports a lost daemon; the last view stays on screen
                continue

    def _note(self, level: LogLevel, message: str) -> None:
        self._log.append(LogEvent(at=self.clock.now(), level=level, message=clean_line(message, LOG_LIMIT)))


def _path(name: str, action: str) -> str:
    return f"/api/v1/services/{quote(name, safe='')}/{action}"


def _level(label: str) -> LogLevel:
    return LogLevel.__members__.get(label.upper(), LogLevel.INFO)


def _brief(error: Exception) -> str:
    return clean_line(str(error) or type(error).__name__, LOG_LIMIT)
