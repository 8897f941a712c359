"""What a probe returns, and how a failure is described.

A probe *attempt* either returns a `ProbeOutcome` (the service answered; it may
still be degraded) or raises `ProbeError` (it did not, or answered wrongly).
The engine turns both into a `ProbeResult`: every failure is data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.details import Details
    from core.ratelimit import RateLimitReading


class Status(enum.StrEnum):
    """Health of a service, worst last (the order drives exit codes and sorting)."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        """0 up, 1 degraded, 2 down, 3 unknown: the monitoring-plugins exit code."""
        return _SEVERITY[self]

    @property
    def symbol(self) -> str:
        """A glyph so status is never shown by colour alone."""
        return _SYMBOL[self]


_SEVERITY = {Status.UP: 0, Status.DEGRADED: 1, Status.DOWN: 2, Status.UNKNOWN: 3}
_SYMBOL = {Status.UP: "●", Status.DEGRADED: "▲", Status.DOWN: "✖", Status.UNKNOWN: "?"}


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation judged against what a probe fetched (Gatus's condition result).

    `condition` says what was expected ("status is 200", "at least 3 tools"),
    `message` what was found: the failure's reason when not `ok`, a short
    observation ("HTTP 200", "3 tools") when it is.
    """

    condition: str
    ok: bool
    message: str
    expiry: TokenExpiry | None = None
    """For a token-expiry check: when the token runs out, and who said so (what a `token_expiring` alert
    rule reads: the message is for people, the date for rules). Never shown or serialized itself."""


@dataclass(frozen=True, slots=True)
class TokenExpiry:
    """When a service's token stops working, as a token-health check found it."""

    at: datetime
    source: str
    """Where the date came from, as a person reads it: "GitHub token expiration header", "JWT exp claim"."""


@dataclass(slots=True)
class ProbeOutcome:
    """A successful attempt: the service answered as a service should.

    `status` is UP or DEGRADED (slow, rate limit low, a tool missing...);
    `reason` says why when it is not UP.
    """

    status: Status = Status.UP
    reason: str = ""
    latency_ms: float | None = None
    http_status: int | None = None
    rate_limits: RateLimitReading | None = None
    details: Details | None = None
    """The kind's findings (`core.details`): made safe by the pipeline, not here."""
    timings: dict[str, float] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    """Every expectation judged, in order; the failed ones make `reason`."""


class ProbeError(Exception):
    """An attempt that failed. `reason` is shown to people as "down: <reason>".

    `retryable` says whether another attempt could help (timeouts, resets,
    5xx) or not (a 404, a wrong body, a missing command).
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool = True,
        http_status: int | None = None,
        rate_limits: RateLimitReading | None = None,
        details: Details | None = None,
        latency_ms: float | None = None,
        checks: tuple[Check, ...] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.http_status = http_status
        self.rate_limits = rate_limits
        self.details = details
        self.latency_ms = latency_ms
        self.checks = checks
        """The expectations judged before the one that failed (and that one), when an expectation failed."""


class RateLimited(ProbeError):
    """The service said "not now" (429, GitHub's 403 with remaining 0).

    The service is alive, so this is not a breaker failure and is never
    retried: the rate-limit gate holds further requests until `until`.
    """

    def __init__(self, reason: str, *, until: datetime | None, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", False)
        super().__init__(reason, **kwargs)
        self.until = until


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One finished probe of one service, as the engine records it."""

    service: str
    started_at: datetime
    status: Status
    reason: str = ""
    latency_ms: float | None = None
    attempts: int = 0
    contacted: bool = True
    """False when the gate or an open breaker kept the probe from sending anything."""
    http_status: int | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    details: Details | None = None
    """The kind's findings, every server-supplied string already safe to show; None when there were none."""
    full_reason: str = ""
    """The reason up to `TEXT_LIMIT` when `reason` had to be cut at `REASON_LIMIT` (else empty): for the
    detail screen, which can still say everything the server said."""
    checks: tuple[Check, ...] = ()
    """The expectations judged by the last attempt, in order (none if it failed before judging any)."""

    @property
    def ok(self) -> bool:
        return self.status in (Status.UP, Status.DEGRADED)
