"""Client files -> one Lookout fleet (a Config), and how each server shows in it.

- an active server is an `mcp` service, validated like a services.yaml entry (same messages);
- a server that needs what only its client can supply is an `unresolved` service: unknown,
  never contacted (core/clients/unresolved.py);
- a disabled server is not in the fleet: a note in `Config.warnings` (printed by `--check`,
  shown in the monitor's log) says it is listed and not probed. Keeping it out keeps
  `--once`'s exit code about what was checked, and nothing is started that the user turned off.

Several files (discovery): a name two clients define the same way is one service
("used by: Claude Code, Cursor"); defined differently, each keeps its own as `name (Client)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.clients.model import ClientFile, ClientServer
from core.clients.unresolved import unresolved_settings
from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import Config, build_config


@dataclass
class FleetEntry:
    """One service of the merged fleet, and every client entry it stands for."""

    name: str
    servers: list[ClientServer] = field(default_factory=list)

    @property
    def first(self) -> ClientServer:
        return self.servers[0]

    @property
    def clients(self) -> list[str]:
        return list(dict.fromkeys(server.client for server in self.servers))

    @property
    def disabled(self) -> bool:
        return all(server.disabled for server in self.servers)


def merge(files: Sequence[ClientFile]) -> list[FleetEntry]:
    """Servers of every file by name; one name defined differently by two clients is two entries."""
    entries: dict[str, FleetEntry] = {}
    for file in files:
        for server in file.servers:
            entry = entries.get(server.name)
            if entry is None:
                entries[server.name] = FleetEntry(server.name, [server])
            elif entry.first.definition() == server.definition():
                entry.servers.append(server)
            else:
                alias = f"{server.name} ({server.client})"
                other = entries.get(alias)
                if other is None:
                    entries[alias] = FleetEntry(alias, [server])
                else:
                    other.servers.append(server)
    return list(entries.values())


def client_config(files: Sequence[ClientFile], *, path: Path | None = None) -> Config:
    """The fleet these client files define. Raises ConfigError with every problem of every file."""
    issues = [issue for file in files for issue in file.issues]
    built: list[tuple[str, tuple[Any, ...], str, dict[str, Any]]] = []
    lines: dict[tuple[str, tuple[Any, ...]], int] = {}
    secrets: set[str] = set()
    warnings: list[ConfigIssue] = []
    for entry in merge(files):
        server = entry.first
        secrets.update(value for s in entry.servers for value in s.secrets)
        if entry.disabled:
            warnings.append(_note(server, f"disabled in {server.client}: listed, not probed"))
            continue
        active = next(s for s in entry.servers if not s.disabled)
        source = str(active.file)
        built.append((source, active.where, entry.name, _settings(active, entry.clients)))
        if active.line is not None:
            lines[(source, active.where)] = active.line
        for key, line in active.field_lines.items():
            lines[(source, (*active.where, key))] = line
        warnings += [_note(active, note) for note in active.notes]
    if not built and not warnings and not issues:
        where = str(files[0].path) if len(files) == 1 else "lookout"
        raise ConfigError.single(where, "no MCP servers in this file" if len(files) == 1 else "no MCP servers found")
    try:
        config = build_config(built, lines=lines, path=path, secrets=secrets, warnings=warnings)
    except ConfigError as error:
        raise ConfigError(issues + error.issues) from None
    if issues:
        raise ConfigError(issues)
    return config


def _settings(server: ClientServer, clients: list[str]) -> dict[str, Any]:
    used_by = f"used by: {', '.join(clients)}"
    description = str(server.raw.get("description") or "") if isinstance(server.raw.get("description"), str) else ""
    description = f"{description} ({used_by})" if description else used_by
    if server.needs:
        return unresolved_settings(server.needs, server.client, description)
    return {**server.service, "description": description}


def _note(server: ClientServer, message: str) -> ConfigIssue:
    return ConfigIssue(str(server.file), server.line, ".".join(str(p) for p in server.where), f"note: {message}")
