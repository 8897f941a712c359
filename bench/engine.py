"""Engine benchmark: probes/s, CPU per 1000 probes and peak RSS, Lookout vs bare HTTP loops.

    python bench/engine.py [--seconds 8] [--sizes 10,100,1000] [--concurrency 50] [--only lookout,lookout-fresh]

The local server runs in its own process (uvicorn, the demo HTTP API's /ok route), so
its CPU is not counted. Each scenario runs in a fresh subprocess so CPU time and
peak RSS belong to that scenario alone. Figures, not assertions: run it on a quiet
machine and read the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_CODE = """
import socket, sys, uvicorn
from core.demo.http_api import create_http_api
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(create_http_api(), log_level="error", access_log=False, backlog=2048)
uvicorn.Server(config).run(sockets=[sock])
"""


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- scenarios (each runs in its own process) ----------------------------------


async def lookout_scheduled(url: str, services: int, seconds: float, concurrency: int, fresh: bool = False) -> dict:
    """The real engine, scheduling N services on a 1s interval for `seconds` (`fresh`: fresh_connection)."""
    import yaml

    from core.config import parse_config
    from core.engine import Engine

    extra = {"fresh_connection": True} if fresh else {}
    fleet = {f"svc-{i}": {"kind": "http", "url": f"{url}/ok/svc-{i}", **extra} for i in range(services)}
    text = yaml.safe_dump(
        {"defaults": {"interval": "1s", "timeout": "10s", "concurrency": concurrency}, "services": fleet}
    )
    config = parse_config(text, source="bench.yaml", env={})
    async with Engine(config) as engine:
        await asyncio.sleep(1.5)  # let the first wave (spread over 1s) pass
        before = sum(s.probes for s in engine.snapshot().services)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        probes = sum(s.probes for s in engine.snapshot().services) - before
        failed = sum(1 for s in engine.snapshot().services if s.status.value != "up")
    return {"probes": probes, "cpu": cpu, "wall": wall, "failed_services": failed}


async def lookout_saturated(url: str, services: int, seconds: float, concurrency: int) -> dict:
    """The engine flat out: run_once over N services repeatedly, `concurrency` at a time."""
    import yaml

    from core.config import parse_config
    from core.engine import Engine

    fleet = {f"svc-{i}": {"kind": "http", "url": f"{url}/ok/svc-{i}"} for i in range(services)}
    text = yaml.safe_dump({"defaults": {"timeout": "10s", "concurrency": concurrency}, "services": fleet})
    engine = Engine(parse_config(text, source="bench.yaml", env={}))
    await engine.run_once()  # warm the pool
    probes, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        await engine.run_once()
        probes += services
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await engine.stop()
    return {"probes": probes, "cpu": cpu, "wall": wall}


async def bare_loop(client_name: str, url: str, services: int, seconds: float, concurrency: int) -> dict:
    """The same requests with no engine: `concurrency` workers looping over the N URLs."""
    urls = [f"{url}/ok/svc-{i}" for i in range(services)]
    counter = {"n": 0}
    deadline = time.perf_counter() + seconds

    if client_name == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def fetch(target: str) -> None:
                async with session.get(target) as response:
                    await response.read()

            return await _drive(fetch, urls, counter, deadline, concurrency)
    module = __import__(client_name)
    limits = module.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    async with module.AsyncClient(limits=limits) as client:

        async def fetch(target: str) -> None:
            response = await client.get(target)
            response.read()

        return await _drive(fetch, urls, counter, deadline, concurrency)


async def _drive(fetch, urls, counter, deadline, concurrency) -> dict:  # type: ignore[no-untyped-def]
    await fetch(urls[0])

    async def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < deadline:
            await fetch(urls[i % len(urls)])
            counter["n"] += 1
            i += concurrency

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return {"probes": counter["n"], "cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0}


def run_scenario(argv: list[str]) -> None:
    name, url, services, seconds, concurrency = argv[0], argv[1], int(argv[2]), float(argv[3]), int(argv[4])
    if name in ("lookout", "lookout-fresh"):
        result = asyncio.run(lookout_scheduled(url, services, seconds, concurrency, fresh=name == "lookout-fresh"))
    elif name == "lookout-saturated":
        result = asyncio.run(lookout_saturated(url, services, seconds, concurrency))
    else:
        result = asyncio.run(bare_loop(name, url, services, seconds, concurrency))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


SCENARIOS = ("httpx2", "httpx", "aiohttp", "lookout-saturated", "lookout", "lookout-fresh")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated scenarios (default: {','.join(SCENARIOS)})"
    )
    parser.add_argument("--scenario", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        run_scenario(args.scenario)
        return
    server, url = start_server()
    try:
        print(f"server {url} (separate process); {os.cpu_count()} cores; concurrency {args.concurrency}")
        print(f"{'scenario':<20}{'N':>6}{'probes/s':>11}{'CPU s/1000':>12}{'vs httpx2':>11}{'peak RSS MB':>13}")
        for size in [int(s) for s in args.sizes.split(",")]:
            rows = {}
            for name in args.only.split(","):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--scenario",
                        name,
                        url,
                        str(size),
                        str(args.seconds),
                        str(args.concurrency),
                    ],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                if out.returncode != 0:
                    print(f"{name:<20}{size:>6}  failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
            base = rows.get("httpx2")
            for name, row in rows.items():
                per_k = row["cpu"] / max(row["probes"], 1) * 1000
                ratio = ""
                if base and name.startswith("lookout"):
                    ratio = f"{per_k / (base['cpu'] / max(base['probes'], 1) * 1000):.2f}x"
                rate = row["probes"] / row["wall"]
                print(f"{name:<20}{size:>6}{rate:>11.0f}{per_k:>12.3f}{ratio:>11}{row['peak_rss_mb']:>13.1f}")
        print("lookout = scheduled engine (1s interval, all N services), lookout-fresh = the same with")
        print("fresh_connection: true (a new connection per probe, as blackbox_exporter makes);")
        print("lookout-saturated = run_once over all N back to back;")
        print("bare loops = the same GETs with no engine. CPU is the client process only.")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
