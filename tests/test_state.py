"""The service state: the ring's kept figures equal the functions over it, and snapshots are rebuilt on change."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.results import ProbeResult, Status
from core.snapshot import BreakerSnapshot, ServiceInfo
from core.state import BREAKER_HISTORY, HistoryRing, ServiceState, latency_stats, uptime

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def random_result(draw: random.Random) -> ProbeResult:
    return ProbeResult(
        service="s",
        started_at=NOW,
        status=draw.choice(list(Status)),
        latency_ms=draw.choice([None, float(draw.randint(1, 50)), draw.uniform(0, 900)]),
        contacted=draw.random() > 0.2,
    )


@pytest.mark.parametrize("seed", range(20))
def test_the_ring_keeps_the_figures_the_functions_derive(seed: int) -> None:
    draw = random.Random(seed)
    ring = HistoryRing(maxlen=draw.randint(1, 30))
    for _ in range(draw.randint(0, 200)):
        ring.append(random_result(draw))
        assert ring.latency() == latency_stats(ring)
        assert ring.uptime() == uptime(ring)
    assert len(ring) <= ring._maxlen


def test_a_full_ring_forgets_the_oldest() -> None:
    ring = HistoryRing(maxlen=2)
    ring.extend(ProbeResult("s", NOW, Status.UP, latency_ms=ms) for ms in (5.0, 7.0, 9.0))
    assert [r.latency_ms for r in ring] == [7.0, 9.0]
    assert ring.latency().p50_ms == 7.0 and ring.latency().last_ms == 9.0


class Breaker:
    def __init__(self) -> None:
        self.asked = 0

    def __call__(self) -> BreakerSnapshot:
        self.asked += 1
        return BreakerSnapshot()


def test_an_unchanged_service_hands_out_the_snapshot_it_made() -> None:
    state, breaker = ServiceState(info=ServiceInfo("s", "http", "x")), Breaker()
    first = state.snapshot(breaker, status=Status.UNKNOWN, reason="not probed yet")
    assert state.snapshot(breaker, status=Status.UNKNOWN, reason="not probed yet") is first
    assert breaker.asked == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.record(ProbeResult("s", NOW, Status.UP, latency_ms=3.0)),
        lambda s: s.set_live(paused=True),
        lambda s: s.set_info(ServiceInfo("s", "http", "y")),
        lambda s: s.breaker_changed(NOW, "closed", "open"),
        lambda s: s.seed([ProbeResult("s", NOW, Status.DOWN)]),
        lambda s: s.touch(),
    ],
    ids=["result", "live", "info", "breaker", "seed", "touch"],
)
def test_any_change_builds_the_snapshot_again(change) -> None:  # type: ignore[no-untyped-def]
    state = ServiceState(info=ServiceInfo("s", "http", "x"))
    first = state.snapshot(Breaker(), status=Status.UNKNOWN, reason="")
    change(state)
    again = state.snapshot(Breaker(), status=first.status, reason=first.reason)
    assert again is not first
    assert (again.info, again.live, again.history, again.breaker_history) == (
        state.info,
        state.live,
        tuple(state.history),
        tuple(state.breaker_history),
    )


def test_the_breaker_history_keeps_the_last_transitions_newest_last() -> None:
    state = ServiceState(info=ServiceInfo("s", "http", "x"))
    moves = [("closed", "open"), ("open", "half-open"), ("half-open", "closed")] * 9
    for minute, (old, new) in enumerate(moves):
        state.breaker_changed(NOW.replace(minute=minute), old, new)
    kept = state.snapshot(Breaker(), status=Status.UP, reason="").breaker_history
    assert len(kept) == BREAKER_HISTORY < len(moves)
    assert [(when.minute, old, new) for when, old, new in kept] == [
        (minute, old, new) for minute, (old, new) in enumerate(moves)
    ][-BREAKER_HISTORY:]


def test_a_service_being_probed_is_built_anew_each_time() -> None:
    """Its breaker moves under it (a trial starts, failures are counted) without the state knowing."""
    state, breaker = ServiceState(info=ServiceInfo("s", "http", "x")), Breaker()
    state.set_live(probing=True)
    first = state.snapshot(breaker, status=Status.UNKNOWN, reason="")
    assert state.snapshot(breaker, status=Status.UNKNOWN, reason="") is not first
    assert breaker.asked == 2


def test_a_dependency_changing_the_shown_status_builds_it_again() -> None:
    state = ServiceState(info=ServiceInfo("s", "http", "x"))
    own = state.snapshot(Breaker(), status=Status.UP, reason="")
    shown = state.snapshot(Breaker(), status=Status.DEGRADED, reason="depends on db, which is down")
    assert shown is not own and shown.status is Status.DEGRADED


def test_set_live_changes_the_fields_it_names_and_keeps_every_other_one() -> None:
    """set_live builds the new ServiceLive field by field: each field must survive a change of another."""
    from dataclasses import fields

    from core.ratelimit import RateLimit
    from core.snapshot import ServiceLive

    when = datetime(2026, 1, 1, tzinfo=UTC)
    every = ServiceLive(
        paused=True,
        probing=True,
        rate_limits=(RateLimit(resource="core", limit=60, remaining=1),),
        gate_until=when,
        next_probe_at=when,
    )
    assert all(getattr(every, f.name) != f.default for f in fields(ServiceLive)), "every field set off its default"
    for name in (f.name for f in fields(ServiceLive)):
        state = ServiceState(info=ServiceInfo("api", "http", "http://127.0.0.1/"))
        state.live = every
        changed = {"paused": False, "probing": False, "rate_limits": (), "gate_until": None, "next_probe_at": None}
        state.set_live(**{name: changed[name]})
        assert state.live == replace(every, **{name: changed[name]})
    with pytest.raises(TypeError):
        state.set_live(sleeping=True)
