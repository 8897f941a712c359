"""Where the app gets the fleet from: a live engine, or a fixed snapshot (for snapshot tests and replays).

Both speak one protocol, the engine's own two channels: a snapshot, and the
events since the app last looked. The app never awaits a probe. Actions
(probe now, pause, reset breaker) return at once; their effect arrives as
events and shows in the next snapshot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from core.bus import ViewItem
from core.clock import Clock, SystemClock
from core.config import Config
from core.engine import Engine
from core.events import Event, LogEvent, LogLevel, PauseChanged
from core.sanitize import LOG_LIMIT, clean_line
from core.snapshot import FleetSnapshot

if TYPE_CHECKING:
    from core.history import HistoryRecorder, HistoryStore

VIEW_QUEUE = 5000
"""Events the app may have unread between two frames before it resyncs from a fresh snapshot."""


class FleetSource(Protocol):
    clock: Clock
    history: HistoryStore | None
    """The recorded history the detail screen reads uptime by window from (None: none attached)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def snapshot(self) -> FleetSnapshot: ...
    def take_events(self) -> list[ViewItem]:
        """Events since the last call, in order; a `Resync` where some were lost."""
        ...

    def probe_now(self, name: str | None) -> None: ...
    def toggle_pause(self, name: str) -> bool: ...
    def reset_breaker(self, name: str) -> None: ...


class EngineSource:
    """The live fleet: an engine running in the app's event loop, read as a view."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        history: HistoryStore | None = None,
        notices: Iterable[str] = (),
    ) -> None:
        self.clock = clock or SystemClock()
        self.engine = Engine(config, clock=self.clock)
        self.history = history
        self._recorder: HistoryRecorder | None = None
        self._view = self.engine.subscribe(maxsize=VIEW_QUEUE)
        self._notices: deque[str] = deque(notices)
        if history is not None:
            history.on_warning = self.notice  # the writer's warnings reach the log pane, not a hidden stderr

    def notice(self, message: str) -> None:
        """A warning for the log pane from outside the engine (any thread: a deque append is atomic)."""
        self._notices.append(message)

    async def start(self) -> None:
        if self.history is not None:
            await self._attach_history(self.history)
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        if self._recorder is not None:
            await self._recorder.aclose()

    async def _attach_history(self, history: HistoryStore) -> None:
        """Sparklines and percentiles start from what was stored; from now on, every event is recorded."""
        from core.history.recording import attach_history

        self._recorder = await attach_history(self.engine, history)

    def snapshot(self) -> FleetSnapshot:
        return self.engine.snapshot()

    def take_events(self) -> list[ViewItem]:
        notes: list[ViewItem] = []
        while self._notices:
            message = self._notices.popleft()
            notes.append(LogEvent(at=self.clock.now(), level=LogLevel.WARNING, message=clean_line(message, LOG_LIMIT)))
        return notes + self._view.drain()

    def probe_now(self, name: str | None) -> None:
        self.engine.probe_now(name)

    def toggle_pause(self, name: str) -> bool:
        return self.engine.toggle_pause(name)

    def reset_breaker(self, name: str) -> None:
        self.engine.reset_breaker(name)


class StaticSource:
    """A fixed fleet: deterministic screens for snapshot tests. Actions change the snapshot locally."""

    def __init__(self, snapshot: FleetSnapshot, events: Sequence[Event] = (), *, clock: Clock) -> None:
        self.clock = clock
        self.history: HistoryStore | None = None
        self._snapshot = snapshot
        self._events: list[ViewItem] = list(events)
        self.actions: list[tuple[str, str | None]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def snapshot(self) -> FleetSnapshot:
        return self._snapshot

    def take_events(self) -> list[ViewItem]:
        events, self._events = self._events, []
        return events

    def probe_now(self, name: str | None) -> None:
        self.actions.append(("probe", name))

    def toggle_pause(self, name: str) -> bool:
        """As the engine does: the snapshot changes and a PauseChanged event says so."""
        self.actions.append(("pause", name))
        services = tuple(s.with_live(paused=not s.paused) if s.name == name else s for s in self._snapshot.services)
        self._snapshot = replace(self._snapshot, services=services)
        service = self._snapshot.get(name)
        paused = bool(service and service.paused)
        self._events.append(PauseChanged(at=self.clock.now(), service=name, paused=paused))
        return paused

    def reset_breaker(self, name: str) -> None:
        self.actions.append(("reset", name))
