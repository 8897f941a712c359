"""core.wake.Wake: asyncio.Event's behaviour for the schedule's sleeps, at a fraction of its size."""

from __future__ import annotations

import asyncio
import sys

import pytest

from core.wake import Wake


async def test_set_wakes_every_waiter_and_stays_set_until_cleared() -> None:
    wake = Wake()
    waiters = [asyncio.create_task(wake.wait()) for _ in range(3)]
    timed = asyncio.create_task(wake.wait_at_most(60))
    await asyncio.sleep(0)
    assert not any(task.done() for task in (*waiters, timed))
    wake.set()
    assert await asyncio.gather(*waiters, timed) == [True, True, True, True]
    assert wake.is_set() and await wake.wait() is True and await wake.wait_at_most(60) is True
    wake.clear()
    assert not wake.is_set()


async def test_wait_at_most_gives_up_after_its_time_and_says_so() -> None:
    wake = Wake()
    assert await wake.wait_at_most(0) is False
    assert await wake.wait_at_most(0.01) is False
    assert repr(wake) == "<Wake unset, 0 waiting>"


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    wake = Wake()
    task = asyncio.create_task(wake.wait_at_most(60))
    other = asyncio.create_task(wake.wait())
    await asyncio.sleep(0)
    assert repr(wake) == "<Wake unset, 2 waiting>"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert repr(wake) == "<Wake unset, 1 waiting>"
    wake.set()
    assert await other is True
    assert repr(wake) == "<Wake set, 0 waiting>"


def test_a_wake_nobody_waits_on_is_small() -> None:
    """What it is for: asyncio.Event's empty deque alone is 760 bytes, once per service."""
    assert sys.getsizeof(Wake()) < 100 < sys.getsizeof(asyncio.Event()._waiters)  # type: ignore[attr-defined]
