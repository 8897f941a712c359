"""Keeping Python's cyclic garbage collector out of the way of a long-running monitor.

A full collection walks every object the collector tracks while holding the interpreter, and the
schedule waits meanwhile. Two tools here:

`freeze_once_settled`: what a fleet builds to run (modules, config models, each service's state,
probe, breaker, and the HTTP session and connection its first probe opens) lives as long as the
process, so walking it again and again finds nothing: at 1500 services on a 1 s interval, full
collections over it came every ~2 s and took 130-170 ms each, which was the schedule's p99 lag.
`gc.freeze()` moves everything tracked so far into a generation no collection walks; after it, a
full collection covers only what probing made since (~50,000 objects at 1500 services, 25-50 ms).
A service's session and connection exist only once it was probed, so the freeze is made again
once every service has a first result. Process-wide: only a program that owns its process
(`lookout serve`, the engine bench) calls it. What is frozen is never collected as a cycle
(reference counting still frees it), so garbage is collected first, and the freeze is made twice
at most, not on a timer.

`freeze_once_settled` also spaces the young generation's collections (`space_young_collections`):
a probe allocates a few hundred tracked objects (its task, coroutines, request and response,
events) and reference counting frees nearly all of them, yet every 700 allocations Python walks
the young generation, finds nothing, and starts again: 45-80 us a probe at 1000 services on a
1 s interval (~10% of its CPU). With a threshold of YOUNG_THRESHOLD a young collection comes ten
times less often and walks what is still alive then, about as much as before.

`collections_paused`: no automatic collection while a burst of allocations runs whose objects are
all either kept (a config loaded, a fleet built) or freed by reference counting as it goes (a
/metrics rendering). The collector, triggered by their number, would walk the growing heap again
and again and find nothing. Holders are counted (a rendering on the event loop may overlap a
config loaded in a worker thread): the last one out resumes the collector, if it ran before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.engine import Engine

YOUNG_THRESHOLD = 7000
"""Allocations between two collections of the young generation (Python's default: 700)."""
SETTLE_LIMIT = 120.0
"""Seconds after start at most to wait for every service's first result before the second freeze."""
POLL = 0.5


def space_young_collections() -> None:
    """Collect the young generation every YOUNG_THRESHOLD allocations at least (a larger one set is kept)."""
    young, *older = gc.get_threshold()
    if young and young < YOUNG_THRESHOLD:  # 0: collections are off, left so
        gc.set_threshold(YOUNG_THRESHOLD, *older)


def freeze_now() -> None:
    """Collect what is garbage now, then freeze everything left."""
    gc.collect()
    gc.freeze()


async def freeze_once_settled(engine: Engine, *, limit: float = SETTLE_LIMIT, poll: float = POLL) -> None:
    """Freeze now (what start built), and again once every service not paused has a first result (the
    sessions and connections its probe opened), or after `limit` seconds, whichever comes first. Young
    collections are spaced from the start (`space_young_collections`)."""
    import asyncio  # here: the config loader imports this module, and a plain load never needs asyncio

    space_young_collections()
    freeze_now()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        if all(service.probes > 0 or service.paused for service in engine.snapshot().services):
            break
        await asyncio.sleep(poll)
    freeze_now()


_lock = threading.Lock()
_holders = 0
_resume = True


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic cyclic collection inside; afterwards as it was (see the module's docstring)."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()
