"""An MCP probe's expectations come back as checks, each judged, in the order its reason lists failures."""

from __future__ import annotations

import pytest
from fixtures_mcp import stdio_service, tagged_processes
from helpers import idle_engine, make_config

from core.report import to_json
from core.results import Status


@pytest.mark.slow
async def test_every_configured_expectation_is_a_check_passed_or_failed(tag) -> None:
    config = make_config(
        {
            "docs": stdio_service(
                "docs",
                tag=tag,
                expect={"tools": ["search-docs", "deploy"], "min_tools": 2, "max_context_tokens": 10},
                call={"tool": "echo", "arguments": {"text": "hello"}, "expect_text": "hello"},
            ),
        },
        timeout="15s",
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("docs")
    assert service is not None and service.status is Status.DEGRADED, service and service.reason
    result = service.last_result
    assert result is not None
    tokens = service.details.context_tokens
    assert [(c.condition, c.ok, c.message) for c in result.checks] == [
        ("tools include search-docs, deploy", False, "missing tools: deploy"),
        ("at least 2 tools", True, f"{service.details.tool_count} tools"),
        ("tool list at most 10 tokens of context", False, f"tool list costs ~{tokens} tokens of context (limit 10)"),
        ("tools/call echo answers with 'hello'", True, "answered as expected"),
        ("inventory within Lookout's caps", True, "complete"),
    ]
    assert service.reason == f"missing tools: deploy; tool list costs ~{tokens} tokens of context (limit 10)"
    assert [check["ok"] for check in to_json(snapshot)["services"][0]["checks"]] == [False, True, False, True, True]
    assert tagged_processes(tag) == []
