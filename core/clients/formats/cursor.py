"""Cursor's `~/.cursor/mcp.json` and a project's `.cursor/mcp.json`.

`mcpServers`, interpolating `${env:NAME}`, `${userHome}`, `${workspaceFolder}` (the
project holding `.cursor/`; for the user file, the current directory), and no `${VAR}`.
"""

from __future__ import annotations

from pathlib import Path

from core.clients.formats.common import ClientFormat
from core.clients.formats.mcpservers import read_mcp_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "Cursor"


def workspace_of(path: Path, ctx: LoadContext, folder: str) -> Path:
    """The project a `<project>/<folder>/file` belongs to; the cwd for a file in the home directory."""
    parent = path.parent
    if parent.name == folder and parent.parent != ctx.home:
        return parent.parent
    return ctx.cwd


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    workspace = workspace_of(path, ctx, ".cursor")
    return read_mcp_servers(text, path, ctx, client=LABEL, dialect="cursor", workspace=workspace)


FORMAT = ClientFormat("cursor", LABEL, read)
