"""`lookout --discover` in the monitor: discovered servers in the MCP table (the unresolved ones too), and
the clients' files followed as they change."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from core.clients.follow import DiscoveryFollower, discovered_fleet
from core.clients.model import LoadContext
from core.engine import Engine
from core.kinds import unregister_kind
from tui.app import LookoutApp
from tui.panels import McpTable
from tui.source import EngineSource

BOUND = 30.0


@pytest.fixture(autouse=True)
def _forget_unresolved_kind() -> Any:
    yield
    unregister_kind("unresolved")


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


async def wait_for(condition, pilot) -> None:
    deadline = asyncio.get_running_loop().time() + BOUND
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def names(app: LookoutApp) -> list[str]:
    table = app.query_one(McpTable)
    return sorted(str(table.get_row_at(i)[1]) for i in range(table.row_count))


async def test_the_monitor_follows_discovered_client_files(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "home" / "src"
    project.mkdir(parents=True)
    ctx = LoadContext(env={}, home=home, cwd=project, platform="linux")
    write(
        project / ".vscode" / "mcp.json",
        {"servers": {"needs-key": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X": "${input:key}"}}}},
    )
    config = discovered_fleet(ctx)
    app = LookoutApp(
        EngineSource(config),
        config_path="MCP client configs (discovered)",
        follow=lambda engine: DiscoveryFollower(engine, ctx, interval=0.05),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: names(app) == ["needs-key"], pilot)
        engine = app.source.engine
        assert isinstance(engine, Engine)
        write(home / ".cursor" / "mcp.json", {"mcpServers": {"added": {"url": "http://127.0.0.1:9/other"}}})
        await wait_for(lambda: names(app) == ["added", "needs-key"], pilot)
        await wait_for(
            lambda: (s := engine.snapshot().get("needs-key")) is not None and s.last_checked is not None, pilot
        )
        assert "needs input key (set LOOKOUT_INPUT_KEY)" in engine.snapshot().get("needs-key").reason
        await pilot.press("q")
