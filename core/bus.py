"""Fan-out of engine events to views: bounded, lossy by contract, and never a gap without a resync.

A view (the TUI, `--once`, an exporter) may fall behind. Publishing never
waits on it: each view has a bounded queue. When the queue is full the view
stops receiving, every further event is counted as dropped, and when the view
next reads past what it had queued it gets a `Resync` with a fresh snapshot
instead of the missing events; events continue from that snapshot's seq. So a
view sees an unbroken run of seq numbers from each snapshot it holds, drops
are counted and visible, and one stuck view costs the engine a counter
increment per event, never a wait.

Taking the snapshot when the view reads, not when it overflows, keeps the
publish path cheap (a fleet snapshot is built only once per gap) and makes the
snapshot as fresh as it can be. The engine runs on one event loop, so taking a
snapshot and resetting the queue happen with no publish in between; a view
made while an event is being published (from a recorder's `record`, say)
already has that event in its snapshot and skips it, by seq.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from core.events import Event
from core.snapshot import FleetSnapshot


@dataclass(frozen=True, slots=True)
class Resync:
    """The view missed events: start again from this snapshot; the next event has seq `snapshot.seq + 1`."""

    snapshot: FleetSnapshot
    dropped: int
    """How many events this view lost since the last time it was in step."""


ViewItem = Event | Resync


class ViewSubscription:
    """One view's place in the stream: its starting snapshot, then every event after it, or a `Resync`."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("a view's queue holds at least one event")
        self._bus = bus
        self._maxsize = maxsize
        self._events: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._lost = 0
        self._start: FleetSnapshot | None = bus.take_snapshot()
        self.seq = self._start.seq
        """The seq this view is in step from (its start, or its last resync): the next event it receives is seq + 1."""
        self.dropped = 0
        """Events this view lost, in all: what a slow view shows so its user knows."""
        self.resyncs = 0

    def _push(self, event: Event) -> None:
        if event.seq <= self.seq:
            return  # subscribed (or resynced) while this event was being published: the snapshot holds it
        if self._lost or len(self._events) >= self._maxsize:
            self._lost += 1
            self.dropped += 1
        else:
            self._events.append(event)
        self._ready.set()

    def take_start(self) -> FleetSnapshot:
        """The fleet as of `seq`, when the view was made; handed out once.

        The view does not keep it: a snapshot held for the life of a view (a log printer, an event stream
        client) would keep every service's result-ring columns it shares (core.ring), so each ring would
        copy its columns on its next result and the fleet's rings would stay in memory twice.
        """
        start = self._start
        if start is None:
            raise RuntimeError("a view's starting snapshot is handed out once")
        self._start = None
        return start

    def _resync(self) -> Resync:
        snapshot = self._bus.take_snapshot()
        self.seq = snapshot.seq
        resync = Resync(snapshot, self._lost)
        self._lost = 0
        self.resyncs += 1
        return resync

    def drain(self) -> list[ViewItem]:
        """Everything queued so far, without waiting (for views that read on a frame timer)."""
        items: list[ViewItem] = list(self._events)
        self._events.clear()
        if self._lost:
            items.append(self._resync())
        self._ready.clear()
        return items

    async def get(self) -> ViewItem:
        """The next event, or a `Resync` where events were lost; StopAsyncIteration once closed and read."""
        while True:
            if self._events:
                return self._events.popleft()
            if self._lost:
                return self._resync()
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()

    def __aiter__(self) -> AsyncIterator[ViewItem]:
        return self

    async def __anext__(self) -> ViewItem:
        return await self.get()

    def close(self) -> None:
        """No more events; what is queued can still be read."""
        self._closed = True
        self._ready.set()
        self._bus._remove(self)

    @property
    def closed(self) -> bool:
        return self._closed


class EventBus:
    """The views of one engine. `snapshot` must return the fleet as of the last published event."""

    def __init__(self, snapshot: Callable[[], FleetSnapshot]) -> None:
        self._snapshot = snapshot
        self._views: list[ViewSubscription] = []

    def subscribe(self, maxsize: int = 1000) -> ViewSubscription:
        view = ViewSubscription(self, maxsize)
        self._views.append(view)
        return view

    @property
    def has_views(self) -> bool:
        """Whether any view is subscribed (the engine builds the events nobody takes only as a count)."""
        return bool(self._views)

    def take_snapshot(self) -> FleetSnapshot:
        return self._snapshot()

    def publish(self, event: Event) -> None:
        for view in self._views:
            view._push(event)

    def close(self) -> None:
        for view in list(self._views):
            view.close()

    def _remove(self, view: ViewSubscription) -> None:
        if view in self._views:
            self._views.remove(view)
