"""The findings of one MCP probe, as the result's typed `McpDetails` (what report, panels and screens show).

Built in this one function, from the session and the inventory, so the shape
of what an MCP result carries is defined in one place (`core.details`).
"""

from __future__ import annotations

from typing import Any

from core.config import McpService
from core.details import McpDetails, ServerInfo
from core.probes.mcp.inventory import Inventory
from core.probes.mcp.pinning import PinVerdict
from core.probes.mcp.session import McpSession

CAPABILITIES = ("tools", "resources", "prompts", "logging", "completions")
"""Listed first, in this order (what every server is asked about); any other capability the server declares
(tasks, experimental, extensions) follows by name."""


def mcp_details(
    session: McpSession,
    inventory: Inventory,
    cold_start: float | None,
    service: McpService,
    pin: PinVerdict | None = None,
) -> McpDetails:
    """Protocol, server, capabilities, inventory and context cost; the process for a stdio server; the tools
    against their pin, when pins are kept."""
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
        capabilities=declared_capabilities(caps),
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
        pin=pin.state if pin is not None else None,
        tools_fingerprint=inventory.tool_set().fingerprint if pin is not None else None,
        tool_changes=pin.changes if pin is not None else (),
    )


def declared_capabilities(caps: Any) -> tuple[str, ...]:
    """Every capability the server declared, by its wire name: the usual five first, then the rest sorted."""
    declared: dict[str, Any] = {}
    if hasattr(caps, "model_dump"):
        declared = caps.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(caps, dict):
        declared = {key: value for key, value in caps.items() if value is not None}
    names = [str(name) for name in declared]
    return tuple([name for name in CAPABILITIES if name in names] + sorted(set(names) - set(CAPABILITIES)))
