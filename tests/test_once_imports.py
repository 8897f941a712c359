"""`lookout --once` imports only what its services need: an HTTP-only fleet loads neither the mcp SDK
(about half a second of imports) nor Textual, nor the daemon's, history's, alerts' or demo's code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
