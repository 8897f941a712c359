"""The findings of one MCP probe, as the result's typed `McpDetails` (what report, panels and screens show).

Built in this one function, from the session and the inventory, so the shape
of what an MCP result carries is defined in one place (`core.details`).
"""

from __future__ import annotations

from core.config import McpService
from core.details import McpDetails, ServerInfo
from core.probes.mcp.inventory import Inventory
from core.probes.mcp.session import McpSession

CAPABILITIES = ("tools", "resources", "prompts", "logging", "completions")


def mcp_details(session: McpSession, inventory: Inventory, cold_start: float | None, service: McpService) -> McpDetails:
    """Protocol, server, capabilities, inventory and context cost; the process for a stdio server."""
    client = session.client
    assert client is not None
    info = client.server_info
    caps = client.server_capabilities
    process = session.process
    return McpDetails(
        transport=service.transport,
        session=service.session,
        protocol_version=client.protocol_version,
        era=session.era(),
        server=ServerInfo(
            name=getattr(info, "name", None),
            title=getattr(info, "title", None),
            version=getattr(info, "version", None),
        ),
        capabilities=tuple(name for name in CAPABILITIES if getattr(caps, name, None) is not None),
        instructions_chars=len(client.instructions or ""),
        tools=tuple(inventory.tools),
        resources=tuple(inventory.resources),
        resource_templates=tuple(inventory.resource_templates),
        prompts=tuple(inventory.prompts),
        context_chars=inventory.context_chars,
        context_tokens=inventory.context_tokens,
        inventory_limits=tuple(inventory.limits),
        cold_start=round(cold_start, 1) if cold_start is not None else None,
        pid=process.pid if process is not None else None,
        stderr_lines=process.stderr_lines if process is not None else None,
    )
