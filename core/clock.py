"""Time, injectable: the engine owns time so tests and snapshots can fix it.

A clock answers "what time is it" and also does the waiting, because a
scheduler that reads a fake clock but sleeps on the real one is only half
fake: its tests would still wait for real seconds and race a busy machine.
`SystemClock` is the real thing; `FakeClock` stands still until a test moves
it, and then wakes every sleeper on the way, in order, at its own instant.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.wake import Wake


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, aware UTC: for display and for servers' reset times."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go backwards: for scheduling and latency."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...

    async def wait(self, event: Wake, timeout: float) -> bool:
        """Wait until `event` is set (True) or `timeout` seconds of this clock's time pass (False)."""
        ...


class SystemClock:
    """The real clock: asyncio's waits, the system's time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait(self, event: Wake, timeout: float) -> bool:
        """The event's own timed wait: one future, woken by `set()` or by one timer (core.wake)."""
        return await event.wait_at_most(timeout)


FAKE_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""Where a FakeClock starts unless told otherwise: a fixed instant, so a test's times repeat."""


@dataclass(order=True)
class _Sleeper:
    due: float
    order: int
    wakeup: asyncio.Future[None] = field(compare=False)
    task: asyncio.Task[object] | None = field(compare=False)
    event: Wake | None = field(compare=False, default=None)

    @property
    def parked(self) -> bool:
        """Still waiting on the clock: neither woken by it nor by its event."""
        return not self.wakeup.done() and not (self.event is not None and self.event.is_set())


class FakeClock:
    """A clock whose time moves only when a test says so: for scheduler, breaker and view tests.

    `advance(seconds)` wakes each sleeper that falls due on the way, in the order of its
    deadline, with the clock reading exactly that deadline, and lets the woken work finish
    before moving on (see `settle`). So "advance one interval" means "one round of probes has
    run", on a busy machine as on an idle one, and the times a test reads back are exact.
    """

    def __init__(self, at: datetime = FAKE_EPOCH, monotonic: float = 1000.0) -> None:
        self._at = at
        self._mono = monotonic
        self._sleepers: list[_Sleeper] = []
        self._order = itertools.count()
        self._tasks: dict[asyncio.Task[object], list[_Sleeper]] = {}
        self._changed: asyncio.Future[None] | None = None

    # -- reading -------------------------------------------------------------
    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return self._mono

    @property
    def sleepers(self) -> int:
        """How many waits on this clock are still pending."""
        return sum(1 for sleeper in self._sleepers if sleeper.parked)

    # -- waiting -------------------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)  # still a suspension point, as asyncio.sleep(0) is
            return
        sleeper = self._park(seconds, None)
        try:
            await sleeper.wakeup
        finally:
            self._unpark(sleeper)

    async def wait(self, event: Wake, timeout: float) -> bool:
        if event.is_set():
            return True
        if timeout <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        sleeper = self._park(timeout, event)
        waiter = asyncio.ensure_future(event.wait())
        waiter.add_done_callback(lambda _: self._notify())  # woken without the clock moving: settle() must know
        try:
            await asyncio.wait((waiter, sleeper.wakeup), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            self._unpark(sleeper)
        return event.is_set()

    # -- moving time -----------------------------------------------------------
    async def advance(self, seconds: float) -> None:
        """Move time forward, waking due sleepers in deadline order (ties: first asleep, first woken)."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        target = self._mono + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0].due <= target:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.parked:
                continue
            self._move_to(sleeper.due)
            sleeper.wakeup.set_result(None)
            await self.settle()
        self._move_to(target)

    async def settle(self, sleepers: int = 0) -> None:
        """Return once every task that has waited on this clock is waiting on it again, or finished,
        and at least `sleepers` waits are pending (for tasks just started, not yet known).

        This is what makes a fake-clock test deterministic even when the woken work does real
        I/O (a probe of a loopback server): the test goes on only when the scheduler is idle.
        The calling task is not waited for (it is the one asking).
        """
        me = asyncio.current_task()
        await asyncio.sleep(0)  # tasks created just now take their first step
        while True:
            awake = [
                task
                for task, waits in self._tasks.items()
                if task is not me and not task.done() and not any(s.parked for s in waits)
            ]
            if not awake and self.sleepers >= sleepers:
                return
            await self._next_change()

    def _move_to(self, mono: float) -> None:
        if mono > self._mono:
            self._at += timedelta(seconds=mono - self._mono)
            self._mono = mono

    def _park(self, seconds: float, event: Wake | None) -> _Sleeper:
        task = asyncio.current_task()
        sleeper = _Sleeper(
            self._mono + seconds, next(self._order), asyncio.get_running_loop().create_future(), task, event
        )
        heapq.heappush(self._sleepers, sleeper)
        if task is not None:
            if task not in self._tasks:
                self._tasks[task] = []
                task.add_done_callback(self._forget)
            self._tasks[task].append(sleeper)
        self._notify()
        return sleeper

    def _unpark(self, sleeper: _Sleeper) -> None:
        if not sleeper.wakeup.done():
            sleeper.wakeup.cancel()
        if sleeper in self._sleepers:
            self._sleepers.remove(sleeper)
            heapq.heapify(self._sleepers)
        if sleeper.task is not None and sleeper in self._tasks.get(sleeper.task, ()):
            self._tasks[sleeper.task].remove(sleeper)
        self._notify()

    def _forget(self, task: asyncio.Task[object]) -> None:
        self._tasks.pop(task, None)
        self._notify()

    async def _next_change(self) -> None:
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        await self._changed

    def _notify(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
