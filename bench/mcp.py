"""MCP benchmark: `lookout --once` on one stdio server (median of N runs), over 10 and 50, and a persistent check.

    python bench/mcp.py [--runs 7] [--sizes 10,50] [--checks 200]

First the figure issue 14 targets: the wall time of `lookout --once` (a real subprocess, as
cron runs it) on one stdio server, every list (tools, resources, templates, prompts), median of
`--runs` runs, with the CPU it took (lookout and the server) and the load average, since a busy
machine inflates every wall figure. Then where that time goes: a timeline (when the server was
spawned, when its own SDK import was done, when the report was out); the floor (the same server
under the SDK's own minimal `Client` doing the same lists, and the server alone: spawn to first
answer, stdin closed to exit); and the CPU of each big import in a fresh interpreter. Then for
each of `--sizes`: the wall time, the servers' cold starts (min / median / max) against the
slowest server's whole probe. Then, with one persistent session open, the CPU this process
spends per liveness check (ping or server/discover) and per full check (liveness + every list
call). The servers are the demo's SDK servers started with this Python. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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


TIMED_SERVER = """
import os, sys, time
log = open(os.environ["BENCH_TIMELINE"], "a")
log.write(f"spawned {time.time()}\\n")
import mcp.server, mcp_types  # what the demo server imports first: the SDK's server half
log.write(f"imported {time.time()}\\n")
log.close()
from core.demo.mcp_servers import main
main(sys.argv[1:])
"""
"""The demo server, stamping when it started and when its SDK was imported (for the timeline)."""

SDK_CLIENT = """
import asyncio, sys
from mcp import Client, StdioServerParameters

async def main() -> None:
    args = ["-m", "core.demo.mcp_servers", "docs"]
    server = StdioServerParameters(command=sys.executable, args=args, cwd=sys.argv[1])
    async with Client(server) as client:
        await client.list_tools()
        await client.list_resources()
        await client.list_resource_templates()
        await client.list_prompts()

asyncio.run(main())
"""
"""The SDK's own client doing what `--once` does to one server (all four lists), and nothing else: no config, no
report, no engine. What any Python monitor built on the SDK starts from."""

SERVER_ALONE = """
import json, subprocess, sys, time
started = time.perf_counter()
server = subprocess.Popen(
    [sys.executable, "-m", "core.demo.mcp_servers", "docs"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
)
request = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
server.stdin.write((json.dumps(request) + "\\n").encode())
server.stdin.flush()
server.stdout.readline()
answered = time.perf_counter()
server.stdin.close()
server.wait()
print(answered - started, time.perf_counter() - answered)
"""
"""The server with no client at all: spawned at once, asked one question, its stdin closed: (s to its first answer,
s from EOF to its exit). No client, however lean, reports before the first nor exits cleanly before the second."""

CLIENT = ("mcp.client.client", "mcp.client.sse", "mcp.client.streamable_http")
IMPORTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("core.config (config models)", ("core.config",), ()),
    ("+ core.engine", ("core.engine",), ("core.config",)),
    ("+ the MCP probe", ("core.probes.mcp.probe",), ("core.engine",)),
    ("+ the SDK's client", CLIENT, ("core.probes.mcp.probe",)),
    ("the SDK's server (the demo's)", ("mcp.server", "mcp_types"), ()),
)
"""(label, modules timed, modules imported before, not timed): each row of lookout's costs adds to the last."""


def run_once(services: dict[str, dict]) -> tuple[float, float, dict]:
    """(wall s, CPU s of lookout and its servers, the JSON report) of one `lookout --once`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "services.yaml"
        path.write_text(yaml.safe_dump({"defaults": {"timeout": "120s"}, "services": services}))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--once", "--format", "json", "-c", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, json.loads(done.stdout)


def compile_sources() -> None:
    """Byte-compile this checkout's `core` and `tui` first, as `pip install` does: a checkout run with
    PYTHONDONTWRITEBYTECODE (or edited since its last import) compiles every changed module from source in
    each fresh interpreter, which added up to half a second to a `--once` run here."""
    import compileall

    for package in ("core", "tui"):
        compileall.compile_dir(ROOT / package, quiet=1)


def one_server(runs: int) -> None:
    """The headline: `--once` on one stdio server, median of `runs`, then where its time goes."""
    load_before = os.getloadavg()[0]
    walls, cpus, shares = [], [], []
    for _ in range(runs):
        wall, cpu, report = run_once({"docs": server()})
        assert report["services"][0]["status"] == "up", report["services"][0]["reason"]
        walls.append(wall)
        cpus.append(cpu)
        first, exit_after = server_alone()  # right after, so both see the machine alike
        shares.append(wall - first - exit_after)
    load = f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(
        f"lookout --once, 1 stdio server, all lists: {statistics.median(walls):.2f} s wall (median of {runs}; "
        f"min {min(walls):.2f}, max {max(walls):.2f}), {statistics.median(cpus):.2f} s CPU with the server; {load}"
    )
    print(
        f"lookout's own share: {statistics.median(shares):.2f} s (median; min {min(shares):.2f}, max "
        f"{max(shares):.2f}): each run's wall less what the server alone took just after it, to its first answer "
        "and from its stdin closed to its exit"
    )
    print(timeline(3))
    print(floor(runs))
    print("import CPU in a fresh interpreter (min of 3):")
    for label, modules, after in IMPORTS:
        print(f"  {label:<30} {import_cpu(modules, after):6.0f} ms")


def timeline(runs: int) -> str:
    """Median seconds from `lookout --once` starting to the server's spawn, its SDK imported, the report out."""
    marks: dict[str, list[float]] = {"spawned": [], "imported": [], "out": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            stamps = Path(tmp) / "timeline"
            timed = server() | {"args": ["-c", TIMED_SERVER, "docs"], "env": {"BENCH_TIMELINE": str(stamps)}}
            started = time.time()
            _, _, report = run_once({"docs": timed})
            marks["out"].append(time.time() - started)
            for line in stamps.read_text().splitlines():
                what, _, at = line.partition(" ")
                marks[what].append(float(at) - started)
        assert report["services"][0]["status"] == "up", report["services"][0]["reason"]
    spawned, imported, out = (statistics.median(marks[what]) for what in ("spawned", "imported", "out"))
    return (
        f"timeline, s after lookout starts (median of {runs}): server spawned {spawned:.2f}, "
        f"its SDK imported {imported:.2f}, report out {out:.2f}"
    )


def floor(runs: int) -> str:
    """The same server under the SDK's own minimal client, and alone: what no client on this machine gets below."""
    sdk = []
    alone: list[tuple[float, float]] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", SDK_CLIENT, str(ROOT)], cwd=ROOT, check=True, capture_output=True)
        sdk.append(time.perf_counter() - started)
        alone.append(server_alone())
    return (
        f"floor (median of {runs}): the SDK's own Client, same lists, nothing else {statistics.median(sdk):.2f} s "
        f"(min {min(sdk):.2f}); the server alone: first answer {statistics.median(a[0] for a in alone):.2f} s "
        f"after its spawn, exit {statistics.median(a[1] for a in alone):.2f} s after its stdin closes"
    )


def server_alone() -> tuple[float, float]:
    """(s from its spawn to its first answer, s from its stdin closed to its exit) of the server with no client."""
    done = subprocess.run([sys.executable, "-c", SERVER_ALONE], cwd=ROOT, check=True, capture_output=True, text=True)
    first, exit_after = (float(x) for x in done.stdout.split())
    return first, exit_after


def import_cpu(modules: tuple[str, ...], after: tuple[str, ...] = ()) -> float:
    """CPU ms a fresh interpreter spends importing `modules` once `after` are imported (neither the interpreter's
    start nor `after` counted)."""
    code = (
        f"for name in {after!r}: __import__(name)\n"
        "import time\n"
        "started = time.process_time()\n"
        f"for name in {modules!r}: __import__(name)\n"
        "print((time.process_time() - started) * 1000)\n"
    )
    figures = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout)
        for _ in range(3)
    ]
    return min(figures)


def once(size: int) -> None:
    services = {f"docs-{i:02d}": server() for i in range(size)}
    wall, _, report = run_once(services)
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
    parser.add_argument("--runs", type=int, default=7, help="runs of the one-server figure (its median is printed)")
    parser.add_argument("--sizes", default="10,50", help="fleet sizes to time once each ('' for none)")
    parser.add_argument("--checks", type=int, default=200, help="checks per persistent figure (0: skip them)")
    args = parser.parse_args()
    compile_sources()
    one_server(args.runs)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        print()
        print("servers   wall     up     cold start ms (min / median / max)   slowest probe ms")
    for size in sizes:
        once(size)
    if args.checks <= 0:
        return
    print()
    asyncio.run(persistent(args.checks))


if __name__ == "__main__":
    main()
