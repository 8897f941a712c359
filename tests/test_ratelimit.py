"""Rate-limit headers as real APIs send them, and the gate's decisions.

Parsing is pure: the input is the header block itself, so these tests feed header blocks copied
from the APIs' documentation. The engine tests drive the same code through a loopback server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from core.ratelimit import (
    MAX_RESOURCE_NAME,
    MAX_RESOURCES,
    RateLimitGate,
    RateLimitReading,
    RateLimitTracker,
    format_until,
    parse_rate_limits,
    parse_reset_duration,
    parse_retry_after,
)

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
EPOCH_IN_10_MIN = int((NOW + timedelta(minutes=10)).timestamp())


def one(reading: RateLimitReading, resource: str):
    [found] = [limit for limit in reading.limits if limit.resource == resource]
    return found


def test_github_headers() -> None:
    headers = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "4987",
        "X-RateLimit-Used": "13",
        "X-RateLimit-Reset": str(EPOCH_IN_10_MIN),
        "X-RateLimit-Resource": "core",
    }
    limit = one(parse_rate_limits(headers, now=NOW), "core")
    assert (limit.limit, limit.remaining, limit.used, limit.source) == (5000, 4987, 13, "github")
    assert limit.reset_at == NOW + timedelta(minutes=10)


def test_github_rate_limit_body_lists_every_resource() -> None:
    body = {
        "resources": {
            "core": {"limit": 5000, "used": 1, "remaining": 4999, "reset": EPOCH_IN_10_MIN},
            "search": {"limit": 30, "used": 28, "remaining": 2, "reset": EPOCH_IN_10_MIN},
            "graphql": {"limit": 5000, "remaining": 5000, "reset": EPOCH_IN_10_MIN},
            "broken": "not a mapping",
        },
        "rate": {"limit": 5000, "remaining": 4999},
    }
    reading = parse_rate_limits({}, body=body, now=NOW)
    assert sorted(limit.resource for limit in reading.limits) == ["core", "graphql", "search"]
    assert one(reading, "search").remaining == 2
    assert one(reading, "graphql").used == 0  # derived when the body leaves it out


def test_reset_in_seconds_rather_than_epoch() -> None:
    limit = one(parse_rate_limits({"X-RateLimit-Limit": "60", "X-RateLimit-Reset": "30"}, now=NOW), "core")
    assert limit.reset_at == NOW + timedelta(seconds=30)


def test_ietf_structured_fields() -> None:
    headers = {"RateLimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400', "RateLimit": '"burst";r=7;t=12'}
    reading = parse_rate_limits(headers, now=NOW)
    [burst] = reading.limits
    assert (burst.resource, burst.limit, burst.remaining, burst.used, burst.window) == ("burst", 100, 7, 93, 60.0)
    assert burst.reset_at == NOW + timedelta(seconds=12)


def test_ietf_older_draft_separate_fields() -> None:
    headers = {"RateLimit-Limit": "100, 100;w=60", "RateLimit-Remaining": "40", "RateLimit-Reset": "50"}
    limit = one(parse_rate_limits(headers, now=NOW), "default")
    assert (limit.limit, limit.remaining, limit.source) == (100, 40, "ietf")
    assert limit.reset_at == NOW + timedelta(seconds=50)


def test_openai_style_requests_and_tokens() -> None:
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    reading = parse_rate_limits(headers, now=NOW)
    assert one(reading, "requests").reset_at == NOW + timedelta(seconds=1)
    assert one(reading, "tokens").reset_at == NOW + timedelta(minutes=6)
    assert one(reading, "tokens").used == 16


def test_scheme_restricts_the_readers() -> None:
    headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "1", "RateLimit": '"x";r=1;t=1'}
    assert [limit.source for limit in parse_rate_limits(headers, now=NOW, scheme="ietf").limits] == ["ietf"]
    assert [limit.source for limit in parse_rate_limits(headers, now=NOW, scheme="github").limits] == ["github"]
    assert parse_rate_limits(headers, now=NOW, scheme="none").limits == ()


def test_reads_httpx_headers_case_insensitively() -> None:
    headers = httpx2.Headers([("x-RATELIMIT-limit", "10"), ("X-RateLimit-Remaining", "3")])
    assert one(parse_rate_limits(headers, now=NOW), "core").remaining == 3


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "-4", "X-RateLimit-Reset": "soon"},
        {"X-RateLimit-Limit": "nan", "X-RateLimit-Remaining": "inf", "X-RateLimit-Reset": "1e300"},
        {"RateLimit": ';;;,,,"unterminated', "RateLimit-Policy": "=,=;"},
        {"x-ratelimit-remaining-tokens": "12", "x-ratelimit-reset-tokens": "6 minutes"},
        {"Retry-After": "next tuesday"},
    ],
)
def test_hostile_values_never_raise(headers: dict[str, str]) -> None:
    reading = parse_rate_limits(headers, body=["not", "a", "mapping"], now=NOW)
    for limit in reading.limits:
        assert limit.remaining is None or limit.remaining >= 0
    assert reading.retry_after is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("7.5", 7.5), ("", None), ("5 m", None), ("-3", None)],
)
def test_reset_durations(text: str, seconds: float | None) -> None:
    assert parse_reset_duration(text) == seconds


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Wed, 25 Nov 2026 12:05:00 GMT", NOW) == NOW + timedelta(minutes=5)
    assert parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", NOW) == NOW  # a date in the past: now
    assert parse_retry_after("garbage", NOW) is None


def test_forecast_from_the_observed_rate() -> None:
    tracker = RateLimitTracker()
    reset = NOW + timedelta(hours=1)

    def seen(remaining: int, at: datetime):
        reading = parse_rate_limits(
            {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(reset.timestamp())),
            },
            now=at,
        )
        return tracker.update(reading, at)[0]

    assert seen(100, NOW).exhausts_at is None  # one reading: no rate yet
    # 10 spent in 60 s -> the other 90 last 540 s, well before the reset.
    assert seen(90, NOW + timedelta(seconds=60)).exhausts_at == NOW + timedelta(seconds=600)
    # A refill starts a new baseline.
    assert seen(100, NOW + timedelta(seconds=70)).exhausts_at is None
    # A slow rate that the reset outruns forecasts nothing.
    assert seen(99, NOW + timedelta(seconds=1000)).exhausts_at is None


def test_gate_blocks_until_retry_after_even_if_reset_is_sooner() -> None:
    gate = RateLimitGate()
    headers = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int((NOW + timedelta(seconds=5)).timestamp())),
        "Retry-After": "30",
    }
    gate.observe(parse_rate_limits(headers, now=NOW), status=429, now=NOW)
    decision = gate.check(NOW + timedelta(seconds=10))
    assert not decision.allowed and decision.until == NOW + timedelta(seconds=30)
    assert (
        decision.reason == "rate limited (HTTP 429 with Retry-After): not sending requests until 12:00:30 UTC (in 20s)"
    )
    assert gate.check(NOW + timedelta(seconds=30)).allowed
    assert gate.blocked_until() is None


def test_gate_429_without_retry_after_waits_for_the_reset_or_a_default() -> None:
    gate = RateLimitGate()
    reset = NOW + timedelta(seconds=42)
    gate.observe(
        parse_rate_limits({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset.timestamp()))}, now=NOW),
        status=429,
        now=NOW,
    )
    assert gate.blocked_until() == reset
    bare = RateLimitGate()
    bare.observe(RateLimitReading(), status=429, now=NOW)
    assert bare.blocked_until() == NOW + timedelta(seconds=60)


def test_gate_github_403_with_nothing_left_is_a_rate_limit() -> None:
    gate = RateLimitGate()
    reset = NOW + timedelta(minutes=3)
    headers = {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(reset.timestamp())),
    }
    gate.observe(parse_rate_limits(headers, now=NOW), status=403, now=NOW)
    decision = gate.check(NOW)
    assert not decision.allowed and "HTTP 403, core quota exhausted" in decision.reason
    # A 403 with quota left is a permissions problem, not a rate limit: the gate stays open.
    other = RateLimitGate()
    headers["X-RateLimit-Remaining"] = "12"
    other.observe(parse_rate_limits(headers, now=NOW), status=403, now=NOW)
    assert other.check(NOW).allowed


def test_gate_soft_block_on_zero_remaining_lifts_on_an_early_refill() -> None:
    gate = RateLimitGate()
    reset = str(int((NOW + timedelta(minutes=1)).timestamp()))
    gate.observe(
        parse_rate_limits({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, now=NOW), status=200, now=NOW
    )
    assert not gate.check(NOW).allowed
    gate.observe(
        parse_rate_limits({"X-RateLimit-Remaining": "50", "X-RateLimit-Reset": reset}, now=NOW), status=200, now=NOW
    )
    assert gate.check(NOW).allowed


def test_a_count_never_shortens_a_refusal() -> None:
    gate = RateLimitGate()
    gate.observe(parse_rate_limits({"Retry-After": "120"}, now=NOW), status=429, now=NOW)
    soon = str(int((NOW + timedelta(seconds=10)).timestamp()))
    gate.observe(
        parse_rate_limits({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": soon}, now=NOW), status=200, now=NOW
    )
    gate.observe(parse_rate_limits({"X-RateLimit-Remaining": "9"}, now=NOW), status=200, now=NOW)
    assert gate.blocked_until() == NOW + timedelta(seconds=120)


def test_warnings_below_the_threshold() -> None:
    gate = RateLimitGate(warn_below=0.30)
    reading = parse_rate_limits(
        {
            "X-RateLimit-Limit": "25",
            "X-RateLimit-Remaining": "5",
            "X-RateLimit-Reset": str(int((NOW + timedelta(seconds=50)).timestamp())),
        },
        now=NOW,
    )
    assert gate.warnings(reading.limits, NOW) == ["core quota low: 5/25 left (20% < 30%), resets in 50s"]
    assert RateLimitGate(warn_below=0.10).warnings(reading.limits, NOW) == []


FAR_FUTURE = {
    "a year in seconds": ({"Retry-After": "31536000"}, 429, "365d"),
    "an HTTP date in 9999": ({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, 429, "2912114d11h"),
    "a reset epoch in 9999, 403": (
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "253402300799"},
        403,
        "2912114d11h",
    ),
    "a reset epoch in 9999, count only": (
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "253402300799"},
        200,
        "2912114d11h",
    ),
}


@pytest.mark.parametrize(("headers", "status", "asked"), FAR_FUTURE.values(), ids=FAR_FUTURE.keys())
def test_every_block_is_capped_at_max_block_and_says_so(headers: dict[str, str], status: int, asked: str) -> None:
    gate = RateLimitGate()  # default max_block: 1h
    note = gate.observe(parse_rate_limits(headers, now=NOW), status=status, now=NOW)
    assert gate.blocked_until() == NOW + timedelta(hours=1)
    assert note == f"server asked to wait {asked}; waiting 1h (rate_limit.max_block)"
    assert gate.check(NOW + timedelta(hours=1)).allowed
    shorter = RateLimitGate(max_block=120)
    shorter.observe(parse_rate_limits(headers, now=NOW), status=status, now=NOW)
    assert shorter.blocked_until() == NOW + timedelta(minutes=2)


def test_a_block_within_max_block_is_kept_as_asked_and_not_noted() -> None:
    gate = RateLimitGate(max_block=120)
    assert gate.observe(parse_rate_limits({"Retry-After": "120"}, now=NOW), status=429, now=NOW) == ""
    assert gate.blocked_until() == NOW + timedelta(seconds=120)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_never_closes_the_gate_whatever_its_headers_say(status: int) -> None:
    # An outage reported as "rate limited" would hide it: the pipeline reports it down instead.
    gate = RateLimitGate()
    headers = {"Retry-After": "31536000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "253402300799"}
    assert gate.observe(parse_rate_limits(headers, now=NOW), status=status, now=NOW) == ""
    assert gate.check(NOW).allowed and gate.blocked_until() is None


def test_block_message_names_the_day_when_it_is_not_today() -> None:
    late = datetime(2026, 12, 25, 23, 30, 0, tzinfo=UTC)
    gate = RateLimitGate()
    gate.observe(parse_rate_limits({"Retry-After": "3600"}, now=late), status=429, now=late)
    assert gate.check(late).reason == (
        "rate limited (HTTP 429 with Retry-After): not sending requests until Dec 26 00:30:00 UTC (in 1h)"
    )
    assert format_until(late + timedelta(minutes=10), late) == "23:40:00 UTC"
    assert format_until(datetime(2027, 1, 2, 9, 0, tzinfo=UTC), late) == "Jan 2 09:00:00 UTC"


def test_resource_names_a_server_invents_are_bounded() -> None:
    """A server naming a new resource on every answer must not grow what Lookout tracks (or shows)."""
    tracker = RateLimitTracker()
    for answer in range(50):
        name = f"r{answer}-" + "x" * 200
        headers = {"RateLimit-Policy": f'"{name}";q=100;w=60', "RateLimit": f'"{name}";r=50;t=30'}
        tracker.update(parse_rate_limits(headers, now=NOW, scheme="ietf"), NOW)
    names = [limit.resource for limit in tracker.limits]
    assert len(names) == MAX_RESOURCES
    assert all(len(name) <= MAX_RESOURCE_NAME for name in names)
    many = {"RateLimit": ", ".join(f'"k{i}";r=1;t=5' for i in range(100))}
    assert len(parse_rate_limits(many, now=NOW, scheme="ietf").limits) == MAX_RESOURCES
