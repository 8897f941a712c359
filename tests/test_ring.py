"""The result ring keeps rows of plain values, and every reader still gets results equal to those recorded."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from core.details import AuthDetails, HttpDetails
from core.results import Check, ProbeResult, Status, TokenExpiry
from core.ring import EMPTY_VIEW, HistoryRing, HistoryView, decode, encode
from core.snapshot import BreakerSnapshot, ServiceInfo
from core.state import ServiceState

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def http_result(k: int, **changes: object) -> ProbeResult:
    """A result shaped as the pipeline makes one from an HTTP probe: every object new, as after a real probe."""
    latency = 3.0 + k
    fields: dict[str, object] = {
        "service": "api",
        "started_at": NOW + timedelta(seconds=10 * k),
        "status": Status.UP,
        "latency_ms": latency,
        "attempts": 1,
        "http_status": 200,
        "timings": {"request": latency},
        "details": HttpDetails(http_version="".join(["HTTP/", "1.1"])),
        "checks": (Check("".join(["status is ", "200"]), True, "HTTP 200 OK"), Check("latency", True, f"{k}ms")),
    }
    fields.update(changes)
    return ProbeResult(**fields)  # type: ignore[arg-type]


VARIED = [
    http_result(0),
    http_result(1, status=Status.DOWN, reason="HTTP 503", full_reason="HTTP 503 " + "x" * 300, details=None),
    http_result(2, contacted=False, attempts=0, latency_ms=None, http_status=None, timings={}, checks=()),
    http_result(3, status=Status.DEGRADED, reason="slow", timings={"connect": 1.5, "request": 9.25}),
    http_result(4, details=HttpDetails(http_version="HTTP/2", auth=AuthDetails(http_status=401, scope=("a", "b")))),
    http_result(
        5, checks=(Check("token valid for 7d", False, "expires in 2d", TokenExpiry(NOW + timedelta(days=2), "JWT")),)
    ),
    ProbeResult("api", NOW.replace(tzinfo=None), Status.UNKNOWN),
]


def test_a_row_gives_back_an_equal_result() -> None:
    previous = None
    for result in VARIED:
        row = encode(result, previous)
        assert decode(row, result.details) == result
        previous = row


def test_the_ring_hands_out_what_was_recorded_and_the_newest_itself() -> None:
    ring = HistoryRing(maxlen=5)
    ring.extend(VARIED)
    assert list(ring) == VARIED[-5:]
    assert [ring[i] for i in range(5)] == VARIED[-5:] and ring[-3] == VARIED[-3]
    assert ring[-1] is VARIED[-1] and ring.newest is VARIED[-1]
    view = ring.view()
    assert view == tuple(VARIED[-5:]) and view[1:3] == tuple(VARIED[3:5]) and len(view) == 5
    assert view[-1] is VARIED[-1] and view[4] is VARIED[-1]
    assert view != list(VARIED[-5:])  # as the tuple it stands for: a tuple is never equal to a list


def test_a_view_does_not_change_with_the_ring() -> None:
    ring = HistoryRing(maxlen=3)
    ring.extend(VARIED[:3])
    view = ring.view()
    ring.extend(VARIED[3:])
    assert view == tuple(VARIED[:3]) and ring.view() == tuple(VARIED[-3:])
    assert HistoryRing().view() is EMPTY_VIEW and EMPTY_VIEW == ()


def test_equal_details_and_strings_are_kept_once() -> None:
    ring = HistoryRing()
    ring.extend(http_result(k) for k in range(10))
    first, last = ring[0], ring[8]
    assert first.details is last.details  # equal HttpDetails from ten probes: one object kept
    assert first.checks[0].condition is last.checks[0].condition
    assert first.checks[1].message != last.checks[1].message  # what differs is kept as it was


def test_the_collector_stops_tracking_the_rows() -> None:
    """What makes a full collection cheap: a row is atoms only, so the cyclic collector untracks it."""
    ring = HistoryRing()
    ring.extend(http_result(k) for k in range(50))
    gc.collect()
    gc.collect()
    assert not any(gc.is_tracked(row) for row in ring._rows)
    assert len({id(details) for details in ring._details}) == 1


def test_a_row_with_a_token_expiry_keeps_its_checks() -> None:
    ring = HistoryRing()
    ring.extend([VARIED[5], http_result(6)])
    assert ring[0].checks == VARIED[5].checks and ring[0].checks[0].expiry is not None


def test_a_service_snapshot_shares_the_newest_result() -> None:
    state = ServiceState(info=ServiceInfo("api", "http", "x"))
    for result in VARIED:
        state.record(result)
    shown = state.snapshot(BreakerSnapshot, status=Status.UP, reason="")
    assert isinstance(shown.history, HistoryView)
    assert shown.last_result is VARIED[-1] and shown.history[-1] is shown.last_result
    assert list(shown.history) == VARIED
