"""Time, injectable: the engine owns time so tests and snapshots can fix it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, aware UTC: for display and for servers' reset times."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go backwards: for scheduling and latency."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock that stands still until told to move: for snapshot tests and views."""

    def __init__(self, at: datetime, monotonic: float = 1000.0) -> None:
        self._at = at
        self._mono = monotonic

    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._at += timedelta(seconds=seconds)
        self._mono += seconds
