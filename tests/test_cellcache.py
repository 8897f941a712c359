"""The tables' cell cache keeps what is in use and forgets the contents that came once."""

from __future__ import annotations

from tui.cellcache import CellCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_cell_unused_for_two_generations_is_forgotten_one_in_use_is_kept() -> None:
    clock = Clock()
    cache: CellCache[str] = CellCache(limit=1000, seconds=600, clock=clock)
    cache["badge"] = "up"
    cache["sparkline 1"] = "▁▂▃"
    for minute in range(1, 40):
        clock.now = minute * 60.0
        assert cache.get("badge") == "up"  # shown every frame
        cache[f"latency {minute}"] = f"{minute} ms"  # a content seen once
    assert cache.get("sparkline 1") is None
    assert cache.get("latency 2") is None
    assert cache.get("latency 39") == "39 ms"
    assert len(cache) <= 22  # at most two generations of ten minutes: what is in use, and the recent one-offs


def test_the_size_bound_turns_a_generation_and_keeps_what_was_just_used() -> None:
    cache: CellCache[int] = CellCache(limit=10, seconds=1e9, clock=Clock())
    for n in range(10):
        cache[n] = n
    cache[10] = 10  # the new generation was full: it becomes the old one
    assert len(cache) == 11
    assert cache.get(3) == 3  # brought back into the new generation
    for n in range(11, 21):
        cache[n] = n
    assert cache.get(3) == 3
    assert cache.get(4) is None  # unused for a whole generation
    assert len(cache) <= 20
    cache.clear()
    assert len(cache) == 0 and cache.get(3) is None
