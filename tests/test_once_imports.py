"""`lookout --once` imports only what its services need: an HTTP-only fleet loads neither the mcp SDK
(about half a second of imports) nor httpx2, nor Textual, nor the daemon's, history's, alerts' or demo's code.

An MCP fleet loads the SDK, but only once its stdio servers are spawned, and in a worker thread: the
servers boot (importing their own SDK) while Lookout imports its own. Nothing in `core.probes.mcp`
imports the SDK at its top, or that overlap is lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from tests.fixtures_mcp import stdio_service

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("mcp", "mcp_types", "textual", "rich", "starlette", "uvicorn", "sqlite3", "httpx2", "httpcore2")
"""httpx2 carries only the MCP transports and their OAuth fetches: HTTP API probes run on aiohttp."""
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
        "seen, before = [], []\n"
        "def hook(event, args):\n"
        "    main = threading.current_thread() is threading.main_thread()\n"
        "    if event == 'import' and args[0].split('.')[0] in ('mcp', 'mcp_types'):\n"
        "        seen.append(['sdk', main])\n"
        "    elif event == 'subprocess.Popen':\n"
        "        seen.append(['spawn', main])\n"
        "        if len(seen) == 1:\n"
        "            before.extend(m for m in sys.modules if m.startswith(('core.', 'tui.')))\n"
        "sys.addaudithook(hook)\n"
        "from tui.cli import main\n"
        f"status = main(['--once', '--format', 'json', '-c', {str(config)!r}])\n"
        "print(json.dumps({'status': status, 'seen': seen, 'before': before}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["services"][0]["status"] == "up", report["services"][0]["reason"]
    audit = json.loads(done.stderr.strip().splitlines()[-1])
    seen = audit["seen"]
    assert seen[0] == ["spawn", True], seen[:3]  # the server first, from the event loop's thread
    sdk = [main for what, main in seen if what == "sdk"]
    assert sdk and not any(sdk), "the SDK is imported, and never in the main thread"
    # Before the spawn: the config, the selection and the spawner; results and snapshots load while the server boots.
    assert "core.config.loader" in audit["before"] and "core.probes.mcp.early" in audit["before"]
    late = {"core.snapshot", "core.details", "core.results", "core.engine", "core.report", "core.probes.mcp.probe"}
    assert sorted(late & set(audit["before"])) == []


SERVE_WRAPPER = """
import atexit, json, sys
from pathlib import Path
report = Path(sys.argv.pop(1))
atexit.register(lambda: report.write_text(json.dumps(sorted(sys.modules))))
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_serve_on_an_http_fleet_imports_neither_httpx2_nor_the_mcp_sdk(http_api, tmp_path: Path) -> None:
    """The daemon's resident set is what it imported plus what it keeps: on an HTTP API fleet, httpx2 (the MCP
    transports' stack, ~3 MB) and the SDK (~25 MB) stay out, as does the CA store no http:// URL needs."""
    config = tmp_path / "services.yaml"
    config.write_text(yaml.safe_dump({"services": {"api": {"kind": "http", "url": f"{http_api.url}/ok/imports"}}}))
    report = tmp_path / "modules.json"
    command = [sys.executable, "-c", SERVE_WRAPPER, str(report), "serve", "-c", str(config), "--no-history"]
    command += ["--listen", "127.0.0.1:0", "--log-format", "json"]
    daemon = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    bound = threading.Timer(60, daemon.kill)  # a bound on a failure (no probe logged), not a measured figure
    bound.start()
    try:
        assert daemon.stdout is not None
        for line in daemon.stdout:
            logged = json.loads(line)
            if logged.get("service") == "api" and "-> up" in logged.get("message", ""):
                break  # probed: the HTTP stack and everything a probe needs are loaded by now
        else:
            raise AssertionError(f"lookout serve ended before a probe ({daemon.wait()})")
    finally:
        bound.cancel()
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    modules = json.loads(report.read_text())
    assert "aiohttp" in modules and "core.probes.http_session" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in ("httpx2", "httpcore2", "mcp", "mcp_types", "textual"))
    assert loaded == []
