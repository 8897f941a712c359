"""The log pane: engine events and server stderr, newest at the bottom, filterable, bounded in memory.

It renders typed events into lines with core's one formatter (core.loglines),
the same words `lookout --once --verbose` prints. Where the app fell behind
and lost events, a line says how many, so a quiet stretch is never mistaken
for a quiet fleet.

It keeps events, not drawn lines. Textual's RichLog keeps every wrapped line it
was given as a Strip, each with its own caches (about 6 KB a line): a log that
fills to its bound over the first half hour grew the monitor by tens of MB. Here
a line is wrapped when it is on screen (the few on screen are cached), and only
its height is kept to scroll by; a new width or filter re-measures, it draws
nothing. New lines are drawn in batches (`flush`, once per frame of the app),
not one repaint per event.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import Any

from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.bus import ViewItem
from core.events import LogEvent, LogLevel
from core.loglines import log_line

MAX_LINES = 2000
"""Events kept (a long one wraps to several rows on screen)."""
MIN_WIDTH = 20
"""A line is wrapped to at least this many columns, however narrow the pane."""
WRAPPED_CACHE = 96
"""Events whose wrapped rows are kept: two screens of them at most (each row is a Strip of about 2 KB)."""
LEVEL_STYLE = {LogLevel.DEBUG: "dim", LogLevel.INFO: "", LogLevel.WARNING: "yellow", LogLevel.ERROR: "bold red"}
LEVEL_TAG = {LogLevel.DEBUG: "DBG", LogLevel.INFO: "INF", LogLevel.WARNING: "WRN", LogLevel.ERROR: "ERR"}


@dataclass(slots=True)
class _Row:
    """One shown event and how it wraps at the measured width."""

    seq: int
    line: LogEvent
    height: int = 0
    """Rows on screen; 0 until measured."""
    width: int = 0
    """Its widest wrapped row, in cells."""


class LogPane(ScrollView, can_focus=True):
    """Keeps the last MAX_LINES events itself, so a filter change can redraw from them."""

    DEFAULT_CSS = """
    LogPane {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Log"
        self.events: deque[LogEvent] = deque(maxlen=MAX_LINES)
        self.min_level = LogLevel.INFO
        self.service: str | None = None
        self._rows: deque[_Row] = deque(maxlen=MAX_LINES)
        """The events shown (they pass the filter), oldest first."""
        self._unwritten: deque[LogEvent] = deque(maxlen=MAX_LINES)
        """Visible lines added since the last `flush` (no more than the pane keeps)."""
        self._seq = 0
        self._measured_at = 0
        """The content width the rows' heights are for (0: none yet)."""
        self._starts: list[int] | None = None
        """First screen row of each row in `_rows`; None when it must be summed again."""
        self._wrapped: LRUCache[tuple[int, int], list[Strip]] = LRUCache(WRAPPED_CACHE)

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

        Every new line scrolls and repaints the whole pane, and a pane repainted apart from the tables is a
        frame of its own; the app flushes once a second, with the tables (a line waits at most that long).
        """
        if not self._unwritten:
            return
        lines, self._unwritten = self._unwritten, deque(maxlen=MAX_LINES)
        self._append(lines)

    def set_filter(self, *, min_level: LogLevel | None = None, service: str | bool | None = False) -> None:
        if min_level is not None:
            self.min_level = min_level
        if service is not False:
            self.service = service if isinstance(service, str) else None
        self._redraw()
        self._update_subtitle()

    def shown_lines(self) -> list[str]:
        """The text of every row the pane shows, oldest first, wrapped to its width (for tests and tools)."""
        self._measure()
        return [strip.text for row in self._rows for strip in self._wrap(row)]

    def _redraw(self) -> None:
        self._unwritten.clear()  # drawn below, with all the others
        self._rows.clear()
        self._append([line for line in self.events if self._visible(line)])

    def _append(self, lines: Any) -> None:
        for line in lines:
            self._seq += 1
            self._rows.append(_Row(self._seq, line))
        self._starts = None
        self._measure()
        self.refresh()
        self.scroll_end(animate=False, immediate=False, x_axis=False)

    def on_resize(self, event: Resize) -> None:
        """A line wraps to the pane's width: a new width re-measures them all (nothing is drawn but the screen)."""
        self._measure()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._wrapped.clear()

    # -- layout of rows ---------------------------------------------------------------------------

    def _measure(self) -> None:
        """Heights of the rows not yet measured at this width (all of them after a resize), and the virtual size."""
        width = self.scrollable_content_region.width
        if not width:
            return
        if width != self._measured_at:
            self._measured_at = width
            for row in self._rows:
                row.height = 0
            self._wrapped.clear()
        changed = False
        for row in reversed(self._rows):
            if row.height:
                break  # rows are appended: the measured ones are the older ones
            strips = self._wrap(row)
            row.height = len(strips)
            row.width = max(strip.cell_length for strip in strips)
            changed = True
        if changed or self._starts is None:
            starts, total = [], 0
            for row in self._rows:
                starts.append(total)
                total += row.height
            self._starts = starts
            widest = max((row.width for row in self._rows), default=0)
            self.virtual_size = Size(widest, total)

    def _wrap(self, row: _Row) -> list[Strip]:
        """The row's screen lines at the measured width, as Textual's RichLog wraps a Text (same width rules)."""
        key = (row.seq, self._measured_at)
        cached = self._wrapped.get(key)
        if cached is not None:
            return cached
        console = self.app.console
        text = _render(row.line)
        text.expand_tabs()
        options = console.options
        widest = Measurement.get(console, options, text).maximum
        width = max(min(widest, self._measured_at), MIN_WIDTH)
        lines = list(Segment.split_lines(console.render(text, options.update_width(width))))
        strips = [Strip.blank(width)] if not lines else Strip.from_lines(lines)
        for strip in strips:
            strip.adjust_cell_length(width)
        self._wrapped[key] = strips
        return strips

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        starts = self._starts
        if starts is None or not self._rows or index >= self.virtual_size.height:
            return Strip.blank(width, self.rich_style).apply_style(self.rich_style)
        at = bisect_right(starts, index) - 1
        row = self._rows[at]
        strips = self._wrap(row)
        offset = index - starts[at]
        if offset >= len(strips):  # measured at another width a moment ago; the next frame has it right
            return Strip.blank(width, self.rich_style).apply_style(self.rich_style)
        line = strips[offset].crop_extend(scroll_x, scroll_x + width, self.rich_style)
        return line.apply_style(self.rich_style)

    # -- titles and filter ------------------------------------------------------------------------

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
