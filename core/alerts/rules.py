"""What one event says about one rule: a bad observation, a good one, or nothing.

Each rule's condition reads the events that bear on it: `down` and `degraded`
read probe results; `breaker_open` reads breaker transitions (and a good probe,
which means the breaker let one through and it worked); `rate_limit_below`
reads rate-limit updates. Counting bad observations against `failures`, and
good ones against `successes`, is the evaluator's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.alerts.config import RateLimitBelow, Rule
from core.events import BreakerChanged, Event, ProbeCompleted, RateLimitsUpdated
from core.results import Status


@dataclass(frozen=True, slots=True)
class Observation:
    bad: bool
    reason: str


def observe(rule: Rule, event: Event) -> Observation | None:
    """The event's verdict for `rule` (None: it says nothing about this rule's condition)."""
    condition = rule.when
    if isinstance(condition, RateLimitBelow):
        return _rate_limit(condition.rate_limit_below, event)
    if condition == "breaker_open":
        if isinstance(event, BreakerChanged):
            if event.new == "open":
                return Observation(True, "circuit breaker open")
            if event.new == "closed":
                return Observation(False, "")
            return None
        if isinstance(event, ProbeCompleted) and event.result.status is Status.UP:
            return Observation(False, "")
        return None
    if not isinstance(event, ProbeCompleted):
        return None
    status = event.result.status
    if status is Status.UNKNOWN:
        return None
    bad = status is Status.DOWN if condition == "down" else status in (Status.DOWN, Status.DEGRADED)
    return Observation(bad, event.result.reason if bad else "")


def _rate_limit(threshold: float, event: Event) -> Observation | None:
    if not isinstance(event, RateLimitsUpdated):
        return None
    known = [(limit, limit.fraction_remaining) for limit in event.limits if limit.fraction_remaining is not None]
    if not known:
        return None
    low = [(limit, share) for limit, share in known if share is not None and share < threshold]
    if not low:
        return Observation(False, "")
    limit, share = min(low, key=lambda item: item[1] or 0.0)
    return Observation(True, f"rate limit {limit.resource}: {share:.0%} left (below {threshold:.0%})")
