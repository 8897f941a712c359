"""The three fleet tables. Each keeps its rows by key and rebuilds only the rows of services that
changed: a table is never rebuilt on an update, so the cursor, scroll position and CPU all stay put.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any, ClassVar

from rich.text import Text

from core.details import McpDetails
from core.numbers import UPTIME_PRECISION, format_ms, format_percent
from core.report import ellipsize
from core.results import Status
from core.ring import recent_latencies
from core.snapshot import FleetSnapshot, ServiceSnapshot
from tui.format import SPARKLINE_WIDTH, ago, badge, breaker_badge, plain, quota_bar, sparkline, until
from tui.linetable import CELL_PADDING, LineTable, Timed

Row = tuple[Any, ...]
Built = tuple[Any, ...]
"""(snapshot, mark, [(row key, cells)], then one sort key per mode in SORTS): a service's rows as last built."""
SORT_AT = 3
ROWS_OF = itemgetter(2)
SORTS = ("name", "status", "latency")
MIN_FLEX = 24
"""The flexible column (reason / last error) gets at least this many characters: narrower
tables drop their least important columns first, rather than cut text at the screen edge."""
QUOTA_BAR = 5
"""Bar characters in the REMAINING column; the numbers follow it."""
MARK_STYLE = "bold red"
SERVICE_WIDTH = (7, 24)
"""The service column fits the longest name, within these bounds."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int = 0
    """Characters; 0 for the service column (fits the names) and the flex column (the rest)."""
    keep: int = 0
    """0: always shown. Otherwise, in a narrow table, the column with the lowest `keep` goes first."""


def status_rank(service: ServiceSnapshot) -> int:
    return -service.status.severity


def sort_keys(s: ServiceSnapshot) -> tuple[Any, ...]:
    """The service's key for each mode in SORTS, in that order: computed once per snapshot of the
    service, so a re-sort or a second of changes sorts ready keys."""
    return (s.name, (status_rank(s), s.name), (-(s.latency.last_ms or -1), s.name))


def matches(service: ServiceSnapshot, text: str) -> bool:
    """The / filter: a substring of the name, or a tag (case-insensitive)."""
    if not text:
        return True
    text = text.lower()
    return text in service.name.lower() or any(text in tag.lower() for tag in service.tags)


class FleetTable(LineTable):
    """A LineTable fed with snapshots; subclasses say which rows (key -> cells) a service makes.

    A service's rows are built again only when its snapshot is a new object (the engine keeps a
    service's snapshot while it does not change), its alert mark changed, or the columns did; cells
    that read the clock are `Timed` and resolved only for the rows on screen. So a second of a large
    fleet costs the services that changed plus one sort of precomputed keys, and a re-sort is a new
    order of keys: no cell is built or rendered again. Text from servers is shown as written (never
    read as markup). The columns fit the table's width: one flexible column takes the rest, and a
    narrow table drops its least important columns; only a resize (or a longer service name) replans.
    """

    COLUMNS: ClassVar[Sequence[Column]] = ()
    FLEX: ClassVar[str] = "reason"
    TITLE: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = self.TITLE
        self._all = [column.key for column in self.COLUMNS]
        self._plan: tuple[tuple[str, int], ...] = ()
        self._shown_at: list[int] = []
        self._built: dict[str, Built] = {}
        """Service name -> (the snapshot its rows were built from, its mark then, its rows, its sort keys)."""
        self._service_of: dict[str, str] | None = None
        """Row key -> service name, for the rows shown (None: build it again when asked)."""
        self._shown: list[ServiceSnapshot] = []
        self._sort = ""
        self._last_sync: tuple[FleetSnapshot, datetime, str, str] | None = None
        self.flex_width = MIN_FLEX
        self._subtitle: str | None = None
        """The count under the table as last set."""
        self.marks: Mapping[str, str] = {}
        """Service name -> a short marker after the name (" !" while an alert fires), set before `sync`;
        the service column widens to keep marked names whole."""

    def rows_for(self, service: ServiceSnapshot) -> list[tuple[str, Row]]:
        """[(row key, cells for every column in COLUMNS)] of one service; [] when it is not in this table
        (a bare FleetTable shows no service: each panel says which rows a service makes)."""
        return []

    def name_cell(self, name: str) -> str | Text:
        """The service's name, with its marker when it has one (styled: never read as markup)."""
        mark = self.marks.get(name)
        return Text.assemble(name, (mark, MARK_STYLE), end="") if mark else name

    @property
    def _cells(self) -> dict[str, Row]:
        """Row key -> the cells shown (in display columns)."""
        return self._rows

    # -- columns --------------------------------------------------------------------------------

    def plan_columns(self, width: int, service_width: int) -> tuple[tuple[str, int], ...]:
        """(column, width) for a table `width` characters wide: drop by `keep` until the flex column fits."""
        fixed = {c.key: (service_width if c.key == "service" else c.width) for c in self.COLUMNS if c.key != self.FLEX}
        shown = [c.key for c in self.COLUMNS]
        padding = 2 * CELL_PADDING

        def room() -> int:
            return width - sum(fixed[key] + padding for key in shown if key != self.FLEX) - padding

        for column in sorted((c for c in self.COLUMNS if c.keep), key=lambda c: c.keep):
            if room() >= MIN_FLEX:
                break
            shown.remove(column.key)
        flex = max(len(next(c.label for c in self.COLUMNS if c.key == self.FLEX)), room())
        return tuple((key, fixed.get(key, flex)) for key in shown)

    def _ensure_columns(self, snapshot: FleetSnapshot) -> bool:
        """Plan the columns for the table's width; True when they changed (every row is built again)."""
        marked = max((len(name) + len(mark) for name, mark in self.marks.items()), default=0)
        longest = max(max((len(s.name) for s in snapshot.services), default=0), marked)
        widest = SERVICE_WIDTH[1] + max((len(mark) for mark in self.marks.values()), default=0)
        service_width = max(SERVICE_WIDTH[0], min(widest, longest))
        plan = self.plan_columns(self.scrollable_content_region.width, service_width)
        if plan == self._plan:
            return False
        labels = {c.key: c.label for c in self.COLUMNS}
        self.set_columns([(key, labels[key], width) for key, width in plan])
        self._plan = plan
        self._shown_at = [self._all.index(key) for key, _ in plan]
        self.flex_width = dict(plan).get(self.FLEX, MIN_FLEX)
        self._built.clear()
        return True

    def on_resize(self) -> None:
        if self._last_sync is not None:
            snapshot, now, text, sort = self._last_sync
            self.sync(snapshot, now, text=text, sort=sort)

    # -- rows -----------------------------------------------------------------------------------

    def sync(self, snapshot: FleetSnapshot, now: datetime, *, text: str, sort: str) -> None:
        selected = self.cursor_key()
        self._last_sync = (snapshot, now, text, sort)
        replanned = self._ensure_columns(snapshot)
        self._shown = [s for s in snapshot.services if matches(s, text)] if text else list(snapshot.services)
        built = self._built
        marks = self.marks
        fresh: dict[str, Built] = {}
        rebuilt = replanned or sort != self._sort or len(self._shown) != len(built)
        for s in self._shown:
            name = s.name
            mark = marks.get(name)
            found = built.get(name)
            if found is None or found[0] is not s or found[1] != mark:
                found = (s, mark, [(key, self._displayed(cells)) for key, cells in self.rows_for(s)], *sort_keys(s))
                rebuilt = True
            fresh[name] = found
        self._built = fresh
        self._sort = sort
        if rebuilt:
            self._service_of = None
            self.set_rows(self._ordered_rows(), now)
        else:  # the same services, none changed: only the clocks moved
            self.set_now(now)
        count = self.row_count
        if replanned and selected is not None and selected in self._index:
            self.move_cursor(row=self._index[selected], animate=False)  # a resize keeps the row, not its index
        subtitle = f"{count}" if not text else f"{count} matching '{text}'"
        if subtitle != self._subtitle:  # Textual repaints the whole table on every set, even to the same text
            self._subtitle = subtitle
            self.border_subtitle = plain(subtitle)

    def _displayed(self, cells: Row) -> Row:
        if len(self._shown_at) == len(cells):
            return cells
        return tuple(cells[i] for i in self._shown_at)

    def _ordered_rows(self) -> list[tuple[str, Row]]:
        by = itemgetter(SORT_AT + (SORTS.index(self._sort) if self._sort in SORTS else 0))
        return list(chain.from_iterable(map(ROWS_OF, sorted(self._built.values(), key=by))))

    def reorder(self, sort: str) -> None:
        """A new sort of the rows already shown: no cell is rebuilt (a re-sort is a key press away)."""
        self._sort = sort
        self.set_order([key for key, _ in self._ordered_rows()])
        if self._last_sync is not None:
            self._last_sync = (*self._last_sync[:3], sort)

    def selected_row_key(self) -> str | None:
        return self.cursor_key()

    def selected_service(self) -> str | None:
        if self._service_of is None:  # built when asked (a cursor move), not every second
            self._service_of = {key: name for name, entry in self._built.items() for key, _ in entry[2]}
        return self._service_of.get(self.selected_row_key() or "")


MCP_KINDS = ("mcp", "unresolved")
"""Kinds shown in the MCP table: "unresolved" is an MCP server from a client file that needs what only its
client can supply (core/clients/unresolved.py)."""


class McpTable(FleetTable):
    TITLE = "MCP servers"
    COLUMNS = (
        Column("status", "STATUS", 10),
        Column("service", "SERVICE"),
        Column("reason", "REASON"),
        Column("transport", "VIA", 5, keep=6),
        Column("protocol", "PROTOCOL", 10, keep=5),
        Column("version", "SERVER", 8, keep=1),
        Column("counts", "T/R/P", 8, keep=7),
        Column("latency", "LATENCY", 7, keep=9),
        Column("p95", "P95", 7, keep=3),
        Column("trend", "TREND", 8, keep=2),
        Column("uptime", "UP%", 5, keep=4),
        Column("checked", "CHECKED", 9, keep=8),
    )

    def rows_for(self, s: ServiceSnapshot) -> list[tuple[str, Row]]:
        if s.kind not in MCP_KINDS:
            return []
        d = s.details if isinstance(s.details, McpDetails) else None
        counts = f"{d.tool_count}/{d.resource_count}/{d.prompt_count}" if d else "-"
        history = recent_latencies(s.history, SPARKLINE_WIDTH)
        return [
            (
                s.name,
                (
                    badge(s.status, paused=s.paused),
                    self.name_cell(s.name),
                    _reason(s, self.flex_width),
                    s.transport or "-",
                    (d.protocol_version if d else None) or "-",
                    (d.server.version if d else None) or "-",
                    counts,
                    format_ms(s.latency.last_ms),
                    format_ms(s.latency.p95_ms),
                    sparkline(history),
                    format_percent(s.uptime, UPTIME_PRECISION),
                    "probing…" if s.probing else Timed(ago, s.last_checked),
                ),
            )
        ]


class RateLimitTable(FleetTable):
    TITLE = "HTTP APIs and rate limits"
    COLUMNS = (
        Column("status", "STATUS", 10),
        Column("service", "SERVICE"),
        Column("resource", "RESOURCE", 8),
        Column("quota", "REMAINING", 17),
        Column("reset", "RESETS", 8, keep=3),
        Column("forecast", "RUNS OUT", 8, keep=2),
        Column("latency", "LATENCY", 7, keep=1),
        Column("reason", "REASON"),
    )

    def rows_for(self, s: ServiceSnapshot) -> list[tuple[str, Row]]:
        limits = list(s.rate_limits)
        if s.kind in MCP_KINDS and not limits:
            return []  # an MCP server is in its own table; every other kind is listed here
        status = badge(s.status, paused=s.paused)
        name = self.name_cell(s.name)
        latency = format_ms(s.latency.last_ms)
        reason = _reason(s, self.flex_width)
        if not limits:
            return [(f"{s.name}\0", (status, name, "-", Text("-"), "-", "-", latency, reason))]
        rows: list[tuple[str, Row]] = []
        for limit in limits:
            blocked = s.gate_until is not None and limit.remaining == 0
            rows.append(
                (
                    f"{s.name}\0{limit.resource}",
                    (
                        status,
                        name,
                        limit.resource,
                        quota_bar(limit.remaining, limit.limit, width=QUOTA_BAR),
                        Timed(until, limit.reset_at),
                        "blocked" if blocked else Timed(until, limit.exhausts_at) if limit.exhausts_at else "-",
                        latency,
                        reason,
                    ),
                )
            )
        return rows


class BreakerTable(FleetTable):
    TITLE = "Circuit breakers"
    FLEX = "error"
    COLUMNS = (
        Column("state", "BREAKER", 11),
        Column("service", "SERVICE"),
        Column("failures", "FAILS", 5, keep=3),
        Column("trial", "TRIAL", 8, keep=2),
        Column("retries", "RETRIES", 7, keep=1),
        Column("error", "LAST ERROR"),
    )

    def rows_for(self, s: ServiceSnapshot) -> list[tuple[str, Row]]:
        b = s.breaker
        trial = Timed(until, b.retry_at) if b.state == "open" else ("running" if b.trial_in_flight else "-")
        return [
            (
                s.name,
                (
                    breaker_badge(b.state),
                    self.name_cell(s.name),
                    f"{b.failures}/{b.fail_max}",
                    trial,
                    str(s.retries),
                    ellipsize(" ".join((b.last_error or "-").split()), self.flex_width),
                ),
            )
        ]


def _reason(service: ServiceSnapshot, width: int) -> str:
    if service.status is Status.UP and not service.reason:
        return ""
    return ellipsize(" ".join(service.reason.split()), width)
