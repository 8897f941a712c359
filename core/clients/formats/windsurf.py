"""Windsurf's `~/.codeium/windsurf/mcp_config.json`: `mcpServers` with `serverUrl` (or `url`) for a
remote server, `disabled`, `disabledTools`, and `${env:NAME}` interpolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.clients.formats.common import ClientFormat, EntryRules, tool_notes
from core.clients.formats.mcpservers import read_mcp_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "Windsurf"
RULES = EntryRules(url_fields={"serverUrl": None, "url": None})


def _notes(raw: dict[str, Any]) -> tuple[str, ...]:
    return tool_notes(raw, "", "disabledTools")


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    return read_mcp_servers(text, path, ctx, client=LABEL, dialect="windsurf", rules=RULES, notes=_notes)


FORMAT = ClientFormat("windsurf", LABEL, read)
