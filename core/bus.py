"""Fan-out of engine events to any number of subscribers.

Publishing never waits: each subscriber has a bounded queue, and when a slow
subscriber's queue is full its oldest event is dropped (and counted), so one
stuck view can never stall the engine or the other views.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from core.events import Event


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._events: deque[Event] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def _push(self, event: Event) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append(event)
        self._ready.set()

    def drain(self) -> list[Event]:
        """Everything queued so far, without waiting (for views that poll on a frame timer)."""
        events = list(self._events)
        self._events.clear()
        self._ready.clear()
        return events

    async def get(self) -> Event:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._events.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        self._bus._remove(self)

    @property
    def closed(self) -> bool:
        return self._closed


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        subscription = Subscription(self, maxsize)
        self._subscribers.append(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in self._subscribers:
            subscription._push(event)

    def close(self) -> None:
        for subscription in list(self._subscribers):
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
