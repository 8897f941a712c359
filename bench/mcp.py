"""MCP benchmark: `lookout --once` over 1, 10 and 50 local stdio servers, and the cost of a persistent check.

    python bench/mcp.py [--sizes 1,10,50] [--checks 200]

For each size: the wall time of `lookout --once` (a real subprocess, as cron runs it), the
servers' cold starts (min / median / max) against the slowest server's whole probe. Then,
with one persistent session open, the CPU this process spends per liveness check (ping or
server/discover) and per full check (liveness + every list call). The servers are the demo's
SDK servers started with this Python. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/mcp.py: drop its own folder from the path, or `import mcp` would find it, not the SDK.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))


def server(name: str = "docs", *extra: str) -> dict:
    return {
        "kind": "mcp",
        "command": sys.executable,
        "args": ["-m", "core.demo.mcp_servers", name, *extra],
        "cwd": str(ROOT),
    }


def once(size: int) -> None:
    services = {f"docs-{i:02d}": server() for i in range(size)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "services.yaml"
        path.write_text(yaml.safe_dump({"defaults": {"timeout": "120s"}, "services": services}))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--once", "--format", "json", "-c", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        wall = time.perf_counter() - started
    report = json.loads(done.stdout)
    up = sum(1 for s in report["services"] if s["status"] == "up")
    colds = sorted(s["mcp"]["cold_start"] for s in report["services"] if s["mcp"]["cold_start"])
    slowest = max(s["latency_ms"] or 0 for s in report["services"])
    print(
        f"{size:>4}  {wall:7.2f}s  {up:>3}/{size:<3} {colds[0]:8.0f} {statistics.median(colds):8.0f} "
        f"{colds[-1]:8.0f} {slowest:10.0f}"
    )


async def persistent(checks: int) -> None:
    from core.config import parse_config
    from core.engine import Engine
    from core.probes.mcp.session import McpSession

    for era, extra in (("modern", ()), ("handshake", ("--era", "legacy"))):
        config = parse_config(yaml.safe_dump({"services": {"docs": server("docs", *extra)}}), env={})
        async with Engine(config) as engine:
            engine.pause("docs")
            await engine.run_once()
            cpu = time.process_time()
            for _ in range(checks):
                await engine.run_once()
            per_check = (time.process_time() - cpu) / checks * 1000
        session = McpSession(
            config.services["docs"],
            mode="legacy" if era == "handshake" else "auto",
            timeout=10,
            on_stderr=lambda line: None,
            on_message=lambda m: None,
            on_log=lambda p: None,
        )
        await session.open()
        cpu = time.process_time()
        for _ in range(checks):
            await session.ping()
        per_ping = (time.process_time() - cpu) / checks * 1000
        await session.close()
        liveness = "ping" if era == "handshake" else "server/discover"
        print(f"{era:<10} CPU per {liveness:<15} {per_ping:6.2f} ms   per full check {per_check:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--checks", type=int, default=200)
    args = parser.parse_args()
    print("servers   wall     up     cold start ms (min / median / max)   slowest probe ms")
    for size in (int(s) for s in args.sizes.split(",")):
        once(size)
    print()
    asyncio.run(persistent(args.checks))


if __name__ == "__main__":
    main()
