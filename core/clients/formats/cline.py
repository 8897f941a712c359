"""Cline's `cline_mcp_settings.json`: `mcpServers` with `type` stdio / sse / streamableHttp and
`disabled`; Cline substitutes no variables."""

from __future__ import annotations

from pathlib import Path

from core.clients.formats.common import ClientFormat
from core.clients.formats.mcpservers import read_mcp_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "Cline"


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    return read_mcp_servers(text, path, ctx, client=LABEL, dialect="none")


FORMAT = ClientFormat("cline", LABEL, read)
