"""A row-cursor table drawn with Textual's line API: each row is one cached strip.

Why not Textual's DataTable: any `update_cell` or `sort` there bumps one counter that every render
cache is keyed on, so a fleet whose "checked 12s ago" column ticks every second re-renders every
visible cell through Rich each second, and a re-sort of 2,000 rows rebuilds the whole table's
bookkeeping. Here a row's strip is rebuilt only when its own cells, its cursor or hover state, or the
widget's styles change; a re-sort is a new list of keys; and cells that read the clock (`Timed`) are
resolved only for the rows on screen.

It looks exactly like a DataTable with `cursor_type="row"` (same component classes, CSS, padding,
styles and segment boundaries: the TUI snapshots hold it to that) and keeps the small part of
DataTable's API the app and its tests use: `row_count`, `get_row`, `get_row_at`, `get_row_index`,
`get_cell`, `move_cursor`, `cursor_coordinate`, and the RowHighlighted / RowSelected messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.strip import Strip

from tui.cellcache import CellCache
from tui.framed import FramedScrollView

CELL_CACHE = 20_000
"""Rendered cells kept (by content and width) per generation: badges, "12s ago" and the like repeat."""
CELL_GENERATION = 600.0
"""Seconds a generation of the cell caches lasts: a cell unused for one to two of them is forgotten."""
CELL_PADDING = 1
HEADER_HEIGHT = 1


@dataclass(frozen=True, slots=True)
class Timed:
    """A cell that reads the clock ("12s ago", "in 3m"): resolved when its row is drawn, so a ticking
    clock costs the rows on screen, not the whole fleet, and a row whose data did not change keeps
    its cells (and compares equal) from one second to the next."""

    render: Callable[[datetime | None, datetime], str]
    when: datetime | None

    def at(self, now: datetime) -> str:
        return self.render(self.when, now)


class Frame(NamedTuple):
    styles: tuple[Style, Style, Style, Style, Style]
    """The widget's style, then its cursor, hover, header and header-hover component styles."""
    width: int
    scroll_x: int
    scroll_y: int


Cells = tuple[Any, ...]
"""One row's cells, one per column: a str (shown as written, never read as markup), a Text, or a Timed."""


class _RowMessage(Message):
    """A message about one row of a LineTable (named as DataTable's, which handlers already read)."""

    def __init__(self, data_table: LineTable, cursor_row: int, row_key: str) -> None:
        self.data_table = data_table
        self.cursor_row = cursor_row
        self.row_key = row_key
        super().__init__()

    @property
    def control(self) -> LineTable:
        return self.data_table


class LineTable(FramedScrollView[Frame], can_focus=True):
    """Rows by key in a given order, one cursor row; see the module docstring for why."""

    ALLOW_SELECT = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datatable--cursor",
        "datatable--hover",
        "datatable--header",
        "datatable--header-cursor",
        "datatable--header-hover",
    }
    # DataTable's own default CSS (Textual 8), for the parts a row-cursor table without fixed rows,
    # fixed columns or zebra stripes uses.
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;

        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }

            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }

        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }

        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }

        & > .datatable--header-cursor {
            background: $accent-darken-1;
            color: $foreground;
        }

        & > .datatable--header-hover {
            background: $accent 30%;
        }

        & > .datatable--hover {
            background: $block-hover-background;
        }
    }
    """

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row (or the first row appeared under it)."""

    class RowSelected(_RowMessage):
        """enter, or a click on the cursor row."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._columns: list[tuple[str, Text, int]] = []
        """(key, label, width without padding), in display order."""
        self._column_at: dict[str, int] = {}
        self._rows: dict[str, Cells] = {}
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._hover = -2
        """Row index under the mouse (-1: the header), or -2: none."""
        self._show_hover = False
        self.now: datetime | None = None
        """What `Timed` cells are resolved against: the time of the data last set."""
        self._strips: dict[str, tuple[tuple[Any, ...], Strip]] = {}
        self._header: tuple[tuple[Any, ...], Strip] | None = None
        self._drawn: dict[int, tuple[Any, ...]] = {}
        """Row index -> what its line was last drawn from: a data change repaints only the lines that differ."""
        self._rendered: CellCache[list[tuple[str, Style | None]]] = CellCache(CELL_CACHE, CELL_GENERATION)
        self._styles: tuple[Style, Style, Style, Style, Style] | None = None
        self._styled: CellCache[list[Segment]] = CellCache(CELL_CACHE, CELL_GENERATION)
        """Cells with their row's styles applied, by content, column and cursor/hover/header state."""

    # -- data -----------------------------------------------------------------------------------

    def set_columns(self, columns: Sequence[tuple[str, str, int]]) -> None:
        """(key, label, width) each; rows must be set again after this."""
        self._columns = [(key, Text.from_markup(label), width) for key, label, width in columns]
        self._column_at = {key: i for i, (key, _, _) in enumerate(self._columns)}
        self._strips.clear()
        self._header = None
        self._update_virtual_size()
        self.refresh()

    def set_rows(self, rows: Sequence[tuple[str, Cells]], now: datetime | None = None) -> None:
        """The table's rows in display order. Rows whose cells are the same object as before keep their strips."""
        if now is not None:
            self.now = now
        old_count = len(self._keys)
        new_rows = dict(rows)
        strips = self._strips
        for key, cells in rows:
            old = self._rows.get(key)
            if old is not cells and old != cells:
                strips.pop(key, None)
        for key in self._rows.keys() - new_rows.keys():
            strips.pop(key, None)
        self._rows = new_rows
        self.set_order([key for key, _ in rows])
        if old_count == 0 and self._keys:
            self._post_highlighted()

    def set_now(self, now: datetime) -> None:
        """The clock moved: repaint the visible lines whose `Timed` cells now read differently."""
        self.now = now
        self._refresh_changed()

    def set_order(self, keys: list[str]) -> None:
        """A new order of the rows already set (a re-sort): no cell is rendered again."""
        if keys != self._keys:
            self._keys = keys
            self._index = {key: i for i, key in enumerate(keys)}
            self._update_virtual_size()
        if self._cursor >= len(keys):
            self._cursor = max(0, len(keys) - 1)
        self._refresh_changed()

    def _state(self, index: int) -> tuple[Any, ...]:
        """What row `index`'s line is drawn from, besides the widget's styles, width and scroll."""
        key = self._keys[index]
        cells = self._rows[key]
        now = self.now
        shown = [cell.at(now) if isinstance(cell, Timed) and now is not None else cell for cell in cells]
        return (key, cells, shown, index == self._cursor, self._show_hover and index == self._hover)

    def _refresh_changed(self) -> None:
        """Repaint the visible lines whose row, cells, clock text, cursor or hover differ from when drawn."""
        height = self.scrollable_content_region.height
        if height <= 0:
            self.refresh()
            return
        top = int(self.scroll_y)
        width = self.size.width
        dirty = []
        for index in range(top, top + max(0, height - HEADER_HEIGHT)):
            state = self._state(index) if index < len(self._keys) else None
            if self._drawn.get(index) != state:
                dirty.append(Region(0, index - top + HEADER_HEIGHT, width, 1))
                if state is None:
                    self._drawn.pop(index, None)
        if dirty:
            self.refresh(*dirty)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    def row_keys(self) -> list[str]:
        return list(self._keys)

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def get_row(self, key: str) -> list[Any]:
        """The cells as shown (clock cells resolved)."""
        return [self._resolve(cell) for cell in self._rows[key]]

    def get_row_at(self, index: int) -> list[Any]:
        return self.get_row(self._keys[index])

    def get_cell(self, key: str, column: str) -> Any:
        return self._resolve(self._rows[key][self._column_at[column]])

    def _resolve(self, cell: Any) -> Any:
        if isinstance(cell, Timed):
            return cell.at(self.now) if self.now is not None else ""
        return cell

    # -- cursor ---------------------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_coordinate(self) -> Coordinate:
        return Coordinate(self._cursor, 0)

    def cursor_key(self) -> str | None:
        return self._keys[self._cursor] if self._cursor < len(self._keys) else None

    def move_cursor(self, *, row: int | None = None, animate: bool = False, scroll: bool = True) -> None:
        if row is None:
            return
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            self._cursor = row
            self._refresh_changed()
            self._post_highlighted()
        if scroll:
            self._scroll_cursor_into_view(animate=animate)

    def _post_highlighted(self) -> None:
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowHighlighted(self, self._cursor, key))

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        if not self._keys:
            return
        width = max(self.size.width, self._table_width())
        region = Region(int(self.scroll_x), self._cursor + HEADER_HEIGHT, width, 1)
        self.scroll_to_region(region, animate=animate, spacing=Spacing(HEADER_HEIGHT, 0, 0, 0), force=True)

    def action_cursor_up(self) -> None:
        self._set_hover_cursor(False)
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_hover_cursor(False)
        self.move_cursor(row=self._cursor + 1)

    def action_page_down(self) -> None:
        self._set_hover_cursor(False)
        height = self.scrollable_content_region.height - HEADER_HEIGHT
        rows = min(height + 1, len(self._keys) - self._cursor)
        self.scroll_relative(y=height, animate=False, force=True)
        self.move_cursor(row=self._cursor + rows - 1, scroll=False)

    def action_page_up(self) -> None:
        self._set_hover_cursor(False)
        height = self.scrollable_content_region.height - HEADER_HEIGHT
        rows = min(height + 1, self._cursor + 1)
        self.scroll_relative(y=-height, animate=False)
        self.move_cursor(row=self._cursor - rows + 1, scroll=False)

    def action_scroll_top(self) -> None:
        self._set_hover_cursor(False)
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self._set_hover_cursor(False)
        self.move_cursor(row=len(self._keys) - 1)

    def action_scroll_home(self) -> None:
        self._set_hover_cursor(False)
        self.scroll_x = 0

    def action_scroll_end(self) -> None:
        self._set_hover_cursor(False)
        self.scroll_x = self.max_scroll_x

    def action_select_cursor(self) -> None:
        self._set_hover_cursor(False)
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowSelected(self, self._cursor, key))

    # -- mouse ----------------------------------------------------------------------------------

    def _row_under(self, event: events.MouseEvent) -> int | None:
        """Row index under the mouse (-1: the header), None when outside the rows."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        if offset.y < HEADER_HEIGHT:
            return -1
        index = offset.y - HEADER_HEIGHT + int(self.scroll_y)
        return index if index < len(self._keys) else None

    def _set_hover_cursor(self, active: bool) -> None:
        if active != self._show_hover:
            self._show_hover = active
            self._refresh_changed()
            if self._hover == -1:
                self.refresh(Region(0, 0, self.size.width, HEADER_HEIGHT))

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_under(event)
        hover = -2 if row is None else row
        if hover != self._hover or (row is not None) != self._show_hover:
            if -1 in (hover, self._hover):
                self.refresh(Region(0, 0, self.size.width, HEADER_HEIGHT))
            self._hover = hover
            self._show_hover = row is not None
            self._refresh_changed()

    def _on_leave(self, _: events.Leave) -> None:
        self._set_hover_cursor(False)

    async def _on_click(self, event: events.Click) -> None:
        self._set_hover_cursor(True)
        row = self._row_under(event)
        if row is None or row < 0:
            return
        again = row == self._cursor
        self.move_cursor(row=row, animate=True)
        if again:
            self.action_select_cursor()
        event.stop()

    # -- drawing --------------------------------------------------------------------------------

    def _table_width(self) -> int:
        return sum(width + 2 * CELL_PADDING for _, _, width in self._columns)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._table_width(), len(self._keys) + HEADER_HEIGHT)

    def notify_style_update(self) -> None:
        """Textual calls this when the widget's styles may have changed (focus, theme, classes)."""
        super().notify_style_update()
        self._styles = None
        self._strips.clear()
        self._styled.clear()
        self._header = None
        self.refresh()

    def _make_frame(self) -> Frame:
        """What every line of one render shares: styles (read once per style change, as Textual's own
        component-style cache does) and geometry (once per render, not per line)."""
        styles = self._styles
        if styles is None:
            styles = self._styles = (
                self.rich_style,
                self.get_component_rich_style("datatable--cursor"),
                self.get_component_rich_style("datatable--hover"),
                self.get_component_styles("datatable--header").rich_style,
                self.get_component_rich_style("datatable--header-hover"),
            )
        scroll_x, scroll_y = self.scroll_offset
        return Frame(styles, self.size.width, scroll_x, scroll_y)

    def render_line(self, y: int) -> Strip:
        frame = self.frame()
        styles, width, scroll_x, scroll_y = frame
        if y < HEADER_HEIGHT:
            signature: tuple[Any, ...] = (styles, width, scroll_x, self._show_hover and self._hover == -1)
            if self._header is None or self._header[0] != signature:
                labels = [label for _, label, _ in self._columns]
                self._header = (signature, self._strip(labels, -1, frame, hover=bool(signature[3])))
            return self._header[1]
        index = y - HEADER_HEIGHT + scroll_y
        if index >= len(self._keys):
            return Strip.blank(width, styles[0])
        state = self._state(index)
        self._drawn[index] = state
        key, _, shown, cursor, hovered = state
        signature = (state, styles, width, scroll_x)
        cached = self._strips.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        strip = self._strip(shown, 0, frame, cursor=cursor, hover=hovered)
        self._strips[key] = (signature, strip)
        return strip

    def _strip(
        self,
        cells: Sequence[Any],
        row: int,
        frame: Frame,
        *,
        cursor: bool = False,
        hover: bool = False,
    ) -> Strip:
        """One line as DataTable draws it: each cell padded and styled (row style + cell meta + cursor or
        hover style before the cell's own, the cursor's colour after it), then the rest of the line."""
        (base, cursor_style, hover_style, header_style, header_hover), width, scroll_x, _ = frame
        header = row < 0
        row_style = header_style if header else base
        component = Style()
        if hover:
            component += hover_style
            if header:
                component += header_hover
        if cursor:
            component += cursor_style
        post = Style.from_color(color=component.color)
        segments: list[Segment] = []
        styled = self._styled
        for column, (cell, (_, _, cell_width)) in enumerate(zip(cells, self._columns, strict=True)):
            content_key, text = _content_key(cell, cell_width)
            key = (content_key, column, header, cursor, hover)
            found = styled.get(key)
            if found is None:
                pre = row_style + _meta(column) + component
                pieces = self._cell(content_key, text if text is not None else cell, cell_width)
                found = styled[key] = [
                    Segment(piece, pre + style + post if post else pre + style) for piece, style in pieces
                ]
            segments.extend(found)
        table_width = self._table_width()
        extend = row_style + component + _meta(0, out_of_bounds=True)
        segments.append(Segment(" " * max(0, width - table_width), extend))
        total = max(width, table_width)
        return Strip(segments, total).crop(scroll_x, scroll_x + width).adjust_cell_length(width, base).simplify()

    def _cell(self, key: tuple[Any, ...], cell: Any, width: int) -> list[tuple[str, Style | None]]:
        """The cell's padded segments, rendered by Rich as DataTable renders them (cached by content)."""
        found = self._rendered.get(key)
        if found is None:
            text = cell if isinstance(cell, Text) else Text(str(cell), end="", no_wrap=True, overflow="ellipsis")
            options = self.app.console_options.update_dimensions(width + 2 * CELL_PADDING, 1).update(no_wrap=True)
            lines = self.app.console.render_lines(Padding(text, (0, CELL_PADDING)), options)
            found = [(segment.text, segment.style) for segment in lines[0]]
            self._rendered[key] = found
        return found


_METAS: dict[tuple[int, bool], Style] = {}


def _content_key(cell: Any, width: int) -> tuple[tuple[Any, ...], Text | None]:
    """What a cell's rendering depends on (a str is shown as written, like a Text without styles)."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans), cell.overflow, cell.justify, width), cell
    return (str(cell), width), None


def _meta(column: int, *, out_of_bounds: bool = False) -> Style:
    """The column (and past-the-end) marks DataTable puts in a cell's style; they also keep the cells'
    segments apart as DataTable's are, which a screenshot shows."""
    found = _METAS.get((column, out_of_bounds))
    if found is None:
        meta: dict[str, Any] = {"column": column}
        if out_of_bounds:
            meta["out_of_bounds"] = True
        found = _METAS[(column, out_of_bounds)] = Style.from_meta(meta)
    return found
