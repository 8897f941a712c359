"""The notifications screen: is each alert channel delivering, and what was sent lately, to whom, with what outcome.

A failing channel is otherwise only a log line that scrolls away; here it
stays, with its last error, beside the notifications that are waiting on it.
The screen only renders an `AlertsOverview` (core.alerts.overview): the app
hands it a fresh one each frame, read from the local dispatcher or, attached
to a daemon, from its /api/v1/alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from core.alerts.health import ChannelHealth, NotificationRecord
from core.alerts.overview import AlertsOverview, outcome
from tui.format import ago
from tui.screens import fit_footer

CHANNEL_STATE = {"ok": ("● ok", "green"), "failing": ("✖ failing", "bold red"), "open": ("✖ breaker open", "bold red")}
"""How a channel's state reads (ChannelHealth.state: ok, failing, open)."""
OUTCOME_STYLE = {"delivered": "green", "late": "yellow", "pending": "dim", "failed": "bold red", "abandoned": "red"}
TRANSITION_STYLE = {"firing": "bold red", "flapping": "bold red", "reminder": "red", "resolved": "green"}
SHOWN = 50
"""Notifications listed (the overview holds this many at most)."""


class NotificationsScreen(Screen[None]):
    """Channel health, then the recent notifications; `show` redraws it from an overview."""

    BINDINGS = [Binding("escape,N", "app.pop_screen", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Alerts: channels and recent notifications", style="bold"), id="notifications-title")
        with VerticalScroll(id="notifications"):
            yield Static(id="notifications-body")
        footer = Footer()
        fit_footer(footer, self.app.size.width)
        yield footer

    def show(self, overview: AlertsOverview, now: datetime) -> None:
        """Render `overview`; a refresh before the widgets exist is skipped (the next frame shows it)."""
        body = next(self.query("#notifications-body").results(Static), None)
        if body is None:
            return
        self.sections = overview_sections(overview, now)
        body.update(Group(*self.sections))


def overview_sections(overview: AlertsOverview, now: datetime) -> list[Any]:
    """The screen's body, as Rich renderables (every cell as Text: names and errors may be hostile)."""
    if overview.off is not None:
        return [Text(overview.off, style="yellow")]
    sections: list[Any] = [Text("Channels", style="bold underline")]
    if overview.channels:
        sections.append(channel_table(overview.channels, now))
        sections += channel_errors(overview.channels)
    else:
        sections.append(Text("no channels configured (alerts.channels in the config)", style="dim"))
    sections += [Text(""), Text("Recent notifications", style="bold underline")]
    if overview.recent:
        sections.append(notification_table(overview.recent[:SHOWN], now))
    else:
        sections.append(Text("none sent since start", style="dim"))
    return sections


def channel_table(channels: tuple[ChannelHealth, ...], now: datetime) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
    table.add_column("channel", no_wrap=True, style="bold")
    table.add_column("type", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("pending", justify="right", no_wrap=True)
    table.add_column("last success", no_wrap=True)
    table.add_column("last failure", no_wrap=True)
    for channel in channels:
        label, style = CHANNEL_STATE.get(channel.state, (channel.state, ""))
        table.add_row(
            Text(channel.name),
            Text(channel.type),
            Text(label, style=style),
            Text(str(channel.pending), style="bold yellow" if channel.pending else "dim"),
            Text(_ago(channel.last_success, now)),
            Text(_ago(channel.last_failure, now) if channel.last_failure is not None else "-"),
        )
    return table


def channel_errors(channels: tuple[ChannelHealth, ...]) -> list[Text]:
    """Each failing channel's last error on a line of its own: a table column would leave it a few
    characters at 80 columns, and the error is what a person needs to read."""
    return [
        Text.assemble((f" {channel.name}: ", "bold"), (channel.last_error, "red"), no_wrap=True, overflow="ellipsis")
        for channel in channels
        if channel.last_error
    ]


def notification_table(records: tuple[NotificationRecord, ...], now: datetime) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=True)
    table.add_column("when", no_wrap=True, style="dim")
    table.add_column("service", no_wrap=True, style="bold")
    table.add_column("transition", no_wrap=True)
    table.add_column("channels", ratio=1)
    for record in records:
        notification = record.notification
        transition = notification.transition.value
        channels = Text()
        for view in record.deliveries:
            if channels:
                channels.append("  ")
            said = outcome(view)
            channels.append(view.channel)
            channels.append(f" {said}", style=OUTCOME_STYLE.get(said, ""))
        table.add_row(
            Text(_ago(notification.at, now)),
            Text(notification.service),
            Text(transition, style=TRANSITION_STYLE.get(transition, "")),
            channels if channels else Text("-", style="dim"),
        )
    return table


def failing_hint(overview: AlertsOverview) -> Text | None:
    """The summary line's warning while a channel fails (None when all deliver): names them, points to `N`."""
    failing = overview.failing()
    if not failing:
        return None
    names = ", ".join(channel.name for channel in failing)
    return Text(f" ✉ {names} failing (N) ", style="bold red")


def _ago(unix: float | None, now: datetime) -> str:
    return ago(datetime.fromtimestamp(unix, UTC) if unix is not None else None, now)
