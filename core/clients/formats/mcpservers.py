"""The `mcpServers` mapping many clients share, read with one client's rules.

Claude Desktop, Claude Code's `.mcp.json`, Cursor, Windsurf, Cline and Gemini CLI all
write `{"mcpServers": {name: {command, args, env} | {url, headers}}}`; they differ in
their interpolation and in a few field names, which each client's module passes here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.clients.formats.common import EntryRules, Lines, expander, load_json, read_block, read_entry, top_mapping
from core.clients.model import ClientFile, ClientServer, LoadContext


def read_mcp_servers(
    text: str,
    path: Path,
    ctx: LoadContext,
    *,
    client: str,
    dialect: str,
    rules: EntryRules | None = None,
    workspace: Path | None = None,
    disabled: Callable[[str, dict[str, Any]], bool] | None = None,
    notes: Callable[[dict[str, Any]], tuple[str, ...]] | None = None,
) -> ClientFile:
    data, lines = load_json(text, path)
    data = top_mapping(data, path)
    file = ClientFile(client, path)
    read_servers(file, data.get("mcpServers"), ("mcpServers",), lines, ctx, dialect, rules, workspace, disabled, notes)
    return file


def read_servers(
    file: ClientFile,
    block: Any,
    where: tuple[Any, ...],
    lines: Lines,
    ctx: LoadContext,
    dialect: str,
    rules: EntryRules | None = None,
    workspace: Path | None = None,
    disabled: Callable[[str, dict[str, Any]], bool] | None = None,
    notes: Callable[[dict[str, Any]], tuple[str, ...]] | None = None,
) -> None:
    entry_rules = rules or EntryRules()

    def one(name: str, raw: Any, at: tuple[Any, ...]) -> ClientServer | None:
        is_off = isinstance(raw, dict) and (
            disabled(name, raw) if disabled is not None else raw.get("disabled") is True
        )
        said = notes(raw) if notes is not None and isinstance(raw, dict) else ()
        expand = expander(dialect, ctx, workspace)
        return read_entry(file, name, raw, at, lines, expand, entry_rules, disabled=is_off, notes=said)

    read_block(file, block, where, lines, one)
