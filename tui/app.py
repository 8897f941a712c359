"""The Lookout terminal app: live panels over the engine's snapshots.

The UI never waits on a probe. It is a view of the engine's event stream: a
timer drains the events as they arrive (the log pane keeps them) and once per
wall-clock second (the "12s ago" clocks tick then anyway) pulls one snapshot,
updates table cells by key and draws the new log lines. However many events
arrive, that is one repaint a second while idle; a key that changes the view
draws at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.containers import Container
from textual.notifications import SeverityLevel
from textual.widgets import Footer, Input, Static

from core.config import Config, ConfigError
from core.details import McpDetails
from core.engine import Engine, ReloadReport
from core.events import LogLevel
from core.reload import ConfigWatcher, reload_from_file
from core.results import Status
from core.snapshot import FleetSnapshot
from tui.actions import bindings, main_view_only, palette_entries
from tui.attached import AttachedSource
from tui.format import STATUS_STYLE
from tui.logpane import LogPane
from tui.notifications import NotificationsScreen, failing_hint
from tui.panels import SORTS, BreakerTable, FleetTable, McpTable, RateLimitTable
from tui.screens import ConfirmScreen, DetailScreen, HelpScreen, SilenceScreen, fit_footer
from tui.source import EngineSource, FleetSource
from tui.textual_compat import SecretSafeApp

if TYPE_CHECKING:
    from core.alerts.notification import NotificationSink
    from core.history import HistoryStore
    from core.pins.store import PinStore

REFRESH_HZ = 4
WIDE = 150
"""Columns from which the panels sit side by side."""
COMPACT_BELOW = 36
"""Rows under which panels drop their boxes for a one-line title rule."""
MAIN_VIEW_ONLY = main_view_only()
"""Actions about the panels: off (and out of the footer) while a detail or help screen is up."""
LEVELS = (LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR)
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""Each stops the engine and every server, then exits 128+signal. SIGHUP means the terminal is gone (an ssh
session closed): there is no one left to show anything to, so it stops too; reloading on SIGHUP is a daemon's
habit (`lookout serve` has it), not a terminal app's: here ctrl+r reloads, and so does a change of the file."""


class Follower(Protocol):
    """Something that keeps the engine's fleet in step with its sources (a ConfigWatcher has this shape)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class LookoutApp(SecretSafeApp[int]):
    CSS_PATH = "lookout.tcss"
    TITLE = "Lookout"
    BINDINGS = bindings()

    def __init__(
        self,
        source: FleetSource,
        *,
        config_path: str | None = None,
        ansi: bool | None = None,
        live: bool = True,
        exit_on_signals: bool = False,
        watch_file: bool = False,
        follow: Callable[[Engine], Follower] | None = None,
    ) -> None:
        super().__init__(ansi_color=bool(ansi))
        self.source = source
        self.config_path = config_path
        self.use_ansi = bool(ansi)
        self.live = live
        self.exit_on_signals = exit_on_signals
        """Stop on SIGTERM/SIGHUP/SIGINT (the `lookout` command); off for apps embedded in tests or other programs."""
        self.watch_file = watch_file
        """Reload the config when its file changes (the `lookout` command, unless --no-watch)."""
        self._watcher: ConfigWatcher | None = None
        self._follow = follow
        """Instead of one file: what follows the fleet's sources (`lookout --discover`: every client's files)."""
        self._follower: Follower | None = None
        self.sort_mode = "name"
        self.filter_text = ""
        self._second = -1
        self._snapshot: FleetSnapshot | None = None
        self._selected: str | None = None
        self._summary: Text | None = None
        """The top line as last drawn: drawn again only when it differs (it does only when counts change)."""
        self._exit_signal: signal.Signals | None = None
        self._log_pane: LogPane | None = None
        self._summary_line: Static | None = None
        self._tables: list[FleetTable] = []
        """The main view's widgets, found once it is mounted."""

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield Input(placeholder="filter by name or tag; enter to keep, esc to clear", id="filter")
        with Container(id="panels"):
            with Container(id="tables"):
                yield McpTable(id="mcp")
                yield RateLimitTable(id="http")
                yield BreakerTable(id="breakers")
            yield LogPane(id="log")
        yield Footer()

    async def on_mount(self) -> None:
        # Kept, not queried each tick: a query walks the whole DOM, and the timer ticks four times a second.
        self._log_pane = self.query_one(LogPane)
        self._summary_line = self.query_one("#summary", Static)
        self._tables = list(self.query(FleetTable))
        if self.exit_on_signals:
            self._install_signal_handlers()
        self.theme = "ansi-dark" if self.use_ansi else "textual-dark"
        self._layout_for(self.size.width, self.size.height)
        await self.source.start()
        engine = self._engine()
        if self.watch_file and engine is not None and engine.config.path is not None:
            self._watcher = ConfigWatcher(engine.config.path, self._reload)
            self._watcher.start()
        if self._follow is not None and engine is not None:
            self._follower = self._follow(engine)
            self._follower.start()
        self.refresh_view(force=True)
        if self.live:
            self.set_interval(1 / REFRESH_HZ, self.refresh_view)
        self.query_one(McpTable).focus()

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        panels = self.query_one("#panels")
        panels.set_class(width >= WIDE, "-wide")
        panels.set_class(height < COMPACT_BELOW, "-compact")
        for screen in self.screen_stack:
            for footer in screen.query(Footer):
                fit_footer(footer, width)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in MAIN_VIEW_ONLY and len(self.screen_stack) > 1)

    # -- rendering ------------------------------------------------------------------------------

    def refresh_view(self, force: bool = False) -> None:
        """One frame per second (and at once after a key changed the view). Between them: drain the queue.

        The events go to the log pane as they come, but everything is drawn in one frame per wall-clock
        second, from a fresh snapshot (which already holds every change the events report; a `Resync`
        after lost events is covered by it too). The "12s ago" clocks change every second anyway, and
        each frame repaints: a frame per event arriving between two seconds cost several times the CPU
        for changes a glance cannot tell apart. A change reaches the screen within a second.
        """
        log, summary = self._log_pane, self._summary_line
        if log is None or summary is None or not log.is_attached or not summary.is_attached:
            return  # a timer's tick while the app closes and its main view is taken down: nothing to draw into
        events = self.source.take_events()
        if events:
            log.add_events(events)
        now = self.source.clock.now()
        second = int(now.timestamp())
        if not force and second == self._second:
            return
        self._second = second
        log.flush()
        snapshot = self.source.snapshot()
        self._snapshot = snapshot
        marks = alert_marks(self.source, snapshot)
        for table in self._tables:
            if table.display:
                table.marks = marks
                table.sync(snapshot, now, text=self.filter_text, sort=self.sort_mode)
        overview = self.source.alerts_overview()
        self._render_summary(snapshot, failing_hint(overview))
        if isinstance(self.screen, DetailScreen):
            name = self.screen.service_name
            self.screen.show(snapshot.get(name), now, self.source.alert_state(name))
        elif isinstance(self.screen, NotificationsScreen):
            self.screen.show(overview, now)

    def _render_summary(self, snapshot: FleetSnapshot, hint: Text | None = None) -> None:
        """The top line; `hint` (a failing alert channel) goes right after the counts, where 80 columns keep it."""
        counts = snapshot.counts()
        text = Text("Lookout ", style="bold")
        for status in (Status.UP, Status.DEGRADED, Status.DOWN, Status.UNKNOWN):
            if counts[status] or status is not Status.UNKNOWN:
                text.append(f" {status.symbol} {counts[status]} {status.value} ", style=STATUS_STYLE[status])
        if hint is not None:
            text.append_text(hint)
        paused = sum(1 for s in snapshot.services if s.paused)
        if paused:
            text.append(f" ‖ {paused} paused ", style="dim")
        text.append(f"  sort: {self.sort_mode}", style="dim")
        if self.filter_text:
            text.append(f"  filter: {self.filter_text}", style="bold")
        if self.config_path:
            text.append(f"  {self.config_path}", style="dim")
        if isinstance(self.source, AttachedSource):
            text.append(f"  attached to serve at {self.source.url}", style="bold")
        if text == self._summary:
            return
        self._summary = text
        # One line high by the stylesheet whatever it says: no layout pass of the whole screen for it.
        summary = self._summary_line or self.query_one("#summary", Static)
        summary.update(text, layout=False)

    # -- selection ------------------------------------------------------------------------------

    def selected_service(self) -> str | None:
        if isinstance(self.screen, DetailScreen):
            return self.screen.service_name
        focused = self.focused
        if isinstance(focused, FleetTable):
            self._selected = focused.selected_service() or self._selected
        return self._selected

    # -- actions --------------------------------------------------------------------------------

    def get_system_commands(self, screen: Any) -> Iterable[SystemCommand]:
        """Every key's action is in the command palette too (ctrl+p), for those who forget keys."""
        yield from super().get_system_commands(screen)
        for title, key, action in palette_entries():
            yield SystemCommand(title, key, partial(self.run_action, action))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.refresh_view(force=True)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not box.value:
            box.remove_class("-visible")
        self.query_one(McpTable).focus()

    def action_clear_filter(self) -> None:
        """esc on the main view. (Not `action_back`: that is Textual's own, which pops a screen.)"""
        box = self.query_one("#filter", Input)
        if box.has_class("-visible") or self.filter_text:
            box.value = ""
            box.remove_class("-visible")
            self.filter_text = ""
            self.refresh_view(force=True)
            self.query_one(McpTable).focus()

    def action_probe_selected(self) -> None:
        name = self.selected_service()
        if name:
            self.source.probe_now(name)
            self.notify(f"probing {name}", timeout=2, markup=False)

    def action_probe_all(self) -> None:
        self.source.probe_now(None)
        self.notify("probing every service", timeout=2, markup=False)

    def action_pause_selected(self) -> None:
        name = self.selected_service()
        if name:
            paused = self.source.toggle_pause(name)
            self.notify(f"{name} {'paused' if paused else 'resumed'}", timeout=2, markup=False)
            self.refresh_view(force=True)

    def action_reset_selected(self) -> None:
        name = self.selected_service()
        if not name:
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.source.reset_breaker(name)
                self.notify(f"breaker and rate-limit gate of {name} reset", timeout=2, markup=False)
                self.refresh_view(force=True)

        self.push_screen(
            ConfirmScreen(f"Reset the breaker and the rate-limit gate of {name}? It will be probed again at once."),
            confirmed,
        )

    def action_approve_tools(self) -> None:
        """Accept what an MCP server lists now as its approved tools, after a confirm naming the changes."""
        name = self.selected_service()
        service = self._snapshot.get(name) if name and self._snapshot is not None else None
        details = service.details if service is not None else None
        if name is None or not isinstance(details, McpDetails) or details.pin != "changed":
            self.notify("no changed tools to approve here", timeout=2, markup=False)
            return
        fingerprint = details.tools_fingerprint or ""
        changes = len(details.tool_changes)

        async def confirmed(answer: bool | None) -> None:
            if answer:
                message = await self.source.approve_tools(name, fingerprint)
                self.notify(message, timeout=4, markup=False)
                self.refresh_view(force=True)

        self.push_screen(
            ConfirmScreen(
                f"Approve the tools {name} lists now ({changes} changes, shown in its details)? "
                "It will be probed again at once.",
                yes="Approve",
            ),
            confirmed,
        )

    def action_silence_selected(self) -> None:
        """Asks how long, then writes the silence into the history file (as `lookout silence` does), off
        the UI thread; the process evaluating the alerts (this one, or the daemon) picks it up within seconds."""
        name = self.selected_service()
        if not name:
            return
        path = self.source.silences_path
        if path is None:
            self.notify("no history file to keep a silence in (--no-history)", severity="warning", markup=False)
            return

        def chosen(seconds: float | None) -> None:
            if seconds:
                self.run_worker(self._silence(path, name, seconds), group="silence")

        self.push_screen(SilenceScreen(name), chosen)

    async def _silence(self, path: Path, name: str, seconds: float) -> None:
        from core.alerts.silences import add_silence
        from core.durations import format_duration

        try:
            silence = await asyncio.to_thread(add_silence, path, name, seconds, "from the monitor")
        except (OSError, sqlite3.Error) as error:
            self.notify(f"could not silence {name}: {error}", severity="error", markup=False)
            return
        self.notify(f"{name} silenced for {format_duration(seconds)} (silence {silence.id})", timeout=3, markup=False)
        self.refresh_view(force=True)

    def action_notifications(self) -> None:
        """Channel health and recent notifications; attached, the daemon's are read afresh at once."""
        if isinstance(self.screen, NotificationsScreen):
            return
        self.source.refresh_alerts()
        screen = NotificationsScreen()
        self.push_screen(screen)
        self.call_after_refresh(screen.show, self.source.alerts_overview(), self.source.clock.now())

    def action_cycle_sort(self) -> None:
        """Reorders the rows already on screen; the cells wait for the next snapshot as usual."""
        self.sort_mode = SORTS[(SORTS.index(self.sort_mode) + 1) % len(SORTS)]
        for table in self.query(FleetTable):
            table.reorder(self.sort_mode)
        if self._snapshot is not None:
            self._render_summary(self._snapshot)

    def action_detail(self) -> None:
        name = self.selected_service()
        if name and not isinstance(self.screen, DetailScreen):
            screen = DetailScreen(name, history=self.source.history)
            self.push_screen(screen)
            if self._snapshot is not None:
                now = self.source.clock.now()
                self.call_after_refresh(screen.show, self._snapshot.get(name), now, self.source.alert_state(name))

    def action_focus_log(self) -> None:
        log = self.query_one(LogPane)
        if not log.display:
            log.display = True
        log.focus()

    def action_toggle_panel(self, panel: str) -> None:
        widget = self.query_one(f"#{panel}")
        widget.display = not widget.display
        tables = self.query_one("#tables")
        tables.display = any(table.display for table in tables.query(FleetTable))  # or it keeps its room
        if widget.display:
            self.refresh_view(force=True)

    def action_log_level(self) -> None:
        log = self.query_one(LogPane)
        log.set_filter(min_level=LEVELS[(LEVELS.index(log.min_level) + 1) % len(LEVELS)])

    def action_log_service(self) -> None:
        log = self.query_one(LogPane)
        log.set_filter(service=None if log.service else self.selected_service())

    @on(FleetTable.RowHighlighted)
    def _row_highlighted(self, event: FleetTable.RowHighlighted) -> None:
        table = event.data_table
        if isinstance(table, FleetTable):
            self._selected = table.selected_service() or self._selected

    @on(FleetTable.RowSelected)
    def _row_selected(self, event: FleetTable.RowSelected) -> None:
        self.action_detail()

    def action_reload_config(self) -> None:
        """Off the message loop: stopping a removed service's server may take a moment, the screen must not."""
        self.run_worker(self._reload(), group="reload", exit_on_error=False)

    async def _reload(self) -> None:
        """Reload the config file into the engine and say what happened (the log shows the details)."""
        engine = self._engine()
        if engine is None:
            self.notify("this view has no config file to reload", severity="warning", timeout=4, markup=False)
            return
        outcome = await reload_from_file(engine)
        message, title, severity = _reload_notice(outcome)
        self.notify(message, title=title, severity=severity, timeout=8 if severity == "error" else 4, markup=False)
        self.refresh_view(force=True)

    def _engine(self) -> Engine | None:
        """The engine behind a live view; None for a view of a fixed snapshot, which has nothing to reload."""
        return self.source.engine if isinstance(self.source, EngineSource) else None

    async def action_quit(self) -> None:
        await self._stop_watching()
        await self.source.stop()
        self.exit(0)

    async def _stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await watcher.stop()
        follower, self._follower = self._follower, None
        if follower is not None:
            await follower.stop()

    async def on_unmount(self) -> None:
        await self._stop_watching()
        await self.source.stop()
        if self.exit_on_signals:
            self._remove_signal_handlers()

    # -- signals --------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for signum in EXIT_SIGNALS:
                loop.add_signal_handler(signum, self._exit_on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # no Unix signals here, or not the main thread
            return
        # The loop runs `_exit_on_signal` a moment later; a hangup must be dealt with at once (see
        # `_on_hangup`). The loop still hears of SIGHUP: its wakeup descriptor does not depend on this handler.
        signal.signal(signal.SIGHUP, _on_hangup)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNALS:
            try:
                loop.remove_signal_handler(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                return

    def _exit_on_signal(self, signum: signal.Signals) -> None:
        if self._exit_signal is not None:
            return  # already stopping; stopping is bounded, and SIGKILL still ends us (PDEATHSIG ends the servers)
        self._exit_signal = signum
        asyncio.get_running_loop().create_task(self._stop_for_signal(signum))

    async def _stop_for_signal(self, signum: signal.Signals) -> None:
        try:
            await self._stop_watching()
            await self.source.stop()
        finally:
            self.exit(128 + signum)


FIRING_MARK = " !"
"""After a service's name in the panels while one of its alert rules fires (or flaps) unheld."""


def alert_marks(source: FleetSource, snapshot: FleetSnapshot) -> dict[str, str]:
    """Which services' names get the firing marker this frame (the detail screen says which rule, since when)."""
    return {
        s.name: FIRING_MARK
        for s in snapshot.services
        if any(view.state in ("firing", "flapping") for view in source.alert_state(s.name))
    }


def _reload_notice(outcome: ReloadReport | ConfigError) -> tuple[str, str, SeverityLevel]:
    """(message, title, severity) of the toast after a reload: counts, or the first problem with its file:line."""
    if isinstance(outcome, ConfigError):
        first = str(outcome.issues[0]) if outcome.issues else str(outcome)
        more = f" (+{len(outcome.issues) - 1} more in the log)" if len(outcome.issues) > 1 else ""
        return f"{first}{more}", "config not reloaded", "error"
    counts = f"{len(outcome.added)} added, {len(outcome.changed)} changed, {len(outcome.removed)} removed"
    return f"{counts}, {len(outcome.unchanged)} unchanged", "config reloaded", "information"


def _on_hangup(signum: int, frame: object) -> None:
    """Runs as soon as SIGHUP arrives, before the SIGCONT a hangup always brings.

    When the terminal is really gone, every write to it fails (EIO). A failed write ends Textual's output
    thread, after which its shutdown waits forever to restore a screen nobody sees; and Textual's SIGCONT
    handler would start redrawing on the dead terminal at once. So: no resuming, and the standard descriptors
    point at /dev/null, where writes succeed into nothing and reads end. A `kill -HUP` on a live terminal
    changes neither: the app then restores the terminal on its way out, as on SIGTERM.
    """
    if not _terminal_gone():
        return
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def _terminal_gone() -> bool:
    """A hung-up terminal answers every ioctl with EIO."""
    import termios

    for fd in (1, 0, 2):
        try:
            termios.tcgetattr(fd)
        except termios.error as error:
            if error.args and error.args[0] == errno.EIO:
                return True
        except OSError:
            continue
        else:
            return False
    return False


def run_app(
    config: Config,
    *,
    config_path: str | None = None,
    ansi: bool | None = None,
    watch: bool = True,
    history: HistoryStore | None = None,
    notices: Iterable[str] = (),
    source: FleetSource | None = None,
    follow: Callable[[Engine], Follower] | None = None,
    pins: PinStore | None = None,
    alert_sink: NotificationSink | None = None,
    alerts_off: str | None = None,
) -> int:
    """Open the monitor on `config`, recording into `history` when given; `watch` reloads it when its file
    changes; `notices` open the log pane (e.g. why history is not recorded). Alerts are evaluated into
    `alert_sink` (the outbox) when this monitor records the history; else the log says why not
    (`alerts_off`). Returns the process exit code."""
    if ansi is None:
        ansi = os.environ.get("COLORTERM", "").lower() not in ("truecolor", "24bit")
    app = LookoutApp(
        source
        or EngineSource(
            config, history=history, notices=notices, pins=pins, alert_sink=alert_sink, alerts_off=alerts_off
        ),
        config_path=config_path,
        ansi=ansi,
        exit_on_signals=True,
        watch_file=watch,
        follow=follow,
    )
    result = app.run()
    return result or 0
