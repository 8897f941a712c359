"""Codex's `~/.codex/config.toml` (or `$CODEX_HOME/config.toml`, a project's `.codex/config.toml`).

`[mcp_servers.NAME]` tables: `command`, `args`, `env`, `cwd` for stdio; `url` for
streamable HTTP with `http_headers`, `env_http_headers` (header -> variable name) and
`bearer_token_env_var`; `enabled = false` turns a server off; `enabled_tools` /
`disabled_tools` filter tools. Codex substitutes no `${...}`: it names variables instead.
Read with tomllib; lines come from the table headers (tomllib keeps none).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from core.clients.formats.common import ClientFormat, EntryRules, expander, read_entry, tool_notes
from core.clients.model import ClientFile, ClientServer, LoadContext
from core.config.errors import ConfigError, ConfigIssue

LABEL = "Codex"
RULES = EntryRules(url_fields={"url": "http"}, type_field=None, headers_field="http_headers")
_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*\[\s*mcp_servers\s*\.\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z0-9_-]+)\s*(\.[^\]]*)?\]")


def load_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _AT_LINE.search(message)
        line = int(found.group(1)) if found else None
        raise ConfigError.single(path, f"not valid TOML: {_AT_LINE.sub('', message).strip()}", line=line) from None


def table_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The line of each `[mcp_servers.NAME]` table (and of its sub-tables' first mention)."""
    lines: dict[tuple[Any, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(line)
        if match:
            name = match.group(1)
            if name[0] in "\"'":
                name = tomllib.loads(f"k = {name}")["k"]
            lines.setdefault(("mcp_servers", name), number)
    return lines


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    data = load_toml(text, path)
    lines = table_lines(text)
    file = ClientFile(LABEL, path)
    block = data.get("mcp_servers")
    if block is None:
        return file
    if not isinstance(block, dict):
        file.issues.append(ConfigIssue(str(path), None, "mcp_servers", "must be a table of [mcp_servers.NAME] tables"))
        return file
    for name, raw in block.items():
        server = _server(file, name, raw, lines, ctx)
        if server is not None:
            file.servers.append(server)
    return file


def _server(file: ClientFile, name: str, raw: Any, lines: Any, ctx: LoadContext) -> ClientServer | None:
    where = ("mcp_servers", name)
    expand = expander("none", ctx)
    headers: dict[str, Any] = {}
    if isinstance(raw, dict):
        if isinstance(raw.get("http_headers"), dict):
            headers.update(raw["http_headers"])
        for header, variable in (raw.get("env_http_headers") or {}).items():
            value = expand.from_env(str(variable))
            if value is None:
                expand.lack(f"environment variable {variable}")
            else:
                expand.secrets.append(value)
                headers[str(header)] = value
        variable = raw.get("bearer_token_env_var")
        if isinstance(variable, str):
            token = ctx.env.get(variable)
            if token is None:
                expand.lack(f"environment variable {variable}")
            else:
                expand.secrets.append(token)
                headers["Authorization"] = f"Bearer {token}"
    disabled = isinstance(raw, dict) and raw.get("enabled") is False
    notes = tool_notes(raw, "enabled_tools", "disabled_tools") if isinstance(raw, dict) else ()
    entry = {**raw, "http_headers": headers} if isinstance(raw, dict) and headers else raw
    return read_entry(file, name, entry, where, lines, expand, RULES, disabled=disabled, notes=notes)


FORMAT = ClientFormat("codex", LABEL, read)
