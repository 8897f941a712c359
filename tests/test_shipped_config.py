"""The shipped services.yaml tells the truth about the servers it names.

A new user's first run must not show the project's own config as the fault. So
the file and the demo template must validate, every npm package it starts must
be pinned to an exact version, and each pinned server (installed from the npm
registry, started here over stdio, no internet needed to list tools) must offer
the tools the file expects and accept the arguments of the file's `call:`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from core.config import McpService, load_config, parse_config
from core.demo.fleet import start_demo_fleet
from core.engine import Engine

pytestmark = pytest.mark.slow  # starts the servers the shipped services.yaml names

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "services.yaml"
PINNED = re.compile(r"^(?P<package>@?[^@\s]+)@(?P<version>\d+\.\d+\.\d+)$")
"""`@scope/name@1.2.3`: an exact version, not a range or a dist-tag such as `latest`."""


def _npx_services() -> dict[str, McpService]:
    config = load_config(SHIPPED, env={})
    return {
        name: service
        for name, service in config.services.items()
        if isinstance(service, McpService) and service.command == "npx"
    }


def _package_arg(service: McpService) -> str:
    return next(arg for arg in service.args if not arg.startswith("-"))


def test_shipped_config_validates_without_any_token_set() -> None:
    config = load_config(SHIPPED, env={})
    assert {"github-api", "github-mcp", "context7", "playwright", "magic"} <= set(config.services)


def test_demo_template_validates() -> None:
    with start_demo_fleet() as fleet:
        config = load_config(fleet.config_path)
    assert all(service.timeout <= 60 for service in config.services.values())


def test_every_npm_server_in_the_shipped_config_is_pinned_to_an_exact_version() -> None:
    services = _npx_services()
    assert services, "the shipped config starts no npm servers: this test no longer guards anything"
    for name, service in services.items():
        assert PINNED.match(_package_arg(service)), f"{name}: {_package_arg(service)!r} is not pinned to x.y.z"


@pytest.fixture(scope="module")
def npm_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config's npm packages, installed from the registry at their pinned versions."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to check the shipped config's MCP servers (.ci/run installs it)"
    prefix = tmp_path_factory.mktemp("npm")
    packages = sorted({_package_arg(service) for service in _npx_services().values()})
    subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error", *packages],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return prefix


def _local_entry(service: McpService, prefix: Path) -> dict[str, Any]:
    """The shipped entry, started from the installed package instead of through npx (which would fetch)."""
    package = PINNED.match(_package_arg(service))
    assert package is not None
    manifest = prefix / "node_modules" / package["package"] / "package.json"
    bins = json.loads(manifest.read_text())["bin"]
    script = bins if isinstance(bins, str) else next(iter(bins.values()))
    rest = [arg for arg in service.args if arg not in ("-y", "--yes", _package_arg(service))]
    return {
        "kind": "mcp",
        "command": "node",
        "args": [str(manifest.parent / script), *rest],
        "session": "fresh",
        "timeout": "30s",
        "startup_timeout": "60s",
        "retry": {"attempts": 1},
    }


async def test_pinned_servers_offer_the_tools_the_shipped_config_expects(npm_prefix: Path) -> None:
    checked = {name: service for name, service in _npx_services().items() if service.expect.tools or service.call}
    assert checked, "no shipped npm server has expectations: this test no longer guards anything"
    text = "services:\n" + "".join(
        f"  {name}: {_inline(_local_entry(service, npm_prefix))}\n" for name, service in checked.items()
    )
    async with Engine(parse_config(text, source="local.yaml", env={})) as engine:
        snapshot = await engine.run_once(timeout=120)
    for service_snapshot in snapshot.services:
        shipped = checked[service_snapshot.name]
        tools = {tool.name: tool for tool in service_snapshot.details.tools} if service_snapshot.details else {}
        assert tools, f"{service_snapshot.name}: listed no tools: {service_snapshot.reason}"
        missing = [tool for tool in shipped.expect.tools if tool not in tools]
        assert not missing, f"{service_snapshot.name}: the shipped config expects {missing}; offered: {sorted(tools)}"
        if shipped.call is not None:
            assert shipped.call.tool in tools, f"{service_snapshot.name}: no tool {shipped.call.tool!r} to call"
            schema = tools[shipped.call.tool].input_schema
            jsonschema.validate(shipped.call.arguments, schema)  # the arguments the server would accept


def _inline(entry: dict[str, Any]) -> str:
    return json.dumps(entry)  # JSON is YAML: one line per service
