"""What an MCP server offers: tools, resources, templates and prompts, and what changed since last time.

The tool list is what every agent pays for in context on every turn, so its
size is measured (characters and an approximate token count of names,
descriptions and input schemas), and changes between probes are reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.sanitize import clean_line, clean_text

MAX_PAGES = 100
"""A server that keeps handing out cursors is misbehaving; stop rather than loop forever."""
CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text and JSON with current tokenizers."""


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]

    @property
    def context_text(self) -> str:
        """Roughly what a client puts in a model's context for this tool."""
        return json.dumps(
            {"name": self.name, "description": self.description, "input_schema": self.input_schema},
            separators=(",", ":"),
            sort_keys=True,
        )

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(self.context_text.encode(), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class Inventory:
    tools: list[ToolInfo] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    resource_templates: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)

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

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.changed:
            parts.append("changed " + ", ".join(self.changed))
        return "; ".join(parts)


def diff_names(old: dict[str, str], new: dict[str, str]) -> InventoryDiff:
    """Compare name -> fingerprint maps (fingerprint "" when only names matter)."""
    return InventoryDiff(
        added=tuple(sorted(set(new) - set(old))),
        removed=tuple(sorted(set(old) - set(new))),
        changed=tuple(sorted(name for name in set(old) & set(new) if old[name] != new[name])),
    )


async def collect_pages(fetch: Callable[[str | None], Awaitable[Any]], items: str) -> list[Any]:
    """Follow pagination cursors: fetch(cursor) -> result with `.<items>` and `.next_cursor`."""
    collected: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = await fetch(cursor)
        collected.extend(getattr(page, items))
        cursor = page.next_cursor
        if not cursor or cursor in seen:
            break
        seen.add(cursor)
    return collected


def tool_info(tool: Any) -> ToolInfo:
    """A listed tool, its name and description made safe to show (no terminal control survives).

    Nothing is clipped here: the context-cost figure is computed from this text and must stay what an
    agent pays for the raw tool. The difference is negligible: a client puts the list in context as
    JSON, which already spells a control character as six characters (`\\u001b`), so the visible
    placeholder (`\\x1b`) moves the count by about one character per control character. Fingerprints
    are taken from the full text too, so a change beyond any display cut is still reported. Results
    clip and redact every string of the inventory where they are built (the pipeline).
    """
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    return ToolInfo(
        name=clean_line(str(tool.name), None),
        description=clean_text(tool.description or "", None),
        input_schema=schema,
    )
