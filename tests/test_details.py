"""Typed findings (core/details.py): every string a server supplied comes out redacted, inert and clipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.details import HttpDetails, McpDetails, ServerInfo, ToolInfo
from core.redact import Redactor
from core.results import ProbeResult, Status
from core.sanitize import NAME_LIMIT, TEXT_LIMIT
from core.snapshot import ProbeTally

NOW = datetime(2026, 11, 25, 3, 0, 0, tzinfo=UTC)
SECRET = "sk-live-0123456789abcdef"
CSI = "\x1b[2J"
SHOWN_CSI = "\\x1b[2J"


def hostile_mcp() -> McpDetails:
    return McpDetails(
        transport="stdio",
        session="persistent",
        protocol_version="2026\x1b]0;x\x07",
        era="modern\nera",
        server=ServerInfo(name="evil" + CSI + "n" * 500, title="t\u202e", version=f"1.0 {SECRET}"),
        capabilities=("tools" + CSI,),
        instructions_chars=12,
        tools=(
            ToolInfo(
                "search" + CSI,
                f"Line one {SECRET}\x9b31m\nline two" + "d" * 10_000,
                {"properties": {"q" + CSI: {"description": f"a query {SECRET}", "title": "T\nitle"}}},
            ),
        ),
        resources=("index\x1b",),
        resource_templates=("page/{slug}\x07",),
        prompts=("ask\r\n",),
        context_chars=900,
        context_tokens=225,
        inventory_limits=("tools list capped\x1b",),
        cold_start=812.5,
        pid=4242,
        stderr_lines=3,
    )


def test_mcp_details_are_made_safe_field_by_field() -> None:
    raw = hostile_mcp()
    safe = raw.safe(Redactor([SECRET]))
    assert safe.protocol_version == "2026\\x1b]0;x\\x07"
    assert safe.era == "modern era"  # a name is one line
    assert safe.server.name is not None and safe.server.name.startswith("evil" + SHOWN_CSI)
    assert len(safe.server.name) == NAME_LIMIT and safe.server.name.endswith("…")
    assert safe.server.title == "t\\u202e" and safe.server.version == "1.0 ***"
    assert safe.capabilities == ("tools" + SHOWN_CSI,)
    tool = safe.tools[0]
    assert tool.name == "search" + SHOWN_CSI
    assert tool.description.startswith("Line one ***\\x9b31m\nline two")  # a block keeps its line breaks
    assert len(tool.description) == TEXT_LIMIT
    (key,) = tool.input_schema["properties"]
    assert key == "q" + SHOWN_CSI
    assert tool.input_schema["properties"][key] == {"description": "a query ***", "title": "T itle"}
    assert (safe.resources, safe.resource_templates, safe.prompts) == (("index\\x1b",), ("page/{slug}\\x07",), ("ask",))
    assert safe.inventory_limits == ("tools list capped\\x1b",)
    # Numbers pass untouched; counts follow the lists.
    assert (safe.context_chars, safe.context_tokens, safe.cold_start, safe.pid, safe.stderr_lines) == (
        900,
        225,
        812.5,
        4242,
        3,
    )
    assert (safe.tool_count, safe.resource_count, safe.resource_template_count, safe.prompt_count) == (1, 1, 1, 1)
    assert raw.server.name is not None and CSI in raw.server.name  # frozen: the raw record is unchanged


def test_clean_details_come_back_equal() -> None:
    clean = McpDetails(
        transport="http",
        server=ServerInfo(name="docs", version="1.4.2"),
        tools=(ToolInfo("search", "Search the docs.", {"type": "object"}),),
        prompts=("explain",),
    )
    assert clean.safe(Redactor()) == clean
    assert HttpDetails(http_version="HTTP/1.1", body_truncated_at=1024).safe(Redactor()) == HttpDetails(
        "HTTP/1.1", 1024
    )
    assert HttpDetails(http_version="HTTP/1.1\x1b").safe(Redactor()).http_version == "HTTP/1.1\\x1b"


def test_a_tools_context_cost_is_its_compact_json() -> None:
    tool = ToolInfo("echo", "Say it back.", {"type": "object"})
    assert tool.context_chars == len('{"description":"Say it back.","input_schema":{"type":"object"},"name":"echo"}')
    assert tool.approx_tokens == tool.context_chars // 4


def test_the_tally_keeps_the_last_findings_through_a_failure_and_counts_only_contacted_probes() -> None:
    found = McpDetails(server=ServerInfo(name="docs"))
    up = ProbeResult("s", NOW, Status.UP, attempts=2, details=found)
    down = ProbeResult("s", NOW + timedelta(seconds=30), Status.DOWN, attempts=3, full_reason="long " * 100)
    skipped = ProbeResult("s", NOW + timedelta(seconds=60), Status.DOWN, contacted=False)
    tally = ProbeTally().after(up).after(down).after(down).after(skipped)
    assert (tally.probes, tally.retries, tally.consecutive_failures) == (4, 1 + 2 + 2, 2)
    assert tally.last_checked == NOW + timedelta(seconds=60)
    assert tally.details is found  # a failure has no findings: the last known ones stay
    newer = HttpDetails(body_truncated_at=10)
    assert ProbeTally().after(up).after(replace(down, details=newer)).details is newer
