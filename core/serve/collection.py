"""When `lookout serve` lets the cyclic garbage collector walk the whole heap: on a schedule, not mid-probe.

Python's collector runs a full collection (every tracked object the process has) whenever enough
objects survived the young generations since the last one. A fleet makes such survivors steadily:
whatever lives until a service's next probe (its sleep's timer and future, its latest result and
snapshot, its connection's locks) is old by then. At 1000 services on a 10 s interval that set off a
full collection every 10-20 s, each holding the interpreter for tens of milliseconds while every
probe due waited: most of the schedule lag `bench/serve.py` measured (p99 145 ms quiet; 55 ms with
the collector off).

So the daemon takes full collections into its own hands:
- At start, everything built so far (modules, config, the fleet's state) is frozen (`gc.freeze()`):
  it lives as long as the process and no collection need walk it.
- Automatic full collections are off (generation 2's threshold set out of reach); the young
  generations are collected as always, so short-lived cycles (a failed request's traceback) are
  freed as soon as before.
- A task runs a full collection every `period` seconds (5 minutes): garbage that survived into the
  old generation in reference cycles waits at most that long, and the pause comes once per period
  instead of several times a minute (at 1000 services: one probe start in ~30,000 affected).

Process-wide settings, so only `lookout serve` (which owns its process) starts this; `stop` restores
the thresholds (the frozen objects stay frozen: they are the ones the process runs on).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

FULL_COLLECTION_PERIOD = 300.0
"""Seconds between the daemon's full collections."""
OUT_OF_REACH = 2**30
"""Generation 2's threshold while the schedule runs: more young collections than a process ever makes."""


class CollectionSchedule:
    """Freeze what exists at start, then run full collections every `period` seconds and never otherwise."""

    def __init__(self, period: float = FULL_COLLECTION_PERIOD) -> None:
        self.period = period
        self.collections = 0
        """Full collections this schedule ran."""
        self._task: asyncio.Task[None] | None = None
        self._thresholds: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Call on the event loop, once the daemon has built what it runs on."""
        if self._task is not None:
            return
        gc.freeze()
        young, middle, old = gc.get_threshold()
        self._thresholds = (young, middle, old)
        gc.set_threshold(young, middle, OUT_OF_REACH)
        self._task = asyncio.create_task(self._run(), name="lookout:gc-schedule")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            gc.collect()
            self.collections += 1

    async def stop(self) -> None:
        """Stop the schedule and give the collector its own thresholds back."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
