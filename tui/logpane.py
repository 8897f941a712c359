"""The log pane: engine events and server stderr, newest at the bottom, filterable, bounded in memory.

Lines are drawn in batches (`flush`, once per frame of the app), not one repaint per event.

It renders typed events into lines with core's one formatter (core.loglines),
the same words `lookout --once --verbose` prints. Where the app fell behind
and lost events, a line says how many, so a quiet stretch is never mistaken
for a quiet fleet.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from core.bus import ViewItem
from core.events import LogEvent, LogLevel
from core.loglines import log_line

MAX_LINES = 2000
LEVEL_STYLE = {LogLevel.DEBUG: "dim", LogLevel.INFO: "", LogLevel.WARNING: "yellow", LogLevel.ERROR: "bold red"}
LEVEL_TAG = {LogLevel.DEBUG: "DBG", LogLevel.INFO: "INF", LogLevel.WARNING: "WRN", LogLevel.ERROR: "ERR"}


class LogPane(RichLog):
    """Keeps the last MAX_LINES events itself, so a filter change can redraw from them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, min_width=20, wrap=True, markup=False, highlight=False, **kwargs)
        self.border_title = "Log"
        self.events: deque[LogEvent] = deque(maxlen=MAX_LINES)
        self._unwritten: deque[LogEvent] = deque(maxlen=MAX_LINES)
        """Visible lines added since the last `flush` (no more than the pane keeps)."""
        self.min_level = LogLevel.INFO
        self.service: str | None = None
        self._flowed_width = 0
        self._width_seen = False
        """Set at the first resize with a width; RichLog renders its deferred writes at that same moment."""

    def add_events(self, events: list[ViewItem]) -> None:
        """Keep the events' lines; the visible ones are drawn at the next `flush` (the app's next frame)."""
        for event in events:
            line = log_line(event)
            if line is None:
                continue
            self.events.append(line)
            if self._visible(line):
                self._unwritten.append(line)

    def flush(self) -> None:
        """Draw the lines kept since the last flush: one scroll and one repaint for all of them.

        Every write scrolls and repaints the whole pane, and a pane repainted apart from the tables is a
        frame of its own; the app flushes once a second, with the tables (a line waits at most that long).
        """
        lines, self._unwritten = self._unwritten, deque(maxlen=MAX_LINES)
        for line in lines:
            self.write(_render(line))

    def set_filter(self, *, min_level: LogLevel | None = None, service: str | bool | None = False) -> None:
        if min_level is not None:
            self.min_level = min_level
        if service is not False:
            self.service = service if isinstance(service, str) else None
        self._redraw()
        self._update_subtitle()

    def _redraw(self) -> None:
        self._unwritten.clear()  # drawn below, with all the others
        self.clear()
        for line in self.events:
            if self._visible(line):
                self.write(_render(line))

    def on_resize(self, event: Resize) -> None:
        """RichLog wraps a line once, when written: re-flow them all to the new width.

        Until the first width is known RichLog defers writes itself (and renders them, after this
        handler, at that width), so there is nothing to re-flow yet. Our own flag, not RichLog's private one.
        """
        if self._width_seen and event.size.width != self._flowed_width:
            self._redraw()
        self._width_seen = self._width_seen or bool(event.size.width)
        self._flowed_width = event.size.width

    def _update_subtitle(self) -> None:
        parts = [f"≥ {self.min_level.label}"]
        if self.service:
            parts.append(f"service {self.service}")
        self.border_subtitle = Text(" · ".join(parts) + "  (v level, f service)")  # Text: a name is not markup

    def on_mount(self) -> None:
        self._update_subtitle()

    def _visible(self, line: LogEvent) -> bool:
        return line.level >= self.min_level and (self.service is None or line.service == self.service)


def _render(line: LogEvent) -> Text:
    text = Text(f"{line.at:%H:%M:%S} ", style="dim")
    text.append(LEVEL_TAG[line.level], style=LEVEL_STYLE[line.level] or "bold")
    if line.service:
        text.append(f" {line.service}", style="bold")
    if line.source == "stderr":
        text.append(" stderr", style="cyan")
    text.append(f" {line.message}", style=LEVEL_STYLE[line.level])
    return text
