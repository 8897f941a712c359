"""A service's last results, kept as rows of plain values that the cyclic garbage collector does not walk.

A `ProbeResult` as the pipeline makes it is five objects the collector tracks (the result, its details,
its checks tuple and each check); 1000 services x 120 results is ~600,000 of them, and every full
collection walks them all while holding the interpreter: ~0.2 s of CPU each time, which is the
schedule lag `lookout serve` showed. A row here is one tuple of atoms (strings, numbers, datetimes,
None; the status as its index), which the collector untracks after its first look, plus the result's
details kept beside it and shared with the previous result when equal (an HTTP service's details
rarely change). Strings equal to the previous row's (a check's condition, a down reason repeated
probe after probe) are shared too. A reader still gets `ProbeResult`s: the newest as it was recorded
(the same object), older ones rebuilt from their rows when asked for, equal to what was recorded.

`bench/rings.py` prints what a full fleet's rings cost: memory, tracked objects, a full collection.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from core.results import Check, ProbeResult, Status
from core.snapshot import LatencyStats

if TYPE_CHECKING:
    from core.details import Details

HISTORY = 120

_STATUSES = tuple(Status)
_STATUS_INDEX = {status: index for index, status in enumerate(_STATUSES)}

Row = tuple[Any, ...]
"""(service, started_at, status index, reason, latency_ms, attempts, contacted, http_status, full_reason,
timings as a flat (key, value, ...) tuple, checks as a flat (condition, ok, message, ...) tuple, or the
`Check`s themselves when one carries a token expiry)."""
_EMPTY: tuple[Any, ...] = ()


def _same(new: Any, old: Any) -> Any:
    """`old` when equal to `new` (so one object is kept for both), else `new`."""
    return old if new == old else new


def _flat_checks(checks: tuple[Check, ...], previous: Any) -> Any:
    """A result's checks as atoms, sharing the previous row's tuple, or its equal strings, where it can."""
    if not checks:
        return _EMPTY
    flat: list[Any] = []
    for check in checks:
        if check.expiry is not None:
            return checks  # a token expiry is an object: kept as it is (rare: only token-health checks carry one)
        flat += (check.condition, check.ok, check.message)
    new = tuple(flat)
    if not previous or type(previous[0]) is not str or len(previous) != len(new):
        return new
    if new == previous:
        return previous
    return tuple(old if value == old else value for value, old in zip(new, previous, strict=True))


def _checks(flat: Any) -> tuple[Check, ...]:
    if not flat:
        return ()
    if type(flat[0]) is not str:
        return tuple(flat)
    return tuple(Check(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3))


def _flat_timings(timings: Mapping[str, float]) -> tuple[Any, ...]:
    """(key, value, key, value...): the keys are the probe's own literals, one string each already."""
    if not timings:
        return _EMPTY
    flat: list[Any] = []
    for item in timings.items():
        flat += item
    return tuple(flat)


def encode(result: ProbeResult, previous: Row | None) -> Row:
    """`result` as a row of atoms; `previous` (the row recorded before it) lends its equal strings."""
    if previous is None:
        reason, full_reason, checks = result.reason, result.full_reason, _EMPTY
    else:
        reason, full_reason, checks = (
            _same(result.reason, previous[3]),
            _same(result.full_reason, previous[8]),
            previous[10],
        )
    return (
        result.service,
        result.started_at,
        _STATUS_INDEX[result.status],
        reason,
        result.latency_ms,
        result.attempts,
        result.contacted,
        result.http_status,
        full_reason,
        _flat_timings(result.timings),
        _flat_checks(result.checks, checks),
    )


def decode(row: Row, details: Details | None) -> ProbeResult:
    """The `ProbeResult` a row was made from (an equal one)."""
    service, started_at, status, reason, latency_ms, attempts, contacted, http_status, full_reason, timings, checks = (
        row
    )
    return ProbeResult(
        service=service,
        started_at=started_at,
        status=_STATUSES[status],
        reason=reason,
        latency_ms=latency_ms,
        attempts=attempts,
        contacted=contacted,
        http_status=http_status,
        timings=dict(zip(timings[::2], timings[1::2], strict=True)),
        details=details,
        full_reason=full_reason,
        checks=_checks(checks),
    )


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: always a value that was really observed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class HistoryView(Sequence[ProbeResult]):
    """A ring's results as of one moment, oldest first: what a snapshot holds as its `history`.

    Taking one copies the rows (two tuples of references); the results are rebuilt the first time anything
    reads past the newest one, and kept for the view's next reader. The newest is the recorded object itself,
    so `history[-1] is last_result`. Equal to a tuple (or view) of equal results, as the tuple it replaces was.
    """

    __slots__ = ("_details", "_items", "_newest", "_rows")

    def __init__(self, rows: tuple[Row, ...], details: tuple[Details | None, ...], newest: ProbeResult | None) -> None:
        self._rows = rows
        self._details = details
        self._newest = newest
        self._items: tuple[ProbeResult, ...] | None = None

    def _all(self) -> tuple[ProbeResult, ...]:
        items = self._items
        if items is None:
            rows, details = self._rows, self._details
            last = len(rows) - 1
            items = self._items = tuple(
                self._newest if index == last and self._newest is not None else decode(row, details[index])
                for index, row in enumerate(rows)
            )
        return items

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> ProbeResult: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ProbeResult, ...]: ...

    def __getitem__(self, index: int | slice) -> ProbeResult | tuple[ProbeResult, ...]:
        if isinstance(index, int) and index in (-1, len(self._rows) - 1) and self._newest is not None and self._rows:
            return self._newest
        return self._all()[index]

    def __iter__(self) -> Iterator[ProbeResult]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HistoryView):
            other = other._all()
        return isinstance(other, tuple) and self._all() == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


EMPTY_VIEW = HistoryView((), (), None)


class HistoryRing:
    """A service's last `maxlen` results, oldest first, with what a snapshot derives from them kept current.

    Latency percentiles and uptime are functions over the ring (core.state); a fleet of 1000 services asked
    for a snapshot would run them 1000 times over 120 results each (~0.4 s here). So the ring keeps the figures
    they read (the sorted latencies of up probes, the counts of contacted and up probes) as results enter
    and leave: each result costs a bisect, a snapshot costs nothing. tests/test_state.py checks the figures
    against the functions over random histories, so they cannot drift from the data.
    """

    __slots__ = ("_contacted", "_details", "_last_ms", "_latencies", "_maxlen", "_newest", "_rows", "_up")

    def __init__(self, maxlen: int = HISTORY) -> None:
        self._rows: deque[Row] = deque()
        self._details: deque[Details | None] = deque()
        """Each row's details, the previous row's object when equal (one object for a run of equal ones)."""
        self._newest: ProbeResult | None = None
        self._maxlen = maxlen
        self._latencies: list[float] = []
        """Latencies of the contacted, up-or-degraded results in the ring, sorted."""
        self._last_ms: float | None = None
        self._contacted = 0
        self._up = 0

    @property
    def newest(self) -> ProbeResult | None:
        """The last result recorded, as it was recorded."""
        return self._newest

    def view(self) -> HistoryView:
        """The results as they are now, for a snapshot."""
        if not self._rows:
            return EMPTY_VIEW
        return HistoryView(tuple(self._rows), tuple(self._details), self._newest)

    def __iter__(self) -> Iterator[ProbeResult]:
        return iter(self.view())

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> ProbeResult:
        if index in (-1, len(self._rows) - 1) and self._newest is not None:
            return self._newest
        return decode(self._rows[index], self._details[index])

    def append(self, result: ProbeResult) -> None:
        rows, kept = self._rows, self._details
        if len(rows) >= self._maxlen:
            self._forget(rows.popleft())
            kept.popleft()
        previous = rows[-1] if rows else None
        rows.append(encode(result, previous))
        details = result.details
        if kept and details is not None and details is not kept[-1] and details == kept[-1]:
            details = kept[-1]
        kept.append(details)
        self._newest = result
        if result.contacted:
            self._contacted += 1
            if result.status is Status.UP or result.status is Status.DEGRADED:
                self._up += 1
                if result.latency_ms is not None:
                    insort(self._latencies, result.latency_ms)
                    self._last_ms = result.latency_ms

    def extend(self, results: Iterable[ProbeResult]) -> None:
        for result in results:
            self.append(result)

    def _forget(self, row: Row) -> None:
        if not row[6]:  # not contacted
            return
        self._contacted -= 1
        if _STATUSES[row[2]] in (Status.UP, Status.DEGRADED):
            self._up -= 1
            latency = row[4]
            if latency is not None:
                del self._latencies[bisect_left(self._latencies, latency)]
                if not self._latencies:
                    self._last_ms = None  # the newest such result was the one leaving

    def latency(self) -> LatencyStats:
        """`latency_stats(ring)`, without going over the ring."""
        ordered = self._latencies
        return LatencyStats(
            last_ms=self._last_ms,
            p50_ms=percentile(ordered, 0.50),
            p95_ms=percentile(ordered, 0.95),
            p99_ms=percentile(ordered, 0.99),
            samples=len(ordered),
        )

    def uptime(self) -> float | None:
        """`uptime(ring)`, without going over the ring."""
        return self._up / self._contacted if self._contacted else None
