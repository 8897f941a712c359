"""Where the app gets the fleet from: a live engine, or a fixed snapshot (for snapshot tests and replays).

Both speak one protocol, the engine's own two channels: a snapshot, and the
events since the app last looked. The app never awaits a probe. Actions
(probe now, pause, reset breaker) return at once; their effect arrives as
events and shows in the next snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.bus import ViewItem
from core.clock import Clock, SystemClock
from core.config import Config
from core.engine import Engine
from core.events import Event, LogEvent, LogLevel, PauseChanged
from core.sanitize import LOG_LIMIT, clean_line
from core.snapshot import FleetSnapshot

if TYPE_CHECKING:
    from core.alerts.evaluator import AlertView
    from core.alerts.notification import NotificationSink
    from core.alerts.overview import AlertsOverview
    from core.alerts.runtime import AlertRuntime
    from core.history import HistoryRecorder, HistoryStore
    from core.pins.store import PinStore
    from core.serve.api import HistoryProvider

VIEW_QUEUE = 5000
"""Events the app may have unread between two frames before it resyncs from a fresh snapshot."""


class FleetSource(Protocol):
    clock: Clock
    silences_path: Path | None
    """The history file a silence is written into (None: no file to write one into)."""

    @property
    def history(self) -> HistoryProvider | None:
        """The recorded history the detail screen reads uptime by window from (None: none attached): a local
        store, or an attached daemon's status API."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def snapshot(self) -> FleetSnapshot: ...
    def take_events(self) -> list[ViewItem]:
        """Events since the last call, in order; a `Resync` where some were lost."""
        ...

    def probe_now(self, name: str | None) -> None: ...
    def toggle_pause(self, name: str) -> bool: ...
    def reset_breaker(self, name: str) -> None: ...
    async def approve_tools(self, name: str, fingerprint: str) -> str:
        """Approve the tools `name` listed with this fingerprint (what the screen showed); says what happened."""
        ...

    def alert_state(self, name: str) -> tuple[AlertView, ...]:
        """What the alert rules say about `name` now (firing, silenced, pending...); () when nothing."""
        ...

    def alerts_overview(self) -> AlertsOverview:
        """Channel health and recent notifications (the notifications screen), or why alerts are off."""
        ...

    def refresh_alerts(self) -> None:
        """Read the alerts afresh soon, in the background (the notifications screen opened); returns at once."""
        ...


class EngineSource:
    """The live fleet: an engine running in the app's event loop, read as a view."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        history: HistoryStore | None = None,
        notices: Iterable[str] = (),
        pins: PinStore | None = None,
        alert_sink: NotificationSink | None = None,
        alerts_off: str | None = None,
    ) -> None:
        """`pins`: the tool pins to compare with when no history brings its own (the demo's).
        `alert_sink`: where alert notifications go (the outbox); the rules are evaluated only when this
        monitor records `history`, else the log pane says why not (`alerts_off`)."""
        self.clock = clock or SystemClock()
        self.engine = Engine(config, clock=self.clock, pins=pins)
        self.history = history
        self.silences_path = history.path if history is not None else None
        self.alert_sink = alert_sink
        self._alerts_off = alerts_off
        self.alerts: AlertRuntime | None = None
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
        # Always (not only when the config has rules): a reload that adds an `alerts:` block takes effect.
        from core.alerts.runtime import NOT_RECORDING, start_alerts

        why = self._alerts_off or NOT_RECORDING
        self.alerts = await start_alerts(self.engine, self.history, self.alert_sink, log=self.notice, why_not=why)
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        if self.alerts is not None:
            await self.alerts.aclose()  # its last incident writes go in before the recorder's final flush
        if self._recorder is not None:
            await self._recorder.aclose()

    def alert_state(self, name: str) -> tuple[AlertView, ...]:
        return self.alerts.evaluator.alert_state(name) if self.alerts is not None else ()

    def alerts_overview(self) -> AlertsOverview:
        from core.alerts.overview import build_overview
        from core.alerts.runtime import NOT_RECORDING, alerts_off_line

        off = alerts_off_line(self._alerts_off or NOT_RECORDING)
        return build_overview(self.alerts, self.engine.names, off=off)

    def refresh_alerts(self) -> None:
        """Nothing to fetch: `alerts_overview` reads the running dispatcher itself."""
        return None

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

    async def approve_tools(self, name: str, fingerprint: str) -> str:
        store = self.engine.pins
        if store is None:
            return "no tool pins are kept (the monitor runs without history)"
        approved = await asyncio.to_thread(store.approve, name, time.time(), expected=fingerprint)
        if approved is None:
            return f"the tools of {name} changed meanwhile: look again"
        self.engine.probe_now(name)
        return f"approved the {len(approved.approved)} tools {name} lists now"


class StaticSource:
    """A fixed fleet: deterministic screens for snapshot tests. Actions change the snapshot locally."""

    def __init__(
        self,
        snapshot: FleetSnapshot,
        events: Sequence[Event] = (),
        *,
        clock: Clock,
        alerts: Mapping[str, tuple[AlertView, ...]] | None = None,
        overview: AlertsOverview | None = None,
    ) -> None:
        """`alerts`: each service's alert state; `overview`: what the notifications screen shows (its
        states default to `alerts`; without one, alerts are off)."""
        from core.alerts.overview import AlertsOverview

        self.clock = clock
        self.history: HistoryStore | None = None
        self.silences_path: Path | None = None
        self._alerts = dict(alerts or {})
        given = overview or AlertsOverview(off="this view shows a fixed snapshot")
        self._overview = given if given.states or not self._alerts else replace(given, states=self._alerts)
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

    async def approve_tools(self, name: str, fingerprint: str) -> str:
        self.actions.append(("approve", name))
        return f"approved the tools {name} lists now"

    def alert_state(self, name: str) -> tuple[AlertView, ...]:
        return self._alerts.get(name, ())

    def alerts_overview(self) -> AlertsOverview:
        return self._overview

    def refresh_alerts(self) -> None:
        return None
