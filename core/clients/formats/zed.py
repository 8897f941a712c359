"""Zed's settings.json (`~/.config/zed/`, a project's `.zed/`): `context_servers`, JSONC.

An entry is `{command, args, env}`, the older `{command: {path, args, env}}`, or a remote
`{url, headers}`; `enabled: false` turns it off. A server that an extension provides
(`source: "extension"`, no command) is started by Zed's extension, which Lookout cannot run.
Zed substitutes no variables.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from core.clients.formats.common import (
    ClientFormat,
    EntryRules,
    Lines,
    expander,
    load_json,
    read_block,
    read_entry,
    top_mapping,
)
from core.clients.model import ClientFile, ClientServer, LoadContext

LABEL = "Zed"
RULES = EntryRules(type_field=None)


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    data, lines = load_json(text, path)
    data = top_mapping(data, path)
    file = ClientFile(LABEL, path)
    read_block(file, data.get("context_servers"), ("context_servers",), lines, _reader(file, lines, ctx))
    return file


def _reader(file: ClientFile, lines: Lines, ctx: LoadContext) -> Any:
    def one(name: str, raw: Any, where: tuple[Any, ...]) -> ClientServer | None:
        entry = raw
        if isinstance(raw, dict) and isinstance(raw.get("command"), dict):  # the older nested form
            nested = raw["command"]
            entry = {**raw, "command": nested.get("path"), "args": nested.get("args"), "env": nested.get("env")}
        disabled = isinstance(raw, dict) and raw.get("enabled") is False
        server = read_entry(file, name, entry, where, lines, expander("none", ctx), RULES, disabled=disabled)
        if server is not None and "command" not in server.service and "url" not in server.service:
            server = replace(server, needs="the Zed extension that provides it (Zed starts it, not Lookout)")
        return server

    return one


FORMAT = ClientFormat("zed", LABEL, read)
