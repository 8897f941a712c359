"""Screens over the main view: a service's detail, the help, the breaker-reset confirmation, the silence choice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, Static

from core.kinds import DetailSection, find_kind
from core.numbers import UPTIME_PRECISION, format_ms, format_percent
from core.ratelimit import format_until
from core.results import Status
from core.snapshot import ServiceSnapshot
from tui.actions import help_rows
from tui.format import STATUS_STYLE, ago, badge, breaker_badge, quota_bar, sparkline, until

if TYPE_CHECKING:
    from core.alerts.evaluator import AlertView
    from core.serve.api import HistoryProvider

HISTORY_REFRESH = 30.0
"""Seconds between two reads of the recorded history for the detail screen: hourly roll-ups change slowly."""
HISTORY_WINDOWS = ("1h", "24h", "7d", "30d")

COMPACT_FOOTER_BELOW = 100
"""Columns below which a footer drops its padding and the ^p hint (the help lists it) so every key fits."""


def fit_footer(footer: Footer, width: int) -> None:
    footer.compact = width < COMPACT_FOOTER_BELOW
    footer.show_command_palette = width >= COMPACT_FOOTER_BELOW


class HelpScreen(ModalScreen[None]):
    """The keys, from the one actions table; closing it runs Textual's own `action_dismiss`."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in help_rows():
            table.add_row(key, what)
        legend = Text.assemble(
            ("● up  ", "green"),
            ("▲ degraded  ", "yellow"),
            ("✖ down  ", "red"),
            ("? unknown  ", "dim"),
            ("‖ paused", "dim"),
        )
        yield VerticalScroll(
            Static(Group(Text("Lookout keys", style="bold"), Text(""), table, Text(""), legend)), id="help"
        )


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, *, yes: str = "Reset") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(self.question, id="question", markup=False)
            yield Button(f"{self.yes} (y)", variant="warning", id="yes")
            yield Button("Cancel (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


SILENCE_CHOICES = (("15m", 900.0), ("1h", 3600.0), ("4h", 14400.0), ("24h", 86400.0))
"""How long the silence key offers to silence a service for (label, seconds)."""


class SilenceScreen(ModalScreen[float | None]):
    """Asks how long to silence a service's alerts: returns the seconds, or None (cancelled)."""

    BINDINGS = [
        *(Binding(str(i + 1), f"choose({i})", label) for i, (label, _) in enumerate(SILENCE_CHOICES)),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.service_name = name

    def compose(self) -> ComposeResult:
        with Grid(id="silence"):
            yield Label(
                f"Silence the alerts of {self.service_name} for how long? Probes go on; incidents are still recorded.",
                id="silence-question",
                markup=False,
            )
            for i, (label, _) in enumerate(SILENCE_CHOICES):
                yield Button(f"{label} ({i + 1})", variant="warning", id=f"silence-{i}")
            yield Button("Cancel (n)", variant="primary", id="silence-cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        choice = (event.button.id or "").removeprefix("silence-")
        self.dismiss(SILENCE_CHOICES[int(choice)][1] if choice.isdigit() else None)

    def action_choose(self, index: int) -> None:
        self.dismiss(SILENCE_CHOICES[index][1])

    def action_cancel(self) -> None:
        self.dismiss(None)


class DetailScreen(Screen[None]):
    """Everything the engine knows about one service; refreshed with each snapshot."""

    BINDINGS = [
        Binding("escape,enter", "app.pop_screen", "Back"),
        Binding("r", "app.probe_selected", "Probe now"),
        Binding("space", "app.pause_selected", "Pause/resume"),
        Binding("b", "app.reset_selected", "Reset breaker"),
        Binding("A", "app.approve_tools", "Approve tools", show=False),
        Binding("m", "app.silence_selected", "Silence", show=False),
    ]

    def __init__(self, name: str, *, history: HistoryProvider | None = None) -> None:
        super().__init__()
        self.service_name = name
        self.sections: list[Any] = []
        self.history = history
        self.history_summary: Mapping[str, Any] | None = None
        """The last summary read from `history` (read off the UI thread, every `HISTORY_REFRESH` seconds)."""
        self.history_error: str | None = None
        """Why the last read failed (None: it did not); the figures read before stay shown."""

    def on_mount(self) -> None:
        # A worker, not an await: a mount handler that waits on the disk holds up the screen's own messages.
        if self.history is not None:
            self._start_history_read()
            self.set_interval(HISTORY_REFRESH, self._start_history_read)

    def _start_history_read(self) -> None:
        self.run_worker(self._read_history(), group="history", exclusive=True)

    async def _read_history(self) -> None:
        store = self.history
        if store is None:
            return
        try:
            self.history_summary = await asyncio.to_thread(store.summary, self.service_name)
            self.history_error = None
        except Exception as error:  # an unreadable file costs the section's freshness, never the screen
            self.history_error = f"{type(error).__name__}: {error}"

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with VerticalScroll(id="detail"):
            yield Static(id="detail-body")
        footer = Footer()
        fit_footer(footer, self.app.size.width)
        yield footer

    def show(self, service: ServiceSnapshot | None, now: datetime, alerts: tuple[AlertView, ...] = ()) -> None:
        """Render `service`. A refresh can arrive between the push and the compose of this screen (on a
        loaded machine, easily): until the widgets exist there is nothing to update, and the next refresh
        (or the one the app schedules after the push) shows it."""
        titles, bodies = self.query("#detail-title").results(Static), self.query("#detail-body").results(Static)
        title, body = next(titles, None), next(bodies, None)
        if title is None or body is None:
            return
        if service is None:
            title.update(Text(f"{self.service_name}: no longer in the config", style="bold"))
            return
        heading = Text.assemble(
            badge(service.status, paused=service.paused),
            " ",
            (service.name, "bold"),
            f"  {service.kind}",
            f"  {service.target}",
        )
        if service.reason:
            heading.append(f"\n{service.reason}", style="italic")
        title.update(heading)
        self.sections = alert_section(alerts, now) + detail_sections(service, now, history=self.history_summary)
        body.update(Group(*self.sections))


ALERT_STYLE = {
    "firing": "bold red",
    "flapping": "bold red",
    "pending": "yellow",
    "silenced": "dim",
    "maintenance": "dim",
    "inhibited": "dim",
}


def alert_section(alerts: tuple[AlertView, ...], now: datetime) -> list[Any]:
    """The "Alerts" section, first on the detail screen, only while a rule has something to say."""
    if not alerts:
        return []
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for view in alerts:
        since = ago(datetime.fromtimestamp(view.since, UTC), now)
        state = Text(view.state, style=ALERT_STYLE.get(view.state, ""))
        if view.detail:
            state.append(f" ({view.detail})", style="")
        state.append(f"  opened {since}" if view.state != "pending" else f"  bad since {since}", style="dim")
        table.add_row(Text(view.rule), state)
    return [Text(""), Text("Alerts", style="bold underline"), table]


def detail_sections(s: ServiceSnapshot, now: datetime, *, history: Mapping[str, Any] | None = None) -> list[Any]:
    """The detail screen's body; `history` is the recorded summary (`HistoryStore.summary`), if any."""
    sections: list[Any] = []

    def section(name: str) -> None:
        sections.append(Text(""))
        sections.append(Text(name, style="bold underline"))

    section("Health")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    _add_row(facts, "last checked", ago(s.last_checked, now))
    _add_row(facts, "next probe", "paused" if s.paused else until(s.next_probe_at, now))
    _add_row(
        facts,
        "latency",
        f"last {format_ms(s.latency.last_ms)}  p50 {format_ms(s.latency.p50_ms)}  "
        f"p95 {format_ms(s.latency.p95_ms)}  p99 {format_ms(s.latency.p99_ms)}  ({s.latency.samples} samples)",
    )
    _add_row(facts, "uptime", f"{format_percent(s.uptime, UPTIME_PRECISION)} of {s.probes} probes")
    _add_row(facts, "failures in a row", str(s.consecutive_failures))
    _add_row(facts, "retries spent", str(s.retries))
    if s.depends_on:
        _add_row(facts, "depends on", ", ".join(s.depends_on))
    if s.tags:
        _add_row(facts, "tags", ", ".join(s.tags))
    sections.append(facts)

    if history is not None:
        section("History (recorded)")
        sections.append(history_table(history))

    full_reason = s.last_result.full_reason if s.last_result else ""
    if full_reason:
        section("Last reason in full")  # the table and the heading show its first few hundred characters
        sections.append(Text(full_reason))

    if s.last_result and s.last_result.checks:
        section("Checks")  # every expectation the last probe judged, passed or not
        checks = Table.grid(padding=(0, 2))
        for check in s.last_result.checks:
            mark = (
                Text("✓ pass", style=STATUS_STYLE[Status.UP])
                if check.ok
                else Text("✗ fail", style=STATUS_STYLE[Status.DOWN])
            )
            _add_row(checks, mark, check.condition, check.message)
        sections.append(checks)

    latencies = [r.latency_ms for r in s.history if r.latency_ms is not None and r.ok]
    if latencies:
        section("Latency history")
        sections.append(Text(sparkline(latencies, width=60), style="cyan"))
        sections.append(
            Text(f"min {format_ms(min(latencies))}  max {format_ms(max(latencies))}  oldest → newest", style="dim")
        )

    if s.last_result and s.last_result.timings:
        section("Last probe, stage by stage")
        stages = Table.grid(padding=(0, 2))
        for stage, value in s.last_result.timings.items():
            _add_row(stages, stage, format_ms(value))
        sections.append(stages)

    section("Recent results")
    recent = Table(box=None, padding=(0, 1), show_edge=False)
    for column in ("when", "status", "latency", "tries", "reason"):
        recent.add_column(column, style="dim" if column == "when" else None)
    for r in list(s.history)[-10:][::-1]:
        _add_row(
            recent, ago(r.started_at, now), badge(r.status), format_ms(r.latency_ms), str(r.attempts or "-"), r.reason
        )
    sections.append(recent)

    section("Circuit breaker")
    b = s.breaker
    breaker = Table.grid(padding=(0, 2))
    _add_row(breaker, "state", breaker_badge(b.state))
    _add_row(breaker, "failures", f"{b.failures}/{b.fail_max}  (opens at {b.fail_max} in a row)")
    if b.state == "open":
        _add_row(breaker, "half-open trial", until(b.retry_at, now))
    if b.last_error:
        _add_row(breaker, "last error", b.last_error)
    for when, old, new in list(s.breaker_history)[-5:][::-1]:
        _add_row(breaker, ago(when, now), f"{old} → {new}")
    sections.append(breaker)

    if s.rate_limits:
        section("Rate limits")
        limits = Table(box=None, padding=(0, 1), show_edge=False)
        for column in ("resource", "remaining", "resets", "runs out", "source"):
            limits.add_column(column)
        for limit in s.rate_limits:
            _add_row(
                limits,
                limit.resource,
                quota_bar(limit.remaining, limit.limit, exact=True),
                until(limit.reset_at, now),
                until(limit.exhausts_at, now) if limit.exhausts_at else "-",
                limit.source,
            )
        sections.append(limits)
    if s.gate_until and s.gate_until > now:
        # A 429 may name no quota at all: the hold is shown whether or not limits are known.
        held = f"not sending requests until {format_until(s.gate_until, now)}; `b` clears it"
        sections.append(Text(held, style="yellow"))

    kind = find_kind(s.kind)
    for found in kind.detail_sections(s) if kind is not None else ():
        section(found.title)
        sections.extend(_render_section(found))

    section("Config (secrets masked)")
    sections.append(Text(json.dumps(dict(s.config_summary), indent=2, sort_keys=True, default=str), style="dim"))
    return sections


def history_table(summary: Mapping[str, Any]) -> Table:
    """Uptime and latency percentiles per window, as `lookout history` shows them."""
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column in ("window", "uptime", "probes", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column == "window" else "right")
    windows = summary.get("windows", {})
    for label in HISTORY_WINDOWS:
        w = windows.get(label)
        if w is None:
            continue
        _add_row(
            table,
            label,
            format_percent(w["uptime"], UPTIME_PRECISION),
            str(w["probes"]),
            format_ms(w["p50_ms"]),
            format_ms(w["p95_ms"]),
            format_ms(w["p99_ms"]),
        )
    return table


def _render_section(found: DetailSection) -> list[Any]:
    """A kind's section (plain data from core) as Rich renderables: its facts as a grid, then its table."""
    rendered: list[Any] = []
    if found.facts:
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="dim")
        for label, value in found.facts:
            _add_row(facts, label, value)
        rendered.append(facts)
    if found.columns:
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for column in found.columns:
            table.add_column(
                column.title,
                style="bold" if column.key else None,
                no_wrap=column.key,
                justify="right" if column.numeric else "left",
            )
        for row in found.rows:
            _add_row(table, *row)
        rendered.append(table)
    return rendered


def _add_row(table: Table, *cells: Any) -> None:
    """Rich reads a plain string cell as markup; everything here may come from a server."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))
