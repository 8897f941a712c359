"""VS Code: a workspace's `.vscode/mcp.json`, the user's `mcp.json`, and `mcp` in user settings.json.

`servers` (not `mcpServers`), each with `type` stdio, http or sse; `inputs` declare what
VS Code prompts for and `${input:id}` uses it. Headless there is no one to ask: the value
comes from LOOKOUT_INPUT_<ID>, else the server is "unknown: needs input <id>". Also
`${env:NAME}`, `${userHome}`, `${workspaceFolder}`. The files are JSONC.
"""

from __future__ import annotations

from pathlib import Path

from core.clients.formats.common import ClientFormat, load_json, top_mapping
from core.clients.formats.cursor import workspace_of
from core.clients.formats.mcpservers import read_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "VS Code"


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    data, lines = load_json(text, path)
    data = top_mapping(data, path)
    file = ClientFile(LABEL, path)
    workspace = workspace_of(path, ctx, ".vscode")
    if "servers" in data or "mcp" not in data:
        read_servers(file, data.get("servers"), ("servers",), lines, ctx, "vscode", workspace=workspace)
    else:
        mcp = data.get("mcp")
        if isinstance(mcp, dict):
            read_servers(file, mcp.get("servers"), ("mcp", "servers"), lines, ctx, "vscode", workspace=workspace)
    return file


FORMAT = ClientFormat("vscode", LABEL, read)
