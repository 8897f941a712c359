"""Retries with exponential backoff and jitter (tenacity), from a service's RetryPolicy.

Only failures another attempt could fix are retried (`ProbeError.retryable`):
a timeout, a reset, a 5xx. A 404 or a wrong body is not, and a rate-limited
answer never is: retries must not hammer a service that said "not now".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.config import RetryPolicy
from core.results import ProbeError, RateLimited

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProbeError) and exc.retryable and not isinstance(exc, RateLimited)


def backoff(policy: RetryPolicy) -> wait_exponential_jitter:
    """Wait before retry n (1-based): initial * multiplier**(n-1) + U(0, jitter), capped at max.

    tenacity 9.2 names our `initial` its `multiplier` and our `multiplier` its `exp_base`.
    """
    return wait_exponential_jitter(
        multiplier=policy.initial,
        exp_base=policy.multiplier,
        max=policy.max,
        jitter=policy.jitter,
    )


async def run_with_retry(
    policy: RetryPolicy,
    attempt: Callable[[int], Awaitable[T]],
    *,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """Run `attempt(n)` until it succeeds or the policy gives up; return (result, attempts used).

    The last failure is re-raised as itself (not wrapped in RetryError), so the
    caller reports the real reason.
    """

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and error is not None and state.next_action is not None:
            on_retry(state.attempt_number, error, state.next_action.sleep)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=backoff(policy),
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    used = 0
    async for attempt_state in retrying:
        with attempt_state:
            used = attempt_state.retry_state.attempt_number
            result = await attempt(used)
    return result, used
