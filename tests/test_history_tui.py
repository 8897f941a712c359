"""The monitor with a history attached: it records, starts its sparklines from the last run, and shows
uptime by window on the detail screen (and nothing of the kind when no history is attached)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import make_config
from rich.console import Console, Group

from core.history import open_history
from tui.app import LookoutApp
from tui.panels import FleetTable
from tui.screens import DetailScreen, detail_sections
from tui.source import EngineSource


def render(renderables: list[Any]) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(Group(*renderables))
    return out.getvalue()


async def wait_for(condition, pilot, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def run_monitor(path: Path, url: str) -> str:
    """One TUI session with the history at `path`: wait for a probe, open the detail screen, return its text."""
    start = datetime.now(UTC)
    store = open_history(path)
    source = EngineSource(make_config({"api": {"kind": "http", "url": url}}, interval="1h"), history=store)
    app = LookoutApp(source, config_path="test.yaml")
    try:
        async with app.run_test(size=(120, 50)) as pilot:
            await wait_for(lambda: any(r.contacted and r.started_at >= start for r in _history(source)), pilot)
            table = app.query_one("#http", FleetTable)  # the HTTP APIs' table
            await wait_for(lambda: table.row_count == 1, pilot)
            table.focus()
            await pilot.press("enter")
            assert isinstance(app.screen, DetailScreen)
            screen = app.screen
            await wait_for(lambda: screen.history_summary is not None or screen.history_error is not None, pilot)
            assert screen.history_error is None, screen.history_error
            app.screen.show(source.snapshot().get("api"), source.clock.now())
            return render(screen.sections)
    finally:
        store.close()


def _history(source: EngineSource) -> tuple[Any, ...]:
    service = source.snapshot().get("api")
    return service.history if service else ()


@pytest.mark.slow
async def test_a_restarted_monitor_starts_from_what_it_recorded(tmp_path, http_api, unique_key) -> None:
    path = tmp_path / "history.db"
    url = f"{http_api.url}/ok/{unique_key}"
    first = await run_monitor(path, url)
    assert "History (recorded)" in first  # its figures may not include this session's probe yet (batched writes)
    second = await run_monitor(path, url)
    store = open_history(path, record=False)
    stored = store.recent_results("api", 10)
    assert len(stored) == 2  # one probe per session, both recorded
    window_1h = next(line for line in second.splitlines() if line.strip().startswith("1h"))
    # The first session's probe is committed (its store closed); the second's may still be in the batch.
    assert window_1h.split()[:2] == ["1h", "100%"] and window_1h.split()[2] in ("1", "2")


@pytest.mark.slow
async def test_the_restarted_engine_shows_the_earlier_probe_in_its_ring(tmp_path, http_api, unique_key) -> None:
    path = tmp_path / "history.db"
    url = f"{http_api.url}/ok/{unique_key}"
    await run_monitor(path, url)
    store = open_history(path)
    source = EngineSource(make_config({"api": {"kind": "http", "url": url}}, interval="1h"), history=store)
    try:
        await source.start()
        earlier = source.snapshot().get("api").history[0]
        assert earlier.contacted and earlier.latency_ms is not None
    finally:
        await source.stop()
        store.close()


def test_no_history_no_section() -> None:
    from fleet_samples import NOW, fleet

    service = fleet().services[0]
    assert "History (recorded)" not in render(detail_sections(service, NOW))
    summary = {
        "windows": {"1h": {"uptime": 0.5, "probes": 4, "failures": 2, "p50_ms": 12.0, "p95_ms": 30.0, "p99_ms": 31.0}}
    }
    text = render(detail_sections(service, NOW, history=summary))
    assert "History (recorded)" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("1h"))
    assert row.split() == ["1h", "50.0%", "4", "12ms", "30ms", "31ms"]


async def test_history_warnings_reach_the_log_pane(tmp_path, http_api, unique_key) -> None:
    import sqlite3

    from core.events import LogEvent, LogLevel
    from core.history.rows import ResultRow
    from tui.cli import open_recording

    config = make_config({"api": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}}, interval="1h")
    holder = open_history(tmp_path / "held.db")
    said: list[str] = []
    try:
        assert open_recording(str(tmp_path / "held.db"), config, warn=said.append) is None
    finally:
        holder.close()

    def read_only(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA query_only = ON")

    store = open_history(tmp_path / "h.db", connection_hook=read_only)
    source = EngineSource(config, history=store, notices=said)
    try:
        [first] = [e for e in source.take_events() if isinstance(e, LogEvent)]
        assert first.level is LogLevel.WARNING and "without recording" in first.message
        store.submit(ResultRow("api", 1.0, "up", True, True, 1.0, 1, 200, ""))
        await asyncio.to_thread(store.flush)
        warnings = [e.message for e in source.take_events() if isinstance(e, LogEvent)]
        assert len(warnings) == 1 and "readonly" in warnings[0]  # one warning, whichever write failed first
    finally:
        await source.stop()
        store.close()
