"""`lookout --once` imports only what its services need: an HTTP-only fleet loads neither the mcp SDK
(about half a second of imports) nor Textual, nor the daemon's, history's, alerts' or demo's code.

An MCP fleet loads the SDK, but only once its stdio servers are spawned, and in a worker thread: the
servers boot (importing their own SDK) while Lookout imports its own. Nothing in `core.probes.mcp`
imports the SDK at its top, or that overlap is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.fixtures_mcp import stdio_service

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("mcp", "mcp_types", "textual", "rich", "starlette", "uvicorn", "sqlite3")
UNNEEDED = ("core.serve", "core.history", "core.alerts", "core.demo", "core.probes.mcp", "tui.app")


def test_once_on_an_http_fleet_imports_no_mcp_sdk_and_no_app(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text("services:\n  api:\n    kind: http\n    url: http://127.0.0.1:9/\n    timeout: 2s\n")
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        f"status = main(['--once', '--format', 'json', '-c', {str(config)!r}])\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        f"unneeded = sorted(m for m in sys.modules if m.startswith({UNNEEDED!r}))\n"
        "print(f'status={status} heavy={heavy} unneeded={unneeded}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last == "status=2 heavy=[] unneeded=[]", last  # 2: the refused service is critical, and it was probed


def test_the_mcp_probe_modules_import_no_sdk() -> None:
    code = (
        "import sys, pkgutil, importlib, core.probes.mcp as package\n"
        "for module in pkgutil.iter_modules(package.__path__):\n"
        "    importlib.import_module(f'core.probes.mcp.{module.name}')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_once_on_a_stdio_server_spawns_it_before_importing_the_sdk_off_the_main_thread(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text(yaml.safe_dump({"services": {"docs": stdio_service("docs")}}))
    # Audit events see every spawn and every module loaded, in order, and from which thread.
    code = (
        "import json, sys, threading\n"
        "seen = []\n"
        "def hook(event, args):\n"
        "    main = threading.current_thread() is threading.main_thread()\n"
        "    if event == 'import' and args[0].split('.')[0] in ('mcp', 'mcp_types'):\n"
        "        seen.append(['sdk', main])\n"
        "    elif event == 'subprocess.Popen':\n"
        "        seen.append(['spawn', main])\n"
        "sys.addaudithook(hook)\n"
        "from tui.cli import main\n"
        f"status = main(['--once', '--format', 'json', '-c', {str(config)!r}])\n"
        "print(json.dumps({'status': status, 'seen': seen}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["services"][0]["status"] == "up", report["services"][0]["reason"]
    seen = json.loads(done.stderr.strip().splitlines()[-1])["seen"]
    assert seen[0] == ["spawn", True], seen[:3]  # the server first, from the event loop's thread
    sdk = [main for what, main in seen if what == "sdk"]
    assert sdk and not any(sdk), "the SDK is imported, and never in the main thread"
