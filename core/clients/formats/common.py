"""What the client formats share: reading JSON(C) with lines, and turning one entry into a ClientServer.

Each client module says which fields mean what (a URL in `url`, `serverUrl` or `httpUrl`;
disabled as `disabled: true` or `enabled: false`) and which dialect it interpolates in;
the work of reading an entry is done once, here. Client-only settings (autoApprove,
timeout, trust, ...) are accepted and left alone: the file is read as its client reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.clients.expand import Expander
from core.clients.jsonc import JsoncError, load_jsonc
from core.clients.model import ClientFile, ClientServer, LoadContext
from core.config.errors import ConfigError, ConfigIssue

Lines = Mapping[tuple[Any, ...], int]

TRANSPORTS = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamableHttp": "http",
    "streamable_http": "http",
    "sse": "sse",
}
LOOKOUT_FIELDS = ("command", "args", "env", "cwd", "url", "headers")


@dataclass(frozen=True)
class ClientFormat:
    """One client's file format: its name, and how a file of it is read."""

    key: str
    label: str
    read: Callable[[str, Path, LoadContext], ClientFile]


def load_json(text: str, path: Path) -> tuple[Any, Lines]:
    """JSONC with lines (plain JSON included); a syntax error names its line."""
    try:
        return load_jsonc(text)
    except JsoncError as error:
        raise ConfigError.single(path, f"not valid JSON: {error.message}", line=error.line) from None


def dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def expander(dialect: str, ctx: LoadContext, workspace: Path | None = None) -> Expander:
    separator = "\\" if ctx.platform == "win32" else "/"
    return Expander(dialect, ctx.env, ctx.home, workspace or ctx.cwd, separator=separator)


@dataclass(frozen=True)
class EntryRules:
    """How one client spells an entry."""

    url_fields: Mapping[str, str | None] = field(default_factory=lambda: {"url": None})
    """Field holding the URL -> the transport it implies (None: untyped, as the client decides)."""
    type_field: str | None = "type"
    headers_field: str = "headers"


def read_entry(
    file: ClientFile,
    name: Any,
    raw: Any,
    where: tuple[Any, ...],
    lines: Lines,
    expand: Expander,
    rules: EntryRules,
    *,
    disabled: bool = False,
    notes: tuple[str, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> ClientServer | None:
    """One entry as its client reads it, or None after recording why it cannot be read at all."""
    line = lines.get(where)
    if not isinstance(name, str) or not name.strip():
        file.issues.append(ConfigIssue(str(file.path), line, dotted(where), "a server name must be a non-empty string"))
        return None
    if not isinstance(raw, dict):
        file.issues.append(
            ConfigIssue(str(file.path), line, dotted(where), "must be a mapping of settings (command or url, ...)")
        )
        return None
    service: dict[str, Any] = {"kind": "mcp"}
    field_lines: dict[str, int] = {}
    for key in ("command", "args", "env", "cwd"):
        if key in raw and raw[key] is not None:
            service[key] = expand(raw[key])
            _line(field_lines, key, lines, (*where, key))
    transport = None
    for key, implied in rules.url_fields.items():
        if key in raw and raw[key] is not None:
            service["url"] = expand(raw[key])
            transport = implied
            _line(field_lines, "url", lines, (*where, key))
            break
    if rules.headers_field in raw and raw[rules.headers_field] is not None:
        service["headers"] = expand(raw[rules.headers_field])
        _line(field_lines, "headers", lines, (*where, rules.headers_field))
    for key, value in (extra or {}).items():
        service[key] = value
    declared = raw.get(rules.type_field) if rules.type_field else None
    if declared is not None:
        if declared not in TRANSPORTS:
            choices = ", ".join(sorted(set(TRANSPORTS)))
            message = f"{rules.type_field}: unknown transport {str(declared)[:40]!r} (expected one of {choices})"
            file.issues.append(
                ConfigIssue(str(file.path), lines.get((*where, rules.type_field), line), dotted(where), message)
            )
            return None
        transport = TRANSPORTS[declared]
    if transport is None and "command" in service and "url" not in service:
        transport = "stdio"
    if transport is not None:
        service["transport"] = transport
    return ClientServer(
        name=name,
        client=file.client,
        file=file.path,
        line=line,
        where=where,
        service=service,
        raw=raw,
        disabled=disabled,
        needs="; ".join(expand.missing),
        notes=notes,
        secrets=tuple(expand.secrets),
        field_lines=field_lines,
    )


def _line(field_lines: dict[str, int], key: str, lines: Lines, path: tuple[Any, ...]) -> None:
    if path in lines:
        field_lines[key] = lines[path]


def tool_notes(raw: Mapping[str, Any], include: str, exclude: str) -> tuple[str, ...]:
    """A client's tool filters, said in words: Lookout lists every tool the server offers."""
    notes = []
    for key, word in (
        (include, "only these tools are enabled in the client"),
        (exclude, "tools disabled in the client"),
    ):
        value = raw.get(key)
        if isinstance(value, list) and value:
            notes.append(f"{word}: {', '.join(str(v) for v in value)}")
    return tuple(notes)


def read_block(
    file: ClientFile,
    block: Any,
    where: tuple[Any, ...],
    lines: Lines,
    read_one: Callable[[str, Any, tuple[Any, ...]], ClientServer | None],
) -> None:
    """A `name -> entry` mapping (`mcpServers`, `servers`, `context_servers`)."""
    if block is None:
        return
    if not isinstance(block, dict):
        file.issues.append(
            ConfigIssue(str(file.path), lines.get(where), dotted(where), "must be a mapping of server name -> settings")
        )
        return
    for name, raw in block.items():
        server = read_one(name, raw, (*where, name))
        if server is not None:
            file.servers.append(server)


def top_mapping(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError.single(path, "expected a JSON object at the top level", line=1)
    return data
