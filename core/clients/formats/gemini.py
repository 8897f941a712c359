"""Gemini CLI's `settings.json` (`~/.gemini/`, a project's `.gemini/`).

`mcpServers` where `httpUrl` is a streamable HTTP server and `url` an SSE one;
`includeTools`/`excludeTools` filter tools; `mcp.excluded` names servers Gemini does not
start (listed here as disabled) and `mcp.allowed`, when set, the only ones it does. Strings
expand `$VAR` and `${VAR}`; an unset variable stays as written, as Gemini leaves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.clients.formats.common import ClientFormat, EntryRules, load_json, tool_notes, top_mapping
from core.clients.formats.mcpservers import read_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "Gemini CLI"
RULES = EntryRules(url_fields={"httpUrl": "http", "url": "sse"})


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    data, lines = load_json(text, path)
    data = top_mapping(data, path)
    mcp: dict[str, Any] = data["mcp"] if isinstance(data.get("mcp"), dict) else {}
    excluded = {str(n) for n in mcp.get("excluded") or [] if isinstance(n, str)}
    allowed = mcp.get("allowed")
    allowed_names = {str(n) for n in allowed if isinstance(n, str)} if isinstance(allowed, list) else None

    def disabled(name: str, raw: dict[str, Any]) -> bool:
        return name in excluded or (allowed_names is not None and name not in allowed_names)

    def notes(raw: dict[str, Any]) -> tuple[str, ...]:
        return tool_notes(raw, "includeTools", "excludeTools")

    file = ClientFile(LABEL, path)
    read_servers(file, data.get("mcpServers"), ("mcpServers",), lines, ctx, "gemini", RULES, None, disabled, notes)
    return file


FORMAT = ClientFormat("gemini", LABEL, read)
