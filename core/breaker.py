"""A per-service circuit breaker that is correct under asyncio.

pybreaker keeps the state machine (closed -> open -> half-open, counters,
opened_at, listeners); this module decides *when* a call may run, because
pybreaker 1.4 gets that wrong for coroutines:

- `cb.call(async_fn)` returns the coroutine unawaited and records a success,
  and `call_async` needs tornado. So the guarded coroutine is awaited here and
  only its outcome is fed to pybreaker (`cb.call(raise_it)` / `cb.call(noop)`).
- pybreaker counts every BaseException as a failure, and an *excluded*
  exception as a success. A shutdown's CancelledError is neither: it is not
  fed to pybreaker at all.
- Half-open admits every concurrent call; here exactly one trial runs and the
  rest are refused until it finishes.
- open -> half-open only happens when a call arrives; the time until the
  trial is computed from `opened_at`, so views can show "retry in 12s".
- pybreaker reads the real time (`datetime.now(UTC)`) to stamp `opened_at` and
  to let an open breaker's call through. Here the breaker's injected clock
  does both (`_ClockedStorage` stamps, `_feed` decides), so a test on a fake
  clock drives every timed transition without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import pybreaker

from core.clock import Clock, SystemClock
from core.config import BreakerPolicy
from core.snapshot import BreakerSnapshot

T = TypeVar("T")

CLOSED = pybreaker.STATE_CLOSED
OPEN = pybreaker.STATE_OPEN
HALF_OPEN = pybreaker.STATE_HALF_OPEN


class BreakerOpen(Exception):
    """The breaker refused the call: nothing was sent to the service."""

    def __init__(self, reason: str, retry_at: datetime | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_at = retry_at


class _TransitionListener(pybreaker.CircuitBreakerListener):
    def __init__(self, on_change: Callable[[str, str], None]) -> None:
        self._on_change = on_change

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        old = old_state.name if old_state is not None else CLOSED
        if old != new_state.name:
            self._on_change(old, new_state.name)


class _ClockedStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory storage, but `opened_at` is this breaker's clock's time.

    pybreaker's `open()` is the only writer of `opened_at` and always passes the real time;
    storage is pybreaker's extension point, so the clock is put in here.
    """

    def __init__(self, state: str, clock: Clock) -> None:
        super().__init__(state)
        self._clock = clock

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @opened_at.setter
    def opened_at(self, _real_now: datetime) -> None:
        self._opened_at = self._clock.now()


class ServiceBreaker:
    """One service's breaker. `run()` guards a coroutine; `snapshot()` is what views show."""

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy,
        *,
        clock: Clock | None = None,
        on_change: Callable[[str, str], None] | None = None,
        neutral: tuple[type[BaseException], ...] = (),
    ) -> None:
        """`neutral` exceptions say nothing about the service's health (e.g. rate limited):
        they pass through without counting as a failure or a success.

        `clock` (the engine's) times the open state: when it opened, when it admits a trial.
        """
        self.name = name
        self._clock = clock or SystemClock()
        self._neutral = neutral
        self._storage = _ClockedStorage(CLOSED, self._clock)
        self._cb = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max,
            reset_timeout=policy.reset_timeout,
            success_threshold=policy.success_threshold,
            state_storage=self._storage,
            name=name,
            listeners=[_TransitionListener(on_change)] if on_change else None,
            throw_new_error_on_trip=False,
        )
        self._trial_in_flight = False
        self.last_error = ""

    # -- what views read -------------------------------------------------
    @property
    def state(self) -> str:
        return self._storage.state  # what pybreaker's `current_state` reads

    @property
    def failures(self) -> int:
        return self._cb.fail_counter

    @property
    def opened_at(self) -> datetime | None:
        return self._storage.opened_at

    def retry_at(self) -> datetime | None:
        """When an open breaker admits its trial; None unless open."""
        if self.state != OPEN or self.opened_at is None:
            return None
        return self.opened_at + timedelta(seconds=self._cb.reset_timeout)

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            state=self.state,
            failures=self.failures,
            fail_max=self._cb.fail_max,
            reset_timeout=self._cb.reset_timeout,
            opened_at=self.opened_at,
            retry_at=self.retry_at(),
            trial_in_flight=self._trial_in_flight,
            last_error=self.last_error,
        )

    # -- control -----------------------------------------------------------
    def reset(self) -> None:
        """Close the breaker by hand (an operator's "I fixed it, try again")."""
        self._trial_in_flight = False
        self._cb.close()

    def admit(self) -> bool:
        """Decide whether a call may run now; returns True if it is the half-open trial.

        Raises BreakerOpen when it may not. Synchronous on purpose: between the
        check and the trial flag there is no await, so two tasks cannot both
        become the trial.
        """
        state = self.state
        if state == CLOSED:
            return False
        if self._trial_in_flight:
            raise BreakerOpen("circuit half-open, trial probe in progress", self.retry_at())
        if state == OPEN:
            retry_at, now = self.retry_at(), self._clock.now()
            if retry_at is not None and now < retry_at:
                wait = (retry_at - now).total_seconds()
                raise BreakerOpen(f"circuit open after {self.failures} failures, retry in {_seconds(wait)}", retry_at)
            self._cb.half_open()
        self._trial_in_flight = True
        return True

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` through the breaker: admission, then record its outcome in pybreaker."""
        is_trial = self.admit()
        try:
            result = await call()
        except asyncio.CancelledError:
            # A shutdown or an operator's cancel says nothing about the service.
            raise
        except Exception as exc:
            if isinstance(exc, self._neutral):
                raise
            # A ProbeError's `reason` is the redacted text; str() would be the message before redaction.
            self.last_error = getattr(exc, "reason", None) or str(exc)
            self._record_failure(exc)
            raise
        else:
            self._record_success()
            return result
        finally:
            if is_trial:
                self._trial_in_flight = False

    def _waiting(self) -> bool:
        """Open, and its reset_timeout not yet over by this breaker's clock."""
        retry_at = self.retry_at()
        return retry_at is not None and self._clock.now() < retry_at

    def _feed(self, outcome: Callable[[], None]) -> None:
        """Record an outcome in pybreaker, deciding open -> half-open by this breaker's clock.

        An open breaker's pybreaker state would decide by the real time; it is asked only once
        this clock says the timeout is over (and moved to half-open first, as pybreaker would).
        While the timeout runs, pybreaker would refuse the outcome unrecorded: so is it here.
        """
        if self.state == OPEN:
            if self._waiting():
                return
            self._cb.half_open()
        self._cb.call(outcome)

    def _record_failure(self, exc: Exception) -> None:
        """Feed the failure to pybreaker, which counts it by catching it: `fail` raises it in there.

        Raised through pybreaker, the error's traceback gains pybreaker's frames, one of which holds the error
        itself: a reference cycle (error -> traceback -> frame -> error) per failed probe, garbage only the
        cyclic collector frees. So the traceback is put back as it was, and nothing here keeps the error.
        """
        holder = [exc]
        traceback = exc.__traceback__

        def fail() -> None:
            raise holder.pop()

        try:
            self._feed(fail)
        except Exception as raised:
            if raised is not exc and not isinstance(raised, pybreaker.CircuitBreakerError):
                raise
        finally:
            exc.__traceback__ = traceback

    def _record_success(self) -> None:
        if self._storage.state == CLOSED:
            # All pybreaker does with a closed breaker's success: reset the failure count (its closed state has
            # no success hook, and this breaker's one listener hears only transitions). Done here directly: through
            # `call` (lock, state lookup, listeners) it was ~2% of a scheduled HTTP probe's CPU.
            self._storage.reset_counter()
            return
        # If another path opened the breaker while this call ran, it stays open.
        with contextlib.suppress(pybreaker.CircuitBreakerError):
            self._feed(_noop)


def _noop() -> None:
    return None


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 1 else f"{value:.1f}s"
