"""MCP client config files, each in its client's real format, loaded unmodified and probed on loopback.

Each fixture under tests/fixtures/clients/ is a file as its client writes it; the test copies it
to where the client keeps it (the file name decides the format) with the loopback server's address
and this Python filled in, and loads it with `load_config`, as `lookout -c FILE` does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from core.config import ConfigError, McpService, load_config
from core.engine import Engine
from core.kinds import unregister_kind
from core.results import Status

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "clients"
TOKEN = "fixture-token-8842"

# fixture file -> (where it lives, relative to a fake home "~" or project "."), {server: transport or "unknown"},
# disabled server names
CASES: dict[str, tuple[str, dict[str, str], set[str]]] = {
    "claude_desktop_config.json": ("~/.config/Claude/claude_desktop_config.json", {"docs": "stdio"}, set()),
    "dot.mcp.json": ("./.mcp.json", {"docs": "stdio", "remote-docs": "http"}, set()),
    "dot.claude.json": ("~/.claude.json", {"user-docs": "http", "project-docs": "stdio"}, set()),
    "cursor.mcp.json": ("./.cursor/mcp.json", {"docs": "stdio", "remote-docs": "http"}, set()),
    "vscode.mcp.json": ("./.vscode/mcp.json", {"docs": "stdio", "remote-docs": "unknown"}, set()),
    "mcp_config.json": ("~/.codeium/windsurf/mcp_config.json", {"docs": "stdio", "remote-docs": "http"}, {"retired"}),
    "zed.settings.json": ("~/.config/zed/settings.json", {"docs": "stdio", "remote-docs": "http"}, {"paused"}),
    "gemini.settings.json": (
        "~/.gemini/settings.json",
        {"docs": "stdio", "remote-docs": "http", "legacy-docs": "sse"},
        set(),
    ),
    "codex.config.toml": ("~/.codex/config.toml", {"docs": "stdio", "remote-docs": "http"}, {"switched off"}),
    "continue.config.yaml": (
        "~/.continue/config.yaml",
        {"docs": "stdio", "remote-docs": "http", "legacy-docs": "sse"},
        set(),
    ),
    "cline_mcp_settings.json": (
        "~/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        {"docs": "stdio", "remote-docs": "http", "legacy-docs": "sse"},
        {"off"},
    ),
}


@pytest.fixture(autouse=True)
def _forget_unresolved_kind() -> Any:
    """The `unresolved` kind is registered when a client file needs it; other tests compare the schema."""
    yield
    unregister_kind("unresolved")


def place(fixture: str, home: Path, project: Path, urls: dict[str, str]) -> Path:
    """The fixture, placeholders filled in, at its client's own place under a fake home or project."""
    where = CASES[fixture][0]
    target = (home if where.startswith("~") else project) / where[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    text = (FIXTURES / fixture).read_text()
    for key, value in {
        "@PYTHON@": sys.executable,
        "@ROOT@": str(ROOT),
        "@PROJECT@": str(project),
        "@ELSEWHERE@": str(home / "elsewhere"),
        "@HTTP_URL@": urls["http"],
        "@SSE_URL@": urls["sse"],
    }.items():
        text = text.replace(key, value)
    target.write_text(text)
    return target


def fixture_env(urls: dict[str, str]) -> dict[str, str]:
    return {
        "LOOKOUT_FIXTURE_HTTP_URL": urls["http"],
        "LOOKOUT_FIXTURE_SSE_URL": urls["sse"],
        "LOOKOUT_FIXTURE_ROOT": str(ROOT),
        "LOOKOUT_FIXTURE_TOKEN": TOKEN,
    }


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    home, project = tmp_path / "home", tmp_path / "home" / "src" / "app"
    project.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    return home, project


FAKE_URLS = {"http": "http://127.0.0.1:9/mcp", "sse": "http://127.0.0.1:9/sse"}


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_client_file_loads_unmodified_with_its_clients_rules(fixture: str, layout: tuple[Path, Path]) -> None:
    home, project = layout
    path = place(fixture, home, project, FAKE_URLS)
    config = load_config(path, env=fixture_env(FAKE_URLS))
    _, expected, disabled = CASES[fixture]
    assert set(config.services) == set(expected)
    for name, transport in expected.items():
        service = config.services[name]
        if transport == "unknown":
            assert service.kind == "unresolved"
        else:
            assert isinstance(service, McpService) and service.transport == transport, name
    notes = [issue for issue in config.warnings if "listed, not probed" in issue.message]
    assert {issue.path.rsplit(".", 1)[-1] for issue in notes} == disabled
    assert all(issue.line for issue in notes) or fixture.endswith(".toml")


@pytest.mark.slow  # starts a stdio server per client file
@pytest.mark.parametrize("fixture", sorted(CASES))
async def test_client_file_is_probed_as_its_client_would_run_it(
    fixture: str, layout: tuple[Path, Path], mcp_http_url: str, mcp_sse_url: str
) -> None:
    home, project = layout
    urls = {"http": mcp_http_url, "sse": mcp_sse_url}
    config = load_config(place(fixture, home, project, urls), env=fixture_env(urls))
    engine = Engine(config)
    try:
        snapshot = await engine.run_once(timeout=60)
    finally:
        await engine.stop()
    for name, transport in CASES[fixture][1].items():
        service = snapshot.get(name)
        assert service is not None
        if transport == "unknown":
            assert service.status is Status.UNKNOWN
            assert "needs input docs-token (set LOOKOUT_INPUT_DOCS_TOKEN)" in service.reason
        else:
            assert service.status is Status.UP, f"{name}: {service.reason}"


# -- each client's own interpolation ------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_claude_desktop_substitutes_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "claude_desktop_config.json",
        '{"mcpServers": {"a": {"command": "run", "args": ["pa$$word", "${HOME}", "$USER"]}}}',
    )
    service = load_config(path, env={"HOME": "/home/x", "USER": "x"}).services["a"]
    assert service.args == ["pa$$word", "${HOME}", "$USER"]


def test_claude_code_expands_var_and_default_and_needs_an_unset_var(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".mcp.json",
        '{"mcpServers": {"a": {"command": "run", "args": ["${A}", "${B:-fallback}", "${C:-}", "pa$$word", "$A"]},'
        ' "b": {"command": "run", "args": ["${MISSING}"]}}}',
    )
    config = load_config(path, env={"A": "alpha", "B": ""})
    assert config.services["a"].args == ["alpha", "fallback", "", "pa$$word", "$A"]
    assert config.services["b"].kind == "unresolved"
    assert config.services["b"].needs == "environment variable MISSING"


def test_unknown_mcp_servers_json_gets_claude_code_rules(tmp_path: Path) -> None:
    path = write(tmp_path / "servers-from-somewhere.json", '{"mcpServers": {"a": {"command": "${CMD:-run}"}}}')
    assert load_config(path, env={}).services["a"].command == "run"


def test_cursor_expands_env_userhome_and_workspace_folder_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    project = home / "work" / "app"
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    path = write(
        project / ".cursor" / "mcp.json",
        '{"mcpServers": {"a": {"command": "run", "args": '
        '["${env:TOKEN_NAME}", "${userHome}", "${workspaceFolder}", "${TOKEN_NAME}", "${env:UNSET}"]}}}',
    )
    service = load_config(path, env={"TOKEN_NAME": "t"}).services["a"]
    assert service.args == ["t", str(home), str(project), "${TOKEN_NAME}", ""]


def test_vscode_input_comes_from_the_named_variable(tmp_path: Path) -> None:
    text = (
        '{"inputs": [{"type": "promptString", "id": "api-key", "password": true}],'
        ' "servers": {"a": {"type": "stdio", "command": "run", "args": ["--key", "${input:api-key}"],},},}'
    )
    path = write(tmp_path / ".vscode" / "mcp.json", "// comment\n" + text)
    missing = load_config(path, env={}).services["a"]
    assert missing.kind == "unresolved" and missing.needs == "input api-key (set LOOKOUT_INPUT_API_KEY)"
    config = load_config(path, env={"LOOKOUT_INPUT_API_KEY": "k-7781-secret"})
    assert config.services["a"].args == ["--key", "k-7781-secret"]
    assert config.redact("sent k-7781-secret") == "sent ***"


def test_vscode_user_settings_read_mcp_servers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "Code" / "User" / "settings.json",
        '{"editor.fontSize": 13, /* */ "mcp": {"servers": {"a": {"type": "sse", "url": "http://127.0.0.1:9/sse"}}}}',
    )
    assert load_config(path, env={}).services["a"].transport == "sse"


def test_windsurf_needs_an_unset_env_and_ignores_dollar_var(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".codeium" / "windsurf" / "mcp_config.json",
        '{"mcpServers": {"a": {"command": "run", "args": ["${env:SET}", "$SET", "${SET}"]},'
        ' "b": {"serverUrl": "http://127.0.0.1:9/${env:UNSET}"}}}',
    )
    config = load_config(path, env={"SET": "v"})
    assert config.services["a"].args == ["v", "$SET", "${SET}"]
    assert config.services["b"].needs == "environment variable UNSET"


def test_gemini_expands_dollar_var_and_leaves_unset_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".gemini" / "settings.json",
        '{"mcpServers": {"a": {"command": "run", "args": ["$SET", "${SET}", "$UNSET", "${env:SET}"]}},'
        ' "mcp": {"excluded": ["b"]}}',
    )
    config = load_config(path, env={"SET": "v"})
    assert config.services["a"].args == ["v", "v", "$UNSET", "${env:SET}"]


def test_codex_bearer_token_env_var_becomes_a_masked_header(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".codex" / "config.toml",
        '[mcp_servers.a]\nurl = "http://127.0.0.1:9/mcp"\nbearer_token_env_var = "MY_TOKEN"\n'
        '[mcp_servers.b]\nurl = "http://127.0.0.1:9/mcp"\nbearer_token_env_var = "NOT_SET"\n',
    )
    config = load_config(path, env={"MY_TOKEN": "tok-5521-abc"})
    assert config.services["a"].headers == {"Authorization": "Bearer tok-5521-abc"}
    assert config.redact("tok-5521-abc") == "***"
    assert config.services["b"].needs == "environment variable NOT_SET"


def test_continue_secret_needs_its_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".continue" / "config.yaml",
        "mcpServers:\n  - name: a\n    command: run\n    args: ['${{ secrets.API_KEY }}']\n",
    )
    assert load_config(path, env={}).services["a"].needs == "secret API_KEY (set API_KEY)"
    config = load_config(path, env={"API_KEY": "sk-continue-1"})
    assert config.services["a"].args == ["sk-continue-1"]


def test_claude_json_takes_user_servers_and_the_cwd_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "repo" / "pkg"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    data = (
        '{"mcpServers": {"user": {"command": "u"}, "shared": {"command": "from-user"}},'
        f' "projects": {{"{tmp_path / "repo"}": {{"mcpServers": {{"shared": {{"command": "from-ancestor"}}}}}},'
        f' "{project}": {{"mcpServers": {{"here": {{"command": "h"}}}}}},'
        f' "{tmp_path / "other"}": {{"mcpServers": {{"there": {{"command": "t"}}}}}}}}}}'
    )
    path = write(tmp_path / ".claude.json", data)
    config = load_config(path, env={})
    assert set(config.services) == {"user", "shared", "here"}
    assert config.services["shared"].command == "from-ancestor"


# -- what is not a client file, and errors with lines -------------------------------------------------


def test_unrecognised_file_gets_one_message_naming_the_formats(tmp_path: Path) -> None:
    for name, text in (("x.json", '{"foo": 1}'), ("x.toml", "a = 1\n"), ("x.jsonc", '// c\n{"foo": 1}')):
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path / name, text), env={})
        assert len(caught.value.issues) == 1
        message = str(caught.value)
        assert "Supported: services.yaml" in message and "Codex" in message and "Zed" in message


def test_syntax_errors_keep_their_line(tmp_path: Path) -> None:
    cases = {
        ".vscode/mcp.json": ('{\n  "servers": {\n    "a": {"command": "x",,}\n  }\n}', 3),
        ".codex/config.toml": ("[mcp_servers.a]\ncommand = \n", 2),
        "cline_mcp_settings.json": ('{"mcpServers": {\n"a": {\n"command": 5}}}', 3),
    }
    for name, (text, line) in cases.items():
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path / name, text), env={})
        assert caught.value.issues[0].line == line, (name, str(caught.value))


def test_pasted_mcp_servers_block_in_services_yaml_keeps_services_yaml_rules(tmp_path: Path) -> None:
    path = write(tmp_path / "services.yaml", "mcpServers:\n  a: {command: run, args: ['pa$$word']}\n")
    assert load_config(path, env={}).services["a"].args == ["pa$word"]


def test_other_names_are_recognised_by_shape(tmp_path: Path) -> None:
    continue_yaml = write(tmp_path / "agent.yaml", "mcpServers:\n  - name: a\n    command: run\n")
    assert load_config(continue_yaml, env={}).services["a"].description == "used by: Continue"
    services_json = write(tmp_path / "fleet.json", '{"services": {"a": {"kind": "mcp", "command": "run"}}}')
    assert load_config(services_json, env={}).services["a"].command == "run"
    zed_like = write(tmp_path / "editor.json", '{"context_servers": {"a": {"command": "run"}}}')
    assert load_config(zed_like, env={}).services["a"].description == "used by: Zed"
    vscode_like = write(
        tmp_path / "x.jsonc", '// c\n{"servers": {"a": {"type": "sse", "url": "http://127.0.0.1:9/s"}}}'
    )
    assert load_config(vscode_like, env={}).services["a"].transport == "sse"
    codex_like = write(tmp_path / "agent.toml", '[mcp_servers.a]\ncommand = "run"\n')
    assert load_config(codex_like, env={}).services["a"].description == "used by: Codex"


def test_entry_problems_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".vscode" / "mcp.json",
        '{\n "servers": {\n  "a": {"type": "websocket", "url": "http://127.0.0.1:9"},\n'
        '  "b": {\n   "type": "stdio",\n   "args": ["x"]\n  }\n }\n}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    issues = caught.value.issues
    assert [(issue.line, issue.path) for issue in issues] == [(3, "servers.a"), (4, "servers.b")]
    assert "unknown transport 'websocket'" in issues[0].message
    assert "needs `command`" in issues[1].message


def test_an_expanded_token_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path / ".mcp.json", '{"mcpServers": {"a": {"command": "run", "args": ["${GITHUB_TOKEN}"]}}}')
    config = load_config(path, env={"GITHUB_TOKEN": "ghp_secretvalue99"})
    assert config.redact("failed with ghp_secretvalue99") == "failed with ***"


def test_check_on_a_client_file_notes_its_disabled_servers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    path = write(
        tmp_path / "cline_mcp_settings.json",
        '{"mcpServers": {\n"a": {"command": "run"},\n"b": {"command": "x", "disabled": true}}}',
    )
    assert main(["--check", "-c", str(path)]) == 0
    captured = capsys.readouterr()
    assert "1 services, config is valid" in captured.out
    assert f"{path}:3: mcpServers.b: note: disabled in Cline: listed, not probed" in captured.err


def test_a_claude_json_larger_than_a_services_yaml_may_be_still_loads(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    history = "x" * (6 * 1024 * 1024)  # ~/.claude.json keeps conversation history next to the servers
    path = write(tmp_path / ".claude.json", f'{{"history": "{history}", "mcpServers": {{"a": {{"command": "run"}}}}}}')
    assert list(load_config(path, env={}).services) == ["a"]
    with pytest.raises(ConfigError, match="larger than"):
        load_config(write(tmp_path / "services.yaml", f"# {history}\nservices: {{}}\n"), env={})


def test_a_client_file_checked_alone_carries_its_lint(tmp_path: Path) -> None:
    path = write(tmp_path / "agent-config", '[mcp_servers.a]\ncommand = "npx"\nargs = ["-y", "some-server"]\n')
    config = load_config(path, env={"PATH": ""})  # TOML without a .toml suffix: recognised by its shape
    assert config.services["a"].description == "used by: Codex"
    messages = [issue.message for issue in config.warnings]
    assert any(m.startswith("warning: unpinned: npx some-server") for m in messages)
    assert "warning: missing-command: command 'npx' is not on PATH" in messages
