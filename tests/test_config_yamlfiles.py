"""The services.yaml shortcut (core.clients.yamlfiles) agrees with the client detection it skips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.clients.detect import format_of
from core.clients.yamlfiles import plainly_services_yaml
from core.config import load_config

SERVICES = "services:\n  api:\n    kind: http\n    url: http://127.0.0.1:9/health\n"
CONTINUE_LIST = "mcpServers:\n  - name: files\n    command: npx\n    args: [-y, server-files]\n"
PASTED_BLOCK = "services:\n  api: {kind: http, url: 'http://127.0.0.1:9/'}\nmcpServers:\n  files: {command: npx}\n"

PATHS = [
    "services.yaml",
    "fleet.yml",
    "FLEET.YAML",
    ".continue/config.yaml",
    ".continue/mcpServers/files.yaml",
    "mcpServers/files.yaml",
    "config.toml",
    "settings.json",
    ".mcp.json",
    "services.json",
]


@pytest.mark.parametrize("name", PATHS)
@pytest.mark.parametrize("text", [SERVICES, CONTINUE_LIST, PASTED_BLOCK])
def test_a_file_taken_as_plainly_services_yaml_is_one_for_detection_too(name: str, text: str) -> None:
    path = Path("/project") / name
    if plainly_services_yaml(path, text):
        assert format_of(path, text) is None


@pytest.mark.parametrize(
    ("name", "text", "plain"),
    [
        ("services.yaml", SERVICES, True),
        ("fleet.YML", SERVICES, True),
        ("services.yaml", CONTINUE_LIST, False),  # Continue's list: detect decides
        ("services.yaml", PASTED_BLOCK, False),  # any `mcpServers`: detect decides
        (".continue/config.yaml", SERVICES, False),
        ("services.json", SERVICES, False),
    ],
)
def test_which_files_skip_detection(name: str, text: str, plain: bool) -> None:
    assert plainly_services_yaml(Path("/project") / name, text) is plain


def test_a_continue_list_outside_its_folder_is_still_read_as_continue(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(CONTINUE_LIST)
    config = load_config(path, env={})
    assert list(config.services) == ["files"]
    assert config.services["files"].kind == "mcp"


def test_checking_a_services_yaml_imports_no_client_reader(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(SERVICES)
    code = (
        "import sys; from core.config import load_config; "
        f"config = load_config({str(path)!r}, env={{}}); "
        "print(len(config.services), 'core.clients.detect' in sys.modules, 'asyncio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["1", "False", "False"]
