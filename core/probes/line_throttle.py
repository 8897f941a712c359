"""Relay a server's chatter (stderr lines, `notifications/message` logs) without letting it flood the log.

A server decides how much it writes; Lookout decides how much of it becomes
log events. Up to `burst` lines a second pass through as they come; the rest
are counted and summarised in one line ("(1,234 more stderr lines not
shown)"), so a server printing 18,000 lines costs a few dozen events, and the
operator still learns that it was that noisy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

Line = TypeVar("Line")

BURST = 40
"""Lines per second passed on; past this the rest of the second is summarised."""


class LineThrottle(Generic[Line]):
    def __init__(
        self,
        emit: Callable[[Line], None],
        summarize: Callable[[int], None],
        *,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`emit(line)` relays one line; `summarize(count)` reports lines held back."""
        self._emit = emit
        self._summarize = summarize
        self._burst = burst
        self._clock = clock
        self._window_start = 0.0
        self._in_window = 0
        self._dropped = 0

    def offer(self, line: Line) -> None:
        now = self._clock()
        if now - self._window_start >= 1.0:
            self.flush()
            self._window_start, self._in_window = now, 0
        self._in_window += 1
        if self._in_window <= self._burst:
            self._emit(line)
        else:
            self._dropped += 1

    def flush(self) -> None:
        """Report what was held back now (at a window's end, and when a probe ends: a flood may just stop)."""
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            self._summarize(dropped)
