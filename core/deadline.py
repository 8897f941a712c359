"""One time limit per probe attempt, made once by the pipeline and handed down to every stage.

Two clocks that race give the wrong answer under load: if the probe and the
engine each time an attempt on their own, whichever fires first writes the
reason, and on a busy machine that is often the engine's bare "timed out"
instead of the probe's "timed out after 2s waiting for tools/list". So there
is one `Deadline`: the probe's stages cut their own limits from it
(`within`), and the pipeline's backstop fires a fixed grace after it, late
enough that the probe's own, more precise error always wins.

Time Lookout spends on its own account (queueing for a process-start slot,
tearing a failed session down) is not the server's time: a stage runs it
inside `paused()`, which stops the clock and tells the backstop to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Deadline:
    """A point in monotonic time by which an attempt must be over, and the budget it was made with."""

    __slots__ = ("_clock", "_ends_at", "_pauses", "_stopped_at", "_watchers", "budget")

    def __init__(self, budget: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        """The limit as configured (seconds): what a "timed out after ..." reason names."""
        self._clock = clock
        self._ends_at = clock() + budget
        self._pauses = 0
        self._stopped_at = 0.0
        self._watchers: list[Callable[[], None]] = []

    def remaining(self) -> float:
        """Seconds left (never negative). While paused, what was left when the clock stopped."""
        now = self._stopped_at if self._pauses else self._clock()
        return max(0.0, self._ends_at - now)

    @property
    def is_paused(self) -> bool:
        return self._pauses > 0

    def within(self, seconds: float) -> Deadline:
        """A stage's own limit: `seconds` from now, but never past this deadline."""
        child = Deadline(seconds, clock=self._clock)
        child._ends_at = min(child._ends_at, child._clock() + self.remaining())
        return child

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback()` whenever the end moves or the clock stops or starts (the backstop re-arms)."""
        self._watchers.append(callback)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count: the end moves later by exactly that long.

        For waits that are Lookout's own doing, each bounded elsewhere (a start
        slot is freed within its holder's startup_timeout; a teardown is bounded
        by the session's close grace).
        """
        self._pauses += 1
        if self._pauses == 1:
            self._stopped_at = self._clock()
            self._notify()
        try:
            yield
        finally:
            self._pauses -= 1
            if self._pauses == 0:
                self._ends_at += self._clock() - self._stopped_at
                self._notify()

    def _notify(self) -> None:
        for callback in self._watchers:
            callback()
