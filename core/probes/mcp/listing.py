"""Listing what an MCP server offers, page by page, within the attempt's stages and Lookout's caps.

Which lists are asked for follows the server's declared capabilities; a server
that declares none is still asked for its tools (many omit the declaration).
Every page is one stage (bounded by the deadline, its time added to the list's),
and all lists of one inventory share one `ListingBudget`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.pins.prints import tool_print
from core.probes.mcp.inventory import Inventory, ListingBudget, collect_pages, listed_size, tool_info
from core.probes.mcp.stages import Stages

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import PaginatedRequestParams

Fetch = Callable[["PaginatedRequestParams"], Awaitable[Any]]


async def list_inventory(client: Client, stages: Stages, redact: Callable[[str], str] = str) -> Inventory:
    """Tools, resources, resource templates and prompts, as far as the caps allow (`Inventory.limits` says).

    Each tool is fingerprinted here, from the SDK's record of what the server sent (`redact` masks secrets
    in the values kept for showing a diff; the hashes are over the raw text)."""
    from mcp_types import PaginatedRequestParams  # loaded: there is a client

    caps = client.server_capabilities
    raw = client.session
    inventory = Inventory()
    budget = ListingBudget()

    async def pages(method: str, noun: str, fetch: Fetch, items: str) -> list[Any]:
        async def page(cursor: str | None) -> Any:
            return await stages.run(method, fetch(PaginatedRequestParams(cursor=cursor)))

        return await collect_pages(page, items, method=method, noun=noun, budget=budget, size_of=listed_size)

    if caps.tools is not None or not _any_capability(caps):
        tools = await pages("tools/list", "tool", lambda p: raw.list_tools(params=p), "tools")
        inventory.prints = [tool_print(t, redact) for t in tools]
        inventory.tools = [tool_info(t, p.fingerprint) for t, p in zip(tools, inventory.prints, strict=True)]
    if caps.resources is not None:
        resources = await pages("resources/list", "resource", lambda p: raw.list_resources(params=p), "resources")
        inventory.resources = [r.name for r in resources]
        templates = await pages(
            "resources/templates/list",
            "resource template",
            lambda p: raw.list_resource_templates(params=p),
            "resource_templates",
        )
        inventory.resource_templates = [r.name for r in templates]
    if caps.prompts is not None:
        prompts = await pages("prompts/list", "prompt", lambda p: raw.list_prompts(params=p), "prompts")
        inventory.prompts = [p.name for p in prompts]
    inventory.limits = list(budget.problems)
    return inventory


def _any_capability(caps: Any) -> bool:
    return any(getattr(caps, name, None) is not None for name in ("tools", "resources", "prompts"))
