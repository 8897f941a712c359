"""The result ring keeps columns of plain values, and every reader still gets results equal to those recorded."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from core.details import AuthDetails, HttpDetails, McpDetails, ServerInfo
from core.probes.expectations import latency_check, status_check
from core.results import Check, ProbeResult, Status, TokenExpiry
from core.ring import EMPTY_VIEW, HistoryRing, HistoryView, recent_latencies
from core.snapshot import BreakerSnapshot, ServiceInfo
from core.state import ServiceState, latency_stats, uptime

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
        "checks": (Check("".join(["status is ", "200"]), True, "HTTP 200 OK"), Check("latency", True, f"{3 + k}ms")),
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

LATE = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York"))  # the second 01:30 that day
LATE_RESULT = http_result(15, started_at=LATE)
SHAPES = [
    *VARIED,
    # HTTP as the pipeline makes it: {"request": latency} and latency_check's message, fast then slow.
    http_result(10, checks=(status_check(200, "OK", [200]), latency_check(13.0, 2.0))),
    http_result(11, latency_ms=2345.5, timings={"request": 2345.5}, checks=(latency_check(2345.5, 2.0),)),
    http_result(12, timings={"request": 1.25}),  # a request time that is not the latency: kept as a value
    # MCP: several timings, details of another kind, a retried attempt.
    ProbeResult(
        "mcp",
        NOW + timedelta(microseconds=123457),
        Status.UP,
        latency_ms=41.0625,
        attempts=3,
        timings={"connect": 10.5, "handshake": 20.25, "tools/list": 10.3125},
        details=McpDetails(server=ServerInfo(name="srv", version="1.0")),
        checks=(Check("at least 3 tools", True, "4 tools"),),
    ),
    # Rate limited: degraded, contacted, a 429 and a reason.
    http_result(13, status=Status.DEGRADED, reason="rate limited until 10:00", http_status=429, checks=()),
    # Not contacted (breaker open): no latency, attempts 0.
    http_result(14, status=Status.DOWN, reason="breaker open", contacted=False, attempts=0, latency_ms=None),
    # Start times: another zone, the repeated hour of a DST change (fold), a fixed offset, a naive one.
    LATE_RESULT,
    http_result(16, started_at=datetime(1969, 7, 20, 20, 17, 40, 999999, tzinfo=timezone(timedelta(hours=-5)))),
    http_result(17, started_at=datetime(2026, 12, 7, 1, 2, 3, 4)),
    # A message holding the marker the ring uses for the latency, and one holding the latency twice.
    http_result(18, checks=(Check("latency", True, "\x00 20ms"),)),
    http_result(19, latency_ms=20.0, timings={"request": 20.0}, checks=(Check("latency", False, "20ms, 20ms"),)),
    # Fields not of their plain types (never the pipeline's): the result is kept as it is.
    http_result(20, latency_ms=7, timings={"request": 7}),
    http_result(21, attempts=70000, http_status=None),
]


def test_every_shape_comes_back_equal() -> None:
    """Exactness first: each shape decoded from the columns, alone and after each other shape."""
    ring = HistoryRing(maxlen=len(SHAPES))
    ring.extend(SHAPES)
    assert [ring[i] for i in range(len(SHAPES))] == SHAPES
    assert list(ring.view()) == SHAPES
    for result in SHAPES:
        alone = HistoryRing()
        alone.extend([result, VARIED[-1]])
        assert alone[0] == result and alone.view()[0] == result
    rebuilt = ring[SHAPES.index(LATE_RESULT)]
    assert rebuilt.started_at.fold == 1 and rebuilt.started_at.tzinfo is LATE.tzinfo
    assert rebuilt.started_at.utcoffset() == LATE.utcoffset()


def test_a_full_ring_keeps_the_right_timings_and_figures() -> None:
    """Rows leave from the front with their timing values: what stays still decodes, figures still agree."""
    ring = HistoryRing(maxlen=7)
    recorded: list[ProbeResult] = []
    for round_ in range(3):
        for result in SHAPES:
            ring.append(result)
            recorded.append(result)
            kept = recorded[-7:]
            assert len(ring) == len(kept)
            assert ring.latency() == latency_stats(kept) and ring.uptime() == uptime(kept)
        assert list(ring) == recorded[-7:] and ring[-1] is recorded[-1], round_
        assert [ring[i] for i in range(-7, 0)] == recorded[-7:]


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
    columns = ring._columns
    assert not any(gc.is_tracked(shape) for shape in columns.shapes)
    assert len({id(shape) for shape in columns.shapes}) == 1  # fifty probes, one shape: the latency is a number
    assert len({id(details) for details in columns.details}) == 1
    assert not columns.timings  # {"request": latency}: a flag, no value kept


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


def test_starts_come_back_across_a_clock_step_back_and_spans_of_hours() -> None:
    """Starts are kept as four-byte offsets from a base while they fit (~71 minutes): a clock stepped back
    moves the base, a ring spanning hours widens the column; every start still comes back exactly."""
    # seconds after NOW, in recording order: a step back, hours apart, days apart, then steady again
    steps = [0, 1, 2, -30, 3, 3600, 4000, -5, 9000, 86400 * 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    recorded = [http_result(k, started_at=NOW + timedelta(seconds=s, microseconds=k)) for k, s in enumerate(steps)]
    for maxlen in (3, 5, len(recorded)):
        ring = HistoryRing(maxlen=maxlen)
        for count, result in enumerate(recorded, 1):
            ring.append(result)
            assert list(ring) == recorded[max(0, count - maxlen) : count], (maxlen, count)


def test_a_result_outside_the_packed_ranges_is_kept_as_it_is() -> None:
    """HTTP statuses past 1022 and attempts past 255 do not fit the packed row: the result is kept whole."""
    odd = [http_result(1, http_status=1500), http_result(2, attempts=256), http_result(3, attempts=255)]
    ring = HistoryRing()
    ring.extend([*odd, http_result(4)])
    assert list(ring)[:3] == odd and ring[0].http_status == 1500 and ring[1].attempts == 256


def test_every_held_view_keeps_its_moment_while_the_ring_moves_on() -> None:
    ring = HistoryRing(maxlen=4)
    recorded: list[ProbeResult] = []
    views = []
    for k in range(12):
        result = http_result(k % 3, started_at=NOW + timedelta(seconds=k)) if k % 4 else SHAPES[k]
        ring.append(result)
        recorded.append(result)
        views.append((ring.view(), tuple(recorded[-4:])))
        assert ring.view() is views[-1][0]  # nothing recorded since: the same view
    for view, moment in views:
        assert view == moment and list(view) == list(moment) and view[-1] is moment[-1]


def test_a_view_nobody_holds_costs_the_ring_no_copy() -> None:
    """Copy on write: the ring copies its columns before writing only while a view it handed out is held."""
    ring = HistoryRing(maxlen=3)
    ring.extend(http_result(k) for k in range(3))
    columns = ring._columns
    ring.view()  # dropped at once
    ring.append(http_result(3))
    assert ring._columns is columns
    held = ring.view()
    ring.append(http_result(4))
    assert ring._columns is not columns and held._columns is columns
    assert held == tuple(http_result(k) for k in range(1, 4))


def test_a_recorded_service_lets_its_last_snapshot_go() -> None:
    """The state's cached snapshot is stale once a result is recorded: it no longer holds the ring's view,
    so recording into a full ring copies nothing while no one else holds that snapshot."""
    state = ServiceState(info=ServiceInfo("api", "http", "x"), history=HistoryRing(maxlen=3))
    for k in range(3):
        state.record(http_result(k))
    state.snapshot(BreakerSnapshot, status=Status.UP, reason="")
    columns = state.history._columns
    state.record(http_result(3))
    assert state.history._columns is columns
    shown = state.snapshot(BreakerSnapshot, status=Status.UP, reason="")
    state.record(http_result(4))
    assert list(shown.history) == [http_result(k) for k in (1, 2, 3)]
    assert list(state.snapshot(BreakerSnapshot, status=Status.UP, reason="").history) == [
        http_result(k) for k in (2, 3, 4)
    ]


def test_recent_latencies_read_off_the_columns_are_those_of_the_results() -> None:
    """The tables' sparklines read the newest latencies off the columns; they must be the results' own."""
    for maxlen in (1, 5, 7, len(SHAPES)):
        ring = HistoryRing(maxlen=maxlen)
        recorded: list[ProbeResult] = []
        down = [http_result(30 + k, status=Status.DOWN, reason="HTTP 500", http_status=500) for k in range(3)]
        for result in [*SHAPES, *down, *SHAPES[::-1], *VARIED, *down]:
            ring.append(result)
            recorded.append(result)
            kept = recorded[-maxlen:]
            for count in (0, 1, 3, 8, 200):
                expected = [r.latency_ms for r in kept if r.ok and r.latency_ms is not None][-count:] if count else []
                view = ring.view()
                assert view._items is None  # a new view (the last one was let go): nothing rebuilt yet
                assert view.recent_latencies(count) == expected  # off the columns
                list(view)
                assert view.recent_latencies(count) == expected  # off the results, once rebuilt
                del view  # the next count reads a new view off the columns again
                assert recent_latencies(tuple(kept), count) == expected  # a plain history (an attached TUI's)
