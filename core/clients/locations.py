"""Where each MCP client keeps its config, on Linux, macOS and Windows.

A pure function of the platform, the home directory and the environment (APPDATA,
XDG_CONFIG_HOME, CODEX_HOME, CLAUDE_CONFIG_DIR): nothing here looks at the disk, so
the three platforms' answers are tested on any one of them. Windows paths are
PureWindowsPath, the others PurePosixPath; discovery turns the ones of the running
platform into real paths and checks which exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath

CLAUDE_DESKTOP = "claude-desktop"
CLAUDE_CODE = "claude-code"
CURSOR = "cursor"
VSCODE = "vscode"
WINDSURF = "windsurf"
ZED = "zed"
GEMINI = "gemini"
CODEX = "codex"
CONTINUE = "continue"
CLINE = "cline"
CLINE_SETTINGS = ("globalStorage", "saoudrizwan.claude-dev", "settings", "cline_mcp_settings.json")


@dataclass(frozen=True)
class Location:
    """One place a client's config may be: `format` is the key of its ClientFormat."""

    format: str
    path: PurePath
    scope: str
    """"user" (in the home or app-data directory) or "project" (found from the current directory up)."""
    directory: bool = False
    """A folder of files (Continue's `.continue/mcpServers/`), each one a config."""


def _pure(platform: str) -> type[PurePath]:
    return PureWindowsPath if platform == "win32" else PurePosixPath


def app_config_dir(platform: str, home: PurePath, env: Mapping[str, str]) -> PurePath:
    """Where desktop apps keep settings: ~/Library/Application Support, %APPDATA%, $XDG_CONFIG_HOME."""
    pure = _pure(platform)
    if platform == "darwin":
        return pure(home) / "Library" / "Application Support"
    if platform == "win32":
        return pure(env["APPDATA"]) if env.get("APPDATA") else pure(home) / "AppData" / "Roaming"
    return pure(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else pure(home) / ".config"


def user_locations(platform: str, home: str | PurePath, env: Mapping[str, str]) -> list[Location]:
    """Every user-level client config file, in the order `lookout discover` lists clients."""
    pure = _pure(platform)
    home_path = pure(home)
    apps = app_config_dir(platform, home_path, env)
    code_user = apps / "Code" / "User"
    if platform == "win32":
        zed = apps / "Zed" / "settings.json"
    elif platform == "darwin":
        zed = home_path / ".config" / "zed" / "settings.json"
    else:
        zed = apps / "zed" / "settings.json"
    claude_dir = pure(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home_path
    codex_home = pure(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home_path / ".codex"
    return [
        Location(CLAUDE_DESKTOP, apps / "Claude" / "claude_desktop_config.json", "user"),
        Location(CLAUDE_CODE, claude_dir / ".claude.json", "user"),
        Location(CURSOR, home_path / ".cursor" / "mcp.json", "user"),
        Location(VSCODE, code_user / "mcp.json", "user"),
        Location(VSCODE, code_user / "settings.json", "user"),
        Location(WINDSURF, home_path / ".codeium" / "windsurf" / "mcp_config.json", "user"),
        Location(ZED, zed, "user"),
        Location(GEMINI, home_path / ".gemini" / "settings.json", "user"),
        Location(CODEX, codex_home / "config.toml", "user"),
        Location(CONTINUE, home_path / ".continue" / "config.yaml", "user"),
        Location(CLINE, code_user.joinpath(*CLINE_SETTINGS), "user"),
    ]


PROJECT_FILES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (CLAUDE_CODE, (".mcp.json",), False),
    (CURSOR, (".cursor", "mcp.json"), False),
    (VSCODE, (".vscode", "mcp.json"), False),
    (ZED, (".zed", "settings.json"), False),
    (GEMINI, (".gemini", "settings.json"), False),
    (CODEX, (".codex", "config.toml"), False),
    (CONTINUE, (".continue", "mcpServers"), True),
)


def project_locations(cwd: str | PurePath, platform: str, home: str | PurePath) -> list[Location]:
    """Project files in the current directory and each of its ancestors, nearest first.

    The home directory itself is skipped: its `.cursor/mcp.json` or `.gemini/settings.json` is the
    user-level file, listed once, as user.
    """
    pure = _pure(platform)
    start, home_path = pure(cwd), pure(home)
    found = []
    for folder in (start, *start.parents):
        if folder == home_path:
            continue
        for fmt, parts, directory in PROJECT_FILES:
            found.append(Location(fmt, folder.joinpath(*parts), "project", directory))
    return found


def all_locations(platform: str, home: str | PurePath, env: Mapping[str, str], cwd: str | PurePath) -> list[Location]:
    return [*user_locations(platform, home, env), *project_locations(cwd, platform, home)]
