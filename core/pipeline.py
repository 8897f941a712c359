"""One probe of one service, through every guard, in the order the design fixes:

    rate-limit gate -> circuit breaker -> retry -> [fleet slot -> probe attempt (deadline)]

Whatever happens becomes a `ProbeResult` with a human reason; only a
cancellation (engine shutdown) escapes, and it is not counted against the
service. The engine owns scheduling and state; this module owns the order.

The fleet-wide concurrency slot is taken per attempt, never across a retry's
back-off sleep: a sleeping probe does no I/O, and holding a slot through it
made a fleet of instantly refused services time out in the queue. Each attempt
gets one `Deadline`, made here after the slot is granted (queueing is not the
service's time) and handed to the probe, which bounds its stages by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.breaker import OPEN, BreakerOpen, ServiceBreaker
from core.config import ServiceConfig
from core.config.models import DEFAULT_MAX_BLOCK
from core.deadline import Deadline
from core.details import Details
from core.durations import format_duration
from core.events import LogLevel
from core.probes.base import Probe, attempt_budget
from core.probes.expectations import safe_checks
from core.ratelimit import RateLimit, RateLimitGate, RateLimitReading, RateLimitTracker
from core.results import Check, ProbeError, ProbeOutcome, ProbeResult, RateLimited, Status
from core.retry import run_with_retry
from core.sanitize import safe_reason

logger = logging.getLogger(__name__)

BACKSTOP_GRACE = 0.5
"""The pipeline cancels an attempt this long after its deadline, no sooner: the probe's own error
(which names the stage that ran out) must win even on a loaded machine. blackbox_exporter keeps the
same offset between Prometheus' scrape timeout and its probes' own."""


@dataclass(slots=True)
class PipelineHooks:
    """How the pipeline tells the engine what it saw, without knowing the engine."""

    log: Callable[[LogLevel, str], None]
    rate_limits_changed: Callable[[tuple[RateLimit, ...]], None]
    redact: Callable[[str], str]


class _Backstop:
    """Cancels the attempt's task BACKSTOP_GRACE after its deadline, unless the attempt is over first.

    What `asyncio.timeout` did here, with one timer and no context manager: it is armed at the deadline
    plus the grace, moved when the deadline moves, and held off while the deadline is paused (the probe
    waits on Lookout's own account). `disarm` says whether it fired, and takes back its own cancel the
    way `asyncio.Timeout` does, so a cancel from elsewhere (a shutdown) still propagates. It lets go of
    the deadline and the task when disarmed: the deadline keeps `rearm` as a watcher, and no reference
    cycle may outlive the attempt (a cycle is garbage only the cyclic collector frees, and at 1000
    services every probe's cycles added up to full collections).
    """

    __slots__ = ("_cancelling", "_deadline", "_loop", "_task", "_timer", "fired")

    def __init__(self, deadline: Deadline) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an attempt runs in a task")
        self._task: asyncio.Task[Any] | None = task
        self._cancelling = task.cancelling()
        self._deadline: Deadline | None = deadline
        self._timer: asyncio.TimerHandle | None = None
        self.fired = False
        deadline.watch(self.rearm)
        self.rearm()

    def rearm(self) -> None:
        deadline = self._deadline
        if deadline is None or self.fired:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not deadline.is_paused:
            loop = self._loop
            self._timer = loop.call_at(loop.time() + deadline.remaining() + BACKSTOP_GRACE, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._task is not None:
            self.fired = True
            self._task.cancel()

    def disarm(self) -> bool:
        """Stop watching; True if the backstop cancelled the attempt and no other cancel is pending."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task, self._deadline = self._task, None, None
        return self.fired and task is not None and task.uncancel() <= self._cancelling


class ServicePipeline:
    def __init__(
        self,
        service: ServiceConfig,
        probe: Probe,
        breaker: ServiceBreaker,
        hooks: PipelineHooks,
        *,
        now: Callable[[], datetime],
        slot: AbstractAsyncContextManager[Any] | None = None,
    ) -> None:
        """`slot` bounds attempts in flight fleet-wide (the engine's semaphore); none = unbounded."""
        self.service = service
        self.probe = probe
        self.breaker = breaker
        rate_limit = getattr(service, "rate_limit", None)  # MCP services have no rate-limit settings
        self.gate = RateLimitGate(
            warn_below=rate_limit.warn_below if rate_limit else 0.10,
            max_block=rate_limit.max_block if rate_limit else DEFAULT_MAX_BLOCK,
        )
        self.quiet_until: datetime | None = None
        """A down service's Retry-After (5xx): the next scheduled probe waits until then (bounded)."""
        self.tracker = RateLimitTracker()
        self.hooks = hooks
        self._now = now
        self._slot: AbstractAsyncContextManager[Any] = slot if slot is not None else contextlib.nullcontext()
        self._last_attempt = 0

    async def run(self) -> ProbeResult:
        """Probe once. Never raises except CancelledError."""
        started_at = self._now()
        self.quiet_until = None
        decision = self.gate.check(started_at)
        if not decision.allowed:
            return self._result(started_at, Status.DEGRADED, decision.reason, contacted=False)
        was_open = self.breaker.state == OPEN
        try:
            outcome, attempts = await self.breaker.run(self._attempts)
        except BreakerOpen as refused:
            return self._result(started_at, Status.DOWN, refused.reason, contacted=False)
        except RateLimited as limited:
            return self._rate_limited(started_at, limited)
        except ProbeError as failure:
            await self._after_failure(was_open)
            return self._result(
                started_at,
                Status.DOWN,
                failure.reason,
                latency_ms=failure.latency_ms,
                attempts=self._last_attempt,
                http_status=failure.http_status,
                details=failure.details,
                checks=failure.checks,
            )
        except Exception as bug:  # a probe must never take the engine down
            logger.exception("probe for %s crashed", self.service.name)
            await self._after_failure(was_open)
            return self._result(started_at, Status.DOWN, f"probe crashed: {type(bug).__name__}: {bug}")
        status, reason = outcome.status, outcome.reason
        limits = self.tracker.limits
        if limits or self.gate.blocked_until() is not None:  # else there is nothing to warn about
            now = self._now()
            warnings = self.gate.warnings(limits, now=now)
            held = self.gate.check(now)
            if not held.allowed:
                warnings.append(held.reason)  # this answer spent the last request: say so now, not next probe
            if warnings:
                reason = "; ".join([reason, *warnings]) if reason else "; ".join(warnings)
                status = Status.DEGRADED if status is Status.UP else status
        return self._result(
            started_at,
            status,
            reason,
            latency_ms=outcome.latency_ms,
            attempts=attempts,
            http_status=outcome.http_status,
            timings=outcome.timings,
            details=outcome.details,
            checks=outcome.checks,
        )

    async def _attempts(self) -> tuple[ProbeOutcome, int]:
        """The attempts the retry policy allows. `run_with_retry` runs the first one bare (no retry machinery,
        so a probe that needs one attempt leaves no reference cycle behind: at 1000 services, tenacity's loop
        objects per probe were what set off a full collection every 10-20 s)."""
        self._last_attempt = 0
        return await run_with_retry(self.service.retry, self._attempt, on_retry=self._on_retry)

    async def _attempt(self, number: int) -> ProbeOutcome:
        self._last_attempt = number
        if number > 1:
            # A retry must not spend a request the service already refused.
            decision = self.gate.check(self._now())
            if not decision.allowed:
                raise RateLimited(decision.reason, until=decision.until)
        async with self._slot:
            return await self._attempt_within_deadline()

    async def _attempt_within_deadline(self) -> ProbeOutcome:
        deadline = Deadline(attempt_budget(self.probe, self.service.timeout))
        started = time.perf_counter()
        backstop = _Backstop(deadline)
        expired = False
        try:
            try:
                outcome = await self.probe.attempt(deadline)
            finally:
                expired = backstop.disarm()
        except asyncio.CancelledError:
            if not expired:
                raise  # a shutdown's or a reload's cancel, not the backstop's
            raise ProbeError(
                f"timed out after {format_duration(deadline.budget)}",
                latency_ms=(time.perf_counter() - started) * 1000,
            ) from None
        except TimeoutError:
            raise ProbeError(
                f"timed out after {format_duration(deadline.budget)}",
                latency_ms=(time.perf_counter() - started) * 1000,
            ) from None
        except ProbeError as failure:
            failure.reason = self.hooks.redact(failure.reason)
            self._observe(failure.rate_limits, failure.http_status)
            raise
        self._observe(outcome.rate_limits, outcome.http_status)
        return outcome

    def _observe(self, reading: RateLimitReading | None, http_status: int | None) -> None:
        if reading is None and http_status != 429:
            return
        reading = reading or RateLimitReading()
        if not reading.limits and reading.retry_after is None and http_status != 429:
            return
        now = self._now()
        if http_status is not None and http_status >= 500 and reading.retry_after is not None:
            self._quiet_after_outage(reading.retry_after, http_status, now)
        capped = self.gate.observe(reading, status=http_status or 200, now=now)
        if capped:
            self.hooks.log(LogLevel.WARNING, capped)
        if reading.limits:
            self.hooks.rate_limits_changed(self.tracker.update(reading, now))

    def _quiet_after_outage(self, retry_after: datetime, http_status: int, now: datetime) -> None:
        """A 5xx with Retry-After is still an outage (down): the header only delays the next probe,
        never past the breaker's reset_timeout (when an open breaker would try anyway) nor max_block."""
        longest, setting = min(
            (self.service.breaker.reset_timeout, "breaker.reset_timeout"), (self.gate.max_block, "max_block")
        )
        asked = (retry_after - now).total_seconds()
        if asked <= 0:
            return
        if asked > longest:
            self.hooks.log(
                LogLevel.INFO,
                f"HTTP {http_status} asked to wait {format_duration(asked)}; "
                f"next probe in {format_duration(longest)} at the latest ({setting})",
            )
        self.quiet_until = min(retry_after, now + timedelta(seconds=longest))

    def reset_guards(self) -> None:
        """An operator's "try again now": close the breaker, open the gate, forget any Retry-After."""
        self.breaker.reset()
        self.gate.clear()
        self.quiet_until = None

    def _on_retry(self, attempt: int, error: BaseException, wait: float) -> None:
        reason = error.reason if isinstance(error, ProbeError) else str(error)
        self.hooks.log(
            LogLevel.WARNING,
            f"attempt {attempt} failed: {reason}; retrying in {format_duration(wait)}",
        )

    def _rate_limited(self, started_at: datetime, limited: RateLimited) -> ProbeResult:
        # The gate has already read the refusal (in _attempt) and holds requests until it may ask again.
        decision = self.gate.check(self._now())
        reason = decision.reason or limited.reason
        self.hooks.log(LogLevel.WARNING, reason)
        return self._result(
            started_at,
            Status.DEGRADED,
            reason,
            latency_ms=limited.latency_ms,
            attempts=self._last_attempt,
            http_status=limited.http_status,
        )

    async def _after_failure(self, was_open: bool) -> None:
        if self.breaker.state == OPEN and not was_open:
            # Open means "stop talking to it": drop sessions and child processes now.
            await self.probe.reset()

    def _result(
        self,
        started_at: datetime,
        status: Status,
        reason: str,
        *,
        contacted: bool = True,
        latency_ms: float | None = None,
        attempts: int = 0,
        http_status: int | None = None,
        timings: Mapping[str, float] | None = None,
        details: Details | None = None,
        checks: tuple[Check, ...] = (),
    ) -> ProbeResult:
        # Every result is built here: the one place where what a server said becomes safe to show.
        shown_reason, full_reason = safe_reason(reason, self.hooks.redact)
        if self.breaker.last_error:
            # The breaker keeps str() of the failure it counted, which is the message before redaction.
            self.breaker.last_error = safe_reason(self.breaker.last_error, self.hooks.redact)[0]
        return ProbeResult(
            service=self.service.name,
            started_at=started_at,
            status=status,
            reason=shown_reason,
            latency_ms=latency_ms,
            attempts=attempts if contacted else 0,
            contacted=contacted,
            http_status=http_status,
            timings=dict(timings or {}),
            details=details.safe(self.hooks.redact) if details is not None else None,
            full_reason=full_reason,
            checks=safe_checks(checks, self.hooks.redact),
        )
