"""The resizable fleet limits a reload changes in place: shrinking and growing while permits are held."""

from __future__ import annotations

import asyncio

import pytest

from core.limits import ResizableSemaphore


async def _holders(limit: ResizableSemaphore, count: int) -> list[asyncio.Task[bool]]:
    tasks = [asyncio.ensure_future(limit.acquire()) for _ in range(count)]
    for _ in range(3):
        await asyncio.sleep(0)
    return tasks


async def test_growing_wakes_waiters_at_once() -> None:
    limit = ResizableSemaphore(2)
    tasks = await _holders(limit, 5)
    assert sum(t.done() for t in tasks) == 2
    limit.resize(4)
    await asyncio.sleep(0)
    assert sum(t.done() for t in tasks) == 4 and limit.limit == 4
    for task in tasks:
        task.cancel()


async def test_shrinking_takes_free_permits_now_and_held_ones_as_they_return() -> None:
    limit = ResizableSemaphore(4)
    held = await _holders(limit, 3)  # 3 held, 1 free
    limit.resize(2)  # the free one leaves now; one held permit must leave when it is released
    assert limit.locked()
    waiting = await _holders(limit, 1)
    limit.release()  # swallowed: 2 still held, which is the new limit
    await asyncio.sleep(0)
    assert not waiting[0].done()
    limit.release()  # now 1 held: the waiter gets the second permit
    await asyncio.sleep(0)
    assert waiting[0].done()
    assert all(task.done() for task in held)
    assert limit.locked()  # 2 in use again, at the limit of 2


async def test_growing_after_an_unpaid_shrink_cancels_the_debt_first() -> None:
    limit = ResizableSemaphore(3)
    await _holders(limit, 3)
    limit.resize(1)  # owes 2
    limit.resize(2)  # owes 1
    limit.release()  # swallowed
    assert limit.locked()
    limit.release()  # one held, limit 2: one free
    assert not limit.locked()


def test_a_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        ResizableSemaphore(0)
    with pytest.raises(ValueError):
        ResizableSemaphore(1).resize(0)
