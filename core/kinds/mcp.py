"""The mcp kind: how an MCP server's target, findings and inventory read in reports and the detail screen.

Only presentation and the config model live here: the probe (and with it the
mcp SDK) is imported when an MCP service is first built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.config.models import McpService
from core.kinds.auth import auth_json, auth_sections
from core.kinds.base import DetailColumn, DetailSection, ProbeKind
from core.numbers import format_ms
from core.redact import Redactor
from core.sanitize import clean_line

if TYPE_CHECKING:
    from core.details import McpDetails
    from core.snapshot import ServiceSnapshot


def describe_target(config: McpService, redact: Redactor) -> str:
    """The command line of a stdio server (secret arguments masked), else its URL."""
    if config.transport == "stdio":
        return " ".join([redact(config.command or ""), *redact.args(config.args)]).strip()
    return redact(config.url or "")


def _details(service: ServiceSnapshot) -> McpDetails | None:
    from core.details import McpDetails  # here: the config loader reads this module before `--once` spawns a server

    details = service.details
    return details if isinstance(details, McpDetails) else None


def summary_line(service: ServiceSnapshot) -> str:
    """Protocol, server, inventory, context cost, stage timings and tool names, in one line."""
    d = _details(service)
    if d is None or d.protocol_version is None:
        return ""  # never connected (a refusal, say): nothing found to summarize
    parts = []
    if d.protocol_version:
        parts.append(f"protocol {d.protocol_version}")
    if d.server.name:
        parts.append(f"server {d.server.name} {d.server.version or ''}".rstrip())
    parts.append(f"{d.tool_count} tools, {d.resource_count} resources, {d.prompt_count} prompts")
    if d.context_tokens:
        parts.append(f"~{d.context_tokens} tokens of tool context")
    timings = service.last_result.timings if service.last_result else {}
    if timings:
        parts.append(" ".join(f"{stage} {format_ms(ms)}" for stage, ms in timings.items()))
    if d.tools:
        parts.append("tools: " + ", ".join(tool.name for tool in d.tools))
    return clean_line(" · ".join(parts), None)


def report_fields(service: ServiceSnapshot) -> dict[str, Any]:
    """The transport and an `mcp` block; its values are null until a probe has found something."""
    found = _details(service)
    # What answered ("sse (fallback)" for a url without a transport that only SSE served), else the config's.
    transport = found.transport if found and found.transport else service.transport
    d = found if found and found.protocol_version is not None else None  # a refusal found no server
    if d is not None:
        server = d.server
    else:
        from core.details import ServerInfo

        server = ServerInfo()
    return {
        "transport": transport,
        "auth": auth_json(service),
        "mcp": {
            "protocol_version": d.protocol_version if d else None,
            "era": d.era if d else None,
            "server": {"name": server.name, "title": server.title, "version": server.version},
            "capabilities": list(d.capabilities) if d else [],
            "tool_count": d.tool_count if d else None,
            "resource_count": d.resource_count if d else None,
            "resource_template_count": d.resource_template_count if d else None,
            "prompt_count": d.prompt_count if d else None,
            "tools": [tool.name for tool in d.tools] if d else [],
            "context_tokens": d.context_tokens if d else None,
            "instructions_chars": d.instructions_chars if d else None,
            "cold_start": d.cold_start if d else None,
            "pin": d.pin if d else None,
            "tool_changes": [
                {"tool": c.tool, "change": c.change, "field": c.field or None, "approved": c.approved, "now": c.now}
                for c in (d.tool_changes if d else ())
            ],
        },
    }


def detail_sections(service: ServiceSnapshot) -> Sequence[DetailSection]:
    """The server, its protocol and inventory, and every tool with what it costs in context."""
    d = _details(service)
    if d is None:
        return ()
    if d.protocol_version is None:
        return auth_sections(service)  # refused before the handshake: only why
    facts = [("server", " ".join(str(x) for x in (d.server.name, d.server.version) if x))]
    if d.server.title:
        facts.append(("title", d.server.title))
    facts += [
        ("protocol", f"{d.protocol_version} ({d.era} era) over {d.transport}"),
        ("capabilities", ", ".join(d.capabilities) or "-"),
        ("instructions", f"{d.instructions_chars} characters"),
        (
            "inventory",
            f"{d.tool_count} tools, {d.resource_count} resources, "
            f"{d.resource_template_count} templates, {d.prompt_count} prompts",
        ),
        ("tool context", f"~{d.context_tokens} tokens ({d.context_chars} characters)"),
    ]
    if d.cold_start:
        facts.append(("cold start", format_ms(d.cold_start)))
    if d.pin:
        facts.append(("tools", PIN_STATES.get(d.pin, d.pin)))
    return (
        *_pin_sections(d),
        DetailSection(
            "MCP server",
            facts=tuple(facts),
            columns=(
                DetailColumn("tool", key=True),
                DetailColumn("~tokens", numeric=True),
                DetailColumn("description"),
            ),
            rows=tuple(
                (tool.name, str(tool.approx_tokens), (tool.description or "").split("\n")[0]) for tool in d.tools
            ),
        ),
        *auth_sections(service),
    )


PIN_STATES = {
    "pinned": "pinned as first seen (trust on first use)",
    "approved": "as approved",
    "changed": "changed since approved (press A to approve, or `lookout tools approve NAME`)",
}


def _pin_sections(d: McpDetails) -> tuple[DetailSection, ...]:
    """The tools that differ from the approved ones: added, removed, and each changed field, both values."""
    if not d.tool_changes:
        return ()
    return (
        DetailSection(
            "Tools changed since approved",
            columns=(
                DetailColumn("tool", key=True),
                DetailColumn("change"),
                DetailColumn("approved"),
                DetailColumn("now"),
            ),
            rows=tuple((c.tool, c.field or c.change, c.approved, c.now) for c in d.tool_changes),
        ),
    )


KIND = ProbeKind(
    name="mcp",
    config_model=McpService,
    probe="core.probes.mcp:create_mcp_probe",
    describe_target=describe_target,
    summary_line=summary_line,
    detail_sections=detail_sections,
    report_fields=report_fields,
)
