"""The engine against a real HTTP server on loopback: every claim is proven by the
server's own request counts, not by what the engine says about itself."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import quote

import pytest
from helpers import idle_engine, make_config

from core.clock import FakeClock
from core.engine import Engine
from core.events import BreakerChanged, LogEvent, OperatorReset, ProbeCompleted, StatusChanged
from core.loglines import log_line
from core.results import Status


def http(url: str, **extra) -> dict:
    return {"kind": "http", "url": url, **extra}


def midpoint(low: float, high: float) -> float:
    """Jitter without chance: every draw is the middle of its range, so a schedule is exact."""
    return (low + high) / 2


def probed_at(engine: Engine, name: str, start: datetime) -> list[float]:
    """When each probe in the service's history started, in seconds after `start` (ms precision)."""
    return [round((r.started_at - start).total_seconds(), 3) for r in engine.snapshot().get(name).history]


async def test_healthy_service_is_up_with_latency(http_api, unique_key) -> None:
    config = make_config({"api": http(f"{http_api.url}/ok/{unique_key}")})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("api")
    assert service.status is Status.UP and service.reason == ""
    assert service.last_result.http_status == 200
    assert service.last_result.latency_ms > 0
    assert http_api.count("ok", unique_key) == 1


async def test_retries_until_success_with_backoff(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/fail/{unique_key}?times=2")},
        retry={"attempts": 3, "initial": "100ms", "max": "1s", "multiplier": 2, "jitter": 0},
    )
    engine = Engine(config)
    events = engine.subscribe()
    try:
        snapshot = await engine.run_once()
    finally:
        await engine.stop()
    service = snapshot.get("api")
    assert service.status is Status.UP
    assert service.last_result.attempts == 3
    assert service.retries == 2
    assert http_api.count("fail", unique_key) == 3
    arrivals = http_api.times("fail", unique_key)
    # Backoff as configured: 100ms, then 200ms (lower bounds only; a busy machine may be slower).
    assert arrivals[1] - arrivals[0] >= 0.09
    assert arrivals[2] - arrivals[1] >= 0.19
    retry_logs = [e.message for e in events.drain() if isinstance(e, LogEvent) and "retrying" in e.message]
    assert len(retry_logs) == 2 and "HTTP 500" in retry_logs[0]


async def test_gives_up_after_attempts_and_reports_the_last_reason(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/503")},
        retry={"attempts": 2, "initial": "10ms", "max": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("api")
    assert service.status is Status.DOWN
    assert service.reason == "HTTP 503 Service Unavailable (expected 200)"
    assert http_api.count("status", unique_key) == 2


async def test_client_errors_are_not_retried(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/404")},
        retry={"attempts": 5, "initial": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    assert snapshot.get("api").status is Status.DOWN
    assert http_api.count("status", unique_key) == 1


async def test_open_breaker_sends_nothing(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/500")},
        breaker={"fail_max": 2, "reset_timeout": "60s"},
    )
    engine = Engine(config)
    events = engine.subscribe()
    try:
        for _ in range(2):
            await engine.run_once()
        assert engine.snapshot().get("api").breaker.state == "open"
        for _ in range(5):
            snapshot = await engine.run_once()
    finally:
        await engine.stop()
    assert http_api.count("status", unique_key) == 2
    service = snapshot.get("api")
    assert service.status is Status.DOWN
    assert service.reason.startswith("circuit open after 2 failures, retry in")
    assert service.last_result.contacted is False
    assert 55 < service.breaker.retry_in(snapshot.taken_at) <= 60
    transitions = [(e.old, e.new) for e in events.drain() if isinstance(e, BreakerChanged)]
    assert transitions == [("closed", "open")]


async def test_half_open_sends_exactly_one_trial_then_closes(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/fail/{unique_key}?times=2")},
        breaker={"fail_max": 2, "reset_timeout": "300ms"},
    )
    clock = FakeClock()
    async with idle_engine(config, clock=clock) as engine:
        await engine.run_once()
        await engine.run_once()
        assert engine.snapshot().get("api").breaker.state == "open"
        await clock.advance(0.299)
        await engine.run_once()
        assert http_api.count("fail", unique_key) == 2
        await clock.advance(0.001)
        # Several callers at once after reset_timeout: the service sees exactly one trial.
        await asyncio.gather(*(engine.run_once() for _ in range(4)))
        assert http_api.count("fail", unique_key) == 3
        service = engine.snapshot().get("api")
    assert service.breaker.state == "closed"
    assert service.status is Status.UP
    assert [(old, new) for _, old, new in service.breaker_history] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]


async def test_failed_trial_reopens_and_sends_one_request(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/500")},
        breaker={"fail_max": 1, "reset_timeout": "200ms"},
    )
    clock = FakeClock()
    async with idle_engine(config, clock=clock) as engine:
        await engine.run_once()
        await clock.advance(0.2)
        await engine.run_once()
        await engine.run_once()
        service = engine.snapshot().get("api")
    assert http_api.count("status", unique_key) == 2
    assert service.breaker.state == "open"


@pytest.mark.slow
async def test_exhausted_quota_sends_nothing_until_reset(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/quota/{unique_key}?limit=2&window=2")},
        retry={"attempts": 3, "initial": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        first = await engine.run_once()
        limits = first.get("api").rate_limits
        assert limits and limits[0].limit == 2 and limits[0].remaining == 1
        await engine.run_once()  # spends the last request: remaining 0, reset in ~2s
        for _ in range(3):
            gated = await engine.run_once()
        assert http_api.count("quota", unique_key) == 2  # no request is spent on a known refusal
        service = gated.get("api")
        assert service.status is Status.DEGRADED
        assert service.reason.startswith("rate limited (default quota exhausted): not sending requests until")
        assert service.last_result.contacted is False
        wait = (service.gate_until - gated.taken_at).total_seconds()
        await asyncio.sleep(max(0.0, wait) + 0.2)
        recovered = await engine.run_once()
    assert http_api.count("quota", unique_key) == 3
    assert recovered.get("api").status is Status.UP


async def test_429_with_retry_after_is_not_retried_and_gates(http_api, unique_key) -> None:
    # scheme none: only Retry-After is read, so the engine learns of the limit from the 429 itself.
    config = make_config(
        {"api": http(f"{http_api.url}/quota/{unique_key}?limit=1&window=3", rate_limit={"scheme": "none"})},
        retry={"attempts": 3, "initial": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        await engine.run_once()
        limited = await engine.run_once()
        assert http_api.count("quota", unique_key) == 2  # the 429 is not retried
        service = limited.get("api")
        assert service.status is Status.DEGRADED
        assert service.reason.startswith("rate limited (HTTP 429 with Retry-After)")
        assert service.gate_until is not None
        for _ in range(3):
            gated = await engine.run_once()
    assert http_api.count("quota", unique_key) == 2
    assert gated.get("api").last_result.contacted is False


async def test_github_403_with_zero_remaining_blocks_until_reset(http_api, unique_key) -> None:
    # Two services share one quota (as two clients share a token): "other" spends it, "gh" meets the 403.
    url = f"{http_api.url}/github/{unique_key}/rate_limit?limit=1&window=30"
    config = make_config({"other": http(url), "gh": http(url)})
    async with idle_engine(config) as engine:
        await engine.run_once(["other"])
        limited = await engine.run_once(["gh"])
        for _ in range(3):
            await engine.run_once(["gh"])
    service = limited.get("gh")
    assert service.status is Status.DEGRADED
    assert service.reason.startswith("rate limited (HTTP 403, core quota exhausted)")
    assert service.last_result.http_status == 403
    assert http_api.count("github", unique_key) == 2


async def test_low_remaining_quota_degrades_with_reason(http_api, unique_key) -> None:
    config = make_config(
        {
            "gh": http(
                f"{http_api.url}/github/{unique_key}/rate_limit?limit=20&window=60",
                rate_limit={"warn_below": "96%"},
            )
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("gh")
    assert service.status is Status.DEGRADED
    assert "core" in service.reason and "low" in service.reason
    assert any(limit.resource == "core" and limit.remaining == 19 for limit in service.rate_limits)


@pytest.mark.slow
async def test_hung_service_does_not_delay_a_healthy_one(http_api, unique_key) -> None:
    config = make_config(
        {
            "hung": http(f"{http_api.url}/hang/{unique_key}", timeout="5s", interval="200ms"),
            "healthy": http(f"{http_api.url}/ok/{unique_key}", interval="200ms"),
        },
        concurrency=4,
    )
    async with Engine(config):
        await asyncio.sleep(2.0)
    assert http_api.count("hang", unique_key) == 1  # still waiting on its first probe
    assert http_api.count("ok", unique_key) >= 4  # ~10 expected; the hang did not hold it up


async def test_timeout_is_a_failure_with_a_reason(http_api, unique_key) -> None:
    config = make_config({"hung": http(f"{http_api.url}/hang/{unique_key}", timeout="300ms")})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("hung")
    assert service.status is Status.DOWN
    assert service.reason.startswith("timed out after 300ms")
    assert service.breaker.failures == 1


async def test_transport_failures_become_reasons(http_api, unique_key, reset_url, free_port) -> None:
    config = make_config(
        {
            "refused": http(f"http://127.0.0.1:{free_port}/"),
            "reset": http(reset_url),
            "badjson": http(f"{http_api.url}/badjson/{unique_key}", expect={"body": {"status": "ok"}}),
            "wrongbody": http(f"{http_api.url}/ok/{unique_key}", expect={"body": {"status": "degraded"}}),
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    reasons = {s.name: (s.status, s.reason) for s in snapshot.services}
    assert reasons["refused"] == (Status.DOWN, "connection refused")
    assert reasons["reset"][0] is Status.DOWN
    assert reasons["reset"][1] in ("connection reset by peer", "connection closed before a complete response")
    assert reasons["badjson"] == (Status.DOWN, "response body is not valid JSON")
    assert reasons["wrongbody"] == (Status.DOWN, "body mismatch: status is 'ok', expected 'degraded'")


async def test_slow_answer_is_degraded(http_api, unique_key) -> None:
    config = make_config({"slow": http(f"{http_api.url}/slow/{unique_key}?ms=300", expect={"max_latency": "100ms"})})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("slow")
    assert service.status is Status.DEGRADED
    assert service.reason.startswith("slow: ") and service.reason.endswith("> 100ms")


async def test_dependency_down_degrades_the_dependent(http_api, unique_key) -> None:
    config = make_config(
        {
            "base": http(f"{http_api.url}/status/{unique_key}/500"),
            "app": http(f"{http_api.url}/ok/{unique_key}", depends_on=["base"]),
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    app = snapshot.get("app")
    assert app.status is Status.DEGRADED
    assert app.reason == "depends on base, which is down"
    assert snapshot.overall is Status.DOWN


async def test_scheduler_probes_on_interval_pause_resume_and_probe_now(http_api, unique_key) -> None:
    # On a fake clock, jitter at its midpoint: the first probe at half the start spread (150ms), then every 300ms.
    clock = FakeClock()
    start = clock.now()
    config = make_config({"api": http(f"{http_api.url}/ok/{unique_key}", interval="300ms")})
    async with Engine(config, clock=clock, uniform=midpoint) as engine:
        events = engine.subscribe()
        await clock.settle(sleepers=1)
        assert (engine.snapshot().get("api").next_probe_at - start).total_seconds() == pytest.approx(0.15)
        await clock.advance(1.0)
        assert probed_at(engine, "api", start) == [0.15, 0.45, 0.75]
        assert http_api.count("ok", unique_key) == 3
        engine.pause("api")
        await clock.advance(1.0)  # three scheduled turns pass (1.05, 1.35, 1.65, 1.95): none probes
        assert http_api.count("ok", unique_key) == 3
        api = engine.snapshot().get("api")
        assert api.paused and api.next_probe_at is None
        engine.probe_now("api")  # an operator's explicit probe runs even while paused, at once
        await clock.settle(sleepers=1)
        assert probed_at(engine, "api", start)[3:] == [2.0]
        assert http_api.count("ok", unique_key) == 4
        engine.resume("api")  # probes at once, then every interval again
        await clock.advance(0.65)
        assert probed_at(engine, "api", start)[4:] == [2.0, 2.3, 2.6]
        assert http_api.count("ok", unique_key) == 7
    kinds = {type(e) for e in events.drain()}
    assert ProbeCompleted in kinds and LogEvent in kinds


async def test_scheduler_jitter_stretches_and_shrinks_the_interval_by_at_most_ten_percent(http_api, unique_key) -> None:
    config = make_config({"api": http(f"{http_api.url}/ok/{unique_key}", interval="10s")})
    for draw, gaps in ((min, [9.0, 9.0]), (max, [11.0, 11.0])):
        clock = FakeClock()
        start = clock.now()
        async with Engine(config, clock=clock, uniform=lambda low, high, pick=draw: pick(low, high)) as engine:
            await clock.settle(sleepers=1)
            await clock.advance(25)
            times = probed_at(engine, "api", start)
        first = 0.0 if draw is min else 1.0  # the start spread: 0..1s
        assert times == [first, first + gaps[0], first + gaps[0] + gaps[1]]


async def test_status_change_events_are_numbered_in_order_and_the_snapshot_follows(http_api, unique_key) -> None:
    config = make_config({"api": http(f"{http_api.url}/fail/{unique_key}?times=1")})
    engine = Engine(config)
    events = engine.subscribe()
    before = engine.snapshot().get("api")
    try:
        await engine.run_once()
        await engine.run_once()
    finally:
        await engine.stop()
    after = engine.snapshot().get("api")
    assert (before.status, before.last_result, before.history) == (Status.UNKNOWN, None, ())
    assert after.status is Status.UP and after.last_result is not None and after.last_result.http_status == 200
    assert [r.status for r in after.history] == [Status.DOWN, Status.UP]
    seen = events.drain()
    assert [e.seq for e in seen] == list(range(events.seq + 1, engine.seq + 1))
    changes = [(e.old, e.new) for e in seen if isinstance(e, StatusChanged)]
    assert changes == [(Status.UNKNOWN, Status.DOWN), (Status.DOWN, Status.UP)]
    # One event per transition: the log line is the view's rendering of it, not a second event.
    assert not [e for e in seen if isinstance(e, LogEvent) and "->" in e.message]


async def test_reset_breaker_lets_probes_through_again(http_api, unique_key) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/fail/{unique_key}?times=1")},
        breaker={"fail_max": 1, "reset_timeout": "60s"},
    )
    async with idle_engine(config) as engine:
        await engine.run_once()
        assert engine.snapshot().get("api").breaker.state == "open"
        engine.reset_breaker("api")
        snapshot = await engine.run_once()
    assert http_api.count("fail", unique_key) == 2
    assert snapshot.get("api").status is Status.UP
    assert snapshot.get("api").breaker.state == "closed"


async def test_overall_timeout_bounds_run_once(http_api, unique_key) -> None:
    config = make_config({"hung": http(f"{http_api.url}/hang/{unique_key}", timeout="30s")})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once(timeout=0.5)
    service = snapshot.get("hung")
    assert service.status is Status.DOWN
    assert service.reason == "no answer within the overall time limit (500ms)"


# -- servers asking for long waits (a 5xx is an outage; every gate block is capped) ---------------

A_YEAR = "31536000"
YEAR_9999_DATE = quote("Fri, 31 Dec 9999 23:59:59 GMT")
YEAR_9999_EPOCH = "253402300799"


@pytest.mark.parametrize(
    ("code", "query"),
    [(503, f"retry_after={A_YEAR}"), (500, f"retry_after={YEAR_9999_DATE}"), (503, f"reset={YEAR_9999_EPOCH}")],
)
async def test_a_5xx_is_down_whatever_wait_it_asks_for(http_api, unique_key, code: int, query: str) -> None:
    config = make_config({"api": http(f"{http_api.url}/status/{unique_key}/{code}?{query}")})
    async with idle_engine(config) as engine:
        first = await engine.run_once()
        second = await engine.run_once()
    for snapshot in (first, second):
        service = snapshot.get("api")
        assert service.status is Status.DOWN
        assert service.reason.startswith(f"HTTP {code} ")
        assert service.gate_until is None
    assert http_api.count("status", unique_key) == 2  # the second probe asked again: not "rate limited"


@pytest.mark.parametrize(
    ("code", "query", "asked"),
    [
        (429, f"retry_after={A_YEAR}", "365d"),
        (429, f"retry_after={YEAR_9999_DATE}", "2912"),
        (403, f"reset={YEAR_9999_EPOCH}", "2912"),
    ],
)
async def test_a_refusal_holds_requests_for_max_block_at_most_and_says_so(
    http_api, unique_key, code: int, query: str, asked: str
) -> None:
    url = f"{http_api.url}/status/{unique_key}/{code}?{query}"
    config = make_config({"api": http(url), "short": http(url, rate_limit={"max_block": "1s"})})
    clock = FakeClock()
    engine = Engine(config, clock=clock)
    events = engine.subscribe()
    try:
        limited = await engine.run_once()
        service = limited.get("api")
        assert service.status is Status.DEGRADED and service.reason.startswith("rate limited")
        assert (service.gate_until - limited.taken_at).total_seconds() == 3600  # default max_block: 1h
        assert (limited.get("short").gate_until - limited.taken_at).total_seconds() == 1
        logs = [e.message for e in events.drain() if isinstance(e, LogEvent) and e.service == "short"]
        assert any(
            m.startswith(f"server asked to wait {asked}") and m.endswith("waiting 1s (rate_limit.max_block)")
            for m in logs
        )
        await clock.advance(0.999)
        await engine.run_once()
        assert http_api.count("status", unique_key) == 2  # "short" still held, a millisecond before its 1s
        await clock.advance(0.001)
        await engine.run_once()
    finally:
        await engine.stop()
    # "api" stayed gated; "short" asked again once its 1s was over: 2 + 1 requests in all.
    assert http_api.count("status", unique_key) == 3


async def test_operator_reset_clears_the_breaker_and_the_gate(http_api, unique_key) -> None:
    config = make_config({"api": http(f"{http_api.url}/status/{unique_key}/429?retry_after={A_YEAR}")})
    engine = Engine(config)
    events = engine.subscribe()
    try:
        await engine.run_once()
        gated = await engine.run_once()
        assert gated.get("api").last_result.contacted is False
        assert http_api.count("status", unique_key) == 1
        engine.reset_breaker("api")
        assert engine.snapshot().get("api").gate_until is None
        again = await engine.run_once()
    finally:
        await engine.stop()
    assert http_api.count("status", unique_key) == 2
    assert again.get("api").last_result.contacted is True
    resets = [e for e in events.drain() if isinstance(e, OperatorReset)]
    assert [e.service for e in resets] == ["api"]
    assert log_line(resets[0]).message == "breaker and rate-limit gate reset by operator"


async def test_retry_after_on_a_5xx_slows_the_schedule_only_as_far_as_the_breaker(http_api, unique_key) -> None:
    # Probed every 200ms, the service answers 503 "come back in a year": the next probes wait for the
    # breaker's reset_timeout (1s), not 200ms and not a year. (fail_max high: the breaker itself stays closed.)
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/503?retry_after={A_YEAR}", interval="200ms")},
        breaker={"fail_max": 100, "reset_timeout": "1s"},
    )
    clock = FakeClock()
    start = clock.now()
    async with Engine(config, clock=clock, uniform=midpoint) as engine:
        await clock.settle(sleepers=1)
        await clock.advance(3.0)
        service = engine.snapshot().get("api")
        times = probed_at(engine, "api", start)
    assert times == [0.1, 1.1, 2.1]  # unstretched: every 200ms, 15 probes
    assert http_api.count("status", unique_key) == 3
    assert service.status is Status.DOWN and service.gate_until is None


# -- which failures are retried (README: timeouts, resets and 5xx; never another 4xx) ------------


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 422])
async def test_a_4xx_is_asked_once_per_probe(http_api, unique_key, code: int) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/{code}")},
        retry={"attempts": 3, "initial": "10ms", "max": "20ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("api")
    refused = "unauthorized: " if code in (401, 403) else ""
    assert service.status is Status.DOWN and service.reason.startswith(f"{refused}HTTP {code} ")
    assert service.last_result.attempts == 1
    assert http_api.count("status", unique_key) == 1


@pytest.mark.parametrize("code", [408, 500, 502, 503, 504])
async def test_a_5xx_or_408_is_retried(http_api, unique_key, code: int) -> None:
    config = make_config(
        {"api": http(f"{http_api.url}/status/{unique_key}/{code}")},
        retry={"attempts": 3, "initial": "10ms", "max": "20ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    assert snapshot.get("api").last_result.attempts == 3
    assert http_api.count("status", unique_key) == 3


async def test_resets_and_timeouts_are_retried(http_api, hostile_http, unique_key) -> None:
    config = make_config(
        {
            "reset": http(f"{hostile_http.url}/reset/{unique_key}"),
            "timeout": http(f"{http_api.url}/hang/{unique_key}", timeout="300ms"),
        },
        retry={"attempts": 3, "initial": "10ms", "max": "20ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    assert snapshot.get("reset").status is Status.DOWN and snapshot.get("timeout").status is Status.DOWN
    assert hostile_http.requests[unique_key] == 3
    assert http_api.count("hang", unique_key) == 3


@pytest.mark.parametrize("route", ["ok", "status-404"])
async def test_a_probe_that_needs_one_attempt_leaves_no_reference_cycle(http_api, unique_key, route) -> None:
    """Cycles are freed only by the cyclic collector; every probe's piling up set off full collections. The
    attempt's deadline and backstop, the retry machinery (tenacity) and the failure fed to the breaker
    (pybreaker's frames in its traceback) used to leave 46 (up) to 84 (down: HTTP 404) objects in cycles."""
    import gc

    from tenacity import AsyncRetrying, RetryCallState

    from core.deadline import Deadline

    path = f"/ok/{unique_key}" if route == "ok" else f"/status/{unique_key}/404"
    config = make_config({"api": http(f"{http_api.url}{path}")})
    async with idle_engine(config) as engine:
        await engine.run_once()
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            snapshot = await engine.run_once()
            gc.collect()
            kinds = (Deadline, asyncio.Timeout, AsyncRetrying, RetryCallState, BaseException)
            left = [type(o).__name__ for o in gc.garbage if isinstance(o, kinds)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert snapshot.get("api").status is (Status.UP if route == "ok" else Status.DOWN)  # type: ignore[union-attr]
    assert left == []
