"""Reloading from the monitor: ctrl+r and the file watcher, driven by the pilot against a live engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FAST_DEFAULTS
from textual.notifications import SeverityLevel

import tui.app
from core.config import load_config
from core.events import LogLevel
from tui.app import LookoutApp
from tui.cli import main
from tui.logpane import LogPane
from tui.panels import RateLimitTable
from tui.source import EngineSource, StaticSource

BOUND = 30.0


class NotedApp(LookoutApp):
    """The monitor, keeping what it told the user in toasts (the toasts themselves fade)."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("lookout.tcss"))  # a subclass resolves it next to itself

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str, SeverityLevel]] = []

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information", **kwargs: Any) -> None:
        self.notes.append((title, message, severity))
        super().notify(message, title=title, severity=severity, **kwargs)


async def wait_for(condition, pilot) -> None:
    """Let the app run until `condition()` holds; the bound only turns a hang into a failure."""
    deadline = asyncio.get_running_loop().time() + BOUND
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def write_config(path: Path, services: dict[str, dict[str, Any]]) -> Path:
    defaults = {**FAST_DEFAULTS, "interval": "1h"}
    path.write_text(yaml.safe_dump({"defaults": defaults, "services": services}, sort_keys=False))
    return path


def rows(app: LookoutApp) -> list[str]:
    table = app.query_one(RateLimitTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def ok(http_api, key: str) -> dict[str, Any]:
    return {"kind": "http", "url": f"{http_api.url}/ok/{key}"}


async def test_ctrl_r_reloads_the_file_and_says_what_changed(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"api": ok(http_api, f"{unique_key}-a")})
    source = EngineSource(load_config(path))
    app = NotedApp(source, config_path=str(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: rows(app) == ["api"], pilot)
        write_config(path, {"api": ok(http_api, f"{unique_key}-a"), "extra": ok(http_api, f"{unique_key}-b")})
        await pilot.press("ctrl+r")
        await wait_for(lambda: rows(app) == ["api", "extra"], pilot)
        await wait_for(lambda: any(title == "config reloaded" for title, _, _ in app.notes), pilot)
        assert ("config reloaded", "1 added, 0 changed, 0 removed, 1 unchanged", "information") in app.notes
        await wait_for(lambda: http_api.count("ok", f"{unique_key}-b") == 1, pilot)  # the new one is probed

        # A broken file: refused with its file:line, the fleet as it was.
        path.write_text("services:\n  api:\n    kind: http\n    url: not a url\n")
        await pilot.press("ctrl+r")
        await wait_for(lambda: any(severity == "error" for _, _, severity in app.notes), pilot)
        title, message, _ = app.notes[-1]
        assert title == "config not reloaded" and message.startswith(f"{path}:4: services.api.url: ")
        assert rows(app) == ["api", "extra"] and source.engine.names == ["api", "extra"]
        log = app.query_one(LogPane)
        await wait_for(lambda: any(line.message.startswith(f"{path}:4: ") for line in log.events), pilot)
        assert any(line.level is LogLevel.ERROR for line in log.events if line.message.startswith(f"{path}:4: "))


@pytest.mark.slow
async def test_the_monitor_reloads_when_the_file_changes(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"api": ok(http_api, unique_key), "old": ok(http_api, unique_key)})
    source = EngineSource(load_config(path))
    app = NotedApp(source, config_path=str(path), watch_file=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: rows(app) == ["api", "old"], pilot)
        write_config(path, {"api": ok(http_api, unique_key)})
        await wait_for(lambda: rows(app) == ["api"], pilot)
        await wait_for(lambda: app.notes, pilot)
        assert app.notes[-1] == ("config reloaded", "0 added, 0 changed, 1 removed, 1 unchanged", "information")


async def test_without_watching_a_changed_file_waits_for_ctrl_r(tmp_path, http_api, unique_key) -> None:
    path = write_config(tmp_path / "services.yaml", {"api": ok(http_api, unique_key)})
    source = EngineSource(load_config(path))
    app = NotedApp(source, config_path=str(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: rows(app) == ["api"], pilot)
        assert app._watcher is None
        write_config(path, {"api": ok(http_api, unique_key), "more": ok(http_api, unique_key)})
        await pilot.press("ctrl+r")
        await wait_for(lambda: rows(app) == ["api", "more"], pilot)


async def test_a_fixed_snapshot_has_nothing_to_reload(clock_snapshot) -> None:
    snapshot, clock = clock_snapshot
    app = NotedApp(StaticSource(snapshot, clock=clock), live=False, watch_file=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for(lambda: app.notes, pilot)
        assert app.notes == [("", "this view has no config file to reload", "warning")]


@pytest.fixture
def clock_snapshot():
    from core.clock import FakeClock
    from core.snapshot import FleetSnapshot

    clock = FakeClock()
    return FleetSnapshot(taken_at=clock.now(), services=()), clock


@pytest.mark.parametrize(("args", "watch"), [([], True), (["--no-watch"], False)])
def test_no_watch_turns_the_watcher_off(tmp_path, monkeypatch, args, watch) -> None:
    path = write_config(tmp_path / "services.yaml", {"api": {"kind": "http", "url": "http://127.0.0.1:9/"}})
    opened: list[bool] = []
    monkeypatch.setattr(tui.app, "run_app", lambda config, **kwargs: opened.append(kwargs["watch"]) or 0)
    monkeypatch.setattr("core.processes.enable_subreaper", lambda **kwargs: None)
    assert main(["-c", str(path), *args]) == 0
    assert opened == [watch]
