"""Where the app gets the fleet from: a live engine, or a fixed snapshot (for snapshot tests and replays).

The app only ever reads snapshots and drains events; it never awaits a probe.
Actions (probe now, pause, reset breaker) return at once and show up in a later snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from core.clock import Clock, SystemClock
from core.config import Config
from core.engine import Engine
from core.events import Event
from core.snapshot import FleetSnapshot


class FleetSource(Protocol):
    clock: Clock

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def snapshot(self) -> FleetSnapshot: ...
    @property
    def generation(self) -> int: ...
    def drain_events(self) -> list[Event]: ...
    def probe_now(self, name: str | None) -> None: ...
    def toggle_pause(self, name: str) -> bool: ...
    def reset_breaker(self, name: str) -> None: ...


class EngineSource:
    """The live fleet: an engine running in the app's event loop."""

    def __init__(self, config: Config, *, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.engine = Engine(config, clock=self.clock)
        self._events = self.engine.subscribe(maxsize=5000)

    async def start(self) -> None:
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()

    def snapshot(self) -> FleetSnapshot:
        return self.engine.snapshot()

    @property
    def generation(self) -> int:
        return self.engine.generation

    def drain_events(self) -> list[Event]:
        return self._events.drain()

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
        self._snapshot = snapshot
        self._events = list(events)
        self._generation = 1
        self.actions: list[tuple[str, str | None]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def snapshot(self) -> FleetSnapshot:
        return self._snapshot

    @property
    def generation(self) -> int:
        return self._generation

    def drain_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def probe_now(self, name: str | None) -> None:
        self.actions.append(("probe", name))

    def toggle_pause(self, name: str) -> bool:
        self.actions.append(("pause", name))
        services = tuple(replace(s, paused=not s.paused) if s.name == name else s for s in self._snapshot.services)
        self._snapshot = replace(self._snapshot, services=services)
        self._generation += 1
        service = self._snapshot.get(name)
        return bool(service and service.paused)

    def reset_breaker(self, name: str) -> None:
        self.actions.append(("reset", name))

    def now(self) -> datetime:
        return self.clock.now()
