"""What changed in a server's inventory since the last probe, as an `InventoryChanged` event (a view logs it).

A tool that appears, disappears or changes its description or schema between
probes changes what every agent using the server sees (and pays for in
context); resources, templates and prompts are compared by name.
"""

from __future__ import annotations

from core.events import InventoryChanged
from core.probes.base import ProbeContext
from core.probes.mcp.inventory import Inventory, InventoryDiff, diff_names


class InventoryWatch:
    """Remembers one service's last inventory; the first one seen is the baseline, not a change."""

    def __init__(self, service_name: str, ctx: ProbeContext) -> None:
        self._service_name = service_name
        self._ctx = ctx
        self._last_tools: dict[str, str] | None = None
        self._last_other: dict[str, tuple[str, ...]] = {}

    def observe(self, inventory: Inventory) -> None:
        tools = inventory.tool_map()
        others = {
            "resources": tuple(inventory.resources),
            "resource templates": tuple(inventory.resource_templates),
            "prompts": tuple(inventory.prompts),
        }
        if self._last_tools is not None:
            diff = diff_names(self._last_tools, tools)
            if diff:
                self._publish("tools", diff)
            for kind, names in others.items():
                before = dict.fromkeys(self._last_other.get(kind, ()), "")
                change = diff_names(before, dict.fromkeys(names, ""))
                if change:
                    self._publish(kind, change)
        self._last_tools = tools
        self._last_other = others

    def _publish(self, kind: str, diff: InventoryDiff) -> None:
        self._ctx.publish(
            InventoryChanged(
                at=self._ctx.now(),
                service=self._service_name,
                kind=kind,
                added=diff.added,
                removed=diff.removed,
                changed=diff.changed,
            )
        )
