"""The monitor's behaviour, driven by the pilot against an engine probing real loopback servers."""

from __future__ import annotations

import asyncio
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixtures_mcp import stdio_service, tagged_processes
from helpers import make_config
from rich.console import Console
from textual.widgets import Static

from core.events import LogLevel
from core.results import Status
from tui.app import LookoutApp
from tui.logpane import LogPane
from tui.panels import BreakerTable, McpTable, RateLimitTable
from tui.screens import ConfirmScreen, DetailScreen, HelpScreen
from tui.source import EngineSource


async def wait_for(condition, pilot, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds: the engine probes and the view refreshes in the
    background, so each check waits for something to have happened, never for a fixed time. The
    bound only turns a hang into a failure; a passing run returns as soon as the condition holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def summary(app: LookoutApp) -> str:
    return str(app.query_one("#summary", Static).content)


async def wait_until_shown_checked(app: LookoutApp, source: EngineSource, pilot) -> None:
    """Every service probed, and the screen showing it: the summary, drawn from the same snapshot as
    the tables, counts no service as unknown."""
    await wait_for(lambda: all(s.last_checked for s in source.snapshot().services), pilot)
    await wait_for(lambda: "unknown" not in summary(app), pilot)


def first_column(table) -> list[str]:
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def fleet_config(http_api, unique_key, tag):
    return make_config(
        {
            "api": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}", "tags": ["payments"]},
            "quota": {
                "kind": "http",
                "url": f"{http_api.url}/github/{unique_key}/rate_limit?limit=100&window=600&used=95",
                "rate_limit": {"warn_below": "10%"},
            },
            "broken": {"kind": "http", "url": f"{http_api.url}/status/{unique_key}/500"},
            "docs": stdio_service("docs", tag=tag),
        },
        interval="30s",
        timeout="15s",
        breaker={"fail_max": 1, "reset_timeout": "60s"},
    )


@pytest.mark.slow
async def test_panels_fill_from_the_live_engine_and_keys_act(http_api, unique_key, tag) -> None:
    source = EngineSource(fleet_config(http_api, unique_key, tag))
    app = LookoutApp(source, config_path="test.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until_shown_checked(app, source, pilot)
        mcp = app.query_one(McpTable)
        limits = app.query_one(RateLimitTable)
        breakers = app.query_one(BreakerTable)
        assert mcp.row_count == 1 and str(mcp.get_row("docs")[1]) == "docs"
        assert str(mcp.get_row("docs")[0]) == "● up"
        assert str(limits.get_row("quota\0core")[3]).endswith("4/100")
        assert str(limits.get_row("quota\0core")[0]) == "▲ degraded"
        assert str(breakers.get_row("broken")[0]) == "✖ open"

        # r: probe the selected service now (the server's own count proves it)
        before = http_api.count("ok", unique_key)
        limits.focus()
        limits.move_cursor(row=limits.get_row_index("api\0"))
        await pilot.press("r")
        await wait_for(lambda: http_api.count("ok", unique_key) == before + 1, pilot)

        # space: pause, and the badge says so
        await pilot.press("space")
        assert source.snapshot().get("api").paused
        await wait_for(lambda: str(limits.get_row("api\0")[0]) == "‖ paused", pilot)
        await pilot.press("space")
        assert not source.snapshot().get("api").paused

        # b: reset a breaker, after confirmation
        breakers.focus()
        breakers.move_cursor(row=breakers.get_row_index("broken"))
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert source.snapshot().get("broken").breaker.state == "open"
        sent = http_api.count("status", unique_key)
        await pilot.press("b")
        await pilot.press("y")
        # The reset lets one probe through at once; the server (still failing) opens it again.
        await wait_for(lambda: http_api.count("status", unique_key) == sent + 1, pilot)
        await wait_for(lambda: source.snapshot().get("broken").breaker.state == "open", pilot)

        # enter: detail; esc: back
        mcp.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.service_name == "docs"
        await wait_for(lambda: app.screen.sections, pilot)  # filled after the screen's first refresh
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(*app.screen.sections)
        body = console.export_text()
        assert "search-docs" in body and "2026-07-28 (modern era) over stdio" in body
        assert "3 tools, 2 resources, 1 templates, 2 prompts" in body
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)

        # ?: help
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
    assert tagged_processes(tag) == []  # quitting stopped the engine and its stdio server


@pytest.mark.slow
async def test_filter_sort_panels_and_log(http_api, unique_key, tag) -> None:
    source = EngineSource(fleet_config(http_api, unique_key, tag))
    app = LookoutApp(source, config_path="test.yaml")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until_shown_checked(app, source, pilot)
        breakers = app.query_one(BreakerTable)
        assert sorted(first_column(breakers)) == ["api", "broken", "docs", "quota"]

        await pilot.press("slash", *"pay")
        await wait_for(lambda: first_column(breakers) == ["api"], pilot)  # by tag
        assert "filter: pay" in summary(app)
        await pilot.press("escape")
        await wait_for(lambda: breakers.row_count == 4, pilot)
        assert not app.query_one("#filter").has_class("-visible") and "filter:" not in summary(app)

        await pilot.press("s")  # name -> status: the down service first
        await wait_for(lambda: first_column(breakers)[0] == "broken", pilot)
        assert app.sort_mode == "status"
        await pilot.press("s", "s")  # latency, then back to name
        await wait_for(lambda: app.sort_mode == "name", pilot)
        assert first_column(breakers) == ["api", "broken", "docs", "quota"]

        await pilot.press("3")
        assert not breakers.display
        await pilot.press("3")
        assert breakers.display

        log = app.query_one(LogPane)
        await pilot.press("l")
        assert app.focused is log
        assert any(e.service == "broken" and e.level is LogLevel.ERROR for e in log.events)
        await pilot.press("v", "v")  # info -> warning -> error
        assert log.min_level is LogLevel.ERROR
        assert all(line.level >= LogLevel.ERROR for line in log.events if log._visible(line))
        shown = log.shown_lines()  # wrapped lines: a long event takes two
        assert sum(" ERR " in text for text in shown) == sum(1 for line in log.events if log._visible(line))
        assert not any(" INF " in text or " WRN " in text for text in shown)
        assert source.snapshot().get("broken").status is Status.DOWN
        await pilot.press("q")
    assert tagged_processes(tag) == []


@pytest.mark.slow
async def test_command_palette_offers_every_action() -> None:
    import fleet_samples

    from tui.source import StaticSource

    source = StaticSource(fleet_samples.fleet(), clock=fleet_samples.clock())
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        main = app.screen
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Probe every service now" in titles and "Reset selected service's breaker" in titles
        await pilot.press("ctrl+p", *"probe every", "enter")
        await wait_for(lambda: ("probe", None) in source.actions and app.screen is main, pilot)
        await pilot.press("ctrl+p", *"cycle sort", "enter")  # a main-view action, from over the main view
        await wait_for(lambda: app.screen is main, pilot)
        assert app.sort_mode == "status"

        # Over a detail screen the panel keys are off (and out of its footer): nothing changes underneath.
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("s", "slash", "1")
        assert app.sort_mode == "status" and app.query_one(McpTable).display
        assert not app.query_one("#filter").has_class("-visible")
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)
    assert ("probe", None) in source.actions


@pytest.mark.slow
async def test_server_text_shows_as_written_never_as_markup(tag) -> None:
    """What servers and users type is text, not markup: `[/usr/bin/node]` read as markup is an
    unmatched closing tag that would crash the render loop, and `[bold]` would vanish."""
    stderr = "[/usr/bin/node] boom [bold]x"
    crashing = {
        "kind": "mcp",
        "command": sys.executable,
        "args": ["-c", f"import sys; print({stderr!r}, file=sys.stderr); sys.exit(1)"],
        "env": {"LOOKOUT_TEST_TAG": tag},
    }
    source = EngineSource(make_config({"[edge] relay": crashing}, interval="30s", timeout="10s"))
    app = LookoutApp(source, config_path="[/etc] services.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until_shown_checked(app, source, pilot)
        mcp = app.query_one(McpTable)
        assert str(mcp.get_row("[edge] relay")[1]) == "[edge] relay"
        last_error = str(app.query_one(BreakerTable).get_row("[edge] relay")[5])
        assert last_error == f"process exited with code 1: {stderr}"

        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await wait_for(lambda: app.screen.sections, pilot)
        console = Console(file=io.StringIO(), width=200)
        for section in app.screen.sections:
            console.print(section)
        assert f"process exited with code 1: {stderr}" in console.file.getvalue()
        await pilot.press("escape", "b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "slash", *"[/x")
        await wait_for(lambda: mcp.row_count == 0, pilot)
        assert str(mcp.border_subtitle) == "0 matching '[/x'"
        await pilot.press("q")
    assert tagged_processes(tag) == []


async def test_a_crash_report_shows_no_local_variables(capsys) -> None:
    """Textual's crash report lists each frame's locals; one may hold a token. Ours does not."""
    import fleet_samples

    import tui.app
    from tui.source import StaticSource

    class Crashing(LookoutApp):
        CSS_PATH = str(Path(tui.app.__file__).with_name("lookout.tcss"))

        def action_help(self) -> None:
            token = "ghp_" + "x" * 20  # a local, as a config or header dict would be; built, so not in the source
            raise RuntimeError(f"boom {len(token)}")

    app = Crashing(StaticSource(fleet_samples.fleet(), clock=fleet_samples.clock()), live=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
    except RuntimeError:
        pass
    captured = capsys.readouterr()
    report = captured.out + captured.err
    assert "RuntimeError: boom 24" in report and "action_help" in report
    assert "ghp_xxxx" not in report


async def test_the_log_reflows_its_lines_to_a_new_width() -> None:
    """RichLog wraps a line once, when written; the log pane rewraps them all when its width changes.
    (Narrower first: a headless app's console is 80 columns, which caps how wide a line is drawn.)"""
    from datetime import timedelta

    import fleet_samples

    from core.events import LogEvent
    from tui.source import StaticSource

    long = LogEvent(fleet_samples.NOW - timedelta(seconds=1), LogLevel.WARNING, "slow answer " * 8, "billing-api")
    events = [*fleet_samples.events(), long]
    source = StaticSource(fleet_samples.fleet(), events, clock=fleet_samples.clock())
    app = LookoutApp(source, live=False)

    def widest(log: LogPane) -> int:
        return max(len(text.rstrip()) for text in log.shown_lines())

    async with app.run_test(size=(80, 30)) as pilot:
        log = app.query_one(LogPane)
        await wait_for(lambda: len(log.shown_lines()) == len(events) + 1, pilot)  # only the long line takes two rows
        assert widest(log) > 50
        await pilot.resize_terminal(50, 30)
        await wait_for(lambda: widest(log) <= log.scrollable_content_region.width < 50, pilot)
        assert len(log.shown_lines()) > len(events) + 1
        await pilot.resize_terminal(80, 30)
        await wait_for(lambda: len(log.shown_lines()) == len(events) + 1, pilot)
        assert [text.rstrip() for text in log.shown_lines()][-1].endswith("slow answer")


def test_a_detail_screen_refreshed_before_it_is_composed_waits_instead_of_crashing() -> None:
    """The app's refresh timer can fire between pushing the detail screen and its compose (seen under load):
    showing a snapshot then must be a no-op, not a NoMatches that takes the whole app down."""
    screen = DetailScreen("docs-mcp")
    screen.show(None, datetime(2026, 11, 25, tzinfo=UTC))
    assert screen.sections == []


async def test_events_are_drawn_in_the_frame_of_the_next_second_not_one_frame_each() -> None:
    """Between two seconds the events are only kept (the log's store has them at once); the next
    wall-clock second draws them all in one frame, with the tables. A key that changes the view draws
    at once."""
    import fleet_samples

    from core.events import LogEvent
    from tui.source import StaticSource

    clock = fleet_samples.clock()
    source = StaticSource(fleet_samples.fleet(), fleet_samples.events(), clock=clock)
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(LogPane)
        await wait_for(lambda: len(log.shown_lines()) >= len(fleet_samples.events()), pilot)
        drawn = len(log.shown_lines())
        source._events.append(LogEvent(clock.now(), LogLevel.ERROR, "late news", "docs-mcp"))
        app.refresh_view()  # the same second: kept, not drawn
        assert log.events[-1].message == "late news"
        assert len(log.shown_lines()) == drawn
        await clock.advance(1)
        app.refresh_view()  # the next second: drawn
        assert len(log.shown_lines()) == drawn + 1
        assert log.shown_lines()[-1].rstrip().endswith("late news")

        source._events.append(LogEvent(clock.now(), LogLevel.ERROR, "more news", "docs-mcp"))
        mcp = app.query_one(McpTable)
        mcp.focus()
        await pilot.press("space")  # pauses the selected service: the action redraws at once, in the same second
        assert source.actions[-1][0] == "pause"
        assert str(mcp.get_row_at(mcp.cursor_row)[0]) == "‖ paused"
        assert any(text.rstrip().endswith("more news") for text in log.shown_lines())


async def test_a_tick_while_the_main_view_is_taken_down_draws_nothing_and_keeps_the_events() -> None:
    """The frame timer can fire while the app closes and its widgets are being removed (a loaded machine
    makes that likely): the tick draws nothing, raises nothing, and leaves the source's events where they are."""
    import fleet_samples

    from core.events import LogEvent
    from tui.source import StaticSource

    clock = fleet_samples.clock()
    source = StaticSource(fleet_samples.fleet(), [], clock=clock)
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.query_one(LogPane).remove()
        await pilot.pause()
        source._events.append(LogEvent(clock.now(), LogLevel.ERROR, "late news", "docs-mcp"))
        await clock.advance(1)
        app.refresh_view()
        app.refresh_view(force=True)
        assert [event.message for event in source.take_events()] == ["late news"]


async def test_the_log_keeps_its_bound_of_events_and_draws_only_what_is_on_screen() -> None:
    """Past MAX_LINES the oldest events go; rows are wrapped for the screen, a bounded few kept drawn,
    and scrolling back shows the oldest kept event first."""
    from datetime import timedelta

    import fleet_samples

    from core.events import LogEvent
    from tui.logpane import MAX_LINES, WRAPPED_CACHE
    from tui.source import StaticSource

    clock = fleet_samples.clock()
    source = StaticSource(fleet_samples.fleet(), [], clock=clock)
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(LogPane)
        start = fleet_samples.NOW - timedelta(hours=1)
        events = [
            LogEvent(start + timedelta(seconds=n), LogLevel.WARNING, f"event {n} " + "words " * 12, "docs-mcp")
            for n in range(MAX_LINES + 50)
        ]
        log.add_events(list(events))
        log.flush()
        await pilot.pause()
        assert len(log.events) == MAX_LINES and log.events[0].message.startswith("event 50 ")
        shown = log.shown_lines()
        assert len(shown) > MAX_LINES  # each event wraps to more than one row in this narrow pane
        assert len(log._wrapped) <= WRAPPED_CACHE
        bottom = log.scrollable_content_region.height - 1
        assert log.render_line(bottom).text.rstrip() == shown[-1].rstrip()  # scrolled to the newest row
        assert any(f"event {MAX_LINES + 49} " in log.render_line(y).text for y in range(bottom + 1))
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert log.render_line(0).text.startswith(f"{start + timedelta(seconds=50):%H:%M:%S} WRN docs-mcp event 50 ")
        assert len(log._wrapped) <= WRAPPED_CACHE
