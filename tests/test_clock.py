"""The clocks: the fake one the scheduler and breaker tests run on, and the real one the engine uses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FakeClock, SystemClock
from core.wake import Wake

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_fake_time_stands_still_until_advanced() -> None:
    clock = FakeClock(START, monotonic=50.0)
    await asyncio.sleep(0)
    assert (clock.now(), clock.monotonic()) == (START, 50.0)
    await clock.advance(2.5)
    assert (clock.now(), clock.monotonic()) == (START + timedelta(seconds=2.5), 52.5)
    with pytest.raises(ValueError):
        await clock.advance(-1)


async def test_sleepers_wake_in_deadline_order_each_at_its_own_instant() -> None:
    clock = FakeClock(START, monotonic=0.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(name, s)) for name, s in (("c", 3), ("a", 1), ("b", 2), ("b2", 2))]
    await clock.settle()
    assert clock.sleepers == 4
    await clock.advance(1.5)
    assert woke == [("a", 1.0)]
    await clock.advance(10)
    assert woke == [("a", 1.0), ("b", 2.0), ("b2", 2.0), ("c", 3.0)]  # a tie wakes in the order it slept
    assert clock.monotonic() == 11.5 and clock.sleepers == 0
    await asyncio.gather(*tasks)


async def test_advance_lets_woken_work_finish_before_moving_on() -> None:
    """A woken task that takes many loop turns (as a probe's I/O does) still sleeps again at the
    time it woke, not after the clock has run past its next deadline."""
    clock = FakeClock(START, monotonic=0.0)
    rounds: list[float] = []

    async def loop() -> None:
        while True:
            await clock.sleep(1)
            for _ in range(50):  # work spread over many loop turns
                await asyncio.sleep(0)
            rounds.append(clock.monotonic())

    task = asyncio.create_task(loop())
    await clock.settle()
    await clock.advance(3.5)
    assert rounds == [1.0, 2.0, 3.0]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0


async def test_wait_returns_when_the_event_is_set_or_the_timeout_passes() -> None:
    clock = FakeClock(START, monotonic=0.0)
    event = Wake()
    answers: list[tuple[bool, float]] = []

    async def waiter() -> None:
        for _ in range(2):
            answers.append((await clock.wait(event, 10), clock.monotonic()))
            event.clear()

    task = asyncio.create_task(waiter())
    await clock.settle(sleepers=1)
    await clock.advance(4)
    event.set()  # wakes the waiter with the clock standing still
    await clock.settle(sleepers=1)
    assert answers == [(True, 4.0)]
    await clock.advance(10)
    await task
    assert answers == [(True, 4.0), (False, 14.0)]
    event.set()
    assert await clock.wait(event, 10) is True  # already set: no wait at all
    assert clock.sleepers == 0


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = FakeClock(START, monotonic=0.0)
    task = asyncio.create_task(clock.sleep(5))
    await clock.settle()
    assert clock.sleepers == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    await clock.advance(10)  # nothing left to wake, nothing raises


async def test_system_clock_waits_on_the_real_loop() -> None:
    clock = SystemClock()
    event = Wake()
    assert await clock.wait(event, 0) is False
    event.set()
    assert await clock.wait(event, 60) is True
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= before
    assert clock.now().tzinfo is UTC
