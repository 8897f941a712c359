"""Recorders: consumers that must see every transition (history, alert evaluation).

Contract: the engine calls `record(event)` for every event, in seq order, on
its own event loop, and waits for it to return. So `record` must return at
once: hand the work to your own queue, task or thread. An exception from
`record` is reported once in the log and never reaches the engine.

`QueuedRecorder` is that contract done once: `record` appends to a queue and a
worker task feeds `handle` in order. Its queue never drops a transition
(StatusChanged, BreakerChanged, ...). Raw observations (results, probe starts,
log lines) are many and each superseded by the next; when more than
`max_observations` of them wait, only one in `sample_every` is kept, and what
is sampled away is counted, so a slow store thins the raw series instead of
holding memory without bound or losing an incident.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from typing import Protocol

from core.events import OBSERVATIONS, Event


class Recorder(Protocol):
    def record(self, event: Event) -> None:
        """Take one event; return at once (never await, never block on I/O)."""


class QueuedRecorder(abc.ABC):
    """Base for recorders: subclass and implement `handle`; call `aclose` when done.

    The worker task starts with the first event (the engine calls `record`
    from its event loop), so building one needs no running loop.
    """

    def __init__(self, *, max_observations: int = 1000, sample_every: int = 10) -> None:
        self._queue: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._max_observations = max_observations
        self._sample_every = max(1, sample_every)
        self._observations_queued = 0
        self._offered = 0
        self.sampled_away = 0
        """Raw observations not handled because the queue was over `max_observations`."""
        self.failures = 0
        """Events whose `handle` raised (each is skipped; the worker goes on)."""
        self.last_error: Exception | None = None

    @abc.abstractmethod
    async def handle(self, event: Event) -> None:
        """Store or evaluate one event. Runs in the worker task, one event at a time, in seq order."""

    def record(self, event: Event) -> None:
        if self._closing:
            return
        if isinstance(event, OBSERVATIONS):
            if self._observations_queued >= self._max_observations:
                self._offered += 1
                if self._offered % self._sample_every:
                    self.sampled_away += 1
                    return
            self._observations_queued += 1
        self._queue.append(event)
        self._idle.clear()
        self._ready.set()
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"recorder:{type(self).__name__}")

    @property
    def backlog(self) -> int:
        """Events recorded but not handled yet."""
        return len(self._queue)

    async def join(self) -> None:
        """Wait until every event recorded so far has been handled."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Handle what is queued, then stop; later events are ignored."""
        self._closing = True
        if self._worker is not None:
            await self.join()
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _work(self) -> None:
        while True:
            while not self._queue:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
            event = self._queue[0]
            try:
                await self.handle(event)
            except Exception as error:  # one bad event must not stop the record of the next
                self.failures += 1
                self.last_error = error
            finally:
                self._queue.popleft()
                if isinstance(event, OBSERVATIONS):
                    self._observations_queued -= 1
