"""Stdio servers started before the engine (`lookout --once`): adopted by their own probe, or ended.

Real demo servers throughout; what is asserted is which processes exist (by their test tag in /proc),
what the probe reports, and that nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fixtures_mcp import stdio_service, tagged_processes
from fixtures_procs import survivors
from helpers import idle_engine, make_config

from core.details import McpDetails
from core.probes.mcp.early import claim, discard_early, start_early
from core.results import Status

pytestmark = pytest.mark.slow  # starts MCP server processes

ROOT = Path(__file__).resolve().parent.parent


async def test_an_early_server_is_the_one_its_probe_uses_and_is_timed_from_its_spawn(tag) -> None:
    config = make_config({"docs": stdio_service("docs", tag=tag)}, timeout="15s")
    service = config.services["docs"]
    assert await start_early([service], limit=4) == 1
    [early_pid] = tagged_processes(tag)
    await asyncio.sleep(0.5)  # the server boots meanwhile: that is part of its cold start, not before it
    async with idle_engine(config) as engine:
        result = (await engine.run_once()).get("docs")
        assert tagged_processes(tag) == [early_pid]  # adopted: no second server
    assert result.status is Status.UP, result.reason
    details = result.details
    assert isinstance(details, McpDetails) and details.pid == early_pid
    assert details.cold_start is not None and details.cold_start >= 500
    assert survivors(tag) == []
    await discard_early()  # nothing left to discard: adopted servers are their probe's


async def test_only_services_that_start_at_once_start_early_and_the_rest_are_ended(tag) -> None:
    config = make_config(
        {
            "a": stdio_service("docs", tag=tag),
            "needs-a": stdio_service("docs", tag=tag, depends_on=["a"]),  # waits for a's result: not early
            "b": stdio_service("silent", tag=tag),
            "c": stdio_service("silent", tag=tag),  # past the limit
        }
    )
    services = config.services
    assert await start_early(services.values(), limit=2) == 2
    assert len(tagged_processes(tag)) == 2
    assert claim(services["needs-a"]) is None and claim(services["c"]) is None
    equal_but_another = services["a"].model_copy()
    assert claim(equal_but_another) is None  # only the very config object the run probes
    await discard_early()
    assert survivors(tag) == []
    assert claim(services["a"]) is None and claim(services["b"]) is None


async def test_a_server_that_cannot_start_early_is_left_to_its_probe_to_report(tag) -> None:
    config = make_config({"missing": {"kind": "mcp", "command": "/nonexistent/mcp-server"}}, timeout="5s")
    assert await start_early(config.services.values(), limit=4) == 0
    async with idle_engine(config) as engine:
        result = (await engine.run_once()).get("missing")
    assert result.status is Status.DOWN and "/nonexistent/mcp-server" in result.reason


def test_once_spawns_its_stdio_server_before_it_imports_the_pins_and_the_engine(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text(yaml.safe_dump({"services": {"docs": stdio_service("docs")}}))
    code = (
        "import json, sys\n"
        "seen = []\n"
        "def hook(event, args):\n"
        "    if event == 'subprocess.Popen' or (event == 'import' and args[0] in ('core.engine', 'core.pins.store')):\n"
        "        seen.append(event if event != 'import' else args[0])\n"
        "sys.addaudithook(hook)\n"
        "from tui.cli import main\n"
        f"status = main(['--once', '--format', 'json', '-c', {str(config)!r}])\n"
        "print(json.dumps(seen), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["services"][0]["status"] == "up"
    seen = json.loads(done.stderr.strip().splitlines()[-1])
    assert seen == ["subprocess.Popen", "core.pins.store", "core.engine"]  # one server, first; then the pins
