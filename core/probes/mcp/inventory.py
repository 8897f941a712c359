"""What an MCP server offers: tools, resources, templates and prompts, and what changed since last time.

The tool list is what every agent pays for in context on every turn, so its
size is measured (characters and an approximate token count of names,
descriptions and input schemas), and changes between probes are reported.

What a server lists is server-controlled, so it is capped: a server offering
100,000 tools (or one that hands out cursors forever) must cost Lookout a
bounded amount of memory and time, and is reported degraded with the reason
rather than silently cut short and called up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.details import ToolInfo
from core.pins.prints import ToolPrint, ToolSet
from core.sanitize import clean_line, clean_text
from core.sizes import format_size

MAX_ITEMS = 5000
"""Per list (tools, resources, resource templates, prompts): far past any useful server, and bounded."""
MAX_BYTES = 10 * 1024 * 1024
"""All lists of one inventory together (names, descriptions, schemas, URIs)."""
MAX_PAGES = 500
"""A server still handing out cursors after this many pages is not going to stop (5,000 items at 10 a page)."""
CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text and JSON with current tokenizers (see core.details: counted on
the text as a model sees it, non-ASCII characters as themselves)."""


@dataclass(slots=True)
class Inventory:
    tools: list[ToolInfo] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    resource_templates: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    """Why a list was cut short (a cap reached, a pagination that would not end): the probe is degraded."""
    prints: list[ToolPrint] = field(default_factory=list)
    """Each tool's fingerprint over the server's raw text, field by field (what pins compare)."""

    def tool_set(self) -> ToolSet:
        return ToolSet.of(self.prints)

    @property
    def context_chars(self) -> int:
        return sum(len(tool.context_text) for tool in self.tools)

    @property
    def context_tokens(self) -> int:
        return -(-self.context_chars // CHARS_PER_TOKEN)

    def tool_map(self) -> dict[str, str]:
        return {tool.name: tool.fingerprint for tool in self.tools}


@dataclass(frozen=True, slots=True)
class InventoryDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def diff_names(old: dict[str, str], new: dict[str, str]) -> InventoryDiff:
    """Compare name -> fingerprint maps (fingerprint "" when only names matter)."""
    return InventoryDiff(
        added=tuple(sorted(set(new) - set(old))),
        removed=tuple(sorted(set(old) - set(new))),
        changed=tuple(sorted(name for name in set(old) & set(new) if old[name] != new[name])),
    )


@dataclass(slots=True)
class ListingBudget:
    """What one inventory may still take, shared by all its lists; and why it stopped early, if it did."""

    max_items: int = MAX_ITEMS
    max_pages: int = MAX_PAGES
    max_bytes: int = MAX_BYTES
    used_bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        return self.used_bytes >= self.max_bytes


async def collect_pages(
    fetch: Callable[[str | None], Awaitable[Any]],
    items: str,
    *,
    method: str,
    noun: str,
    budget: ListingBudget,
    size_of: Callable[[Any], int],
) -> list[Any]:
    """Follow pagination cursors (fetch(cursor) -> page with `.<items>` and `.next_cursor`), within `budget`.

    Stops at the item cap, the byte cap or the page cap and says so in
    `budget.problems`; a cursor the server handed out before means the
    pagination would never end, and is reported the same way.
    """
    collected: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for pages in range(1, budget.max_pages + 1):
        if budget.exhausted:
            return collected
        page = await fetch(cursor)
        for item in getattr(page, items):
            if len(collected) >= budget.max_items:
                budget.problems.append(f"{noun} list capped at {budget.max_items} (the server offers more)")
                return collected
            size = size_of(item)
            if budget.used_bytes + size > budget.max_bytes:
                budget.used_bytes = budget.max_bytes
                budget.problems.append(
                    f"inventory capped at {format_size(budget.max_bytes)} during {method} (the server offers more)"
                )
                return collected
            budget.used_bytes += size
            collected.append(item)
        cursor = page.next_cursor
        if not cursor:
            return collected
        if cursor in seen:
            budget.problems.append(f"{method} pagination did not end: page {pages} repeated an earlier cursor")
            return collected
        seen.add(cursor)
    budget.problems.append(f"{method} pagination did not end after {budget.max_pages} pages")
    return collected


def listed_size(item: Any) -> int:
    """Roughly what a listed item costs to hold: its texts, and a tool's input schema as JSON."""
    texts = (getattr(item, name, None) for name in ("name", "title", "description", "uri", "uri_template"))
    size = sum(len(str(text)) for text in texts if text)
    schema = getattr(item, "input_schema", None)
    if schema:
        size += len(json.dumps(schema, separators=(",", ":"), default=str))
    return size


def tool_info(tool: Any, raw_fingerprint: str = "") -> ToolInfo:
    """A listed tool, its name and description made safe to show (no terminal control survives).

    Nothing is clipped here: the context-cost figure is computed from this text and must stay what an
    agent pays for the raw tool. The difference is negligible: a client puts the list in context as
    JSON, which already spells a control character as six characters (`\\u001b`), so the visible
    placeholder (`\\x1b`) moves the count by about one character per control character. Fingerprints
    are taken from the server's raw text (`raw_fingerprint`, core.pins.prints), so a change beyond any
    display cut, or in a field not shown (annotations, the output schema), is still reported. Results
    clip and redact every string of the inventory where they are built (the pipeline).
    """
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    return ToolInfo(
        name=clean_line(str(tool.name), None),
        description=clean_text(tool.description or "", None),
        input_schema=schema,
        raw_fingerprint=raw_fingerprint,
    )
