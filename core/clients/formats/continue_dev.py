"""Continue's `config.yaml` (`~/.continue/`) and block files in `.continue/mcpServers/`.

`mcpServers` is a *list* of entries, each with its own `name`; `type` is stdio, sse or
streamable-http; headers sit in `requestOptions.headers`. Secrets are written
`${{ secrets.NAME }}`: Continue resolves them from its hub or `.env`; headless, the
environment variable NAME does, else the server is "unknown: needs secret NAME".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.clients.formats.common import ClientFormat, EntryRules, dotted, expander, read_entry
from core.clients.model import ClientFile, LoadContext
from core.config.errors import ConfigError, ConfigIssue
from core.config.yamlnodes import YamlProblem, load_with_lines

LABEL = "Continue"
RULES = EntryRules()


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    try:
        data, lines, problems = load_with_lines(text)
    except YamlProblem as fatal:
        raise ConfigError.single(path, fatal.message, line=fatal.line, path=dotted(fatal.path)) from None
    file = ClientFile(LABEL, path)
    file.issues += [ConfigIssue(str(path), p.line, dotted(p.path), p.message) for p in problems]
    if not isinstance(data, dict):
        raise ConfigError.single(path, "expected a mapping with `mcpServers:` at the top level", line=1)
    block = data.get("mcpServers")
    if block is None:
        return file
    if not isinstance(block, list):
        file.issues.append(
            ConfigIssue(str(path), lines.get(("mcpServers",)), "mcpServers", "must be a list of servers")
        )
        return file
    seen: dict[str, int] = {}
    for index, raw in enumerate(block):
        where: tuple[Any, ...] = ("mcpServers", index)
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            message = f"duplicate server name {name!r} (also mcpServers[{seen[name]}])"
            file.issues.append(ConfigIssue(str(path), lines.get(where), dotted(where), message))
            continue
        if isinstance(name, str):
            seen[name] = index
        entry = raw
        if isinstance(raw, dict) and isinstance(raw.get("requestOptions"), dict):
            entry = {**raw, "headers": raw["requestOptions"].get("headers")}
        server = read_entry(file, name, entry, where, lines, expander("continue", ctx), RULES)
        if server is not None:
            file.servers.append(server)
    return file


FORMAT = ClientFormat("continue", LABEL, read)
