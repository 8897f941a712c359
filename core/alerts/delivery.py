"""One delivery round of one channel: its breaker, then retries with backoff and jitter, each try timed out.

The same order the engine uses for a probe (breaker -> retry -> attempt), with
Lookout's own breaker (pybreaker, correct under asyncio) and tenacity: a channel
whose receiver is down stops being tried for `breaker_reset` after
`breaker_failures` failed rounds, and says so in its health, instead of every
notification waiting out its timeouts one after another.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from core.alerts.channels.base import DeliveryError
from core.alerts.channels.settings import ChannelBase
from core.breaker import BreakerOpen, ServiceBreaker
from core.clock import Clock
from core.config import BreakerPolicy

RETRY_INITIAL = 0.5
RETRY_MAX = 5.0
RETRY_JITTER = 0.5


def round_backoff(rounds: int, base: float, cap: float) -> float:
    """Seconds before the next round after `rounds` failed ones: base, 2 x base, 4 x base ... capped at `cap`,
    less up to 20% jitter, so the notifications of one dead receiver (and two Lookouts) do not retry in step."""
    wait = min(cap, base * 2.0 ** min(max(rounds, 1) - 1, 30))
    return wait * random.uniform(0.8, 1.0)


@dataclass(frozen=True, slots=True)
class RoundResult:
    """How one round ended: `error` is None when delivered; `attempts` counts the tries made."""

    attempts: int
    elapsed: float
    error: str | None = None
    refused: bool = False
    """The breaker refused the round: nothing was sent."""


def _retryable(error: BaseException) -> bool:
    return isinstance(error, DeliveryError) and error.retryable


class ChannelGuard:
    """A channel's breaker and retry policy, built from its settings."""

    def __init__(self, name: str, settings: ChannelBase, clock: Clock, *, retry_initial: float = RETRY_INITIAL) -> None:
        self.name = name
        self.settings = settings
        self.breaker = ServiceBreaker(
            f"alerts:{name}",
            BreakerPolicy(fail_max=settings.breaker_failures, reset_timeout=settings.breaker_reset),
            clock=clock,
        )
        self._retry_initial = retry_initial

    async def run(self, attempt: Callable[[], Awaitable[None]]) -> RoundResult:
        """Deliver through breaker and retries; never raises but cancellation."""
        started = time.monotonic()
        tries = 0

        async def timed() -> None:
            nonlocal tries
            tries += 1
            try:
                async with asyncio.timeout(self.settings.timeout):
                    await attempt()
            except TimeoutError:
                raise DeliveryError(f"no answer within {self.settings.timeout:g}s") from None

        async def with_retries() -> None:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.settings.attempts),
                wait=wait_exponential_jitter(multiplier=self._retry_initial, max=RETRY_MAX, jitter=RETRY_JITTER),
                retry=retry_if_exception(_retryable),
                reraise=True,
            )
            async for state in retrying:
                with state:
                    await timed()

        try:
            await self.breaker.run(with_retries)
        except BreakerOpen as refused:
            return RoundResult(0, time.monotonic() - started, refused.reason, refused=True)
        except DeliveryError as error:
            return RoundResult(tries, time.monotonic() - started, error.reason)
        except Exception as error:  # a channel's own bug: a failed round, not a dead dispatcher
            return RoundResult(tries, time.monotonic() - started, f"internal error ({type(error).__name__})")
        return RoundResult(tries, time.monotonic() - started)
