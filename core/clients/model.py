"""What reading an MCP client's config file yields: its servers, as that client would run them.

A server's `service` holds Lookout's own settings for it (kind mcp, transport,
command or url, ...) after the client's interpolation; `raw` keeps the entry as
written, which the lint needs (a `${TOKEN}` reference is fine, a pasted token is not).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config.errors import ConfigIssue


@dataclass(frozen=True)
class LoadContext:
    """Where a client file is read from: the environment, the home directory and the current directory.

    Passed in, not read from the process, so tests read files "as on another machine".
    """

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    home: Path = field(default_factory=lambda: Path.home())
    cwd: Path = field(default_factory=lambda: Path.cwd())
    all_projects: bool = False
    """~/.claude.json: every project's servers, not only those of the cwd and its ancestors."""
    platform: str = sys.platform


@dataclass(frozen=True)
class ClientServer:
    """One server entry of one client file."""

    name: str
    client: str
    """The client's name as people know it: "Claude Code", "Cursor"."""
    file: Path
    line: int | None
    where: tuple[Any, ...]
    """The entry's path in the file (`mcpServers.github`, `projects./src/app.mcpServers.db`), for messages."""
    service: dict[str, Any]
    """Lookout settings for the server (kind, transport, command/args/env/cwd or url/headers)."""
    raw: dict[str, Any]
    disabled: bool = False
    needs: str = ""
    """Non-empty: the server cannot be started headless (an input, a variable is missing); it is
    "unknown: needs ..." and never contacted."""
    notes: tuple[str, ...] = ()
    """What the client does that Lookout only reports (tool filters, disabled tools)."""
    secrets: tuple[str, ...] = ()
    """Values substituted from variables whose names mark them as credentials."""
    field_lines: Mapping[str, int] = field(default_factory=dict)
    """The line of each Lookout field, where the format has lines."""

    def definition(self) -> tuple[Any, ...]:
        """What the server *is*, for telling one name used by two clients apart."""
        s = self.service
        return (
            s.get("transport"),
            s.get("command"),
            tuple(s.get("args") or ()),
            s.get("url"),
            tuple(sorted((s.get("env") or {}).items())),
            tuple(sorted((s.get("headers") or {}).items())),
        )


@dataclass
class ClientFile:
    """One client file, read: its servers, and the problems that kept entries out."""

    client: str
    path: Path
    servers: list[ClientServer] = field(default_factory=list)
    issues: list[ConfigIssue] = field(default_factory=list)
