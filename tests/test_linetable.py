"""LineTable draws what Textual's DataTable draws (it replaced one in the fleet panels), and keeps its clock
cells, cursor and keys working. No timing here: bench/tui.py prints what it costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.strip import Strip
from textual.widgets import DataTable, Input

from core.results import Status
from tui.format import ago, badge, plain
from tui.linetable import LineTable, Timed

COLUMNS = [("status", "STATUS", 10), ("service", "SERVICE", 12), ("reason", "REASON", 20), ("checked", "CHECKED", 9)]
T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def cells(i: int) -> tuple[Any, ...]:
    """Rows a server can make hard to draw: markup-looking text, wide characters, text past the column."""
    reasons = [
        "",
        "[bold]HTTP 503[/bold] (expected 200)",
        "名前が長すぎるサービスの理由です",
        "a reason far longer than its twenty-character column",
        "tab\there",
    ]
    name: str | Text = f"svc-{i:03d}" if i % 3 else Text.assemble(f"svc-{i:03d}", (" !", "bold red"), end="")
    return (badge([Status.UP, Status.DOWN, Status.DEGRADED][i % 3]), name, reasons[i % len(reasons)], f"{i}s ago")


class Both(App[None]):
    """A DataTable and a LineTable side by side, fed the same rows; an Input to move the focus to."""

    def compose(self) -> ComposeResult:
        yield Input(id="elsewhere")
        with Horizontal():
            yield DataTable(id="reference", cursor_type="row", zebra_stripes=False)
            yield LineTable(id="ours")


def fill(app: Both, rows: int) -> tuple[DataTable[Any], LineTable]:
    reference = app.query_one("#reference", DataTable)
    ours = app.query_one("#ours", LineTable)
    for key, label, width in COLUMNS:
        reference.add_column(label, key=key, width=width)
    ours.set_columns(COLUMNS)
    data = [(f"row-{i}", cells(i)) for i in range(rows)]
    for key, row in data:
        reference.add_row(*(plain(c) if isinstance(c, str) else c for c in row), key=key)
    ours.set_rows(data, T0)
    return reference, ours


def drawn(strips: list[Strip]) -> list[list[tuple[str, Any]]]:
    """Each line as (text, style) runs, without the mouse metadata (DataTable marks rows in it, LineTable
    does not) and with neighbours of one style joined as a screenshot would show them."""
    lines = []
    for strip in strips:
        plain_segments = [Segment(s.text, s.style.clear_meta_and_links() if s.style else None) for s in strip]
        lines.append([(s.text, s.style) for s in Segment.simplify(plain_segments)])
    return lines


def screen_lines(widget: DataTable[Any] | LineTable) -> list[list[tuple[str, Any]]]:
    return drawn(widget.render_lines(widget.size.region))


async def test_lines_are_drawn_as_datatable_draws_them_focused_or_not_and_after_the_cursor_moves() -> None:
    app = Both()
    async with app.run_test(size=(130, 12)) as pilot:
        reference, ours = fill(app, 20)
        await pilot.pause()
        reference.focus()
        await pilot.pause()
        focused = screen_lines(reference)
        ours.focus()
        await pilot.pause()
        assert screen_lines(ours) == focused
        app.query_one("#elsewhere").focus()
        await pilot.pause()
        assert screen_lines(ours) == screen_lines(reference) != focused
        reference.move_cursor(row=3)
        ours.move_cursor(row=3)
        await pilot.pause()
        assert screen_lines(ours) == screen_lines(reference)
        assert ours.cursor_row == 3
        assert any("名前" in text for text, _ in screen_lines(ours)[3])  # row 2, under the header
        assert any("…" in text for line in screen_lines(ours) for text, _ in line)  # cut where DataTable cuts
        assert any("[bold]HTTP 503" in text for line in screen_lines(ours) for text, _ in line)  # not markup


async def test_clock_cells_read_the_time_of_the_last_update_without_new_rows() -> None:
    app = Both()
    async with app.run_test(size=(130, 12)) as pilot:
        _, ours = fill(app, 2)
        ours.set_rows([("a", (badge(Status.UP), "a", "", Timed(ago, T0)))], T0 + timedelta(seconds=5))
        await pilot.pause()
        assert ours.get_cell("a", "checked") == "5s ago"
        ours.set_now(T0 + timedelta(seconds=45))
        await pilot.pause()
        assert ours.get_row("a")[3] == "45s ago"
        assert any("45s ago" in text for text, _ in screen_lines(ours)[1])


class Listening(Both):
    """Both, keeping the LineTable's messages."""

    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []
        self.highlighted: list[str] = []

    @on(LineTable.RowSelected)
    def _selected(self, event: LineTable.RowSelected) -> None:
        self.selected.append(event.row_key)

    @on(LineTable.RowHighlighted)
    def _highlighted(self, event: LineTable.RowHighlighted) -> None:
        self.highlighted.append(event.row_key)


async def test_keys_move_the_cursor_and_enter_selects_the_row_under_it() -> None:
    app = Listening()
    async with app.run_test(size=(130, 12)) as pilot:
        _, ours = fill(app, 30)
        ours.focus()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert app.selected == ["row-2"] and app.highlighted == ["row-0", "row-1", "row-2"]
        await pilot.press("ctrl+end")
        assert ours.cursor_row == 29 and ours.scroll_y > 0  # scrolled to keep the cursor in view
        await pilot.press("pageup")
        assert ours.cursor_row < 29
        ours.set_order([f"row-{i}" for i in reversed(range(30))])
        assert ours.get_row_at(0)[1] == ours.get_row("row-29")[1]
        assert ours.get_row_index("row-0") == 29


async def test_the_mouse_highlights_as_datatable_does_and_a_click_on_the_cursor_row_selects_it() -> None:
    app = Listening()
    async with app.run_test(size=(130, 12)) as pilot:
        reference, ours = fill(app, 20)
        app.query_one("#elsewhere").focus()
        await pilot.pause()
        before = screen_lines(ours)
        await pilot.hover("#reference", offset=(5, 4))  # row 3, under the header and the table's top
        await pilot.pause()
        hovered = screen_lines(reference)
        await pilot.hover("#ours", offset=(5, 4))
        await pilot.pause()
        assert screen_lines(ours) == hovered
        changed = [y for y, (old, new) in enumerate(zip(before, screen_lines(ours), strict=True)) if old != new]
        assert changed == [4]  # the hovered row stands out, and only it
        await pilot.click("#ours", offset=(5, 4))
        assert ours.cursor_row == 3 and app.selected == []
        await pilot.click("#ours", offset=(5, 4))
        await pilot.pause()
        assert app.selected == ["row-3"]
