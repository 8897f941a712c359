"""The monitor's side of tool pinning: the detail screen shows what changed, `A` approves after a confirm."""

from __future__ import annotations

from dataclasses import replace

import fleet_samples
import pytest
from rich.console import Console
from test_tui import wait_for

from core.details import ToolChange
from core.kinds.mcp import detail_sections, report_fields
from core.results import Status
from tui.app import LookoutApp
from tui.panels import McpTable
from tui.screens import ConfirmScreen, DetailScreen
from tui.source import StaticSource

CHANGES = (
    ToolChange("delete_all", "added"),
    ToolChange("delete_records", "changed", "annotations.destructiveHint", "true", "false"),
)


def changed_fleet():
    fleet = fleet_samples.fleet()
    services = []
    for service in fleet.services:
        if service.name == "docs-mcp":
            details = replace(service.details, pin="changed", tools_fingerprint="f" * 32, tool_changes=CHANGES)
            reason = "tool delete_all added; tool delete_records annotations.destructiveHint changed since approved"
            tally = replace(service.tally, details=details)
            service = replace(service, tally=tally, status=Status.DEGRADED, reason=reason)
        services.append(service)
    return replace(fleet, services=tuple(services))


def test_the_diff_is_a_section_of_its_own_and_in_the_json_report() -> None:
    service = changed_fleet().get("docs-mcp")
    first, *_ = detail_sections(service)
    assert first.title == "Tools changed since approved"
    assert first.rows == (
        ("delete_all", "added", "", ""),
        ("delete_records", "annotations.destructiveHint", "true", "false"),
    )
    mcp = report_fields(service)["mcp"]
    assert mcp["pin"] == "changed"
    assert mcp["tool_changes"][1] == {
        "tool": "delete_records",
        "change": "changed",
        "field": "annotations.destructiveHint",
        "approved": "true",
        "now": "false",
    }
    unchanged = fleet_samples.fleet().get("docs-mcp")
    assert [section.title for section in detail_sections(unchanged)] == ["MCP server"]


def rendered(screen: DetailScreen) -> str:
    console = Console(width=160, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for section in screen.sections:
        console.print(section)
    return console.export_text()


@pytest.mark.slow  # runs the app
async def test_approve_asks_first_then_tells_the_source() -> None:
    source = StaticSource(changed_fleet(), clock=fleet_samples.clock())
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(McpTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("docs-mcp"))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen) and app.screen.sections, pilot)
        text = rendered(app.screen)
        assert "Tools changed since approved" in text and "annotations.destructiveHint" in text
        await pilot.press("A")
        assert isinstance(app.screen, ConfirmScreen) and "docs-mcp" in app.screen.question
        await pilot.press("n")
        assert ("approve", "docs-mcp") not in source.actions
        await pilot.press("A")
        await pilot.press("y")
        await wait_for(lambda: ("approve", "docs-mcp") in source.actions, pilot)


@pytest.mark.slow  # runs the app
async def test_approve_on_a_service_without_changes_does_nothing() -> None:
    source = StaticSource(fleet_samples.fleet(), clock=fleet_samples.clock())
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(McpTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("docs-mcp"))
        await pilot.press("A")
        assert not isinstance(app.screen, ConfirmScreen)
        assert not any(action == "approve" for action, _ in source.actions)
