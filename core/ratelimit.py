"""Rate limits as services announce them, and the gate that keeps Lookout inside them.

Readers for every header family in common use (GitHub's X-RateLimit-*, the
IETF RateLimit/RateLimit-Policy fields, the x-ratelimit-*-requests/tokens
family with `6m0s` resets, Retry-After), a tracker that forecasts when a quota
runs out at the observed rate, and the gate: once a service says "no more",
no request is sent to it until the time it named, but never longer than
`max_block`: a server cannot silence its own monitoring for a year by asking.

Header values are hostile input: nothing here raises on a malformed value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from core.config.models import DEFAULT_MAX_BLOCK
from core.durations import format_duration
from core.numbers import format_percent

DEFAULT_BLOCK = 60.0
"""A 429 that names no time: wait this long before asking again."""
MAX_RESOURCES = 20
"""Resources tracked per service. Their names come from the server's headers and body: a server
inventing a new name on every answer must not grow Lookout's memory (or a metric's label set)."""
MAX_RESOURCE_NAME = 64
SAME_WINDOW_TOLERANCE = 2.0
"""Reset times that differ by less than this (seconds) belong to the same window (clock rounding)."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    resource: str
    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset_at: datetime | None = None
    source: str = ""
    window: float | None = None
    exhausts_at: datetime | None = None

    @property
    def fraction_remaining(self) -> float | None:
        if self.limit is None or self.remaining is None or self.limit <= 0:
            return None
        return max(0.0, min(1.0, self.remaining / self.limit))


@dataclass(frozen=True, slots=True)
class RateLimitReading:
    limits: tuple[RateLimit, ...] = ()
    retry_after: datetime | None = None


# -- parsing ------------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if value is None:  # the usual case (no such header): no exception raised and caught on every probe
        return None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return int(number)


def _epoch(value: Any) -> datetime | None:
    seconds = _int(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _after(now: datetime, seconds: float | None) -> datetime | None:
    if seconds is None or seconds < 0 or seconds > 10 * 365 * 86400:
        return None
    return now + timedelta(seconds=seconds)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset_duration(value: str) -> float | None:
    """ "6m0s" -> 360.0, "20ms" -> 0.02, "1h2m3.5s", "7.5" -> seconds; None if unreadable."""
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        seconds = float(text)
        return seconds if seconds >= 0 and math.isfinite(seconds) else None
    except ValueError:
        pass
    total, position = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        unit = match.group(2)
        total += float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        position = match.end()
    return total if position == len(text) and position else None


def parse_retry_after(value: str, now: datetime) -> datetime | None:
    """Retry-After as delta seconds or an HTTP date -> an absolute time (None if unreadable)."""
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _after(now, float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.astimezone(UTC), now)


def _lower(headers: Mapping[str, str] | Any) -> dict[str, str]:
    try:
        items = headers.multi_items() if hasattr(headers, "multi_items") else headers.items()
        lowered: dict[str, str] = {}
        for key, value in items:
            key = str(key).lower()
            lowered[key] = f"{lowered[key]}, {value}" if key in lowered else str(value)
        return lowered
    except Exception:
        return {}


def _github(headers: dict[str, str], body: Any, now: datetime) -> list[RateLimit]:
    limits: dict[str, RateLimit] = {}
    if isinstance(body, dict) and isinstance(body.get("resources"), dict):
        for name, info in body["resources"].items():
            if not isinstance(info, dict):
                continue
            limit, remaining = _int(info.get("limit")), _int(info.get("remaining"))
            if limit is None and remaining is None:
                continue
            used = _int(info.get("used"))
            if used is None and limit is not None and remaining is not None:
                used = max(0, limit - remaining)
            limits[str(name)] = RateLimit(str(name), limit, remaining, used, _epoch(info.get("reset")), "github")
    if "x-ratelimit-limit" in headers or "x-ratelimit-remaining" in headers:
        limit = _int(headers.get("x-ratelimit-limit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        used = _int(headers.get("x-ratelimit-used"))
        if used is None and limit is not None and remaining is not None:
            used = max(0, limit - remaining)
        resource = (headers.get("x-ratelimit-resource") or "core").strip() or "core"
        reset = headers.get("x-ratelimit-reset")
        reset_at = _epoch(reset)
        if reset_at is not None and reset_at.year < 2000:
            # Some APIs send seconds-until-reset in X-RateLimit-Reset, not an epoch.
            reset_at = _after(now, float(_int(reset) or 0))
        if limit is not None or remaining is not None:
            limits[resource] = RateLimit(resource, limit, remaining, used, reset_at, "github")
    return list(limits.values())


_ITEM = re.compile(r'\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[A-Za-z0-9_.\-*/]+))(?P<params>(?:\s*;\s*[^,;]+)*)')


def _structured_items(value: str) -> list[tuple[str, dict[str, str]]]:
    """A lenient reader for the structured-field lists of the IETF draft: `"name";k=v;k2=v2, ...`."""
    items: list[tuple[str, dict[str, str]]] = []
    for part in value.split(","):
        match = _ITEM.match(part)
        if not match:
            continue
        name = match.group("quoted") if match.group("quoted") is not None else match.group("token")
        params: dict[str, str] = {}
        for param in (match.group("params") or "").split(";"):
            key, _, val = param.strip().partition("=")
            if key:
                params[key.strip().lower()] = val.strip().strip('"')
        items.append((name, params))
    return items


def _ietf(headers: dict[str, str], now: datetime) -> list[RateLimit]:
    limits: dict[str, RateLimit] = {}
    policies: dict[str, dict[str, str]] = {}
    if "ratelimit-policy" in headers:
        for name, params in _structured_items(headers["ratelimit-policy"]):
            policies[name] = params
    if "ratelimit" in headers:
        for name, params in _structured_items(headers["ratelimit"]):
            if "r" not in params and "t" not in params:
                continue
            policy = policies.get(name, {})
            limit = _int(policy.get("q"))
            remaining = _int(params.get("r"))
            reset = _int(params.get("t"))
            window = _int(policy.get("w"))
            used = max(0, limit - remaining) if limit is not None and remaining is not None else None
            limits[name] = RateLimit(
                name, limit, remaining, used, _after(now, reset), "ietf", float(window) if window else None
            )
    if not limits and ("ratelimit-limit" in headers or "ratelimit-remaining" in headers):
        # The older draft: three separate fields, values possibly with ";w=60" policies after them.
        limit = _int(headers.get("ratelimit-limit", "").split(",")[0].split(";")[0])
        remaining = _int(headers.get("ratelimit-remaining", "").split(",")[0])
        reset = _int(headers.get("ratelimit-reset", "").split(",")[0])
        used = max(0, limit - remaining) if limit is not None and remaining is not None else None
        limits["default"] = RateLimit("default", limit, remaining, used, _after(now, reset), "ietf")
    return list(limits.values())


def _openai(headers: dict[str, str], now: datetime) -> list[RateLimit]:
    limits = []
    for resource in ("requests", "tokens"):
        limit = _int(headers.get(f"x-ratelimit-limit-{resource}"))
        remaining = _int(headers.get(f"x-ratelimit-remaining-{resource}"))
        if limit is None and remaining is None:
            continue
        reset = parse_reset_duration(headers.get(f"x-ratelimit-reset-{resource}", ""))
        used = max(0, limit - remaining) if limit is not None and remaining is not None else None
        limits.append(RateLimit(resource, limit, remaining, used, _after(now, reset), "openai"))
    return limits


def parse_rate_limits(
    headers: Mapping[str, str] | Any,
    *,
    body: Any = None,
    status: int = 200,
    now: datetime,
    scheme: str = "auto",
) -> RateLimitReading:
    """Everything a response says about rate limits, in one reading."""
    if not _may_name_limits(headers, body):
        return NO_LIMITS
    lowered = _lower(headers)
    found: list[RateLimit] = []
    if scheme in ("auto", "github"):
        found += _github(lowered, body, now)
    if scheme in ("auto", "ietf"):
        found += [limit for limit in _ietf(lowered, now) if all(limit.resource != f.resource for f in found)]
    if scheme in ("auto", "openai"):
        found += [limit for limit in _openai(lowered, now) if all(limit.resource != f.resource for f in found)]
    retry_after = parse_retry_after(lowered["retry-after"], now) if "retry-after" in lowered else None
    found = [
        limit
        if len(limit.resource) <= MAX_RESOURCE_NAME
        else replace(limit, resource=limit.resource[:MAX_RESOURCE_NAME])
        for limit in found[:MAX_RESOURCES]
    ]
    return RateLimitReading(tuple(found), retry_after)


NO_LIMITS = RateLimitReading()
"""The reading of an answer that names no rate limit (most of them): one shared, frozen instance."""


def _may_name_limits(headers: Mapping[str, str] | Any, body: Any) -> bool:
    """Whether any reader could find something: a field named like a rate limit (every family's names contain
    "ratelimit") or Retry-After, or a body with GitHub's `resources`. False means the full reading would be
    empty; checking the names is a fraction of lowering every header into a dict first."""
    if isinstance(body, dict) and "resources" in body:
        return True
    try:
        for key in headers:
            name = str(key).lower()
            if "ratelimit" in name or name == "retry-after":
                return True
    except Exception:
        return True  # an odd mapping: the full reading copes (it reads nothing from what it cannot read)
    return False


# -- tracking -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Baseline:
    at: datetime
    remaining: int
    reset_at: datetime | None


class RateLimitTracker:
    """Latest limits per resource, with a forecast of exhaustion at the observed consumption rate."""

    def __init__(self) -> None:
        self._limits: dict[str, RateLimit] = {}
        self._baselines: dict[str, _Baseline] = {}

    def update(self, reading: RateLimitReading, now: datetime) -> tuple[RateLimit, ...]:
        for limit in reading.limits:
            if limit.resource not in self._limits and len(self._limits) >= MAX_RESOURCES:
                continue  # resources seen first keep their place; the newcomers are not tracked
            self._limits[limit.resource] = replace(limit, exhausts_at=self._forecast(limit, now))
        return self.limits

    def _forecast(self, limit: RateLimit, now: datetime) -> datetime | None:
        if limit.remaining is None:
            return None
        base = self._baselines.get(limit.resource)
        if base is None or not _same_window(base.reset_at, limit.reset_at) or limit.remaining > base.remaining:
            # A new window (or a refill): measure the rate from here.
            self._baselines[limit.resource] = _Baseline(now, limit.remaining, limit.reset_at)
            return None
        spent = base.remaining - limit.remaining
        elapsed = (now - base.at).total_seconds()
        if spent <= 0 or elapsed <= 0:
            return None
        if limit.remaining == 0:
            return now
        eta = now + timedelta(seconds=limit.remaining / (spent / elapsed))
        if limit.reset_at is not None and eta >= limit.reset_at:
            return None  # it refills before it runs out
        return eta

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        if not self._limits:
            return ()
        return tuple(self._limits[name] for name in sorted(self._limits))


def _same_window(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) <= SAME_WINDOW_TOLERANCE


# -- the gate -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateDecision:
    allowed: bool
    reason: str = ""
    until: datetime | None = None


_ALLOWED = GateDecision(True)


class RateLimitGate:
    """Decides whether a request may be sent now. Never spends a request it should not."""

    def __init__(self, warn_below: float = 0.10, max_block: float = DEFAULT_MAX_BLOCK) -> None:
        self.warn_below = warn_below
        self.max_block = max_block
        """The longest any block lasts, whatever the server asked for (rate_limit.max_block)."""
        self._until: datetime | None = None
        self._hard = False
        """True when the block came from the server refusing (429/403/Retry-After), not from a count."""
        self._why = ""

    def observe(self, reading: RateLimitReading, *, status: int, now: datetime) -> str:
        """Learn from one answer; returns a note worth logging (a block shortened to max_block) or "".

        A 5xx is an outage, not a refusal: whatever headers come with it, it never
        closes the gate (that would report a down service as "rate limited").
        """
        if status >= 500:
            return ""
        exhausted = [limit for limit in reading.limits if limit.remaining == 0]
        resets = [limit.reset_at for limit in exhausted if limit.reset_at is not None and limit.reset_at > now]
        if reading.retry_after is not None and reading.retry_after > now:
            # Retry-After wins over any reset time (draft-ietf-httpapi-ratelimit-headers).
            return self._block(reading.retry_after, now, hard=True, why=f"HTTP {status} with Retry-After")
        if status == 429:
            until = min(resets, default=None) or min(
                (limit.reset_at for limit in reading.limits if limit.reset_at and limit.reset_at > now), default=None
            )
            return self._block(until or now + timedelta(seconds=DEFAULT_BLOCK), now, hard=True, why="HTTP 429")
        if status == 403 and exhausted:
            until = min(resets, default=None) or now + timedelta(seconds=DEFAULT_BLOCK)
            return self._block(until, now, hard=True, why=f"HTTP 403, {exhausted[0].resource} quota exhausted")
        if exhausted and resets:
            return self._block(min(resets), now, hard=False, why=f"{exhausted[0].resource} quota exhausted")
        if not self._hard and reading.limits:
            self._until = None  # the count recovered (an early refill): nothing to wait for
        return ""

    def _block(self, until: datetime, now: datetime, *, hard: bool, why: str) -> str:
        note = ""
        longest = now + timedelta(seconds=self.max_block)
        if until > longest:
            asked = format_duration((until - now).total_seconds())
            note = f"server asked to wait {asked}; waiting {format_duration(self.max_block)} (rate_limit.max_block)"
            until = longest
        if self._until is not None and self._hard and not hard and self._until > until:
            return ""
        self._until, self._hard, self._why = until, hard, why
        return note

    def check(self, now: datetime) -> GateDecision:
        if self._until is None:
            return _ALLOWED
        if now >= self._until:
            self.clear()
            return _ALLOWED
        wait = (self._until - now).total_seconds()
        reason = (
            f"rate limited ({self._why}): not sending requests until "
            f"{format_until(self._until, now)} (in {format_duration(max(1.0, math.ceil(wait)))})"
        )
        return GateDecision(False, reason, self._until)

    def blocked_until(self) -> datetime | None:
        return self._until

    def clear(self) -> None:
        self._until, self._hard, self._why = None, False, ""

    def warnings(self, limits: Iterable[RateLimit], now: datetime | None = None) -> list[str]:
        messages = []
        for limit in limits:
            fraction = limit.fraction_remaining
            if fraction is None or fraction >= self.warn_below or (limit.remaining == 0 and self._until):
                continue
            text = (
                f"{limit.resource} quota low: {limit.remaining}/{limit.limit} left "
                f"({format_percent(fraction)} < {format_percent(self.warn_below)})"
            )
            if limit.reset_at is not None:
                when = now or datetime.now(UTC)
                text += f", resets in {format_duration(max(0.0, (limit.reset_at - when).total_seconds()))}"
            messages.append(text)
        return messages


def format_until(until: datetime, now: datetime) -> str:
    """ "14:05:00 UTC" today, "Dec 26 09:00:00 UTC" on another day: a bare time would read as today."""
    until, now = until.astimezone(UTC), now.astimezone(UTC)
    day = "" if until.date() == now.date() else f"{until:%b} {until.day} "
    return f"{day}{until:%H:%M:%S} UTC"
