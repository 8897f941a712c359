"""The monitor's side of alerts: the detail screen says what the rules say, and `m` silences (asks first)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures_alert_rules import FAST, ListSink, Upstream
from rich.console import Console, Group
from test_alerts_rules import alerts_with

from core.alerts.evaluator import AlertView
from core.alerts.notification import Transition
from core.alerts.silences import read_silences
from core.config import parse_config
from core.history import open_history
from tui.app import LookoutApp
from tui.panels import FleetTable
from tui.screens import DetailScreen, SilenceScreen, alert_section
from tui.source import EngineSource

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def render(renderables: list[Any]) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None, force_terminal=False).print(Group(*renderables))
    return out.getvalue()


def test_the_alerts_section_shows_each_rule_s_state_and_nothing_when_quiet() -> None:
    assert alert_section((), NOW) == []
    views = (
        AlertView("api-down", "firing", (NOW - timedelta(minutes=5)).timestamp()),
        AlertView("slow", "pending", (NOW - timedelta(seconds=30)).timestamp(), "fires in 1m30s"),
        AlertView("deps", "inhibited", (NOW - timedelta(minutes=1)).timestamp(), "by db"),
    )
    lines = render(alert_section(views, NOW)).splitlines()
    assert "Alerts" in lines[1]
    assert lines[2].split() == ["api-down", "firing", "opened", "5m", "ago"]
    assert lines[3].split() == ["slow", "pending", "(fires", "in", "1m30s)", "bad", "since", "30s", "ago"]
    assert lines[4].split() == ["deps", "inhibited", "(by", "db)", "opened", "1m", "ago"]


async def wait_for(condition: Any, pilot: Any, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.05)


@pytest.mark.slow
async def test_the_monitor_alerts_shows_it_and_silences_the_selected_service(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.set(503, "tui")
    text = yaml.safe_dump(
        {
            "defaults": {**FAST, "interval": "1h"},
            "services": {"api": {"kind": "http", "url": upstream.at("tui")}},
            "alerts": alerts_with({"name": "api-down", "when": "down"}),
        }
    )
    store = open_history(tmp_path / "history.db")
    sink = ListSink()
    source = EngineSource(parse_config(text, env={}), history=store, alert_sink=sink)
    app = LookoutApp(source, config_path="test.yaml")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: sink.transitions() == [Transition.FIRING], pilot)
            table = app.query_one("#http", FleetTable)
            await wait_for(lambda: table.row_count == 1, pilot)
            table.focus()
            await pilot.press("enter")
            assert isinstance(app.screen, DetailScreen)
            screen = app.screen
            await wait_for(lambda: "firing" in render(screen.sections), pilot)
            await pilot.press("m")
            assert isinstance(app.screen, SilenceScreen)
            await pilot.press("2")  # 1h
            await wait_for(lambda: read_silences(store.path) != (), pilot)
            (silence,) = read_silences(store.path)
            assert (silence.target, round(silence.ends - silence.starts)) == ("api", 3600)
            await wait_for(lambda: "silenced" in render(screen.sections), pilot)
    finally:
        store.close()
    assert sink.transitions() == [Transition.FIRING]


async def test_without_a_history_the_log_says_why_alerts_are_off(upstream: Upstream) -> None:
    text = yaml.safe_dump(
        {
            "defaults": {**FAST, "interval": "1h"},
            "services": {"api": {"kind": "http", "url": upstream.at("tui-off")}},
            "alerts": alerts_with({"name": "api-down", "when": "down"}),
        }
    )
    source = EngineSource(parse_config(text, env={}), alert_sink=ListSink(), alerts_off="--no-history")
    await source.start()
    try:
        notes = [item for item in source.take_events() if "alerts are off" in getattr(item, "message", "")]
    finally:
        await source.stop()
    assert len(notes) == 1 and "--no-history" in notes[0].message
    assert source.alert_state("api") == ()


async def test_a_firing_service_is_marked_in_the_panels_at_80x24() -> None:
    import fleet_samples

    from tui.panels import McpTable, RateLimitTable
    from tui.source import StaticSource

    clock = fleet_samples.clock()
    opened = clock.now().timestamp() - 60
    alerts = {
        "billing-api": (AlertView("api-down", "firing", opened),),
        "crashy-mcp": (AlertView("mcp-down", "silenced", opened),),
    }
    app = LookoutApp(StaticSource(fleet_samples.fleet(), clock=clock, alerts=alerts), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        http = app.query_one(RateLimitTable)
        mcp = app.query_one(McpTable)
        names = {str(http.get_cell(key, "service")) for key in http._cells}
        names |= {str(mcp.get_cell(key, "service")) for key in mcp._cells}
    assert "billing-api !" in names, names
    assert "crashy-mcp" in names, "a silenced alert is not marked: the detail screen says why"
    assert not any(name.endswith("!") for name in names - {"billing-api !"})
