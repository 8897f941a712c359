"""A fleet-wide limit that a config reload can resize in place.

The engine's concurrency and start slots are semaphores that every service's
pipeline and probe hold a reference to. A reload that changes `concurrency` or
`max_starting` must not rebuild the services that hold them (they would lose
their state and sessions), so the semaphore itself changes size: growing hands
out the new permits at once (waking waiters); shrinking takes free permits out
of circulation now and the rest as holders give them back, so the new limit is
reached without interrupting an attempt already running.
"""

from __future__ import annotations

import asyncio


class ResizableSemaphore(asyncio.Semaphore):
    """An `asyncio.Semaphore` whose limit `resize` can change while permits are held."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a limit must be at least 1")
        super().__init__(limit)
        self._limit = limit
        self._owed = 0
        """Permits still to take out of circulation after a shrink (held now; swallowed when released)."""

    @property
    def limit(self) -> int:
        return self._limit

    def resize(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a limit must be at least 1")
        change = limit - self._limit
        self._limit = limit
        if change < 0:
            self._owed -= change
            taken = min(self._owed, self._value)  # free permits leave at once
            self._value -= taken
            self._owed -= taken
        elif change > 0:
            forgiven = min(change, self._owed)  # a shrink not yet paid for is cancelled first
            self._owed -= forgiven
            for _ in range(change - forgiven):
                super().release()

    def release(self) -> None:
        if self._owed:
            self._owed -= 1  # this permit was taken out by a shrink: it does not come back
            return
        super().release()
