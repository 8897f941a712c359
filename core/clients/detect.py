"""Which client a file belongs to: its name first, its shape second.

Several clients share the `mcpServers` shape but interpolate differently, so the file
name decides (`claude_desktop_config.json` substitutes nothing, `.mcp.json` expands
`${VAR}`). A file with another name is recognised by its shape; a plain `mcpServers`
JSON of unknown origin is read with Claude Code's rules. A YAML file is a services.yaml
(an `mcpServers` block pasted into it keeps services.yaml's rules) unless its
`mcpServers` is a list (Continue). Anything else gets one message naming the formats.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.clients.formats import (
    claude_code,
    claude_desktop,
    cline,
    codex,
    continue_dev,
    cursor,
    gemini,
    vscode,
    windsurf,
    zed,
)
from core.clients.formats.common import ClientFormat
from core.clients.jsonc import JsoncError, load_jsonc
from core.clients.lint import as_warnings, lint
from core.clients.model import ClientFile, LoadContext
from core.clients.yamlfiles import YAML_SUFFIXES, in_continue_folder
from core.config.errors import ConfigError
from core.config.loader import Config

FORMATS: tuple[ClientFormat, ...] = (
    claude_desktop.FORMAT,
    claude_code.FORMAT,
    cursor.FORMAT,
    vscode.FORMAT,
    windsurf.FORMAT,
    zed.FORMAT,
    gemini.FORMAT,
    codex.FORMAT,
    continue_dev.FORMAT,
    cline.FORMAT,
)
SUPPORTED = (
    "services.yaml; Claude Desktop claude_desktop_config.json; Claude Code .mcp.json or ~/.claude.json; "
    "Cursor .cursor/mcp.json; VS Code .vscode/mcp.json or settings.json (`servers`); Windsurf mcp_config.json; "
    "Zed settings.json (`context_servers`); Gemini CLI .gemini/settings.json; Codex .codex/config.toml "
    "(`[mcp_servers.NAME]`); Continue .continue/config.yaml (`mcpServers` list); Cline cline_mcp_settings.json"
)


MAX_CLIENT_FILE_BYTES = 64 * 1024 * 1024
"""~/.claude.json keeps every project's history and grows past services.yaml's 5 MB limit."""


def read_limit(path: Path, default: int) -> int:
    """How much of a config file may be read: more for ~/.claude.json, which is mostly not config."""
    return max(default, MAX_CLIENT_FILE_BYTES) if path.name == ".claude.json" else default


def by_name(path: Path) -> ClientFormat | None:
    """The client a file's name (and its folder's) says it is, or None."""
    name, folder = path.name, path.parent.name
    grand = path.parent.parent.name
    if name == "claude_desktop_config.json":
        return claude_desktop.FORMAT
    if name in (".mcp.json", ".claude.json"):
        return claude_code.FORMAT
    if name == "cline_mcp_settings.json":
        return cline.FORMAT
    if name == "mcp_config.json" and (folder == "windsurf" or grand == ".codeium"):
        return windsurf.FORMAT
    if name == "mcp.json" and folder == ".cursor":
        return cursor.FORMAT
    if name in ("mcp.json", "settings.json") and (folder in (".vscode", "User") or grand == "profiles"):
        return vscode.FORMAT
    if name == "settings.json" and folder == ".gemini":
        return gemini.FORMAT
    if name == "settings.json" and folder.lower() in ("zed", ".zed"):
        return zed.FORMAT
    if name == "config.toml" and folder == ".codex":
        return codex.FORMAT
    if path.suffix in YAML_SUFFIXES and in_continue_folder(path):
        return continue_dev.FORMAT
    if name == "mcp_config.json":
        return windsurf.FORMAT
    return None


def by_shape(path: Path, text: str) -> ClientFormat | None:
    """The client a file's content says it is; None for a services.yaml. Raises ConfigError for a file
    that is neither (one message naming the supported formats) or a JSON/TOML file that does not parse."""
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return continue_dev.FORMAT if _continue_shape(text) else None
    if suffix == ".toml":
        data: Any = codex.load_toml(text, path)
        if isinstance(data.get("mcp_servers"), dict):
            return codex.FORMAT
        raise unrecognised(path)
    try:
        data, _ = load_jsonc(text)
    except JsoncError as error:
        if suffix in (".json", ".jsonc"):
            raise ConfigError.single(path, f"not valid JSON: {error.message}", line=error.line) from None
        if _codex_shape(text):
            return codex.FORMAT
        return None  # not JSON: YAML, which the services.yaml loader reads (and explains)
    if not isinstance(data, dict):
        raise unrecognised(path)
    if "services" in data or "defaults" in data:
        return None  # a services.yaml written as JSON
    if isinstance(data.get("servers"), dict) or isinstance((data.get("mcp") or {}).get("servers"), dict):
        return vscode.FORMAT
    if isinstance(data.get("context_servers"), dict):
        return zed.FORMAT
    if isinstance(data.get("mcpServers"), dict) or isinstance(data.get("projects"), dict):
        return claude_code.FORMAT
    raise unrecognised(path)


def _codex_shape(text: str) -> bool:
    """TOML with `[mcp_servers.NAME]` tables, whatever the file is called."""
    try:
        return isinstance(tomllib.loads(text).get("mcp_servers"), dict)
    except tomllib.TOMLDecodeError:
        return False


def _continue_shape(text: str) -> bool:
    from core.config.yamlnodes import YamlProblem, load_with_lines

    if "mcpServers" not in text:  # a services.yaml is not parsed twice to find out
        return False
    try:
        data, _, _ = load_with_lines(text)
    except YamlProblem:
        return False
    return isinstance(data, dict) and isinstance(data.get("mcpServers"), list) and "services" not in data


def unrecognised(path: Path) -> ConfigError:
    return ConfigError.single(path, f"not a config Lookout can read. Supported: {SUPPORTED}")


def format_of(path: Path, text: str) -> ClientFormat | None:
    return by_name(path) or by_shape(path, text)


def read_client_file(path: Path, text: str, ctx: LoadContext, fmt: ClientFormat | None = None) -> ClientFile | None:
    """The file read as its client reads it; None when it is a services.yaml."""
    chosen = fmt or format_of(path, text)
    if chosen is None:
        return None
    return chosen.read(text, path, ctx)


def load_client_config(
    path: Path, text: str, *, env: Mapping[str, str] | None = None, all_projects: bool = False
) -> Config | None:
    """`lookout -c FILE` for a client file: its fleet (see core.clients.build); None for a services.yaml."""
    from core.clients.build import client_config

    ctx = LoadContext(env=dict(os.environ if env is None else env), all_projects=all_projects)
    file = read_client_file(path, text, ctx)
    if file is None:
        return None
    config = client_config([file], path=path)
    return replace(config, warnings=[*config.warnings, *as_warnings(lint([file], env=ctx.env))])
