"""Tool pinning against a real SDK server whose tools change: in one engine, between `--once` runs, on
`notifications/tools/list_changed`, and an approval made by another process picked up by a running engine."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from fixtures_mcp import stdio_service, tagged_processes
from fixtures_procs import lookout_argv, lookout_env, write_config
from helpers import idle_engine, make_config

from core.details import McpDetails
from core.engine import Engine
from core.events import ProbeCompleted, ToolsUnapproved
from core.pins.store import PinStore
from core.results import Status

pytestmark = pytest.mark.slow  # every test starts MCP server processes

CHANGED = "tool delete_records annotations.destructiveHint, outputSchema, title changed since approved"


def rug_pull(state: Path, tag: str, *extra: str, **options: object) -> dict[str, object]:
    return stdio_service("rug-pull", "--state", str(state), *extra, tag=tag, **options)


def details_of(service) -> McpDetails:
    assert isinstance(service.details, McpDetails)
    return service.details


async def test_a_changed_annotation_degrades_until_approved_within_one_engine(tmp_path, tag) -> None:
    state = tmp_path / "state"
    state.write_text("base")
    pins = PinStore(tmp_path / "history.db")
    config = make_config({"rug": rug_pull(state, tag)}, timeout="15s")
    engine = Engine(config, pins=pins)
    try:
        events = engine.subscribe()
        first = (await engine.run_once()).get("rug")
        assert first.status is Status.UP and details_of(first).pin == "pinned"
        state.write_text("annotations")
        second = (await engine.run_once()).get("rug")
        assert second.status is Status.DEGRADED and second.reason == CHANGED
        changes = {c.field: (c.approved, c.now) for c in details_of(second).tool_changes}
        assert changes == {
            "annotations.destructiveHint": ("true", "false"),
            "outputSchema": ("(absent)", '{"properties":{"ok":{"type":"boolean"}},"type":"object"}'),
            "title": ("Delete records", "Tidy records"),
        }
        third = (await engine.run_once()).get("rug")  # still unapproved: one event, not one per probe
        assert third.status is Status.DEGRADED
        [unapproved] = [e for e in events.drain() if isinstance(e, ToolsUnapproved)]
        assert unapproved.changed == ("delete_records: annotations.destructiveHint, outputSchema, title",)
        assert pins.approve("rug", 1.0, expected=details_of(third).tools_fingerprint) is not None
        fourth = (await engine.run_once()).get("rug")
        assert fourth.status is Status.UP and details_of(fourth).pin == "approved"
        state.write_text("added")  # delete_all appears, and delete_records is back to what was approved first
        fifth = (await engine.run_once()).get("rug")
        assert fifth.reason == "tool delete_all added; " + CHANGED
    finally:
        await engine.stop()
        pins.close()
    assert tagged_processes(tag) == []


async def test_without_pins_a_change_is_only_logged(tmp_path, tag) -> None:
    state = tmp_path / "state"
    state.write_text("base")
    async with idle_engine(make_config({"rug": rug_pull(state, tag)}, timeout="15s")) as engine:
        await engine.run_once()
        state.write_text("annotations")
        later = (await engine.run_once()).get("rug")
    assert later.status is Status.UP and details_of(later).pin is None and details_of(later).tool_changes == ()


def once(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = lookout_argv("--once", "-c", str(config), "--format", "json", *args)
    return subprocess.run(argv, env=lookout_env(), capture_output=True, text=True, timeout=120)


def tools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(lookout_argv("tools", *args), env=lookout_env(), capture_output=True, text=True, timeout=60)


def test_two_once_runs_compare_with_the_pin_and_the_cli_approves(tmp_path, tag, _private_state_home) -> None:
    state = tmp_path / "state"
    state.write_text("base")
    config = write_config(tmp_path / "services.yaml", {"rug": rug_pull(state, tag)})
    first = once(config)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["services"][0]["mcp"]["pin"] == "pinned"
    assert (_private_state_home / "lookout" / "history.db").is_file()  # the default database, no --history
    state.write_text("annotations")
    second = once(config)
    assert second.returncode == 1, second.stderr
    [service] = json.loads(second.stdout)["services"]
    assert (service["status"], service["reason"]) == ("degraded", CHANGED)
    assert {c["field"] for c in service["mcp"]["tool_changes"]} == {
        "annotations.destructiveHint",
        "outputSchema",
        "title",
    }
    assert once(config, "--no-history").returncode == 0  # no pins compared (nor written)
    diff = tools("diff", "rug")
    assert diff.returncode == 1 and CHANGED in diff.stdout
    assert "~ delete_records  annotations.destructiveHint" in diff.stdout and "now:      false" in diff.stdout
    approve = tools("approve", "rug")
    assert approve.returncode == 0 and "approved 2 tools" in approve.stdout
    assert tools("diff", "rug").returncode == 0
    third = once(config)
    assert third.returncode == 0 and json.loads(third.stdout)["services"][0]["mcp"]["pin"] == "approved"
    unknown = tools("diff", "nobody")
    assert unknown.returncode == 3 and "no tools pinned for 'nobody'" in unknown.stderr and "rug" in unknown.stderr
    assert tagged_processes(tag) == []


async def next_result(events, name: str, timeout: float = 60.0) -> ProbeCompleted:
    async def wait() -> ProbeCompleted:
        while True:
            for event in events.drain():
                if isinstance(event, ProbeCompleted) and event.service == name:
                    return event
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(wait(), timeout)


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_list_changed_on_a_persistent_session_lists_again_at_once(tmp_path, tag, era) -> None:
    state = tmp_path / "state"
    state.write_text("base")
    service = rug_pull(state, tag, "--notify", "--era", era, session="persistent", interval="1h")
    engine = Engine(make_config({"rug": service}, timeout="15s"))
    events = engine.subscribe()
    await engine.start()
    try:
        first = await next_result(events, "rug")
        assert [t.name for t in details_of(first.result).tools] == ["search", "delete_records"]
        state.write_text("added")  # the server notices and says tools/list_changed; the interval is an hour
        second = await next_result(events, "rug")
        assert [t.name for t in details_of(second.result).tools] == ["search", "delete_records", "delete_all"]
    finally:
        await engine.stop()
    assert tagged_processes(tag) == []


async def test_a_running_engine_picks_up_an_approval_made_by_another_process(tmp_path, tag) -> None:
    state = tmp_path / "state"
    state.write_text("base")
    path = tmp_path / "history.db"
    PinStore(path).observe("rug", _base_tools(), 1.0)  # approved before: the base tools
    state.write_text("annotations")
    pins = PinStore(path)
    service = rug_pull(state, tag, session="persistent", interval="1h")
    engine = Engine(make_config({"rug": service}, timeout="15s"), pins=pins)
    events = engine.subscribe()
    await engine.start()
    try:
        first = await next_result(events, "rug")
        assert first.result.status is Status.DEGRADED and first.result.reason == CHANGED
        other = PinStore(path)  # as `lookout tools approve` would, from another process
        assert other.approve("rug", 2.0) is not None
        other.close()
        second = await next_result(events, "rug")  # the interval is an hour: the approval asked for this probe
        assert second.result.status is Status.UP
    finally:
        await engine.stop()
        pins.close()
    assert tagged_processes(tag) == []


def _base_tools():
    from core.demo.mcp_servers import rug_pull_tools
    from core.pins.prints import ToolSet, tool_print

    return ToolSet.of(tool_print(tool, lambda text: text) for tool in rug_pull_tools("base"))


async def test_non_ascii_descriptions_count_once_per_character(tmp_path, tag) -> None:
    state = tmp_path / "state"
    state.write_text("non-ascii")
    async with idle_engine(make_config({"rug": rug_pull(state, tag)}, timeout="15s")) as engine:
        found = details_of((await engine.run_once()).get("rug"))
    search = next(tool for tool in found.tools if tool.name == "search")
    assert "レコードを検索します" in search.context_text and "\\u" not in search.context_text
    assert found.context_chars == sum(len(tool.context_text) for tool in found.tools)
    assert found.context_tokens == -(-found.context_chars // 4)
