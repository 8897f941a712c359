"""The breaker under asyncio: each pybreaker 1.4 trap the engine must not fall into.

Every timed transition runs on a FakeClock: the tests move time instead of sleeping, so they are
instant and give the same answer on a loaded machine.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pybreaker
import pytest

from core.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, ServiceBreaker
from core.clock import FakeClock
from core.config import BreakerPolicy
from core.results import ProbeError, RateLimited


def make(
    fail_max: int = 2,
    reset_timeout: float = 0.2,
    success_threshold: int = 1,
    *,
    clock: FakeClock | None = None,
    **kwargs,
) -> ServiceBreaker:
    policy = BreakerPolicy(fail_max=fail_max, reset_timeout=reset_timeout, success_threshold=success_threshold)
    return ServiceBreaker("svc", policy, clock=clock or FakeClock(), **kwargs)


async def fail() -> None:
    raise ProbeError("HTTP 500")


async def succeed() -> str:
    return "ok"


async def blocked(started: asyncio.Event) -> None:
    """A call that is in flight until cancelled."""
    started.set()
    await asyncio.Event().wait()


async def trip(breaker: ServiceBreaker) -> None:
    for _ in range(breaker.snapshot().fail_max):
        with pytest.raises(ProbeError):
            await breaker.run(fail)
    assert breaker.state == OPEN


def test_raw_pybreaker_call_does_not_await_coroutines() -> None:
    """The trap itself: cb.call(async_fn) returns an unawaited coroutine and records a success."""
    cb = pybreaker.CircuitBreaker(fail_max=1)
    coroutine = cb.call(fail)
    assert asyncio.iscoroutine(coroutine)
    assert cb.fail_counter == 0 and cb.current_state == CLOSED
    coroutine.close()


async def test_failures_are_awaited_counted_and_open_the_breaker() -> None:
    breaker = make(fail_max=3)
    for expected in (1, 2):
        with pytest.raises(ProbeError):
            await breaker.run(fail)
        assert breaker.failures == expected
        assert breaker.state == CLOSED
    with pytest.raises(ProbeError):
        await breaker.run(fail)
    assert breaker.state == OPEN
    assert breaker.snapshot().last_error == "HTTP 500"


async def test_success_resets_the_failure_count() -> None:
    breaker = make(fail_max=3)
    with pytest.raises(ProbeError):
        await breaker.run(fail)
    assert await breaker.run(succeed) == "ok"
    assert breaker.failures == 0


async def test_open_breaker_does_not_call_at_all() -> None:
    breaker = make(reset_timeout=60)
    await trip(breaker)
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(BreakerOpen) as refused:
        await breaker.run(counted)
    assert calls == 0
    assert "retry in" in refused.value.reason


async def test_shutdown_cancellation_is_not_a_failure() -> None:
    breaker = make(fail_max=1)
    started = asyncio.Event()
    task = asyncio.create_task(breaker.run(lambda: blocked(started)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.failures == 0
    assert breaker.state == CLOSED


async def test_cancelled_trial_leaves_half_open_and_frees_the_trial_slot() -> None:
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=0.05, clock=clock)
    await trip(breaker)
    await clock.advance(0.05)
    started = asyncio.Event()
    trial = asyncio.create_task(breaker.run(lambda: blocked(started)))
    await started.wait()
    assert breaker.state == HALF_OPEN and breaker.snapshot().trial_in_flight
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    # Neither closed (pybreaker would count an excluded exception as a success) nor re-opened.
    assert breaker.state == HALF_OPEN
    assert not breaker.snapshot().trial_in_flight
    assert await breaker.run(succeed) == "ok"
    assert breaker.state == CLOSED


async def test_timeout_is_a_failure() -> None:
    breaker = make(fail_max=1)

    async def times_out() -> None:
        async with asyncio.timeout(0):  # already over: fires at the next loop turn, no real wait
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await breaker.run(times_out)
    assert breaker.state == OPEN


async def test_half_open_admits_exactly_one_concurrent_trial() -> None:
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=0.05, clock=clock)
    await trip(breaker)
    await clock.advance(0.05)
    started = 0
    release = asyncio.Event()

    async def slow_success() -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "ok"

    tasks = [asyncio.create_task(breaker.run(slow_success)) for _ in range(5)]
    await asyncio.sleep(0)  # one loop turn: each task has run up to its admission (no await before it)
    assert sum(task.done() for task in tasks) == 4
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert started == 1
    assert sum(1 for r in results if r == "ok") == 1
    refused = [r for r in results if isinstance(r, BreakerOpen)]
    assert len(refused) == 4 and all("trial" in r.reason for r in refused)
    assert breaker.state == CLOSED


async def test_failed_trial_reopens_with_a_fresh_timer() -> None:
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=0.05, clock=clock)
    await trip(breaker)
    first_open = breaker.opened_at
    assert first_open == clock.now()
    await clock.advance(0.08)
    with pytest.raises(ProbeError):
        await breaker.run(fail)
    assert breaker.state == OPEN
    assert breaker.opened_at == first_open + timedelta(seconds=0.08)
    assert breaker.retry_at() == breaker.opened_at + timedelta(seconds=0.05)


async def test_open_to_half_open_waits_for_a_call_and_retry_in_counts_from_opened_at() -> None:
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=0.1, clock=clock)
    await trip(breaker)
    snapshot = breaker.snapshot()
    assert snapshot.opened_at == clock.now()
    assert snapshot.retry_at == snapshot.opened_at + timedelta(seconds=0.1)
    assert 0 < snapshot.retry_in(snapshot.opened_at + timedelta(seconds=0.04)) == pytest.approx(0.06)
    await clock.advance(0.15)
    # pybreaker moves to half-open only when a call arrives; until then the state is still open...
    assert breaker.state == OPEN
    # ...and the time to the trial, computed from opened_at, is now zero, not a fresh reset_timeout.
    assert breaker.snapshot().retry_in(snapshot.opened_at + timedelta(seconds=0.15)) == 0
    assert await breaker.run(succeed) == "ok"
    assert breaker.state == CLOSED


async def test_success_threshold_needs_that_many_trials() -> None:
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=0.05, success_threshold=2, clock=clock)
    await trip(breaker)
    await clock.advance(0.05)
    await breaker.run(succeed)
    assert breaker.state == HALF_OPEN
    await breaker.run(succeed)
    assert breaker.state == CLOSED


async def test_rate_limited_is_neutral() -> None:
    breaker = make(fail_max=1, neutral=(RateLimited,))

    async def limited() -> None:
        raise RateLimited("429", until=None)

    for _ in range(3):
        with pytest.raises(RateLimited):
            await breaker.run(limited)
    assert breaker.state == CLOSED and breaker.failures == 0


async def test_transitions_are_reported_and_reset_closes() -> None:
    seen: list[tuple[str, str]] = []
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=0.05, clock=clock, on_change=lambda old, new: seen.append((old, new)))
    await trip(breaker)
    await clock.advance(0.05)
    await breaker.run(succeed)
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    await trip(breaker)
    breaker.reset()
    assert breaker.state == CLOSED and breaker.failures == 0
    assert seen[-1] == (OPEN, CLOSED)


async def test_open_lasts_exactly_reset_timeout_on_the_breakers_clock() -> None:
    clock = FakeClock()
    breaker = make(fail_max=1, reset_timeout=30, clock=clock)
    await trip(breaker)
    await clock.advance(29.9)
    with pytest.raises(BreakerOpen) as refused:
        await breaker.run(succeed)
    assert refused.value.reason == "circuit open after 1 failures, retry in 0.1s"
    assert refused.value.retry_at == clock.now() + timedelta(seconds=0.1)
    await clock.advance(0.1)
    assert await breaker.run(succeed) == "ok"
    assert breaker.state == CLOSED


@pytest.mark.parametrize(("later", "expected"), [(59.9, OPEN), (60, CLOSED)])
async def test_an_outcome_arriving_while_open_is_judged_by_the_breakers_clock(later: float, expected: str) -> None:
    """A call admitted while closed ends after another call opened the breaker. pybreaker would
    compare the real time with opened_at; here the breaker's clock decides (this one is years
    behind the real time, so a real-time check would take the open breaker's timeout as long over)."""
    clock = FakeClock(at=datetime(2001, 1, 1, tzinfo=UTC))
    breaker = make(fail_max=1, reset_timeout=60, clock=clock)
    started, release = asyncio.Event(), asyncio.Event()

    async def late_success() -> str:
        started.set()
        await release.wait()
        return "ok"

    late = asyncio.create_task(breaker.run(late_success))
    await started.wait()
    with pytest.raises(ProbeError):
        await breaker.run(fail)
    assert breaker.state == OPEN
    await clock.advance(later)
    release.set()
    assert await late == "ok"
    # Within reset_timeout the success is not recorded (the breaker stays open); after it, the
    # success is the trial pybreaker would have let through, and it closes the breaker.
    assert breaker.state == expected
