"""`lookout discover`: client files at their standard places on Linux, macOS and Windows, the merged
fleet, the lint, `--write`, and `lookout --discover` following the files as they change."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pytest

from core.clients.discover import discover, render, write_services_yaml
from core.clients.follow import DiscoveryFollower, discovered_fleet
from core.clients.lint import lint, unpinned
from core.clients.locations import project_locations, user_locations
from core.clients.model import LoadContext
from core.config import load_config
from core.engine import Engine
from core.kinds import unregister_kind
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _forget_unresolved_kind() -> Any:
    yield
    unregister_kind("unresolved")


# -- where each client keeps its file, per platform -----------------------------------------------------


def _by_format(locations: list[Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for location in locations:
        found.setdefault(location.format, []).append(str(location.path))
    return found


def test_user_locations_on_linux() -> None:
    found = _by_format(user_locations("linux", "/home/ann", {}))
    assert found["claude-desktop"] == ["/home/ann/.config/Claude/claude_desktop_config.json"]
    assert found["claude-code"] == ["/home/ann/.claude.json"]
    assert found["cursor"] == ["/home/ann/.cursor/mcp.json"]
    assert found["vscode"] == ["/home/ann/.config/Code/User/mcp.json", "/home/ann/.config/Code/User/settings.json"]
    assert found["windsurf"] == ["/home/ann/.codeium/windsurf/mcp_config.json"]
    assert found["zed"] == ["/home/ann/.config/zed/settings.json"]
    assert found["gemini"] == ["/home/ann/.gemini/settings.json"]
    assert found["codex"] == ["/home/ann/.codex/config.toml"]
    assert found["continue"] == ["/home/ann/.continue/config.yaml"]
    assert found["cline"] == [
        "/home/ann/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
    ]
    xdg = _by_format(user_locations("linux", "/home/ann", {"XDG_CONFIG_HOME": "/cfg", "CODEX_HOME": "/codex"}))
    assert xdg["zed"] == ["/cfg/zed/settings.json"] and xdg["codex"] == ["/codex/config.toml"]
    assert xdg["claude-desktop"] == ["/cfg/Claude/claude_desktop_config.json"]


def test_user_locations_on_macos() -> None:
    found = _by_format(user_locations("darwin", "/Users/ann", {"XDG_CONFIG_HOME": "/ignored"}))
    support = "/Users/ann/Library/Application Support"
    assert found["claude-desktop"] == [f"{support}/Claude/claude_desktop_config.json"]
    assert found["vscode"] == [f"{support}/Code/User/mcp.json", f"{support}/Code/User/settings.json"]
    assert found["zed"] == ["/Users/ann/.config/zed/settings.json"]
    assert found["cline"] == [
        f"{support}/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
    ]
    assert found["cursor"] == ["/Users/ann/.cursor/mcp.json"]


def test_user_locations_on_windows() -> None:
    env = {"APPDATA": r"C:\Users\ann\AppData\Roaming"}
    locations = user_locations("win32", r"C:\Users\ann", env)
    assert all(isinstance(location.path, PureWindowsPath) for location in locations)
    found = _by_format(locations)
    assert found["claude-desktop"] == [r"C:\Users\ann\AppData\Roaming\Claude\claude_desktop_config.json"]
    assert found["vscode"][0] == r"C:\Users\ann\AppData\Roaming\Code\User\mcp.json"
    assert found["zed"] == [r"C:\Users\ann\AppData\Roaming\Zed\settings.json"]
    assert found["windsurf"] == [r"C:\Users\ann\.codeium\windsurf\mcp_config.json"]
    assert found["claude-code"] == [r"C:\Users\ann\.claude.json"]
    assert found["codex"] == [r"C:\Users\ann\.codex\config.toml"]
    no_appdata = _by_format(user_locations("win32", r"C:\Users\ann", {}))
    assert no_appdata["claude-desktop"] == [r"C:\Users\ann\AppData\Roaming\Claude\claude_desktop_config.json"]


def test_project_files_are_looked_for_from_the_cwd_up_skipping_home() -> None:
    locations = project_locations("/home/ann/src/app", "linux", "/home/ann")
    folders = list(dict.fromkeys(str(PurePosixPath(location.path).parent) for location in locations))
    assert str(locations[0].path) == "/home/ann/src/app/.mcp.json"
    assert "/home/ann/src/.cursor" in folders and "/.vscode" in folders
    assert not any(str(location.path).startswith("/home/ann/.") for location in locations)
    windows = project_locations(r"D:\work\app", "win32", r"C:\Users\ann")
    assert str(windows[0].path) == r"D:\work\app\.mcp.json"


# -- discovery on a fake home ----------------------------------------------------------------------------


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, LoadContext]:
    home = tmp_path / "home"
    project = home / "src" / "app"
    project.mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("npx", "uvx"):  # commands "on PATH" for the lint, without depending on this machine's
        write(bin_dir / tool, "#!/bin/sh\n").chmod(0o755)
    env = {"PATH": str(bin_dir), "GH_TOKEN": "gh-token-value-1234"}
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("APPDATA", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(project)
    return home, project, LoadContext(env=env, home=home, cwd=project, platform="linux")


FETCH = {"command": "uvx", "args": ["mcp-server-fetch==1.2.0"]}


def populate(home: Path, project: Path) -> None:
    write(home / ".cursor" / "mcp.json", {"mcpServers": {"fetch": FETCH, "github": {"url": "http://127.0.0.1:9/a"}}})
    write(
        home / ".codeium" / "windsurf" / "mcp_config.json",
        {
            "mcpServers": {
                "fetch": FETCH,
                "github": {"serverUrl": "http://127.0.0.1:9/b"},
                "old": {**FETCH, "disabled": True},
            }
        },
    )
    write(project / ".mcp.json", {"mcpServers": {"local": {"type": "http", "url": "http://127.0.0.1:9/local"}}})
    write(home / ".config" / "zed" / "settings.json", '// no servers here\n{"theme": "x",}')


def test_discover_lists_client_file_server_and_merges_shared_servers(machine) -> None:
    home, project, ctx = machine
    populate(home, project)
    found = discover(ctx)
    assert [(file.client, file.path) for file in found.files] == [  # user files first, then the project's
        ("Cursor", home / ".cursor" / "mcp.json"),
        ("Windsurf", home / ".codeium" / "windsurf" / "mcp_config.json"),
        ("Claude Code", project / ".mcp.json"),
    ]
    text = render(found, lint(found.files, env=ctx.env))
    assert (
        "Cursor\n  " + str(home / ".cursor" / "mcp.json") + "\n    fetch  [stdio] uvx mcp-server-fetch==1.2.0" in text
    )
    assert "  fetch  used by: Cursor, Windsurf" in text
    assert "old  [stdio] uvx mcp-server-fetch==1.2.0  (disabled)" in text
    assert "conflict:" in text and "github (Windsurf)" in text
    config = discovered_fleet(ctx)
    assert set(config.services) == {"fetch", "github", "github (Windsurf)", "local"}
    assert config.services["fetch"].description == "used by: Cursor, Windsurf"
    assert any("old" in issue.path and "not probed" in issue.message for issue in config.warnings)


def test_claude_json_projects_of_the_cwd_or_all(machine) -> None:
    home, project, ctx = machine
    write(
        home / ".claude.json",
        {
            "mcpServers": {"user": {"type": "http", "url": "http://127.0.0.1:9/u"}},
            "projects": {
                str(project): {"mcpServers": {"mine": {"type": "http", "url": "http://127.0.0.1:9/m"}}},
                str(home / "other"): {"mcpServers": {"theirs": {"type": "http", "url": "http://127.0.0.1:9/t"}}},
            },
        },
    )
    names = {server.name for file in discover(ctx).files for server in file.servers}
    assert names == {"user", "mine"}
    every = LoadContext(env=ctx.env, home=ctx.home, cwd=ctx.cwd, platform="linux", all_projects=True)
    assert {server.name for file in discover(every).files for server in file.servers} == {"user", "mine", "theirs"}


# -- lint ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "problem"),
    [
        ("npx", ["-y", "@modelcontextprotocol/server-github"], "no version"),
        ("npx", ["-y", "@playwright/mcp@latest"], "@latest"),
        ("uvx", ["mcp-server-fetch"], "no version"),
        ("pnpm", ["dlx", "some-server"], "no version"),
        ("npx", ["-y", "@modelcontextprotocol/server-github@2025.4.8"], ""),
        ("uvx", ["mcp-server-fetch==1.2.0"], ""),
        ("uvx", ["--from", "mcp-server-git==0.6", "mcp-server-git"], ""),
        ("/usr/bin/node", ["server.js"], ""),
    ],
)
def test_unpinned_packages(command: str, args: list[str], problem: str) -> None:
    found = unpinned(command, args)
    assert (problem in found) if problem else found == ""


def test_lint_finds_plaintext_secrets_but_not_references(machine) -> None:
    home, _project, ctx = machine
    path = write(
        home / ".cursor" / "mcp.json",
        "{\n"
        ' "mcpServers": {\n'
        '  "pasted": {"command": "npx", "args": ["-y", "srv@1.0.0", "--api-key", "abc-literal-key"],\n'
        '             "env": {"GITHUB_TOKEN": "ghp_0123456789abcdefghij0123"}},\n'
        '  "header": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer sk-abcdefghijklmnop12"}},\n'
        '  "referenced": {"command": "npx", "args": ["-y", "srv@1.0.0", "--api-key", "${env:KEY}"],\n'
        '                 "env": {"GITHUB_TOKEN": "${env:GH_TOKEN}", "MODE": "fast"}},\n'
        '  "missing": {"command": "no-such-command-anywhere-7"}\n'
        " }\n}\n",
    )
    findings = lint(discover(ctx).files, env=ctx.env)
    by_server = {(f.server, f.kind) for f in findings}
    assert ("pasted", "secret") in by_server and ("header", "secret") in by_server
    assert not any(f.server == "referenced" for f in findings)
    assert ("missing", "missing-command") in by_server
    secret_lines = sorted(f.line for f in findings if f.kind == "secret")
    assert secret_lines == [3, 4, 5]  # `args` and `env` of "pasted" (lines 3, 4), `headers` of "header"
    text = "\n".join(str(f) for f in findings)
    assert "ghp_0123456789" not in text and "sk-abcdef" not in text and "abc-literal-key" not in text
    assert str(path) in text
    shown = render(discover(ctx), findings)
    assert "abc-literal-key" not in shown and "--api-key ***" in shown


def test_discover_output_carries_no_terminal_escapes(machine) -> None:
    home, _project, ctx = machine
    write(home / ".cursor" / "mcp.json", {"mcpServers": {"evil\u001b[2J": {"command": "run\u001b]0;title\u0007"}}})
    text = render(discover(ctx), [])
    assert "\x1b" not in text and "\x07" not in text and "evil" in text


# -- --write, `lookout discover`, `lookout --once --discover` ------------------------------------------------


def test_write_makes_a_services_yaml_with_references_not_secrets(machine, tmp_path: Path) -> None:
    home, _project, ctx = machine
    write(
        home / ".cursor" / "mcp.json",
        {
            "mcpServers": {
                "gh": {"command": "npx", "args": ["-y", "gh@1.0.0"], "env": {"GH": "${env:GH_TOKEN}", "PW": "pa$$"}},
                "pasted": {
                    "url": "http://127.0.0.1:9/mcp",
                    "headers": {"Authorization": "Bearer ghp_abcdefghij0123456789"},
                },
                "argued": {"command": "srv", "args": ["--token", "literal-token-4417", "x"]},
            }
        },
    )
    write(
        home / ".codeium" / "windsurf" / "mcp_config.json", {"mcpServers": {"off": {"command": "x", "disabled": True}}}
    )
    text = write_services_yaml(discover(ctx), ctx)
    assert "ghp_abcdefghij" not in text
    assert "export PASTED_AUTHORIZATION" in text
    assert "literal-token-4417" not in text and "export ARGUED_SECRET" in text
    assert "# disabled in Windsurf:" in text
    target = write(tmp_path / "services.yaml", text)
    env = {"GH_TOKEN": "t-1", "PASTED_AUTHORIZATION": "tok-2", "ARGUED_SECRET": "tok-3"}
    config = load_config(target, env=env)
    assert config.services["gh"].env == {"GH": "t-1", "PW": "pa$$"}
    assert config.services["pasted"].headers == {"Authorization": "Bearer tok-2"}
    assert "off" not in config.services
    assert config.services["argued"].args == ["--token", "tok-3", "x"]


def test_lookout_discover_command_prints_and_writes(machine, capsys, tmp_path: Path) -> None:
    home, project, _ctx = machine
    populate(home, project)
    target = tmp_path / "out.yaml"
    code = main(["discover", "--write", str(target)])
    out = capsys.readouterr().out
    assert code == 1  # the lint found a conflict
    assert "Windsurf\n" in out and "used by: Cursor, Windsurf" in out and f"wrote {target}" in out
    assert load_config(target, env={}).services["fetch"].args == ["mcp-server-fetch==1.2.0"]
    assert main(["discover", "--write", str(target)]) == 3  # never overwrites without --force


def test_once_discover_probes_the_discovered_fleet(machine, capsys, mcp_http_url: str) -> None:
    home, project, _ctx = machine
    write(project / ".mcp.json", {"mcpServers": {"docs": {"type": "http", "url": mcp_http_url}}})
    write(home / ".cursor" / "mcp.json", {"mcpServers": {"docs": {"url": mcp_http_url, "type": "http"}}})
    code = main(["--once", "--discover", "--format", "json", "--no-history"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert [(s["name"], s["status"]) for s in document["services"]] == [("docs", "up")]


async def until(condition: Callable[[], bool], bound: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + bound
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_the_follower_reloads_when_a_client_file_appears_or_changes(machine) -> None:
    home, project, ctx = machine
    cursor = write(
        home / ".cursor" / "mcp.json", {"mcpServers": {"a": {"type": "http", "url": "http://127.0.0.1:9/a"}}}
    )
    engine = Engine(discovered_fleet(ctx))
    follower = DiscoveryFollower(engine, ctx, interval=0.02)
    try:
        follower.start()
        write(project / ".mcp.json", {"mcpServers": {"b": {"type": "http", "url": "http://127.0.0.1:9/b"}}})
        await until(lambda: sorted(engine.names) == ["a", "b"])
        done = follower.reloads
        cursor.write_text("{ not json")  # refused: the fleet runs on, a and b still monitored
        await until(lambda: follower.reloads > done)
        assert sorted(engine.names) == ["a", "b"]
        write(cursor, {"mcpServers": {}})
        await until(lambda: engine.names == ["b"])
    finally:
        await follower.stop()
        await engine.stop()


def test_discover_on_a_fake_macos_home(machine) -> None:
    """macOS paths are POSIX paths: the discovery itself runs here on a fake home laid out as on a Mac."""
    home, project, ctx = machine
    support = home / "Library" / "Application Support"
    write(
        support / "Claude" / "claude_desktop_config.json", {"mcpServers": {"desk": {"command": "npx", "args": ["a@1"]}}}
    )
    write(
        support / "Code" / "User" / "mcp.json",
        '{"servers": {"code": {"type": "http", "url": "http://127.0.0.1:9/c"},},}',  # JSONC
    )
    write(home / ".config" / "Claude" / "claude_desktop_config.json", {"mcpServers": {"linux-only": {"command": "x"}}})
    mac = LoadContext(env=ctx.env, home=home, cwd=project, platform="darwin")
    found = discover(mac)
    assert [(file.client, [s.name for s in file.servers]) for file in found.files] == [
        ("Claude Desktop", ["desk"]),
        ("VS Code", ["code"]),
    ]
    linux = discover(ctx)
    assert [(file.client, [s.name for s in file.servers]) for file in linux.files] == [
        ("Claude Desktop", ["linux-only"])
    ]
