"""The breaker under asyncio: each pybreaker 1.4 trap the engine must not fall into."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pybreaker
import pytest

from core.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, ServiceBreaker
from core.config import BreakerPolicy
from core.results import ProbeError, RateLimited


def make(fail_max: int = 2, reset_timeout: float = 0.2, success_threshold: int = 1, **kwargs) -> ServiceBreaker:
    policy = BreakerPolicy(fail_max=fail_max, reset_timeout=reset_timeout, success_threshold=success_threshold)
    return ServiceBreaker("svc", policy, **kwargs)


async def fail() -> None:
    raise ProbeError("HTTP 500")


async def succeed() -> str:
    return "ok"


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
    task = asyncio.create_task(breaker.run(lambda: asyncio.sleep(30)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.failures == 0
    assert breaker.state == CLOSED


async def test_cancelled_trial_leaves_half_open_and_frees_the_trial_slot() -> None:
    breaker = make(fail_max=1, reset_timeout=0.05)
    await trip(breaker)
    await asyncio.sleep(0.08)
    trial = asyncio.create_task(breaker.run(lambda: asyncio.sleep(30)))
    await asyncio.sleep(0.01)
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
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)

    with pytest.raises(TimeoutError):
        await breaker.run(times_out)
    assert breaker.state == OPEN


async def test_half_open_admits_exactly_one_concurrent_trial() -> None:
    breaker = make(fail_max=1, reset_timeout=0.05)
    await trip(breaker)
    await asyncio.sleep(0.08)
    started = 0
    release = asyncio.Event()

    async def slow_success() -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "ok"

    tasks = [asyncio.create_task(breaker.run(slow_success)) for _ in range(5)]
    await asyncio.sleep(0.02)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert started == 1
    assert sum(1 for r in results if r == "ok") == 1
    refused = [r for r in results if isinstance(r, BreakerOpen)]
    assert len(refused) == 4 and all("trial" in r.reason for r in refused)
    assert breaker.state == CLOSED


async def test_failed_trial_reopens_with_a_fresh_timer() -> None:
    breaker = make(fail_max=1, reset_timeout=0.05)
    await trip(breaker)
    first_open = breaker.opened_at
    await asyncio.sleep(0.08)
    with pytest.raises(ProbeError):
        await breaker.run(fail)
    assert breaker.state == OPEN
    assert breaker.opened_at is not None and first_open is not None and breaker.opened_at > first_open


async def test_open_to_half_open_waits_for_a_call_and_retry_in_counts_from_opened_at() -> None:
    breaker = make(fail_max=1, reset_timeout=0.1)
    await trip(breaker)
    snapshot = breaker.snapshot()
    assert snapshot.opened_at is not None
    assert snapshot.retry_at == snapshot.opened_at + timedelta(seconds=0.1)
    assert 0 < snapshot.retry_in(snapshot.opened_at + timedelta(seconds=0.04)) == pytest.approx(0.06)
    await asyncio.sleep(0.15)
    # pybreaker moves to half-open only when a call arrives; until then the state is still open...
    assert breaker.state == OPEN
    # ...and the time to the trial, computed from opened_at, is now zero, not a fresh reset_timeout.
    assert breaker.snapshot().retry_in(snapshot.opened_at + timedelta(seconds=0.15)) == 0
    assert await breaker.run(succeed) == "ok"
    assert breaker.state == CLOSED


async def test_success_threshold_needs_that_many_trials() -> None:
    breaker = make(fail_max=1, reset_timeout=0.05, success_threshold=2)
    await trip(breaker)
    await asyncio.sleep(0.08)
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
    breaker = make(fail_max=1, reset_timeout=0.05, on_change=lambda old, new: seen.append((old, new)))
    await trip(breaker)
    await asyncio.sleep(0.08)
    await breaker.run(succeed)
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    await trip(breaker)
    breaker.reset()
    assert breaker.state == CLOSED and breaker.failures == 0
    assert seen[-1] == (OPEN, CLOSED)
