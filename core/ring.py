"""A service's last results, kept as columns of plain numbers and shared references, not as objects.

A `ProbeResult` as the pipeline makes it is five objects the cyclic collector tracks (the result, its details,
its checks tuple and each check) and ~430 bytes; 1000 services x 120 results is ~600,000 tracked objects and
~50 MB, and every full collection walks them while holding the interpreter. A ring here keeps, per result:

- three numbers in `array`s (no object each): the start as microseconds after the ring's base (four bytes
  while the ring spans less than ~71 minutes, else eight), the latency as a double, and one packed 32-bit
  integer with the status, attempts, HTTP status, contacted and two flags;
- its "shape": the tuple of what rarely changes from probe to probe (service, the start's tzinfo and fold,
  reason, full reason, the timings' keys, the checks as (condition, ok, message) atoms), the previous
  result's tuple itself when equal; and its details, the previous one's object when equal. Both are kept as
  runs (each object once, with how many rows in a row hold it): a steady service's ring holds one of each;
- the timings' values in a shared `array`, except when the timings are just {"request": latency}, the HTTP
  probe's, which is a flag;
- a check message holding the formatted latency (latency_check's "12ms", "slow: 2.1s > 2s") keeps a marker
  in its place, the latency itself being in the row: the shape stays equal from probe to probe.

An HTTP result costs ~24 bytes here, 8 of them the sorted latency the percentiles read (bench/rings.py: 51
a result, its state, newest result and last snapshot included). A result whose fields are not of the plain
types and ranges above (never the pipeline's) is kept as itself. A reader still gets `ProbeResult`s: the
newest as recorded (the same object), older ones rebuilt from the columns when asked for, equal (==) to
what was recorded: tests/test_ring.py holds every shape to that. A snapshot's view shares the columns; the
ring copies them before its next write only while that view is still held (`HistoryRing.append`).
`bench/rings.py` prints what a full fleet's rings cost: memory, tracked objects, a full pass.
"""

from __future__ import annotations

import math
import weakref
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
_OK_STATUSES = (Status.UP, Status.DEGRADED)
_STATUS_INDEX = {status: index for index, status in enumerate(_STATUSES)}

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_TOOK = "\x00"
"""Stands for the formatted latency in a kept check message (a message already holding it is kept as a Check)."""

# The packed integer (32 bits, an array("I") entry): HTTP status + 1 (0: none) in bits 0-9, attempts in 10-17,
# the status index in 18-21, then three flags. A result outside these ranges (never the pipeline's) is kept as is.
_HTTP_MASK = 0x3FF
_ATTEMPTS_SHIFT = 10
_ATTEMPTS_MASK = 0xFF
_STATUS_SHIFT = 18
_CONTACTED = 1 << 22
_NO_LATENCY = 1 << 23
_REQUEST_ONLY = 1 << 24
"""The timings are {"request": latency}: nothing of them kept."""
_OFFSET_LIMIT = 0xFFFFFFFF
"""The largest start an array("I") holds as microseconds after the columns' base: ~71 minutes."""

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
        and 0 <= attempts <= _ATTEMPTS_MASK
        and (http is None or (type(http) is int and 0 <= http < _HTTP_MASK))
        and (latency is None or type(latency) is float)
        and type(timings) is dict
        and type(result.checks) is tuple
        and _plain_timings(timings)
    )


def _plain_timings(timings: dict[str, float]) -> bool:
    return all(type(key) is str and type(value) is float for key, value in timings.items())


class _Runs:
    """A column of references kept as runs: each distinct object once, with how many rows in a row hold it.

    The shapes and details of a service's results are the same object from probe to probe (`_Columns.append`
    hands the previous one on when equal), so a full ring of 120 rows is mostly one run: ~0 bytes a row where
    a list would take 8. Rows are told apart by identity, which is what `append` makes equal values share."""

    __slots__ = ("counts", "values")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.counts = array("I")

    def copy(self) -> _Runs:
        copy = _Runs.__new__(_Runs)
        copy.values = self.values[:]
        copy.counts = self.counts[:]
        return copy

    def append(self, value: Any) -> None:
        values = self.values
        if values and values[-1] is value:
            self.counts[-1] += 1
        else:
            values.append(value)
            self.counts.append(1)

    def last(self) -> Any:
        """The newest row's value (None for no rows: a row's value may itself be None, callers know which)."""
        return self.values[-1] if self.values else None

    def first(self) -> Any:
        return self.values[0]

    def pop_first(self) -> None:
        if self.counts[0] == 1:
            del self.values[0], self.counts[0]
        else:
            self.counts[0] -= 1

    def __getitem__(self, index: int) -> Any:
        for value, count in zip(self.values, self.counts, strict=True):
            if index < count:
                return value
            index -= count
        raise IndexError("row out of range")

    def __iter__(self) -> Iterator[Any]:
        for value, count in zip(self.values, self.counts, strict=True):
            for _ in range(count):
                yield value

    def newest_first(self) -> Iterator[Any]:
        for value, count in zip(reversed(self.values), reversed(self.counts), strict=True):
            for _ in range(count):
                yield value


class _Columns:
    """The rows: one entry per result in each of `shapes` and `details` (runs), `packed`, `started` (offsets
    from `base`, microseconds) and `latency`; the timings' values, in row order, in `timings`. A shape that is a
    `ProbeResult` is that row kept as is. Only a ring writes its columns, and never while a view shares them."""

    __slots__ = (
        "base",
        "based",
        "details",
        "latency",
        "length",
        "packed",
        "shapes",
        "started",
        "timings",
        "wide_rows",
    )

    def __init__(self) -> None:
        self.shapes = _Runs()
        self.details = _Runs()
        self.packed = array("I")
        self.base = 0
        self.started = array("I")
        """Microseconds after `base` (since the epoch): four bytes a row while the ring spans < ~71 minutes,
        eight (array "q", base 0) once a ring of slow probes spans more."""
        self.based = False
        """Whether `base` was set from a row's start (a row kept as itself has none of its own)."""
        self.wide_rows = 0
        """Rows appended since the starts were last kept as eight bytes (then, once all are newer, they may fit
        four again)."""
        self.latency = array("d")
        self.timings = array("d")
        self.length = 0

    def copy(self) -> _Columns:
        """A copy for the ring to go on writing, while a view keeps this one (arrays copy as one block each)."""
        copy = _Columns.__new__(_Columns)
        copy.shapes = self.shapes.copy()
        copy.details = self.details.copy()
        copy.packed = self.packed[:]
        copy.base = self.base
        copy.based = self.based
        copy.wide_rows = self.wide_rows
        copy.started = self.started[:]
        copy.latency = self.latency[:]
        copy.timings = self.timings[:]
        copy.length = self.length
        return copy

    def _start(self, micros: int) -> None:
        """Append a start: an offset from the base while the ring's starts fit four bytes, else as it is."""
        started = self.started
        if not self.based:
            self.based = True
            if started.typecode == "I":
                self.base = micros  # rows before this one are kept as themselves: their offset 0 means nothing
        if started.typecode == "q":
            started.append(micros)
            self.wide_rows += 1
            if self.wide_rows >= self.length:  # every row is newer than the widening: try four bytes again
                self.wide_rows = 0
                self._fit(list(started))
            return
        offset = micros - self.base
        if 0 <= offset <= _OFFSET_LIMIT:
            started.append(offset)
        else:  # before the base (a clock stepped back) or past four bytes: a new base, or eight bytes
            self._fit([value + self.base for value in started] + [micros])

    def _fit(self, starts: list[int]) -> None:
        """Keep `starts` (microseconds since the epoch) as offsets from the earliest when they fit four bytes,
        else as they are (a ring of slow probes spanning more than ~71 minutes, or a clock that jumped)."""
        low = min(starts)
        if max(starts) - low <= _OFFSET_LIMIT:
            self.base = low
            self.started = array("I", [value - low for value in starts])
        else:
            self.base = 0
            self.started = array("q", starts)
            self.wide_rows = 0

    def append(self, result: ProbeResult) -> None:
        """`result` as a new last row, sharing the previous row's shape, details and strings where equal."""
        shapes, details = self.shapes, self.details
        self.length += 1
        kept = result.details
        if self.length > 1:
            previous_details = details.last()
            if kept is not None and kept is not previous_details and kept == previous_details:
                kept = previous_details
        details.append(kept)
        latency = result.latency_ms
        packed = _STATUS_INDEX[result.status] << _STATUS_SHIFT | (_CONTACTED if result.contacted else 0)
        if latency is None:
            packed |= _NO_LATENCY
        if not _is_plain(result):
            shapes.append(result)
            self.packed.append(packed)
            self.started.append(self.started[-1] if self.started else 0)  # a start within the others' range
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
        previous = shapes.last()
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
        self._start((started.replace(tzinfo=None) - _EPOCH) // _MICROSECOND)
        self.latency.append(0.0 if latency is None else latency)

    def _width(self, shape: Any, packed: int) -> int:
        """How many timing values a row of `shape` and `packed` keeps."""
        if type(shape) is not tuple or packed & _REQUEST_ONLY:
            return 0
        return len(shape[5])

    def pop_oldest(self) -> None:
        """Drop the first row (a memmove of ~120 entries per column: cheaper than a ring index to keep)."""
        width = self._width(self.shapes.first(), self.packed[0])
        if width:
            del self.timings[:width]
        self.shapes.pop_first()
        self.details.pop_first()
        del self.packed[0], self.started[0], self.latency[0]
        self.length -= 1

    def decode(
        self, index: int, shape: Shape | ProbeResult, details: Details | None, offset: int, made: dict[Any, Any]
    ) -> ProbeResult:
        """Row `index`, of `shape` and `details`, as the result it was; `offset`: where its timing values start
        in `timings`; `made`: the checks made so far in this pass over the columns (they hold every key's tuple
        alive meanwhile)."""
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
        started = _EPOCH + (self.base + self.started[index]) * _MICROSECOND
        return ProbeResult(
            service=service,
            started_at=started.replace(tzinfo=tz, fold=fold),
            status=_STATUSES[packed >> _STATUS_SHIFT & 0xF],
            reason=reason,
            latency_ms=latency,
            attempts=packed >> _ATTEMPTS_SHIFT & _ATTEMPTS_MASK,
            contacted=bool(packed & _CONTACTED),
            http_status=http - 1 if http else None,
            timings=timings,
            details=details,
            full_reason=full_reason,
            checks=_checks(checks, latency, made),
        )

    def decode_at(self, index: int) -> ProbeResult:
        offset = 0
        for row, shape in enumerate(self.shapes):
            if row == index:
                return self.decode(index, shape, self.details[index], offset, {})
            offset += self._width(shape, self.packed[row])
        raise IndexError("row out of range")

    def decode_all(self, newest: ProbeResult | None, length: int) -> tuple[ProbeResult, ...]:
        """The first `length` rows, oldest first; the last one `newest` itself when given."""
        last = length - 1
        results = []
        made: dict[Any, Any] = {}
        offset = 0
        packed = self.packed
        for index, shape, details in zip(range(length), self.shapes, self.details, strict=False):
            if index == last and newest is not None:
                results.append(newest)
            else:
                results.append(self.decode(index, shape, details, offset, made))
            offset += self._width(shape, packed[index])
        return tuple(results)


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: always a value that was really observed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class HistoryView(Sequence[ProbeResult]):
    """A ring's results as of one moment, oldest first: what a snapshot holds as its `history`.

    Taking one copies nothing: the view shares the ring's columns, and the ring, when it next records while
    the view is still held, goes on in a copy of them (copy on write; a snapshot nobody holds any more costs
    no copy). The results are rebuilt the first time anything reads past the newest one, and kept for the
    view's next reader. The newest is the recorded object itself, so
    `history[-1] is last_result`. Equal to a tuple (or view) of equal results, as the tuple it replaces was.
    """

    __slots__ = ("__weakref__", "_columns", "_items", "_length", "_newest")

    def __init__(self, columns: _Columns, newest: ProbeResult | None) -> None:
        self._columns = columns
        self._length = columns.length
        self._newest = newest
        self._items: tuple[ProbeResult, ...] | None = None

    def _all(self) -> tuple[ProbeResult, ...]:
        items = self._items
        if items is None:
            items = self._items = self._columns.decode_all(self._newest, self._length)
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

    def recent_latencies(self, count: int) -> list[float]:
        """The latencies of the newest `count` results that were up or degraded with one, oldest first: what
        `[r.latency_ms for r in view if r.ok and r.latency_ms is not None][-count:]` gives, read off the columns
        without rebuilding a result. A table's sparkline wants eight of them for each service that changed;
        rebuilding the whole ring for those (~0.8 ms a full ring) grew with the rings for the demo's first
        half hour."""
        if count <= 0:
            return []
        if self._items is not None:
            return _recent_latencies(reversed(self._items), count)
        columns = self._columns
        shapes = columns.shapes.newest_first()
        for _ in range(columns.length - self._length):
            next(shapes)  # rows past this view's (a view shares columns only while they are not written)
        found: list[float] = []
        for index in range(self._length - 1, -1, -1):
            shape = next(shapes)
            if index == self._length - 1 and self._newest is not None:
                shape = self._newest
            if type(shape) is not tuple:  # a result kept as it is (or the newest, as recorded)
                if shape.ok and shape.latency_ms is not None:
                    found.append(shape.latency_ms)
            else:
                packed = columns.packed[index]
                if not packed & _NO_LATENCY and _STATUSES[packed >> _STATUS_SHIFT & 0xF] in _OK_STATUSES:
                    found.append(columns.latency[index])
            if len(found) == count:
                break
        found.reverse()
        return found

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HistoryView):
            other = other._all()
        return isinstance(other, tuple) and self._all() == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


EMPTY_VIEW = HistoryView(_Columns(), None)


def recent_latencies(history: Sequence[ProbeResult], count: int) -> list[float]:
    """`HistoryView.recent_latencies` of any history (a view, or the tuple an attached TUI gets)."""
    if isinstance(history, HistoryView):
        return history.recent_latencies(count)
    return _recent_latencies(reversed(history), count)


def _recent_latencies(newest_first: Iterable[ProbeResult], count: int) -> list[float]:
    found: list[float] = []
    for result in newest_first:
        if len(found) == count:
            break
        if result.ok and result.latency_ms is not None:
            found.append(result.latency_ms)
    found.reverse()
    return found


class HistoryRing:
    """A service's last `maxlen` results, oldest first, with what a snapshot derives from them kept current.

    Latency percentiles and uptime are functions over the ring (core.state); a fleet of 1000 services asked
    for a snapshot would run them 1000 times over 120 results each (~0.4 s here). So the ring keeps the figures
    they read (the sorted latencies of up probes, the counts of contacted and up probes) as results enter
    and leave: each result costs a bisect, a snapshot costs nothing. tests/test_state.py checks the figures
    against the functions over random histories, so they cannot drift from the data.
    """

    __slots__ = ("_columns", "_contacted", "_last_ms", "_latencies", "_maxlen", "_newest", "_up", "_viewed")

    def __init__(self, maxlen: int = HISTORY) -> None:
        self._columns = _Columns()
        self._newest: ProbeResult | None = None
        self._maxlen = maxlen
        self._latencies = array("d")
        """Latencies of the contacted, up-or-degraded results in the ring, sorted (doubles, not float objects)."""
        self._last_ms: float | None = None
        self._contacted = 0
        self._up = 0
        self._viewed: weakref.ref[HistoryView] | None = None
        """The last view handed out, which shares the columns: while it lives, they are not written again."""

    @property
    def newest(self) -> ProbeResult | None:
        """The last result recorded, as it was recorded."""
        return self._newest

    def view(self) -> HistoryView:
        """The results as they are now, for a snapshot: the last view handed out when nothing was recorded since
        and it is still held (a fleet snapshot mostly hands out what the last one did)."""
        columns = self._columns
        if not columns.length:
            return EMPTY_VIEW
        viewed = self._viewed() if self._viewed is not None else None
        if viewed is None:
            viewed = HistoryView(columns, self._newest)
            self._viewed = weakref.ref(viewed)
        return viewed

    def __iter__(self) -> Iterator[ProbeResult]:
        return iter(self.view())

    def __len__(self) -> int:
        return self._columns.length

    def __getitem__(self, index: int) -> ProbeResult:
        length = self._columns.length
        if index in (-1, length - 1) and self._newest is not None:
            return self._newest
        if not -length <= index < length:
            raise IndexError("ring index out of range")
        return self._columns.decode_at(index % length)

    def append(self, result: ProbeResult) -> None:
        columns = self._columns
        if self._viewed is not None:
            if self._viewed() is not None:
                columns = self._columns = columns.copy()  # the view keeps the columns it was handed
            self._viewed = None
        if columns.length >= self._maxlen:
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
        if _STATUSES[packed >> _STATUS_SHIFT & 0xF] in _OK_STATUSES:
            self._up -= 1
            if not packed & _NO_LATENCY:
                shape = columns.shapes.first()
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
