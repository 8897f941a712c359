"""A listed tool's fingerprint: one hash per field, taken over the server's raw text as canonical JSON.

Why per field: the change that matters in a rug pull is often one bit of
metadata (`annotations.destructiveHint` true -> false), and naming it is what
makes the warning worth reading. Why the raw text: what is shown is made safe
and clipped, so a change beyond the clip, or in a control character, would not
change it. Alongside each hash a short, safe rendering of the value is kept, so
a diff can show what was approved next to what is listed now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.sanitize import NAME_LIMIT, clean_line

FIELDS = ("name", "title", "description", "inputSchema", "outputSchema")
"""What an agent reads of a tool, by its wire name; `annotations` is compared key by key besides."""
SHOWN_LIMIT = 300
"""Characters of a field's value kept for showing in a diff (the hash covers the whole value)."""
HASH_CHARS = 32
"""128 bits of SHA-256: a fingerprint that tells changes apart, not a signature."""

Redact = Callable[[str], str]


def canonical(value: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, characters as they are (not escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def raw_fields(tool: Any) -> dict[str, Any]:
    """The tool's fields as the server sent them (wire names), annotations flattened to `annotations.<key>`.

    A field the server left out (or sent as null) is absent, so adding or dropping one is a change.
    """
    if hasattr(tool, "model_dump"):
        data = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(tool, Mapping):
        data = {key: value for key, value in tool.items() if value is not None}
    else:
        data = {}
    fields = {key: data[key] for key in FIELDS if key in data}
    annotations = data.get("annotations")
    if isinstance(annotations, Mapping):
        for key, value in annotations.items():
            if value is not None:
                fields[f"annotations.{key}"] = value
    elif annotations is not None:
        fields["annotations"] = annotations
    return fields


def shown_value(value: Any, redact: Redact) -> str:
    """A field's value as a diff shows it: one safe line, secrets masked, clipped."""
    text = value if isinstance(value, str) else canonical(value)
    return clean_line(redact(text), SHOWN_LIMIT)


@dataclass(frozen=True, slots=True)
class ToolPrint:
    """One tool: its name as shown, each field's hash, and each field's value as shown."""

    name: str
    hashes: Mapping[str, str] = field(default_factory=dict)
    shown: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return digest(sorted(self.hashes.items()))

    def to_json(self) -> dict[str, Any]:
        return {"hashes": dict(self.hashes), "shown": dict(self.shown)}


def tool_print(tool: Any, redact: Redact) -> ToolPrint:
    """Fingerprint one listed tool (an SDK `Tool` or a dict with the wire names)."""
    fields = raw_fields(tool)
    return ToolPrint(
        name=clean_line(redact(str(fields.get("name", ""))), NAME_LIMIT),
        hashes={key: digest(value) for key, value in fields.items()},
        shown={key: shown_value(value, redact) for key, value in fields.items()},
    )


@dataclass(frozen=True, slots=True)
class ToolSet:
    """A server's tools by name, as fingerprinted (what a pin approves, or what a probe saw)."""

    tools: Mapping[str, ToolPrint] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return digest(sorted((name, tool.fingerprint) for name, tool in self.tools.items()))

    def __len__(self) -> int:
        return len(self.tools)

    def to_json(self) -> str:
        return canonical({name: tool.to_json() for name, tool in self.tools.items()})

    @classmethod
    def of(cls, prints: Iterable[ToolPrint]) -> ToolSet:
        """Keyed by shown name; two tools whose shown names coincide (a clip) both stay, the later one marked."""
        tools: dict[str, ToolPrint] = {}
        for tool in prints:
            name, n = tool.name, 1
            while name in tools:
                n += 1
                name = f"{tool.name} ({n})"
            tools[name] = tool if name == tool.name else ToolPrint(name, tool.hashes, tool.shown)
        return cls(tools)

    @classmethod
    def from_json(cls, text: str) -> ToolSet:
        """Read back what `to_json` wrote; anything unreadable counts as no tools (a changed pin, not a crash)."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        tools = {}
        for name, entry in data.items():
            if not isinstance(entry, dict):
                continue
            hashes, shown = entry.get("hashes"), entry.get("shown")
            tools[str(name)] = ToolPrint(
                name=str(name),
                hashes={str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else {},
                shown={str(k): str(v) for k, v in shown.items()} if isinstance(shown, dict) else {},
            )
        return cls(tools)
