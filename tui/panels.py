"""The three fleet tables. Each keeps its rows by key and updates only the cells that changed:
a table is never rebuilt on an update, so the cursor, scroll position and CPU all stay put.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable

from core.details import McpDetails
from core.numbers import UPTIME_PRECISION, format_ms, format_percent
from core.report import ellipsize
from core.results import Status
from core.snapshot import FleetSnapshot, ServiceSnapshot
from tui.format import ago, badge, breaker_badge, plain, quota_bar, sparkline, until

Row = tuple[Any, ...]
SORTS = ("name", "status", "latency")
MIN_FLEX = 24
"""The flexible column (reason / last error) gets at least this many characters: narrower
tables drop their least important columns first, rather than cut text at the screen edge."""
CELL_PADDING = 1
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


def sort_key(mode: str) -> Callable[[ServiceSnapshot], Any]:
    if mode == "status":
        return lambda s: (status_rank(s), s.name)
    if mode == "latency":
        return lambda s: (-(s.latency.last_ms or -1), s.name)
    return lambda s: s.name


def matches(service: ServiceSnapshot, text: str) -> bool:
    """The / filter: a substring of the name, or a tag (case-insensitive)."""
    if not text:
        return True
    text = text.lower()
    return text in service.name.lower() or any(text in tag.lower() for tag in service.tags)


class FleetTable(DataTable[Any]):
    """A DataTable fed with (key -> cells) maps; subclasses say which rows a snapshot makes.

    Cells are compared as built (plain strings are cheap to compare) and only the ones that
    changed reach the DataTable, as Text so nothing a server says is ever read as markup.
    The columns fit the table's width: one flexible column takes the rest, and a narrow table
    drops its least important columns; only a resize (or a longer service name) rebuilds it.
    """

    COLUMNS: ClassVar[Sequence[Column]] = ()
    FLEX: ClassVar[str] = "reason"
    KEY_COLUMNS: ClassVar[tuple[str, ...]] = ("service",)
    TITLE: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.border_title = self.TITLE
        self._all = [column.key for column in self.COLUMNS]
        self._identity_at = [self._all.index(column) for column in self.KEY_COLUMNS]
        self._plan: tuple[tuple[str, int], ...] = ()
        self._shown_at: list[int] = []
        self._cells: dict[str, Row] = {}
        self._order: list[str] = []
        self._service_of: dict[str, str] = {}
        self._shown: list[ServiceSnapshot] = []
        self._keys_of: dict[str, list[str]] = {}
        self._last_sync: tuple[FleetSnapshot, datetime, str, str] | None = None
        self.flex_width = MIN_FLEX
        self._restore: str | None = None
        """The row the cursor was on before the columns were rebuilt."""
        self.marks: Mapping[str, str] = {}
        """Service name -> a short marker after the name (" !" while an alert fires), set before `sync`;
        the service column widens to keep marked names whole."""

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        """[(row key, service name, cells for every column in COLUMNS)] in display order."""
        raise NotImplementedError

    def name_cell(self, name: str) -> str | Text:
        """The service's name, with its marker when it has one (styled: never read as markup)."""
        mark = self.marks.get(name)
        return Text.assemble(name, (mark, MARK_STYLE), end="") if mark else name

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

    def _ensure_columns(self, snapshot: FleetSnapshot) -> None:
        longest = max((len(s.name) + len(self.marks.get(s.name, "")) for s in snapshot.services), default=0)
        widest = SERVICE_WIDTH[1] + max((len(mark) for mark in self.marks.values()), default=0)
        service_width = max(SERVICE_WIDTH[0], min(widest, longest))
        plan = self.plan_columns(self.scrollable_content_region.width, service_width)
        if plan == self._plan:
            return
        selected = self.selected_row_key()
        self.clear(columns=True)
        labels = {c.key: c.label for c in self.COLUMNS}
        for key, width in plan:
            self.add_column(labels[key], key=key, width=width)
        self._plan = plan
        self._shown_at = [self._all.index(key) for key, _ in plan]
        self.flex_width = dict(plan).get(self.FLEX, MIN_FLEX)
        self._cells.clear()
        self._order = []
        self._restore = selected

    def on_resize(self) -> None:
        if self._last_sync is not None:
            snapshot, now, text, sort = self._last_sync
            self.sync(snapshot, now, text=text, sort=sort)

    # -- rows -----------------------------------------------------------------------------------

    def sync(self, snapshot: FleetSnapshot, now: datetime, *, text: str, sort: str) -> None:
        self._last_sync = (snapshot, now, text, sort)
        self._ensure_columns(snapshot)
        self._shown = [s for s in snapshot.services if matches(s, text)]
        wanted = self.build_rows(sorted(self._shown, key=sort_key(sort)), now)
        keys = [key for key, _, _ in wanted]
        wanted_keys = set(keys)
        for gone in [key for key in self._cells if key not in wanted_keys]:
            self.remove_row(gone)
            del self._cells[gone]
            self._service_of.pop(gone, None)
        self._keys_of = {}
        for key, service, cells in wanted:
            self._service_of[key] = service
            self._keys_of.setdefault(service, []).append(key)
            old = self._cells.get(key)
            if old is None:
                self.add_row(*(_cell(cells[i]) for i in self._shown_at), key=key)
            else:
                for (column, _), i in zip(self._plan, self._shown_at, strict=True):
                    if old[i] != cells[i]:
                        self.update_cell(key, column, _cell(cells[i]))
            self._cells[key] = cells
        self._apply_order(keys)
        if self._restore is not None:
            if self._restore in self._cells:
                self.move_cursor(row=self.get_row_index(self._restore), animate=False)
            self._restore = None
        self.border_subtitle = plain(f"{len(wanted)}" if not text else f"{len(wanted)} matching '{text}'")

    def reorder(self, sort: str) -> None:
        """A new sort of the rows already shown: no cell is rebuilt (a re-sort is a key press away)."""
        keys = [key for s in sorted(self._shown, key=sort_key(sort)) for key in self._keys_of.get(s.name, ())]
        self._apply_order(keys)
        if self._last_sync is not None:
            self._last_sync = (*self._last_sync[:3], sort)

    def _apply_order(self, keys: list[str]) -> None:
        if keys == self._order:
            return
        # DataTable.sort hands the key function a row's cells, not its key: the key columns identify the row.
        rank = {self._identity(self._cells[key]): i for i, key in enumerate(keys)}
        self.sort(*self.KEY_COLUMNS, key=lambda values: rank.get(_plain(values), 0))
        self._order = keys

    def _identity(self, cells: Row) -> Any:
        values = tuple(cells[i] for i in self._identity_at)
        return _plain(values if len(values) > 1 else values[0])

    def selected_row_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def selected_service(self) -> str | None:
        return self._service_of.get(self.selected_row_key() or "")


def _cell(value: Any) -> Any:
    return plain(value) if isinstance(value, str) else value


def _plain(values: Any) -> Any:
    if isinstance(values, tuple):
        return tuple(str(v) for v in values)
    return str(values)


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

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        out = []
        for s in services:
            if s.kind not in MCP_KINDS:
                continue
            d = s.details if isinstance(s.details, McpDetails) else None
            counts = f"{d.tool_count}/{d.resource_count}/{d.prompt_count}" if d else "-"
            history = [r.latency_ms for r in s.history if r.latency_ms is not None and r.ok]
            out.append(
                (
                    s.name,
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
                        "probing…" if s.probing else ago(s.last_checked, now),
                    ),
                )
            )
        return out


class RateLimitTable(FleetTable):
    TITLE = "HTTP APIs and rate limits"
    KEY_COLUMNS = ("service", "resource")
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

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        out = []
        for s in services:
            limits = list(s.rate_limits)
            if s.kind in MCP_KINDS and not limits:
                continue  # an MCP server is in its own table; every other kind is listed here
            if not limits:
                out.append(
                    (
                        f"{s.name}\0",
                        s.name,
                        (
                            badge(s.status, paused=s.paused),
                            self.name_cell(s.name),
                            "-",
                            Text("-"),
                            "-",
                            "-",
                            format_ms(s.latency.last_ms),
                            _reason(s, self.flex_width),
                        ),
                    )
                )
                continue
            for limit in limits:
                blocked = s.gate_until is not None and limit.remaining == 0
                out.append(
                    (
                        f"{s.name}\0{limit.resource}",
                        s.name,
                        (
                            badge(s.status, paused=s.paused),
                            self.name_cell(s.name),
                            limit.resource,
                            quota_bar(limit.remaining, limit.limit, width=QUOTA_BAR),
                            until(limit.reset_at, now),
                            "blocked" if blocked else until(limit.exhausts_at, now) if limit.exhausts_at else "-",
                            format_ms(s.latency.last_ms),
                            _reason(s, self.flex_width),
                        ),
                    )
                )
        return out


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

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        out = []
        for s in services:
            b = s.breaker
            trial = until(b.retry_at, now) if b.state == "open" else ("running" if b.trial_in_flight else "-")
            out.append(
                (
                    s.name,
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
            )
        return out


def _reason(service: ServiceSnapshot, width: int) -> str:
    if service.status is Status.UP and not service.reason:
        return ""
    return ellipsize(" ".join(service.reason.split()), width)
