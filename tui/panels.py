"""The three fleet tables. Each keeps its rows by key and updates only the cells that changed:
a table is never rebuilt on an update, so the cursor, scroll position and CPU all stay put.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable

from core.report import ellipsize
from core.results import Status
from core.snapshot import FleetSnapshot, ServiceSnapshot
from tui.format import ago, badge, breaker_badge, ms, percent, plain, quota_bar, sparkline, until

Row = tuple[Any, ...]
SORTS = ("name", "status", "latency")
REASON_WIDTH = 32


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


class FleetTable(DataTable):
    """A DataTable fed with (key -> cells) maps; subclasses say which rows a snapshot makes.

    Cells are compared as built (plain strings are cheap to compare) and only the ones that
    changed reach the DataTable, as Text so nothing a server says is ever read as markup.
    """

    COLUMNS: ClassVar[Sequence[tuple[str, str, int | None]]] = ()
    """(key, label, width or None for auto)."""
    KEY_COLUMNS: ClassVar[tuple[str, ...]] = ("service",)
    TITLE: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.border_title = self.TITLE
        self._columns = [key for key, _, _ in self.COLUMNS]
        self._identity_at = [self._columns.index(column) for column in self.KEY_COLUMNS]
        self._cells: dict[str, Row] = {}
        self._order: list[str] = []
        self._service_of: dict[str, str] = {}
        self._shown: list[ServiceSnapshot] = []
        self._keys_of: dict[str, list[str]] = {}

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        """[(row key, service name, cells)] in display order."""
        raise NotImplementedError

    def sync(self, snapshot: FleetSnapshot, now: datetime, *, text: str, sort: str) -> None:
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
                self.add_row(*map(_cell, cells), key=key)
            else:
                for column, before, after in zip(self._columns, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, column, _cell(after))
            self._cells[key] = cells
        self._apply_order(keys)
        self.border_subtitle = plain(f"{len(wanted)}" if not text else f"{len(wanted)} matching '{text}'")

    def reorder(self, sort: str) -> None:
        """A new sort of the rows already shown: no cell is rebuilt (a re-sort is a key press away)."""
        keys = [key for s in sorted(self._shown, key=sort_key(sort)) for key in self._keys_of.get(s.name, ())]
        self._apply_order(keys)

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

    def selected_service(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self._service_of.get(key or "")


def _cell(value: Any) -> Any:
    return plain(value) if isinstance(value, str) else value


def _plain(values: Any) -> Any:
    if isinstance(values, tuple):
        return tuple(str(v) for v in values)
    return str(values)


class McpTable(FleetTable):
    TITLE = "MCP servers"
    COLUMNS = (
        ("status", "STATUS", 10),
        ("service", "SERVICE", None),
        ("reason", "REASON", REASON_WIDTH),
        ("transport", "VIA", 5),
        ("protocol", "PROTOCOL", 10),
        ("version", "SERVER", None),
        ("counts", "T/R/P", 8),
        ("latency", "LATENCY", 8),
        ("p95", "P95", 7),
        ("trend", "TREND", 8),
        ("uptime", "UP%", 5),
        ("checked", "CHECKED", 9),
    )

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        out = []
        for s in services:
            if s.kind != "mcp":
                continue
            d = s.details
            server = d.get("server") or {}
            counts = (
                f"{d.get('tool_count', '-')}/{d.get('resource_count', '-')}/{d.get('prompt_count', '-')}" if d else "-"
            )
            history = [r.latency_ms for r in s.history if r.latency_ms is not None and r.ok]
            out.append(
                (
                    s.name,
                    s.name,
                    (
                        badge(s.status, paused=s.paused),
                        s.name,
                        _reason(s),
                        s.transport or "-",
                        d.get("protocol_version") or "-",
                        str(server.get("version") or "-"),
                        counts,
                        ms(s.latency.last_ms),
                        ms(s.latency.p95_ms),
                        sparkline(history),
                        percent(s.uptime),
                        "probing…" if s.probing else ago(s.last_checked, now),
                    ),
                )
            )
        return out


class RateLimitTable(FleetTable):
    TITLE = "HTTP APIs and rate limits"
    KEY_COLUMNS = ("service", "resource")
    COLUMNS = (
        ("status", "STATUS", 10),
        ("service", "SERVICE", None),
        ("resource", "RESOURCE", None),
        ("quota", "REMAINING", 20),
        ("reset", "RESETS", 8),
        ("forecast", "RUNS OUT", 9),
        ("latency", "LATENCY", 8),
        ("reason", "REASON", None),
    )

    def build_rows(self, services: Sequence[ServiceSnapshot], now: datetime) -> list[tuple[str, str, Row]]:
        out = []
        for s in services:
            limits = list(s.rate_limits)
            if s.kind != "http" and not limits:
                continue
            if not limits:
                out.append(
                    (
                        f"{s.name}\0",
                        s.name,
                        (
                            badge(s.status, paused=s.paused),
                            s.name,
                            "-",
                            Text("-"),
                            "-",
                            "-",
                            ms(s.latency.last_ms),
                            _reason(s),
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
                            s.name,
                            limit.resource,
                            quota_bar(limit.remaining, limit.limit),
                            until(limit.reset_at, now),
                            "blocked" if blocked else until(limit.exhausts_at, now) if limit.exhausts_at else "-",
                            ms(s.latency.last_ms),
                            _reason(s),
                        ),
                    )
                )
        return out


class BreakerTable(FleetTable):
    TITLE = "Circuit breakers"
    COLUMNS = (
        ("state", "BREAKER", 11),
        ("service", "SERVICE", None),
        ("failures", "FAILS", 6),
        ("trial", "TRIAL", 8),
        ("retries", "RETRIES", 7),
        ("error", "LAST ERROR", None),
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
                        s.name,
                        f"{b.failures}/{b.fail_max}",
                        trial,
                        str(s.retries),
                        ellipsize(" ".join((b.last_error or "-").split()), 48),
                    ),
                )
            )
        return out


def _reason(service: ServiceSnapshot, width: int = REASON_WIDTH) -> str:
    if service.status is Status.UP and not service.reason:
        return ""
    return ellipsize(" ".join(service.reason.split()), width)
