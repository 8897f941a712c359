"""A service's last results, kept as columns of plain numbers and shared references, not as objects.

A `ProbeResult` as the pipeline makes it is five objects the cyclic collector tracks (the result, its details,
its checks tuple and each check) and ~430 bytes; 1000 services x 120 results is ~600,000 tracked objects and
~50 MB, and every full collection walks them while holding the interpreter. A ring here keeps, per result:

- three numbers in `array`s (no object each): the start as wall-clock microseconds, the latency as a double,
  and one packed integer with the status, attempts, HTTP status, contacted and two flags;
- one reference to a "shape": the tuple of what rarely changes from probe to probe (service, the start's
  tzinfo and fold, reason, full reason, the timings' keys, the checks as (condition, ok, message) atoms),
  the previous result's tuple itself when equal, so a run of equal results holds one;
- one reference to the result's details, the previous one's object when equal;
- the timings' values in a shared `array`, except when the timings are just {"request": latency}, the HTTP
  probe's, which is a flag;
- a check message holding the formatted latency (latency_check's "12ms", "slow: 2.1s > 2s") keeps a marker
  in its place, the latency itself being in the row: the shape stays equal from probe to probe.

An HTTP result costs ~50 bytes here (bench/rings.py: 79 a result, its state and newest result included). A
result whose fields are not of the plain types above (never the pipeline's) is kept as itself. A reader still
gets `ProbeResult`s: the newest as recorded (the same object), older ones rebuilt from the columns when asked
for, equal (==) to what was recorded: tests/test_ring.py holds every shape to that. `bench/rings.py` prints
what a full fleet's rings cost: memory, tracked objects, a full pass.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, overload

from core.durations import format_duration
from core.results import Check, ProbeResult, Status
from core.snapshot import LatencyStats

if TYPE_CHECKING:
    from core.details import Details

HISTORY = 120

_STATUSES = tuple(Status)
_STATUS_INDEX = {status: index for index, status in enumerate(_STATUSES)}

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_TOOK = "\x00"
"""Stands for the formatted latency in a kept check message (a message already holding it is kept as a Check)."""

# The packed integer: HTTP status + 1 (0: none) in bits 0-15, attempts in 16-31, status index in 32-35, flags.
_HTTP_MASK = 0xFFFF
_ATTEMPTS_SHIFT = 16
_STATUS_SHIFT = 32
_CONTACTED = 1 << 36
_NO_LATENCY = 1 << 37
_REQUEST_ONLY = 1 << 38
"""The timings are {"request": latency}: nothing of them kept."""

Shape = tuple[str, tzinfo | None, int, str, str, tuple[str, ...], tuple[Any, ...]]
"""(service, tzinfo, fold, reason, full_reason, timing keys, checks as flat (condition, ok, message, ...) atoms,
or the `Check`s themselves when one carries a token expiry or is not of plain types)."""
_EMPTY: tuple[Any, ...] = ()


def _same(new: Any, old: Any) -> Any:
    """`old` when equal to `new` (so one object is kept for both), else `new`."""
    return old if new == old else new


def _flat_checks(checks: tuple[Check, ...], latency: float | None, previous: tuple[Any, ...]) -> tuple[Any, ...]:
    """The checks as atoms, the formatted latency in a message as `_TOOK`; the previous row's tuple (or its
    equal strings) where equal. The `Check`s themselves when one is not plain: it carries a token expiry
    (only token-health checks do: rare), or a field is not of its plain type, or a message holds `_TOOK`."""
    if not checks:
        return _EMPTY
    took = format_duration(latency / 1000) if latency is not None else None
    flat: list[Any] = []
    for check in checks:
        message = check.message
        if (
            type(check) is not Check
            or check.expiry is not None
            or type(check.condition) is not str
            or type(check.ok) is not bool
            or type(message) is not str
            or _TOOK in message
        ):
            return checks
        if took is not None and took in message:
            message = message.replace(took, _TOOK)  # exact back: the message held no _TOOK
        flat += (check.condition, check.ok, message)
    new = tuple(flat)
    if not previous or type(previous[0]) is not str or len(previous) != len(new):
        return new
    if new == previous:
        return previous
    return tuple(old if value == old else value for value, old in zip(new, previous, strict=True))


def _checks(flat: tuple[Any, ...], latency: float | None, made: dict[Any, tuple[Check, ...]]) -> tuple[Check, ...]:
    """The checks a row's flat atoms stand for. `made` keeps what one pass made already, by the atoms' tuple
    (and the formatted latency, when a message holds it): rows sharing a shape share their `Check`s (frozen)."""
    if not flat:
        return ()
    if type(flat[0]) is not str:
        return flat
    checks = made.get(id(flat))
    if checks is not None:
        return checks
    took = format_duration(latency / 1000) if latency is not None else ""
    key = (id(flat), took)
    checks = made.get(key)
    if checks is not None:
        return checks
    marked = False
    listed = []
    for i in range(0, len(flat), 3):
        message = flat[i + 2]
        if _TOOK in message:
            marked = True
            message = message.replace(_TOOK, took)
        listed.append(Check(flat[i], flat[i + 1], message))
    checks = made[key if marked else id(flat)] = tuple(listed)
    return checks


def _is_plain(result: ProbeResult) -> bool:
    """Whether the columns give `result` back exactly (the pipeline's results always are)."""
    http, attempts, latency, timings = result.http_status, result.attempts, result.latency_ms, result.timings
    return (
        type(result.started_at) is datetime
        and type(result.service) is str
        and type(result.reason) is str
        and type(result.full_reason) is str
        and type(result.contacted) is bool
        and type(attempts) is int
        and 0 <= attempts <= 0xFFFF
        and (http is None or (type(http) is int and 0 <= http < _HTTP_MASK))
        and (latency is None or type(latency) is float)
        and type(timings) is dict
        and type(result.checks) is tuple
        and _plain_timings(timings)
    )


def _plain_timings(timings: dict[str, float]) -> bool:
    return all(type(key) is str and type(value) is float for key, value in timings.items())


class _Columns:
    """The rows: one entry per result in each of `shapes`, `details`, `packed`, `started`, `latency`; the
    timings' values, in row order, in `timings`. A shape that is a `ProbeResult` is that row kept as is."""

    __slots__ = ("details", "latency", "packed", "shapes", "started", "timings")

    def __init__(self) -> None:
        self.shapes: list[Shape | ProbeResult] = []
        self.details: list[Details | None] = []
        self.packed = array("q")
        self.started = array("q")
        self.latency = array("d")
        self.timings = array("d")

    def frozen(self) -> _Columns:
        """A copy the ring's later appends do not change (arrays copy as one block each)."""
        copy = _Columns.__new__(_Columns)
        copy.shapes = self.shapes[:]
        copy.details = self.details[:]
        copy.packed = self.packed[:]
        copy.started = self.started[:]
        copy.latency = self.latency[:]
        copy.timings = self.timings[:]
        return copy

    def append(self, result: ProbeResult) -> None:
        """`result` as a new last row, sharing the previous row's shape, details and strings where equal."""
        shapes, details = self.shapes, self.details
        kept = result.details
        if details and kept is not None and kept is not details[-1] and kept == details[-1]:
            kept = details[-1]
        details.append(kept)
        latency = result.latency_ms
        packed = _STATUS_INDEX[result.status] << _STATUS_SHIFT | (_CONTACTED if result.contacted else 0)
        if latency is None:
            packed |= _NO_LATENCY
        if not _is_plain(result):
            shapes.append(result)
            self.packed.append(packed)
            self.started.append(0)
            self.latency.append(0.0)
            return
        http, timings, started = result.http_status, result.timings, result.started_at
        packed |= (0 if http is None else http + 1) | result.attempts << _ATTEMPTS_SHIFT
        keys: tuple[str, ...] = _EMPTY
        if latency is not None and len(timings) == 1 and timings.get("request") == latency:
            packed |= _REQUEST_ONLY
        elif timings:
            keys = tuple(timings)
            self.timings.extend(timings.values())
        previous = shapes[-1] if shapes else None
        if type(previous) is tuple:
            shape: Shape = (
                _same(result.service, previous[0]),
                started.tzinfo,
                started.fold,
                _same(result.reason, previous[3]),
                _same(result.full_reason, previous[4]),
                _same(keys, previous[5]),
                _flat_checks(result.checks, latency, previous[6]),
            )
            if shape == previous:
                shape = previous
        else:
            shape = (
                result.service,
                started.tzinfo,
                started.fold,
                result.reason,
                result.full_reason,
                keys,
                _flat_checks(result.checks, latency, _EMPTY),
            )
        shapes.append(shape)
        self.packed.append(packed)
        self.started.append((started.replace(tzinfo=None) - _EPOCH) // _MICROSECOND)
        self.latency.append(0.0 if latency is None else latency)

    def _width(self, index: int) -> int:
        """How many timing values row `index` keeps."""
        shape = self.shapes[index]
        if type(shape) is not tuple or self.packed[index] & _REQUEST_ONLY:
            return 0
        return len(shape[5])

    def pop_oldest(self) -> None:
        """Drop the first row (a memmove of ~120 entries per column: cheaper than a ring index to keep)."""
        width = self._width(0)
        if width:
            del self.timings[:width]
        del self.shapes[0], self.details[0], self.packed[0], self.started[0], self.latency[0]

    def decode(self, index: int, offset: int, made: dict[Any, tuple[Check, ...]]) -> ProbeResult:
        """Row `index` as the result it was; `offset`: where its timing values start in `timings`; `made`: the
        checks made so far in this pass over the columns (they hold every key's tuple alive meanwhile)."""
        shape = self.shapes[index]
        if type(shape) is not tuple:
            assert isinstance(shape, ProbeResult)
            return shape
        service, tz, fold, reason, full_reason, keys, checks = shape
        packed = self.packed[index]
        kept = self.latency[index]
        latency = None if packed & _NO_LATENCY else kept
        http = packed & _HTTP_MASK
        if packed & _REQUEST_ONLY:
            timings = {"request": kept}  # only ever set with a latency
        else:
            timings = dict(zip(keys, self.timings[offset : offset + len(keys)], strict=True))
        started = _EPOCH + self.started[index] * _MICROSECOND
        return ProbeResult(
            service=service,
            started_at=started.replace(tzinfo=tz, fold=fold),
            status=_STATUSES[packed >> _STATUS_SHIFT & 0xF],
            reason=reason,
            latency_ms=latency,
            attempts=packed >> _ATTEMPTS_SHIFT & 0xFFFF,
            contacted=bool(packed & _CONTACTED),
            http_status=http - 1 if http else None,
            timings=timings,
            details=self.details[index],
            full_reason=full_reason,
            checks=_checks(checks, latency, made),
        )

    def decode_at(self, index: int) -> ProbeResult:
        return self.decode(index, sum(self._width(i) for i in range(index)), {})

    def decode_all(self, newest: ProbeResult | None) -> tuple[ProbeResult, ...]:
        """Every row, oldest first; the last one `newest` itself when given."""
        last = len(self.shapes) - 1
        results = []
        made: dict[Any, tuple[Check, ...]] = {}
        offset = 0
        for index in range(last + 1):
            if index == last and newest is not None:
                results.append(newest)
            else:
                results.append(self.decode(index, offset, made))
            offset += self._width(index)
        return tuple(results)


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: always a value that was really observed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class HistoryView(Sequence[ProbeResult]):
    """A ring's results as of one moment, oldest first: what a snapshot holds as its `history`.

    Taking one copies the columns (a few blocks); the results are rebuilt the first time anything reads past
    the newest one, and kept for the view's next reader. The newest is the recorded object itself, so
    `history[-1] is last_result`. Equal to a tuple (or view) of equal results, as the tuple it replaces was.
    """

    __slots__ = ("_columns", "_items", "_length", "_newest")

    def __init__(self, columns: _Columns, newest: ProbeResult | None) -> None:
        self._columns = columns
        self._length = len(columns.shapes)
        self._newest = newest
        self._items: tuple[ProbeResult, ...] | None = None

    def _all(self) -> tuple[ProbeResult, ...]:
        items = self._items
        if items is None:
            items = self._items = self._columns.decode_all(self._newest)
        return items

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> ProbeResult: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ProbeResult, ...]: ...

    def __getitem__(self, index: int | slice) -> ProbeResult | tuple[ProbeResult, ...]:
        if isinstance(index, int) and index in (-1, self._length - 1) and self._newest is not None and self._length:
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


EMPTY_VIEW = HistoryView(_Columns(), None)


class HistoryRing:
    """A service's last `maxlen` results, oldest first, with what a snapshot derives from them kept current.

    Latency percentiles and uptime are functions over the ring (core.state); a fleet of 1000 services asked
    for a snapshot would run them 1000 times over 120 results each (~0.4 s here). So the ring keeps the figures
    they read (the sorted latencies of up probes, the counts of contacted and up probes) as results enter
    and leave: each result costs a bisect, a snapshot costs nothing. tests/test_state.py checks the figures
    against the functions over random histories, so they cannot drift from the data.
    """

    __slots__ = ("_columns", "_contacted", "_last_ms", "_latencies", "_maxlen", "_newest", "_up")

    def __init__(self, maxlen: int = HISTORY) -> None:
        self._columns = _Columns()
        self._newest: ProbeResult | None = None
        self._maxlen = maxlen
        self._latencies = array("d")
        """Latencies of the contacted, up-or-degraded results in the ring, sorted (doubles, not float objects)."""
        self._last_ms: float | None = None
        self._contacted = 0
        self._up = 0

    @property
    def newest(self) -> ProbeResult | None:
        """The last result recorded, as it was recorded."""
        return self._newest

    def view(self) -> HistoryView:
        """The results as they are now, for a snapshot."""
        if not self._columns.shapes:
            return EMPTY_VIEW
        return HistoryView(self._columns.frozen(), self._newest)

    def __iter__(self) -> Iterator[ProbeResult]:
        return iter(self.view())

    def __len__(self) -> int:
        return len(self._columns.shapes)

    def __getitem__(self, index: int) -> ProbeResult:
        length = len(self._columns.shapes)
        if index in (-1, length - 1) and self._newest is not None:
            return self._newest
        if not -length <= index < length:
            raise IndexError("ring index out of range")
        return self._columns.decode_at(index % length)

    def append(self, result: ProbeResult) -> None:
        columns = self._columns
        if len(columns.shapes) >= self._maxlen:
            self._forget()
            columns.pop_oldest()
        columns.append(result)
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

    def _forget(self) -> None:
        """Take the oldest row out of the figures (before it leaves the columns)."""
        columns = self._columns
        packed = columns.packed[0]
        if not packed & _CONTACTED:
            return
        self._contacted -= 1
        if _STATUSES[packed >> _STATUS_SHIFT & 0xF] in (Status.UP, Status.DEGRADED):
            self._up -= 1
            if not packed & _NO_LATENCY:
                shape = columns.shapes[0]
                latency = columns.latency[0]
                if isinstance(shape, ProbeResult) and shape.latency_ms is not None:
                    latency = shape.latency_ms  # kept as is: its latency may not be a float
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
