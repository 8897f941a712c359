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

Measuring is arithmetic, not drawing: a row's height and width come from Rich's
own wrap rules applied to its plain text (`row_layout`), the same numbers a
render gives (a test holds the two together), at a small part of a render's
cost. New lines change the pane's scrollable size, which for Textual means a
layout of the whole screen and, after it, a repaint of every widget. The pane's
own size never depends on its content (its height is a share of the screen), so
it sets the new size without a layout and scrolls to the end in the same frame.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from math import ceil
from typing import Any, NamedTuple

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.console import Console
from rich.control import strip_control_codes
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import Widget

from core.bus import ViewItem
from core.events import LogEvent, LogLevel
from core.loglines import log_line
from tui.framed import FramedScrollView

MAX_LINES = 2000
"""Events kept (a long one wraps to several rows on screen)."""
MIN_WIDTH = 20
"""A line is wrapped to at least this many columns, however narrow the pane."""
WRAPPED_CACHE = 96
"""Events whose wrapped rows are kept: two screens of them at most (each row is a Strip of about 2 KB)."""
_TRAILING_SPACE = re.compile(r"\s+$")
"""What `Text.rstrip_end` trims (rich.text's own pattern)."""
BASE_STYLE = "dim"
"""A line's own style, under its parts' (Rich's base style of the line's Text)."""
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


class _Frame(NamedTuple):
    style: Style
    width: int
    scroll_x: int
    scroll_y: int
    widest: int
    """The console's width."""


class LogPane(FramedScrollView[_Frame], can_focus=True):
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
        self._wrapped: LRUCache[tuple[int, int], tuple[Style, int, int, list[Strip]]] = LRUCache(WRAPPED_CACHE)
        """Rows on screen as drawn (pane style, width, scroll_x, strips), by (row, measured width)."""

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
        console, width = self.app.console, self._measured_at
        return [strip.text for row in self._rows for strip in render_row(console, _render(row.line), width)]

    def _redraw(self) -> None:
        self._unwritten.clear()  # drawn below, with all the others
        self._rows.clear()
        self._append([line for line in self.events if self._visible(line)])

    def _append(self, lines: Any) -> None:
        for line in lines:
            self._seq += 1
            self._rows.append(_Row(self._seq, line))
        self._starts = None
        if self._measure(layout=False):
            # Measured, sized without a layout: at the end now, in this frame (the scroll repaints the pane).
            self.scroll_to(y=self.max_scroll_y, animate=False)
            self.refresh()
            return
        self.refresh()
        self.scroll_end(animate=False, immediate=False, x_axis=False)  # after the layout it asked for

    def on_resize(self, event: Resize) -> None:
        """A line wraps to the pane's width: a new width re-measures them all (nothing is drawn but the screen)."""
        self._measure()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._wrapped.clear()

    # -- layout of rows ---------------------------------------------------------------------------

    def _measure(self, *, layout: bool = True) -> bool:
        """Heights of the rows not yet measured at this width (all of them after a resize), and the virtual size.

        With `layout` False the new virtual size is set without asking Textual for a layout, where that is
        safe (see `_resize_content`). Returns whether the rows are measured and the size set without one
        (False: no width yet, or a layout is on its way).
        """
        width = self.scrollable_content_region.width
        if not width:
            return False
        if width != self._measured_at:
            self._measured_at = width
            for row in self._rows:
                row.height = 0
            self._wrapped.clear()
        changed = False
        widest = self.app.console.width
        for row in reversed(self._rows):
            if row.height:
                break  # rows are appended: the measured ones are the older ones
            row.height, row.width = row_layout(line_text(row.line), width, widest)
            changed = True
        if changed or self._starts is None:
            starts, total = [], 0
            for row in self._rows:
                starts.append(total)
                total += row.height
            self._starts = starts
            size = Size(max((row.width for row in self._rows), default=0), total)
            if size != self.virtual_size and (layout or not self._resize_content(size)):
                self.virtual_size = size  # a reactive with layout=True: the screen is laid out again
                return False
        return True

    def _resize_content(self, size: Size) -> bool:
        """Set the scrollable size without a layout of the screen; False where one is needed after all.

        Textual lays the whole screen out again (and repaints every widget) when a widget's virtual size
        changes, since a widget sized by its content would move its neighbours. This pane is sized by the
        stylesheet (a share of the screen, never `auto`), so only its scrollbars follow its content; they
        are told here, as the layout would tell them. A change that shows or hides a scrollbar (a pane
        narrower than MIN_WIDTH, or a stylesheet without the always-shown vertical one) changes the
        pane's content region: that one takes the layout.
        """
        if self.styles.height is None or self.styles.height.is_auto or self.styles.overflow_y != "scroll":
            return False
        region = self.scrollable_content_region.width
        if (size.width > region) != (self.virtual_size.width > region) or not self.show_vertical_scrollbar:
            return False
        self.set_reactive(Widget.virtual_size, size)
        if self.show_horizontal_scrollbar:
            self.horizontal_scrollbar.window_virtual_size = size.width
        # New lines scroll the pane to its end (`_append`, the one caller): the bar is told both at once, so
        # it is not redrawn for a moment between (new height, old position) that no frame would show.
        self._move_scrollbar(virtual=size.height, position=self.max_scroll_y)
        return True

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """As ScrollView's, but the scrollbar is repainted only when it would look different."""
        if self.show_vertical_scrollbar:
            self._move_scrollbar(position=new_value)
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)

    def _move_scrollbar(self, *, virtual: int | None = None, position: float | None = None) -> None:
        """Tell the vertical scrollbar the content's height or the scroll position; repaint it only if its
        thumb moves or changes size.

        A scrollbar repaint is dear (its segments carry mouse actions as style metadata, which every style
        cache downstream misses): at the end of a long log it was a third of a frame, and it mostly
        draws the same bar again, a thumb of a cell or two at the bottom, one line later.
        """
        bar = self.vertical_scrollbar
        new_virtual = bar.window_virtual_size if virtual is None else virtual
        new_position = bar.position if position is None else bar.validate_position(position)
        if (new_virtual, new_position) == (bar.window_virtual_size, bar.position):
            return
        if bar.size.height and _bar(bar, new_virtual, new_position) == _bar(bar, bar.window_virtual_size, bar.position):
            bar.set_reactive(ScrollBar.window_virtual_size, new_virtual)
            bar.set_reactive(ScrollBar.position, new_position)
            return
        bar.window_virtual_size = new_virtual
        bar.position = new_position

    def _drawn(self, row: _Row, width: int, scroll_x: int, style: Style, widest: int) -> list[Strip]:
        """The row's screen lines as shown, kept while it is on screen (a scroll moves it, not redraws it)."""
        key = (row.seq, self._measured_at)
        cached = self._wrapped.get(key)
        if cached is not None and cached[:3] == (style, width, scroll_x):
            return cached[3]
        strips = screen_rows(self.app.console, row.line, self._measured_at, width, scroll_x, style, widest)
        self._wrapped[key] = (style, width, scroll_x, strips)
        return strips

    def _make_frame(self) -> _Frame:
        """What every line of a render shares, looked up once: the pane's style (a walk through every
        ancestor's styles), its width, the scroll offset, the console's width (a system call or three)."""
        scroll_x, scroll_y = self.scroll_offset
        return _Frame(self.rich_style, self.scrollable_content_region.width, scroll_x, scroll_y, self.app.console.width)

    def render_line(self, y: int) -> Strip:
        style, width, scroll_x, scroll_y, widest = self.frame()
        index = scroll_y + y
        starts = self._starts
        if starts is None or not self._rows or index >= self.virtual_size.height:
            return Strip.blank(width, style).apply_style(style)
        at = bisect_right(starts, index) - 1
        row = self._rows[at]
        strips = self._drawn(row, width, scroll_x, style, widest)
        offset = index - starts[at]
        if offset >= len(strips):  # measured at another width a moment ago; the next frame has it right
            return Strip.blank(width, style).apply_style(style)
        return strips[offset]

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


def row_layout(plain: str, width: int, widest: int) -> tuple[int, int]:
    """(height, width) of a line drawn by `render_row` at `width` columns: its screen rows, and the cells of
    the widest of them; `plain` is its text as drawn (`line_text`). Drawing a row costs a Rich render; this
    is the arithmetic of one, at a small part of its cost.

    Rich's rules, step by step (rich.text.Text.wrap; a test holds the two together): the row wraps at its
    widest line's cells, at most the console's width `widest` and `width`, at least MIN_WIDTH; each
    "\\n"-separated line breaks at the offsets `divide_line` gives (a word longer than the row folds). A
    piece keeps its trailing spaces unless it has more characters than the row (`Text.rstrip_end`), and
    a piece wider than the row is cut to it (`Text.truncate`).
    """
    longest = max((cell_len(line) for line in plain.splitlines()), default=0)
    wrap_at = max(min(longest, widest, width), MIN_WIDTH)
    if "\n" not in plain and len(plain) <= wrap_at and (cells := cell_len(plain)) <= wrap_at:
        return 1, cells  # one piece that fits: nothing breaks it, nothing trims it (most lines)
    height = drawn_width = 0
    for line in plain.split("\n"):
        offsets = divide_line(line, wrap_at, fold=True)
        height += len(offsets) + 1
        for start, end in pairwise([0, *offsets, len(line)]):
            piece = line[start:end]
            if len(piece) > wrap_at and (space := _TRAILING_SPACE.search(piece)) is not None:
                piece = piece[: len(piece) - min(len(space.group(0)), len(piece) - wrap_at)]
            drawn_width = max(drawn_width, min(cell_len(piece), wrap_at))
    return height, drawn_width


def line_text(line: LogEvent) -> str:
    """The text of the event's line as Rich draws it: control codes stripped, tabs expanded."""
    plain = "".join(strip_control_codes(text) for text, _ in _parts(line))
    if "\t" not in plain:
        return plain
    text = _render(line)
    text.expand_tabs()
    return text.plain


def _bar(bar: ScrollBar, virtual: int, position: float) -> list[Segment]:
    """The vertical scrollbar as `bar` draws it (ScrollBar._render_bar's arguments) at this content height
    and position; its colours are left out, the same for both sides of a comparison."""
    window = bar.window_size if bar.window_size < virtual else 0
    drawn = bar.renderer.render_bar(
        size=bar.size.height,
        virtual_size=ceil(virtual),
        window_size=ceil(window),
        position=position,
        thickness=bar.thickness,
        vertical=True,
    )
    return list(drawn.segments)


def render_row(console: Console, text: Text, width: int) -> list[Strip]:
    """`text` drawn by Rich, as Textual's RichLog draws a line: wrapped at its widest line's cells, within
    [MIN_WIDTH, width]."""
    text.expand_tabs()
    options = console.options
    widest = Measurement.get(console, options, text).maximum
    wrap_at = max(min(widest, width), MIN_WIDTH)
    lines = list(Segment.split_lines(console.render(text, options.update_width(wrap_at))))
    return [Strip.blank(wrap_at)] if not lines else Strip.from_lines(lines)


def screen_rows(
    console: Console, line: LogEvent, wrap_width: int, width: int, scroll_x: int, style: Style, widest: int
) -> list[Strip]:
    """The event's rows as the pane shows them: wrapped at `wrap_width`, the columns [scroll_x, scroll_x +
    width) of them, in the pane's `style` (what Textual's RichLog shows for a line). `widest` is the
    console's width (asking the console costs a system call or three)."""
    if scroll_x == 0:
        rows = plain_rows(console, line, wrap_width, width, style, widest)
        if rows is not None:
            return rows
    return [
        strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
        for strip in render_row(console, _render(line), wrap_width)
    ]


def plain_rows(
    console: Console, line: LogEvent, wrap_width: int, width: int, style: Style, widest: int
) -> list[Strip] | None:
    """`screen_rows` of a plain line, segment for segment, made directly from its parts; None for any other.

    A new row is drawn once, when it comes on screen, and at 50 lines a second every row on screen is new
    each second: Rich's render, then cropping and styling each row (each step a new Strip), cost several
    times this. Plain: no tab, no newline, no piece Rich would trim or cut (more characters or cells than
    the row), none wider than the pane. A test holds the two ways together.
    """
    parts = _parts(line)
    texts = [strip_control_codes(text) for text, _ in parts]
    plain = "".join(texts)
    if "\t" in plain or "\n" in plain:
        return None
    longest = max((cell_len(text) for text in plain.splitlines()), default=0)
    wrap_at = max(min(longest, widest, wrap_width), MIN_WIDTH)
    styles = _part_styles(console, style)
    pad = style + style if style else style
    rows = []
    fits = len(plain) <= wrap_at and cell_len(plain) <= wrap_at  # one piece: divide_line would not break it
    for start, end in pairwise([0, *([] if fits else divide_line(plain, wrap_at, fold=True)), len(plain)]):
        cells = cell_len(plain[start:end])
        if end - start > wrap_at or cells > wrap_at or cells > width:
            return None
        segments = []
        position = 0
        for text, (_, name) in zip(texts, parts, strict=True):
            low, high = max(start, position), min(end, position + len(text))
            if low < high:
                segments.append(Segment(plain[low:high], styles[name]))
            position += len(text)
        if cells < width:
            segments.append(Segment(" " * (width - cells), pad))
        rows.append(Strip(segments, max(cells, width)))
    return rows


@lru_cache(maxsize=8)
def _part_styles(console: Console, style: Style) -> dict[str, Style]:
    """The drawn style of each part of a line (by its style name) in a pane of `style`: as Rich renders the
    line's Text (its base style "dim", then the part's own) and the pane applies its style on top."""
    base = console.get_style(BASE_STYLE, default=Style.null())
    drawn = {}
    for name in {*LEVEL_STYLE.values(), "bold", "cyan"}:
        combined = Style.combine([base, console.get_style(name, default=Style.null())]) if name else base
        drawn[name] = style + combined if style else combined
    return drawn


def _parts(line: LogEvent) -> list[tuple[str, str]]:
    """The pieces of an event's line and their style names: the time (in the line's base style only), the
    level's tag, the service, "stderr" for a server's own output, the message."""
    parts = [(f"{line.at:%H:%M:%S} ", ""), (LEVEL_TAG[line.level], LEVEL_STYLE[line.level] or "bold")]
    if line.service:
        parts.append((f" {line.service}", "bold"))
    if line.source == "stderr":
        parts.append((" stderr", "cyan"))
    parts.append((f" {line.message}", LEVEL_STYLE[line.level]))
    return parts


def _render(line: LogEvent) -> Text:
    (first, _), *rest = _parts(line)
    text = Text(first, style=BASE_STYLE)
    for part, style in rest:
        text.append(part, style=style)
    return text
