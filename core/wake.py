"""A wake-up flag for a task that sleeps between rounds: what `asyncio.Event` does, without its weight.

Every service's schedule (and every alert lane) sleeps on one of these until its next round is due or
someone asks for a round now. `asyncio.Event` keeps its waiters in a `deque`, which allocates a 64-slot
block at once: 760 bytes a service even when nobody waits (7.6 MB at 10,000 services). Here the waiters
are a list made when someone first waits and dropped when the last one leaves.

`wait_at_most` is the schedule's wait: one future, resolved by whichever comes first, `set()` or a timer.
Through `asyncio.timeout(event.wait())` the usual wake (the timer) was a cancellation thrown into the
wait, caught and turned into TimeoutError: about twice the cost, once per probe.
"""

from __future__ import annotations

import asyncio


class Wake:
    """Set from the event loop's thread (as `asyncio.Event`); any number of tasks may wait."""

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        """Raise the flag and wake every waiter (each sees the flag raised, as with `asyncio.Event`)."""
        if self._flag:
            return
        self._flag = True
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._flag = False

    async def wait(self) -> bool:
        """Until the flag is raised; True, as `asyncio.Event.wait` returns."""
        if not self._flag:
            await self._park(asyncio.get_running_loop().create_future())
        return True

    async def wait_at_most(self, seconds: float) -> bool:
        """Until the flag is raised (True) or `seconds` pass (False, unless raised meanwhile)."""
        if self._flag:
            return True
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(max(0.0, seconds), _resolve, woken)
        try:
            await self._park(woken)
        finally:
            timer.cancel()
        return self._flag

    async def _park(self, woken: asyncio.Future[None]) -> None:
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(woken)
        try:
            await woken
        finally:
            waiters.remove(woken)
            if not waiters and self._waiters is waiters:
                self._waiters = None

    def __repr__(self) -> str:
        waiting = len(self._waiters or ())
        return f"<Wake {'set' if self._flag else 'unset'}, {waiting} waiting>"


def _resolve(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)
