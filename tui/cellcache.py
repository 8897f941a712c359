"""A cache of rendered table cells that forgets what went unused, so a small fleet's cache stops growing.

A fleet's cells repeat (badges, "12s ago", "in 3m"), so the tables keep each rendered cell by its content.
Some contents come once (a sparkline after a probe, a latency to the millisecond): a cache that is only
cleared at a size bound grew for hours on the 13-service demo, about 75 entries a minute, before reaching
it. Here entries live in two generations: a lookup brings an entry from the old generation into the new
one; the new one becomes the old one (and the old one is dropped) every `seconds`, or when it reaches
`limit` entries. What was used within the last generation or two is kept; the rest goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class CellCache(Generic[Value]):
    """Entries used within the last one or two generations, at most 2 * limit of them."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._seconds = seconds
        self._clock = clock
        self._new: dict[Hashable, Value] = {}
        self._old: dict[Hashable, Value] = {}
        self._since = clock()

    def get(self, key: Hashable) -> Value | None:
        found = self._new.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self._new[key] = found
        return found

    def __setitem__(self, key: Hashable, value: Value) -> None:
        if len(self._new) >= self._limit or self._clock() - self._since >= self._seconds:
            self._old, self._new, self._since = self._new, {}, self._clock()
        self._new[key] = value

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    def clear(self) -> None:
        self._new.clear()
        self._old.clear()
