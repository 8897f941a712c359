"""MCP probes against real SDK servers: stdio in both eras, streamable HTTP, SSE, and the misbehaving ones.

Assertions are on what the probe found (versions, counts, names, reasons) and on cleanup
(processes and file descriptors), never just "no exception".
"""

from __future__ import annotations

import asyncio
import time

import pytest
from fixtures_mcp import open_fds, stdio_service, tagged_processes
from helpers import idle_engine, make_config

from core.details import McpDetails, ServerInfo
from core.engine import Engine
from core.events import InventoryChanged, LogEvent
from core.results import Status

pytestmark = pytest.mark.slow  # every test starts MCP server processes

MODERN = "2026-07-28"


async def test_stdio_server_modern_era_findings(tag) -> None:
    config = make_config({"docs": stdio_service("docs", tag=tag)}, timeout="15s")
    async with idle_engine(config) as engine:
        first = (await engine.run_once()).get("docs")
        second = (await engine.run_once()).get("docs")
        pid = first.details.pid
        assert tagged_processes(tag) == [pid]  # persistent: one server, kept between probes
    assert first.status is Status.UP, first.reason
    details = first.details
    assert isinstance(details, McpDetails)
    assert (details.protocol_version, details.era, details.transport) == (MODERN, "modern", "stdio")
    assert details.server == ServerInfo(name="docs-demo", title="Lookout demo: docs", version="1.4.2")
    assert (details.tool_count, details.resource_count, details.resource_template_count) == (3, 2, 1)
    assert details.prompt_count == 2 and sorted(details.prompts) == ["explain", "summarize"]
    assert [tool.name for tool in details.tools] == ["search-docs", "get-page", "echo"]
    assert details.tools[0].input_schema["required"] == ["query"]
    assert details.context_tokens == -(-details.context_chars // 4) > 50
    assert details.instructions_chars > 0 and "tools" in details.capabilities
    assert details.cold_start is not None and details.cold_start > 0
    assert {"connect", "handshake", "tools/list", "prompts/list"} <= set(first.last_result.timings)
    # The second probe reuses the session: a liveness check instead of a new process and handshake.
    assert second.status is Status.UP and second.details.pid == pid
    assert "server/discover" in second.last_result.timings and "handshake" not in second.last_result.timings
    assert second.details.cold_start is None
    assert tagged_processes(tag) == []  # the engine's shutdown took the server with it


async def test_stdio_server_handshake_era_uses_ping(tag) -> None:
    config = make_config({"old": stdio_service("docs", "--era", "legacy", tag=tag)}, timeout="15s")
    async with idle_engine(config) as engine:
        first = (await engine.run_once()).get("old")
        second = (await engine.run_once()).get("old")
    assert first.status is Status.UP, first.reason
    assert first.details.era == "handshake" and first.details.protocol_version == "2025-11-25"
    assert "ping" in second.last_result.timings
    assert tagged_processes(tag) == []


async def test_remote_transports(mcp_http_url, mcp_http_legacy_url, mcp_sse_url) -> None:
    config = make_config(
        {
            "http": {"kind": "mcp", "transport": "http", "url": mcp_http_url},
            "http-legacy": {"kind": "mcp", "transport": "http", "url": mcp_http_legacy_url},
            "sse": {"kind": "mcp", "transport": "sse", "url": mcp_sse_url},
        },
        timeout="10s",
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
        again = await engine.run_once()
    found = {s.name: (s.status, s.details.era, s.details.tool_count) for s in snapshot.services}
    assert found == {
        "http": (Status.UP, "modern", 3),
        "http-legacy": (Status.UP, "handshake", 3),
        "sse": (Status.UP, found["sse"][1], 3),
    }
    assert all(s.status is Status.UP for s in again.services)
    assert snapshot.get("http").details.transport == "http"
    assert snapshot.get("sse").details.transport == "sse"


async def test_pagination_is_followed(tag) -> None:
    config = make_config({"many": stdio_service("many-tools", tag=tag)}, timeout="15s")
    async with idle_engine(config) as engine:
        service = (await engine.run_once()).get("many")
    assert service.details.tool_count == 60
    assert service.details.tools[-1].name == "tool-59"


async def test_expectations_and_deep_call(tag) -> None:
    config = make_config(
        {
            "good": stdio_service(
                "docs",
                tag=tag,
                expect={"tools": ["search-docs"], "min_tools": 2},
                call={"tool": "search-docs", "arguments": {"query": "react"}, "expect_text": "react"},
            ),
            "lacking": stdio_service(
                "docs",
                tag=tag,
                expect={"tools": ["search-docs", "deploy"], "max_context_tokens": 10},
                call={"tool": "echo", "arguments": {"text": "hello"}, "expect_text": "goodbye"},
            ),
        },
        timeout="15s",
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    good, lacking = snapshot.get("good"), snapshot.get("lacking")
    assert good.status is Status.UP and "call" in good.last_result.timings
    assert lacking.status is Status.DEGRADED
    tokens = lacking.details.context_tokens
    assert lacking.reason == (
        f"missing tools: deploy; tool list costs ~{tokens} tokens of context (limit 10); "
        "tool echo answered without 'goodbye'"
    )


async def test_misbehaving_servers_are_down_with_reasons_in_bounded_time(tag) -> None:
    config = make_config(
        {
            "silent": stdio_service("silent", tag=tag),
            "garbage": stdio_service("garbage", tag=tag),
            "exits": stdio_service("exit-at-once", tag=tag),
            "missing": {"kind": "mcp", "command": "/nonexistent/lookout-test-server"},
            "flood": stdio_service("stderr-flood", tag=tag),
            # An SDK server takes seconds to import on a loaded machine: its start gets room, its tools/list not.
            "hangs": stdio_service("hang-on-list", tag=tag, startup_timeout="20s"),
        },
        timeout="6s",
        startup_timeout="6s",
    )
    started = time.monotonic()
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    elapsed = time.monotonic() - started
    reasons = {s.name: s.reason for s in snapshot.services}
    assert all(s.status is Status.DOWN for s in snapshot.services), reasons
    waiting = "timed out after 6s waiting for the server to start and answer the handshake"
    assert reasons["silent"] == waiting
    assert reasons["garbage"].startswith(waiting + " (the server wrote ")
    assert "unreadable line" in reasons["garbage"] and "not JSON-RPC" in reasons["garbage"]
    assert reasons["exits"] == "process exited with code 1: error: missing API key"
    assert reasons["missing"] == "command not found: /nonexistent/lookout-test-server"
    assert reasons["flood"] == waiting
    assert reasons["hangs"] == "timed out after 6s waiting for tools/list"
    # One deadline per attempt, probes concurrent, cleanup bounded: not the sum of every limit.
    assert elapsed < 40
    assert tagged_processes(tag) == []


async def test_server_dying_mid_session_is_reported_then_reconnected(tag) -> None:
    config = make_config(
        {"dies": stdio_service("die-mid-session", "--requests", "1", tag=tag)},
        timeout="15s",
        retry={"attempts": 1},
    )
    async with idle_engine(config) as engine:
        events = engine.subscribe()
        first = (await engine.run_once()).get("dies")
        died = (await engine.run_once()).get("dies")
        back = (await engine.run_once()).get("dies")
    assert first.status is Status.UP
    assert died.status is Status.DOWN
    assert died.reason == "process exited with code 2: panic: lost connection to backend"
    assert back.status is Status.UP and back.details.pid != first.details.pid
    stderr = [e.message for e in events.drain() if isinstance(e, LogEvent) and e.source == "stderr"]
    assert "panic: lost connection to backend" in stderr
    assert tagged_processes(tag) == []


async def test_crash_between_probes_is_detected_and_retried(tag) -> None:
    config = make_config(
        {"crashy": stdio_service("crashy", "--lifetime-min", "0.5", "--lifetime-max", "0.5", tag=tag)},
        timeout="15s",
        retry={"attempts": 2, "initial": "10ms", "jitter": 0},
    )
    async with idle_engine(config) as engine:
        events = engine.subscribe()
        first = (await engine.run_once()).get("crashy")
        await asyncio.sleep(1.5)
        second = (await engine.run_once()).get("crashy")
    assert first.status is Status.UP
    # The dead session is reported, and the retry policy reconnects within the same probe.
    assert second.status is Status.UP and second.last_result.attempts == 2
    messages = [e.message for e in events.drain() if isinstance(e, LogEvent)]
    assert "session lost: process exited with code 1: fatal: simulated crash; reconnecting" in messages
    assert tagged_processes(tag) == []


async def test_tool_list_changes_are_events(tag) -> None:
    config = make_config({"changing": stdio_service("changing", "--every", "1.5", tag=tag)}, timeout="15s")
    async with idle_engine(config) as engine:
        events = engine.subscribe()
        await engine.run_once()
        await asyncio.sleep(1.6)
        await engine.run_once()
    changes = [e for e in events.drain() if isinstance(e, InventoryChanged)]
    assert len(changes) == 1
    change = changes[0]
    assert change.kind == "tools" and change.added == ("beta-feature",) and change.changed == ("search-docs",)


async def test_stderr_is_captured_into_log_events(tag) -> None:
    config = make_config({"chatty": stdio_service("verbose", tag=tag)}, timeout="15s")
    async with idle_engine(config) as engine:
        events = engine.subscribe()
        await engine.run_once()
        await asyncio.sleep(0.5)
        await engine.run_once()
    lines = [e for e in events.drain() if isinstance(e, LogEvent) and e.source == "stderr"]
    assert any(e.message.startswith("debug: background sync #") and e.service == "chatty" for e in lines)


async def test_secrets_in_env_never_appear(tag) -> None:
    secret = "sk-test-1234567890abcdef"
    config = make_config(
        {
            "leaky": {
                "kind": "mcp",
                "command": "sh",
                "args": ["-c", 'echo "invalid key $API_KEY" >&2; exit 1'],
                "env": {"API_KEY": "${LEAKY_KEY}"},
            }
        },
        env={"LEAKY_KEY": secret},
    )
    async with idle_engine(config) as engine:
        events = engine.subscribe()
        snapshot = await engine.run_once()
    service = snapshot.get("leaky")
    assert service.reason == "process exited with code 1: invalid key ***"
    assert service.config_summary["env"] == {"API_KEY": "***"}
    assert all(secret not in repr(event) for event in events.drain())


async def test_fresh_probes_leave_no_processes_or_descriptors(tag, mcp_http_url) -> None:
    config = make_config(
        {
            "stdio": stdio_service("docs", session="fresh", tag=tag),
            **{f"http-{i}": {"kind": "mcp", "url": mcp_http_url, "session": "fresh"} for i in range(10)},
        },
        timeout="15s",
    )
    async with idle_engine(config) as engine:
        await engine.run_once()  # warm-up: the shared HTTP client and imports hold descriptors for good
        before = open_fds()
        pids = set()
        for _ in range(19):  # 19 rounds x 11 services = 209 fresh probes
            snapshot = await engine.run_once()
            assert all(s.status is Status.UP for s in snapshot.services), [s.reason for s in snapshot.services]
            pids.add(snapshot.get("stdio").details.pid)
            assert tagged_processes(tag) == []  # fresh: gone after every probe
        after = open_fds()
    assert len(pids) == 19
    assert after <= before


async def test_engine_stop_ends_persistent_servers(tag) -> None:
    config = make_config(
        {"docs": stdio_service("docs", tag=tag), "old": stdio_service("docs", "--era", "legacy", tag=tag)}
    )
    async with Engine(config) as engine:
        await engine.run_once()
        assert len(tagged_processes(tag)) == 2
    assert tagged_processes(tag) == []
