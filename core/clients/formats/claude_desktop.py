"""Claude Desktop's `claude_desktop_config.json`: `mcpServers`, no interpolation at all.

Claude Desktop passes every string as written: `pa$$word` is `pa$$word`, and `${TOKEN}`
reaches the server as those eight characters.
"""

from __future__ import annotations

from pathlib import Path

from core.clients.formats.common import ClientFormat
from core.clients.formats.mcpservers import read_mcp_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "Claude Desktop"


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    return read_mcp_servers(text, path, ctx, client=LABEL, dialect="none")


FORMAT = ClientFormat("claude-desktop", LABEL, read)
