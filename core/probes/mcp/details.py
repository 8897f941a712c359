"""The findings of one MCP probe, as the result's `details` (what report, panels and screens show).

Built in this one function, from the session and the inventory, so the shape
of what an MCP result carries is defined in one place.
"""

from __future__ import annotations

from typing import Any

from core.config import McpService
from core.probes.mcp.inventory import Inventory
from core.probes.mcp.session import McpSession


def mcp_details(
    session: McpSession, inventory: Inventory, cold_start: float | None, service: McpService
) -> dict[str, Any]:
    """Protocol, server, capabilities, inventory and context cost; the process for a stdio server."""
    client = session.client
    assert client is not None
    info = client.server_info
    caps = client.server_capabilities
    details: dict[str, Any] = {
        "transport": service.transport,
        "session": service.session,
        "protocol_version": client.protocol_version,
        "era": session.era(),
        "server": {
            "name": getattr(info, "name", None),
            "title": getattr(info, "title", None),
            "version": getattr(info, "version", None),
        },
        "capabilities": [
            name
            for name in ("tools", "resources", "prompts", "logging", "completions")
            if getattr(caps, name, None) is not None
        ],
        "instructions_chars": len(client.instructions or ""),
        "tools": [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in inventory.tools
        ],
        "tool_count": len(inventory.tools),
        "resource_count": len(inventory.resources),
        "resource_template_count": len(inventory.resource_templates),
        "prompt_count": len(inventory.prompts),
        "resources": list(inventory.resources),
        "resource_templates": list(inventory.resource_templates),
        "prompts": list(inventory.prompts),
        "context_chars": inventory.context_chars,
        "context_tokens": inventory.context_tokens,
        "inventory_limits": list(inventory.limits),
        "cold_start": round(cold_start, 1) if cold_start is not None else None,
    }
    if session.process is not None:
        details["pid"] = session.process.pid
        details["stderr_lines"] = session.process.stderr_lines
    return details
