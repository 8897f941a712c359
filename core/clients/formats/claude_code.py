"""Claude Code: a project's `.mcp.json` and the user's `~/.claude.json`.

Both expand `${VAR}` and `${VAR:-default}`; `type` is stdio, http or sse. `~/.claude.json`
holds user-level servers under `mcpServers` and each project's own under
`projects.<path>.mcpServers`: Claude Code uses those of the current directory and its
ancestors (the nearest project wins a name), `--all-projects` takes every project's.
A plain `mcpServers` JSON file of unknown origin is read with these rules too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from core.clients.formats.common import ClientFormat, load_json, top_mapping
from core.clients.formats.mcpservers import read_servers
from core.clients.model import ClientFile, LoadContext

LABEL = "Claude Code"


def read(text: str, path: Path, ctx: LoadContext) -> ClientFile:
    data, lines = load_json(text, path)
    data = top_mapping(data, path)
    file = ClientFile(LABEL, path)
    workspace = path.parent if path.name == ".mcp.json" else ctx.cwd
    read_servers(file, data.get("mcpServers"), ("mcpServers",), lines, ctx, "claude-code", workspace=workspace)
    projects = data.get("projects")
    if isinstance(projects, dict):
        for project in _projects_in_scope(projects, ctx):
            entry = projects[project]
            if not isinstance(entry, dict) or not entry.get("mcpServers"):
                continue
            before = len(file.servers)
            where = ("projects", project, "mcpServers")
            read_servers(file, entry.get("mcpServers"), where, lines, ctx, "claude-code", workspace=Path(project))
            if ctx.all_projects:
                _qualify(file, before, project)
    _nearest_wins(file)
    return file


def _projects_in_scope(projects: dict[str, Any], ctx: LoadContext) -> list[str]:
    """Project keys in the order they apply: the farthest ancestor first, so the nearest is read last."""
    if ctx.all_projects:
        return list(projects)
    chain = [str(ctx.cwd), *(str(parent) for parent in ctx.cwd.parents)]
    return sorted((p for p in projects if _normal(p) in chain), key=lambda p: len(PurePath(p).parts))


def _normal(project: str) -> str:
    return str(PurePath(project))


def _qualify(file: ClientFile, start: int, project: str) -> None:
    """With every project read, one name may exist in several: each keeps its project's name."""
    names = {s.name for s in file.servers[:start]}
    label = PurePath(project).name or project
    for index in range(start, len(file.servers)):
        server = file.servers[index]
        if server.name in names:
            file.servers[index] = replace(server, name=f"{server.name}@{label}")


def _nearest_wins(file: ClientFile) -> None:
    """A name defined at several levels: the last read (the nearest project) is the one Claude Code runs."""
    last = {server.name: index for index, server in enumerate(file.servers)}
    file.servers = [server for index, server in enumerate(file.servers) if last[server.name] == index]


FORMAT = ClientFormat("claude-code", LABEL, read)
