"""The engine's one way out: numbered typed events, views that may lag (and resync), recorders that may not lose.

Engine tests run a real engine against the loopback HTTP API (tests/fixtures_http.py).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
from datetime import UTC, datetime

import fleet_samples
import pytest
from helpers import make_config

from core.bus import Resync, ViewItem, ViewSubscription
from core.engine import Engine
from core.events import (
    OBSERVATIONS,
    BreakerChanged,
    Event,
    InventoryChanged,
    LogEvent,
    LogLevel,
    OperatorReset,
    PauseChanged,
    ProbeCompleted,
    ProbeStarted,
    ReasonChanged,
    StatusChanged,
)
from core.loglines import log_line
from core.recorder import QueuedRecorder
from core.results import ProbeResult, Status
from core.snapshot import FleetSnapshot

AT = datetime(2026, 11, 25, 3, 0, 0, tzinfo=UTC)


def http(url: str, **extra) -> dict:
    return {"kind": "http", "url": url, **extra}


class Everything:
    """A recorder that keeps every event: the ground truth the other consumers are checked against."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        self.events.append(event)


async def until(condition, timeout: float = 30.0) -> None:
    """Wait (bounded) until `condition()` holds; the engine probes meanwhile."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# -- views ----------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_view_that_sleeps_a_second_per_event_never_stalls_the_schedule(http_api, unique_key) -> None:
    # Few enough services that a busy 2-core machine still runs the engine itself on time.
    config = make_config({f"s{i}": http(f"{http_api.url}/ok/{unique_key}") for i in range(5)}, interval="100ms")
    engine = Engine(config)
    truth = Everything()
    engine.add_recorder(truth)
    view = engine.subscribe(maxsize=2)
    first_seq = view.seq
    seen: list[ViewItem] = []

    async def slow_view() -> None:
        async for item in view:
            seen.append(item)
            if not isinstance(item, Resync):
                await asyncio.sleep(1.0)  # a view far slower than the fleet it watches

    def resynced_and_went_on() -> bool:
        return any(isinstance(a, Resync) and not isinstance(b, Resync) for a, b in itertools.pairwise(seen))

    async with engine:
        reader = asyncio.create_task(slow_view())
        try:
            await until(resynced_and_went_on)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    lags = [e.schedule_lag for e in truth.events if isinstance(e, ProbeStarted) and e.schedule_lag is not None]
    # Stalled behind the view, the engine would manage a probe or two a second, each a second or more late.
    # The bounds leave room for a busy 2-core machine pausing the loop; bench/slow_view.py prints the figure.
    assert len(lags) >= 30  # ~50 probes/s for the ~3 s the view took for a few events
    assert percentile(lags, 0.5) < 0.25
    assert percentile(lags, 0.99) < 1.0
    assert view.dropped > 0 and view.resyncs >= 1
    # Every gap is accounted for: the events read run unbroken from each snapshot, and a Resync covers
    # exactly what was lost (last seq read + dropped = the new snapshot's seq).
    last = first_seq
    for item in seen:
        if isinstance(item, Resync):
            assert item.dropped > 0 and last + item.dropped == item.snapshot.seq
            last = item.snapshot.seq
        else:
            assert item.seq == last + 1
            last = item.seq


@pytest.mark.slow
async def test_a_view_gets_a_snapshot_and_every_later_event_even_mid_publish(http_api, unique_key) -> None:
    """Views subscribed at many moments, some from inside a publish: no gap, no duplicate, snapshot consistent."""
    names = [f"s{i}" for i in range(6)]
    config = make_config({name: http(f"{http_api.url}/ok/{unique_key}") for name in names}, interval="100ms")
    engine = Engine(config)
    truth = Everything()
    views: list[ViewSubscription] = []
    mid_publish: list[ViewSubscription] = []

    class SubscribesMidPublish:
        """Subscribes a view while a ProbeCompleted is being published: after the state changed, before views saw it."""

        def record(self, event: Event) -> None:
            if isinstance(event, ProbeCompleted) and len(mid_publish) < 12 and event.seq % 5 == 0:
                mid_publish.append(engine.subscribe(maxsize=100_000))

    engine.add_recorder(truth)
    engine.add_recorder(SubscribesMidPublish())
    async with engine:
        for _ in range(8):
            views.append(engine.subscribe(maxsize=100_000))
            await asyncio.sleep(0.07)
        await until(lambda: len(mid_publish) >= 12)
        await asyncio.sleep(0.3)
    final = engine.snapshot()

    assert [e.seq for e in truth.events] == list(range(1, engine.seq + 1))
    for view in views + mid_publish:
        start: FleetSnapshot = view.take_start()
        events = view.drain()
        assert [e.seq for e in events] == list(range(start.seq + 1, engine.seq + 1))
        for name in names:
            before = [e for e in truth.events[: start.seq] if isinstance(e, ProbeCompleted) and e.service == name]
            after = [e for e in events if isinstance(e, ProbeCompleted) and e.service == name]
            assert start.get(name).probes == len(before)
            assert start.get(name).last_result == (before[-1].result if before else None)
            assert start.get(name).probes + len(after) == final.get(name).probes


async def test_a_view_hands_its_start_out_once_and_keeps_no_snapshot_that_would_pin_the_rings(
    http_api, unique_key
) -> None:
    # A snapshot shares each result ring's columns; held for a view's whole life, it made every ring copy
    # its columns on its next result (the fleet's rings twice in memory for as long as `lookout serve` ran).
    config = make_config({"api": http(f"{http_api.url}/ok/{unique_key}")})
    engine = Engine(config)
    try:
        await engine.run_once()
        view = engine.subscribe()
        start = view.take_start()
        assert start.seq == view.seq == engine.seq and start.get("api").history
        with pytest.raises(RuntimeError, match="once"):
            view.take_start()
        held = [item for item in gc.get_referents(view) if isinstance(item, FleetSnapshot)]
        assert held == []
        ring = engine._services["api"].state.history
        del start
        columns = ring._columns
        await engine.run_once()
        assert ring._columns is columns  # nobody held the old view: the ring wrote in place
        assert [e.seq for e in view.drain()] == list(range(view.seq + 1, engine.seq + 1))
    finally:
        await engine.stop()


def test_a_lost_stretch_reads_as_one_log_line() -> None:
    snapshot = FleetSnapshot(taken_at=AT, services=(), seq=40)
    line = log_line(Resync(snapshot, dropped=17))
    assert line is not None and line.level is LogLevel.WARNING and line.message == "17 events dropped, resynced"


async def test_the_monitor_logs_a_resync() -> None:
    from tui.app import LookoutApp
    from tui.logpane import LogPane
    from tui.source import StaticSource

    resync = Resync(fleet_samples.fleet(), dropped=1234)
    source = StaticSource(fleet_samples.fleet(), [*fleet_samples.events(), resync], clock=fleet_samples.clock())
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(120, 40)):
        messages = [line.message for line in app.query_one(LogPane).events]
    assert messages[-1] == "1234 events dropped, resynced"
    assert "breaker closed -> open" in messages and "unknown -> down: connection refused" in messages


# -- one event per change, worded once --------------------------------------------------------------


def test_each_transition_reads_as_the_line_it_always_was() -> None:
    cases: list[tuple[Event, LogLevel, str]] = [
        (StatusChanged(AT, "a", Status.DOWN, Status.UP, ""), LogLevel.INFO, "down -> up"),
        (StatusChanged(AT, "a", Status.UP, Status.DEGRADED, "slow"), LogLevel.WARNING, "up -> degraded: slow"),
        (StatusChanged(AT, "a", Status.UP, Status.DOWN, "HTTP 500"), LogLevel.ERROR, "up -> down: HTTP 500"),
        (ReasonChanged(AT, "a", Status.DOWN, "HTTP 502"), LogLevel.DEBUG, "still down: HTTP 502"),
        (BreakerChanged(AT, "a", "closed", "open"), LogLevel.ERROR, "breaker closed -> open"),
        (BreakerChanged(AT, "a", "open", "half-open"), LogLevel.INFO, "breaker open -> half-open"),
        (PauseChanged(AT, "a", True), LogLevel.INFO, "paused"),
        (PauseChanged(AT, "a", False), LogLevel.INFO, "resumed"),
        (OperatorReset(AT, "a"), LogLevel.INFO, "breaker and rate-limit gate reset by operator"),
        (
            InventoryChanged(AT, "a", "tools", added=("x", "y"), changed=("z",)),
            LogLevel.WARNING,
            "tools changed: added x, y; changed z",
        ),
    ]
    for event, level, text in cases:
        line = log_line(event)
        assert line is not None and (line.level, line.message, line.service) == (level, text, "a"), event
    result = ProbeResult("a", AT, Status.UP)
    assert log_line(ProbeCompleted(AT, "a", result)) is None
    assert log_line(ProbeStarted(AT, "a", 0.01)) is None


async def test_pause_and_reset_are_typed_events_not_log_lines(http_api, unique_key) -> None:
    engine = Engine(make_config({"api": http(f"{http_api.url}/ok/{unique_key}")}))
    view = engine.subscribe()
    try:
        engine.pause("api")
        engine.resume("api")
        engine.reset_breaker("api")
        await engine.run_once()
    finally:
        await engine.stop()
    events = view.drain()
    assert [(type(e), getattr(e, "paused", None)) for e in events[:3]] == [
        (PauseChanged, True),
        (PauseChanged, False),
        (OperatorReset, None),
    ]
    started = [e for e in events if isinstance(e, ProbeStarted)]
    assert len(started) == 1 and started[0].schedule_lag is None  # asked for, not scheduled: no lag to speak of
    assert not [e for e in events if isinstance(e, LogEvent) and e.service == "api"]


# -- recorders ------------------------------------------------------------------------------------


class SlowStore(QueuedRecorder):
    """A recorder whose store is slower than the stream of raw results: it must sample, never lose a transition."""

    def __init__(self, delay: float) -> None:
        super().__init__(max_observations=5, sample_every=4)
        self.delay = delay
        self.handled: list[Event] = []

    async def handle(self, event: Event) -> None:
        if isinstance(event, OBSERVATIONS):
            await asyncio.sleep(self.delay)
        self.handled.append(event)


@pytest.mark.slow
async def test_a_recorder_gets_every_transition_of_a_flapping_service_in_order(http_api, unique_key) -> None:
    config = make_config(
        {"flappy": http(f"{http_api.url}/flap/{unique_key}?up=0.4&down=0.4")},
        interval="100ms",
        breaker={"fail_max": 1000, "reset_timeout": "60s"},
    )
    engine = Engine(config)
    truth = Everything()
    store = SlowStore(delay=0.2)  # 5 raw results a second, against the ~20 a second a 100ms interval makes
    engine.add_recorder(truth)
    engine.add_recorder(store)

    def transitions(events: list[Event]) -> list[StatusChanged]:
        return [e for e in events if isinstance(e, StatusChanged)]

    async with engine:
        await until(lambda: len(transitions(truth.events)) >= 6)
    await store.aclose()

    # A recorder that keeps up sees every event, in seq order, with no gap.
    assert [e.seq for e in truth.events] == list(range(1, engine.seq + 1))
    flips = transitions(truth.events)
    assert [(e.old, e.new) for e in flips[:3]] == [
        (Status.UNKNOWN, Status.UP),
        (Status.UP, Status.DOWN),
        (Status.DOWN, Status.UP),
    ]
    assert all(a.new == b.old for a, b in itertools.pairwise(flips))
    # One that falls behind samples raw results away (counted), and still has every transition, in order.
    assert store.sampled_away > 0
    assert transitions(store.handled) == flips
    kept = [e.seq for e in store.handled]
    assert kept == sorted(kept) and len(kept) + store.sampled_away == engine.seq


def test_a_queued_recorder_samples_only_raw_observations() -> None:
    async def scenario() -> tuple[SlowStore, list[Event]]:
        store = SlowStore(delay=0)
        offered: list[Event] = []
        for i in range(100):  # all at once: the worker has not run yet, so the queue only grows
            offered.append(ProbeCompleted(AT, "a", ProbeResult("a", AT, Status.UP), seq=2 * i + 1))
            offered.append(StatusChanged(AT, "a", Status.UP, Status.DOWN, "x", seq=2 * i + 2))
        for event in offered:
            store.record(event)
        await store.aclose()
        return store, offered

    store, offered = asyncio.run(scenario())
    assert [e for e in store.handled if isinstance(e, StatusChanged)] == [
        e for e in offered if isinstance(e, StatusChanged)
    ]
    results = [e for e in store.handled if isinstance(e, ProbeCompleted)]
    # The first 5 fill the allowance; of the 95 over it, one in 4 is kept.
    assert len(results) == 5 + 95 // 4 and store.sampled_away == 95 - 95 // 4
    assert [e.seq for e in store.handled] == sorted(e.seq for e in store.handled)


async def test_a_failing_recorder_is_logged_once_and_breaks_nothing(http_api, unique_key) -> None:
    class Broken:
        def record(self, event: Event) -> None:
            raise RuntimeError("disk full")

    engine = Engine(make_config({"api": http(f"{http_api.url}/ok/{unique_key}")}))
    truth = Everything()
    engine.add_recorder(Broken())
    engine.add_recorder(truth)
    view = engine.subscribe()
    try:
        first = await engine.run_once()
        second = await engine.run_once()
    finally:
        await engine.stop()
    assert first.get("api").status is Status.UP and second.get("api").probes == 2
    complaints = [e for e in view.drain() if isinstance(e, LogEvent) and "recorder Broken failed" in e.message]
    assert len(complaints) == 1 and "RuntimeError: disk full" in complaints[0].message
    assert [e.seq for e in truth.events] == list(range(1, engine.seq + 1))


async def test_a_recorder_acting_on_the_engine_keeps_every_consumer_in_seq_order(http_api, unique_key) -> None:
    """An event published while another is being delivered waits its turn: nobody sees N+1 before N."""
    engine = Engine(make_config({"api": http(f"{http_api.url}/ok/{unique_key}")}))

    class PausesOnFirstResult:
        def record(self, event: Event) -> None:
            if isinstance(event, ProbeCompleted):
                engine.pause("api")

    truth = Everything()
    engine.add_recorder(PausesOnFirstResult())
    engine.add_recorder(truth)
    view = engine.subscribe()
    try:
        await engine.run_once()
    finally:
        await engine.stop()
    assert [e.seq for e in truth.events] == list(range(1, engine.seq + 1))
    assert [e.seq for e in view.drain()] == list(range(1, engine.seq + 1))
    kinds = [type(e) for e in truth.events]
    assert kinds.index(PauseChanged) == kinds.index(ProbeCompleted) + 1
