"""The mcp SDK loaded on demand (core.probes.mcp.sdk) and what a stdio server inherits without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS, get_default_environment

from core.config import McpService
from core.probes.mcp.spawning import INHERITED_ENV, server_environment

ROOT = Path(__file__).resolve().parent.parent


def test_a_server_inherits_what_the_sdk_would_pass_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The list is copied so spawning need not wait for the SDK's import: it must stay the SDK's.
    assert list(INHERITED_ENV) == list(DEFAULT_INHERITED_ENV_VARS)
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("SHELL", "() { evil; }")  # a shell function: never passed on
    monkeypatch.setenv("LOOKOUT_SECRET_TOKEN", "s3cr3t")  # not on the list: not passed on
    monkeypatch.delenv("LOGNAME", raising=False)
    service = McpService(name="docs", kind="mcp", command="server", env={"API_KEY": "k", "HOME": "/srv"})
    environment = server_environment(service)
    assert environment == get_default_environment() | {"API_KEY": "k", "HOME": "/srv"}
    assert "SHELL" not in environment and "LOGNAME" not in environment and "LOOKOUT_SECRET_TOKEN" not in environment


def test_concurrent_and_cancelled_loads_import_the_client_once_in_one_worker_thread() -> None:
    code = (
        "import asyncio, sys, threading\n"
        "from core.probes.mcp import sdk\n"
        "threads = set()\n"
        "def hook(event, args):\n"
        "    if event == 'import' and args[0] == 'mcp.client.client':\n"
        "        threads.add(threading.current_thread().name)\n"
        "sys.addaudithook(hook)\n"
        "async def main():\n"
        "    assert not sdk.loaded() and sdk.mcp_error_type() is None\n"
        "    quitter = asyncio.create_task(sdk.load())\n"
        "    await asyncio.sleep(0)\n"
        "    quitter.cancel()\n"  # a probe cut short while waiting: the others still get the SDK
        "    await asyncio.gather(*(sdk.load() for _ in range(5)))\n"
        "    await sdk.load()\n"
        "    print(sdk.loaded(), sdk.mcp_error_type().__name__, sorted(threads))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True MCPError ['mcp-sdk-import']"
