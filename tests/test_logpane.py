"""The log pane measures rows without drawing them: the numbers must be the ones a drawing gives.

A height that differs from the drawn one by a row puts every later line one row off (the last line
cut, or a blank row at the bottom); so `row_layout` is held to `render_row` over lines built to hit
Rich's wrap rules: long words that fold, wide CJK and emoji cells, tabs, newlines (leading, trailing,
doubled), separators only `str.splitlines` knows, and widths down to one column.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from rich.console import Console
from rich.style import Style
from rich.text import Text

from core.events import LogEvent, LogLevel
from tui.app import LookoutApp
from tui.logpane import MIN_WIDTH, LogPane, _render, line_text, plain_rows, render_row, row_layout, screen_rows
from tui.source import StaticSource

PIECES = [
    "word",
    "a",
    "",
    " ",
    "   ",
    "x" * 45,
    "y" * 19,
    "z" * 20,
    "z" * 21,
    "\t",
    "col\tumn",
    "\n",
    "\n\n",
    "数据库连接失败",
    "ｗｉｄｅ",
    "🙂",
    "e\u0301",
    "\u200b",
    "\x0b",
    "\u2028",
    "\r",
    "HTTP 503 Service Unavailable (expected 200)",
    "https://127.0.0.1:8443/a/very/long/path/without/any/spaces/in/it?q=1&r=2",
]
WIDTHS = [1, 2, 5, MIN_WIDTH - 1, MIN_WIDTH, MIN_WIDTH + 1, 33, 60, 80, 157]


def drawn(console: Console, text: Text, width: int) -> tuple[int, int]:
    strips = render_row(console, text.copy(), width)
    return len(strips), max(strip.cell_length for strip in strips)


def messages() -> list[str]:
    chosen = random.Random(14)
    made = [piece for piece in PIECES if piece]
    for _ in range(100):
        made.append(" ".join(chosen.choice(PIECES) for _ in range(chosen.randint(1, 12))))
        made.append("".join(chosen.choice(PIECES) for _ in range(chosen.randint(1, 8))))
    return made


def test_a_rows_measured_height_and_width_are_the_drawn_ones() -> None:
    at = datetime(2026, 12, 7, 4, 5, 6, tzinfo=UTC)
    checked = 0
    for console_width in (200, 40):
        console = Console(width=console_width, force_terminal=True, color_system="truecolor")
        for n, message in enumerate(messages()):
            level = list(LogLevel)[n % len(LogLevel)]
            line = LogEvent(at, level, message, "svc-数据" if n % 3 == 0 else "", "stderr" if n % 5 == 0 else "engine")
            text = _render(line)
            for width in WIDTHS:
                assert row_layout(line_text(line), width, console_width) == drawn(console, text, width), (
                    message,
                    width,
                )
                checked += 1
    assert checked > 4_000


def test_a_plain_row_drawn_from_its_parts_is_the_one_rich_draws() -> None:
    """The pane draws a plain row straight from the event's parts; Rich's wrap, then cropping and styling
    every row, draws any row. Same segments, same styles, same rows, for every level, width and pane style
    (and the rows that are not plain are left to Rich)."""
    at = datetime(2026, 12, 7, 4, 5, 6, tzinfo=UTC)
    pane_styles = [Style(color="#e0e0e0", bgcolor="#1e1e1e"), Style(bgcolor="#272727", dim=True), Style.null()]
    plain = wrapped = 0
    for console_width in (200, 40):
        console = Console(width=console_width, force_terminal=True, color_system="truecolor")
        for n, message in enumerate(messages()):
            level = list(LogLevel)[n % len(LogLevel)]
            line = LogEvent(at, level, message, "svc-数据" if n % 3 == 0 else "", "stderr" if n % 5 == 0 else "engine")
            style = pane_styles[n % len(pane_styles)]
            for wrap_width in WIDTHS:
                width = wrap_width + 7 * (n % 2)  # the pane as wide as the wrap, or wider (narrower than MIN_WIDTH)
                rich = [
                    strip.crop_extend(0, width, style).apply_style(style)
                    for strip in render_row(console, _render(line), wrap_width)
                ]
                assert screen_rows(console, line, wrap_width, width, 0, style, console_width) == rich
                mine = plain_rows(console, line, wrap_width, width, style, console_width)
                if mine is None:
                    continue
                assert [list(strip) for strip in mine] == [list(strip) for strip in rich], (message, width)
                assert [strip.cell_length for strip in mine] == [strip.cell_length for strip in rich]
                plain += 1
                wrapped += len(mine) > 1
    assert plain > 800 and wrapped > 250, (plain, wrapped)  # many rows are drawn the plain way, wrapped ones too


def test_a_lines_text_is_the_text_rich_draws() -> None:
    for n, message in enumerate(messages()):
        line = LogEvent(datetime(2026, 12, 7, tzinfo=UTC), LogLevel.ERROR, message, "svc" if n % 2 else "")
        text = _render(line)
        text.expand_tabs()
        assert line_text(line) == text.plain


async def test_new_lines_at_the_end_scroll_in_the_same_frame_without_a_screen_layout() -> None:
    """New lines grow the pane's scrollable size; that must not lay the whole screen out again (and repaint
    every widget after it). The pane is at its end at once, and what it shows is the newest line."""
    import fleet_samples

    clock = fleet_samples.clock()
    source = StaticSource(fleet_samples.fleet(), [], clock=clock)
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(LogPane)
        await pilot.pause()
        for round in range(3):
            layouts = log._layout_updates
            events = [
                LogEvent(clock.now(), LogLevel.WARNING, f"round {round} line {n} " + "words " * n, "docs-mcp")
                for n in range(40)
            ]
            log.add_events(list(events))
            log.flush()
            assert log._layout_updates == layouts
            assert log.max_scroll_y > 0 and log.scroll_offset.y == log.max_scroll_y
            assert log.virtual_size.height == len(log.shown_lines())
            await pilot.pause()
            bottom = log.scrollable_content_region.height - 1
            shown = log.shown_lines()
            assert log.render_line(bottom).text.rstrip() == shown[-1].rstrip()
            assert any(f"round {round} line 39 " in log.render_line(y).text for y in range(bottom + 1))
            assert log.scroll_offset.y == log.max_scroll_y


async def test_a_frame_with_nothing_new_repaints_no_table_and_a_full_log_keeps_its_scrollbar() -> None:
    """A second's refresh with the same snapshot at the same time changes nothing on screen, so it must ask
    for no repaint (setting a table's count under it again repainted the whole table); and lines added
    at the end of a long log move its content, not its scrollbar's thumb (a cell or two at the bottom), so the
    scrollbar is not redrawn."""
    import fleet_samples

    from tui.panels import FleetTable

    clock = fleet_samples.clock()
    source = StaticSource(fleet_samples.fleet(), [], clock=clock)
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(LogPane)
        log.add_events([LogEvent(clock.now(), LogLevel.INFO, f"line {n}", "docs-mcp") for n in range(1000)])
        app.refresh_view(force=True)
        await pilot.pause()
        await pilot.pause()
        tables = list(app.query(FleetTable))
        assert tables and all(not table._repaint_regions for table in tables)
        app.refresh_view(force=True)
        assert all(not table._repaint_regions for table in tables)

        bar = log.vertical_scrollbar
        assert not bar._repaint_regions
        log.add_events([LogEvent(clock.now(), LogLevel.INFO, f"more {n}", "docs-mcp") for n in range(3)])
        log.flush()
        assert log.scroll_offset.y == log.max_scroll_y
        assert not bar._repaint_regions and log._repaint_regions  # the lines moved, the thumb did not
        assert bar.window_virtual_size == log.virtual_size.height == 1003  # the bar knows the content's height
