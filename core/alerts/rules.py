"""What one event says about one rule: a bad observation, a good one, or nothing.

Each rule's condition reads the events that bear on it: `down` and `degraded`
read probe results; `breaker_open` reads breaker transitions (and a good probe,
which means the breaker let one through and it worked); `rate_limit_below`
reads rate-limit updates; `tools_changed` reads an MCP result's pin verdict;
`token_expiring` reads the token-expiry check of a result that got an answer.
Counting bad observations against `failures`, and good ones against
`successes`, is the evaluator's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.alerts.config import RateLimitBelow, Rule, TokenExpiring
from core.details import McpDetails, ToolChange
from core.events import BreakerChanged, Event, ProbeCompleted, RateLimitsUpdated
from core.pins.diff import PinDiff
from core.probes.auth.token_health import coarse
from core.results import ProbeResult, Status


@dataclass(frozen=True, slots=True)
class Observation:
    bad: bool
    reason: str


def observe(rule: Rule, event: Event) -> Observation | None:
    """The event's verdict for `rule` (None: it says nothing about this rule's condition)."""
    condition = rule.when
    if isinstance(condition, RateLimitBelow):
        return _rate_limit(condition.rate_limit_below, event)
    if isinstance(condition, TokenExpiring):
        return _token_expiring(condition.token_expiring, event)
    if condition == "tools_changed":
        return _tools_changed(event)
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


def _tools_changed(event: Event) -> Observation | None:
    """Bad while a result's tools differ from the approved pin; good once they match (approved, or the server
    went back). Only results count: the ToolsUnapproved event comes from the same probe as its result (and
    only when the difference is new), so counting it too would count one probe twice against `failures`."""
    if not isinstance(event, ProbeCompleted):
        return None
    details = event.result.details
    if not isinstance(details, McpDetails) or details.pin is None:
        return None  # a failed probe, or no pins kept: nothing said about the tools
    if details.pin != "changed":
        return Observation(False, "")
    return Observation(True, _describe(details.tool_changes))


def _describe(changes: tuple[ToolChange, ...]) -> str:
    """The change as the result's reason names it ("tool X added; tool Y description changed since approved")."""
    changed: dict[str, list[str]] = {}
    for change in changes:
        if change.change == "changed":
            changed.setdefault(change.tool, []).append(change.field)
    diff = PinDiff(
        added=tuple(change.tool for change in changes if change.change == "added"),
        removed=tuple(change.tool for change in changes if change.change == "removed"),
        changed=tuple((tool, tuple(fields)) for tool, fields in changed.items()),
    )
    return diff.describe() or "tools differ from the approved ones"


def _token_expiring(horizon: float, event: Event) -> Observation | None:
    """Bad while the token the last answer reported on runs out within `horizon` seconds. A probe that got
    no answer says nothing: a refused (or expired and unsent) token is the `down` rule's to tell."""
    if not isinstance(event, ProbeCompleted):
        return None
    result = event.result
    if result.status not in (Status.UP, Status.DEGRADED):
        return None
    expiry = _soonest_expiry(result)
    if expiry is None:
        return Observation(False, "")  # the token reports no end (any more): nothing runs out
    at, source = expiry
    left = (at - event.at).total_seconds()
    if left > horizon:
        return Observation(False, "")
    when = f"expired {coarse(-left)} ago" if left <= 0 else f"expires in {coarse(left)}"
    return Observation(True, f"token {when} ({source})")


def _soonest_expiry(result: ProbeResult) -> tuple[datetime, str] | None:
    found = [(check.expiry.at, check.expiry.source) for check in result.checks if check.expiry is not None]
    return min(found, key=lambda item: item[0]) if found else None
