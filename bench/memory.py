"""Where an HTTP service's memory goes: RSS after imports, after the fleet is built, once every service is probed.

    python bench/memory.py [--services 1000] [--interval 1] [--settle 10] [--tls] [--trace 25] [--seed]
                           [--baseline /path/to/other/checkout]

One process runs the real engine over N HTTP services against bench/http_target.py (its own process, not
counted). It prints the resident set (VmRSS, /proc) at three points: after importing what the engine
needs, after building the fleet (config parsed, every service's probe, pipeline, breaker and state made,
nothing probed), and once every service has at least two results (its session made, its connection kept
alive between probes), sampled for a few seconds; then each step's cost per service. `--seed` fills every
service's result ring before the start (120 results, as after a restart of `lookout serve`). `--trace K`
also runs tracemalloc from the end of the imports and prints the K call sites whose Python allocations
grew most between the points, by the innermost frame and by the innermost frame in Lookout's own code:
what is left of the RSS growth past tracemalloc's figure is C memory (OpenSSL, the allocator's
fragmentation) or pages the allocator keeps. tracemalloc slows the probes and adds its own memory (the
RSS figures of a traced run are larger): compare RSS between untraced runs.
`--baseline PATH` measures another checkout's `core` (e.g. the main branch) the same way, right after.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = os.environ.get("LOOKOUT_BENCH_CORE", str(ROOT))
"""The checkout whose `core` is measured: this one, or `--baseline PATH`'s."""

from engine import start_server  # noqa: E402  bench/engine.py's loopback target (imported first: it puts ROOT on the path)

sys.path.insert(0, CORE)  # before ROOT: `core` comes from CORE


def rss_mb() -> float:
    """The resident set now (VmRSS), in MB (10^6 bytes, as bench/engine.py prints)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def site_tables(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int, per: int) -> None:
    """The call sites whose allocations grew most from `before` to `after`: innermost frame, innermost own frame."""
    old: dict[tuple[str, str], int] = defaultdict(int)
    for stat in before.statistics("traceback"):
        old[_keys(stat.traceback)] += stat.size
    grown: dict[tuple[str, str], int] = defaultdict(int)
    for stat in after.statistics("traceback"):
        grown[_keys(stat.traceback)] += stat.size
    for key, size in old.items():
        grown[key] -= size
    total = sum(grown.values())
    print(f"  Python allocations grew {total / 1e6:.1f} MB ({total / per:.0f} B a service)")
    by_inner: dict[str, int] = defaultdict(int)
    by_own: dict[str, int] = defaultdict(int)
    for (inner, own), size in grown.items():
        by_inner[inner] += size
        by_own[own] += size
    for title, table in (("innermost frame", by_inner), ("innermost frame in core/ (Lookout's code)", by_own)):
        print(f"  by {title}:")
        for where, size in sorted(table.items(), key=lambda item: -item[1])[:top]:
            print(f"    {size / per:>8.0f} B/service  {size / 1e6:>7.2f} MB  {where}")


def _keys(traceback: tracemalloc.Traceback) -> tuple[str, str]:
    frames = list(traceback)  # most recent call last (tracemalloc's order since 3.7 with most_recent_first=False)
    inner = _where(frames[-1]) if frames else "?"
    own = next((_where(f) for f in reversed(frames) if f"{os.sep}core{os.sep}" in f.filename), "(none)")
    return inner, own


def _where(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    for marker in ("site-packages" + os.sep, CORE + os.sep, "lib" + os.sep + "python3"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


async def measure(url: str, args: argparse.Namespace) -> None:
    import yaml

    from core.config import parse_config
    from core.engine import Engine
    from core.results import ProbeResult, Status

    def config_text(services: int) -> str:
        fleet = {f"svc-{i}": {"kind": "http", "url": f"{url}/ok/svc-{i}"} for i in range(services)}
        defaults = {"interval": f"{args.interval}s", "timeout": "10s", "concurrency": args.concurrency}
        return yaml.safe_dump({"defaults": defaults, "services": fleet})

    # One service built and probed first: what the code imports on first use is not counted per service.
    async with Engine(parse_config(config_text(1), source="warm.yaml", env={})) as warm:
        await warm.run_once()
    gc.collect()
    points = {"imports": rss_mb()}
    snapshots: dict[str, tracemalloc.Snapshot] = {}
    if args.trace:
        tracemalloc.start(25)
    fleet = [f"svc-{i}" for i in range(args.services)]
    engine = Engine(parse_config(config_text(args.services), source="bench.yaml", env={}))
    if args.seed:
        start = datetime.now(UTC) - timedelta(seconds=120 * args.interval)
        for name in fleet:
            engine.seed_history(
                name,
                (
                    ProbeResult(
                        service=name,
                        status=Status.UP,
                        started_at=start + timedelta(seconds=k * args.interval),
                        latency_ms=1.0 + (k % 7) / 10,
                        http_status=200,
                        timings={"request": 1.0 + (k % 7) / 10},
                    )
                    for k in range(120)
                ),
            )
    gc.collect()
    points["built"] = rss_mb()
    if args.trace:
        snapshots["built"] = tracemalloc.take_snapshot()
    async with engine:
        began = time.monotonic()
        while min(s.tally.probes for s in engine.snapshot().services) < 2:
            if time.monotonic() - began > args.settle * 10:
                print("  (not every service was probed twice in time)")
                break
            await asyncio.sleep(0.5)
        settled = time.monotonic() - began
        samples = []
        for _ in range(int(args.settle)):
            await asyncio.sleep(1.0)
            samples.append(rss_mb())
        snap = engine.snapshot()
        points["probed"] = max(samples)
        if args.trace:
            snapshots["probed"] = tracemalloc.take_snapshot()
        up = sum(1 for s in snap.services if s.status is Status.UP)
        probes = sum(s.tally.probes for s in snap.services)
    n = args.services
    print(
        f"{n} services @{args.interval}s, concurrency {args.concurrency}: every service probed twice after "
        f"{settled:.0f}s; {probes} probes, {up} up"
    )
    print(f"  RSS after imports       {points['imports']:7.1f} MB")
    print(
        f"  RSS with the fleet built {points['built']:7.1f} MB  "
        f"(+{(points['built'] - points['imports']) * 1e6 / n:,.0f} B a service)"
    )
    print(
        f"  RSS probing (max of {len(samples)} s) {points['probed']:7.1f} MB  "
        f"(+{(points['probed'] - points['built']) * 1e6 / n:,.0f} B a service; last {samples[-1]:.1f})"
    )
    if args.trace:
        print("built (from the end of the imports):")
        empty = snapshots["built"].filter_traces([tracemalloc.Filter(True, "<nothing>")])
        site_tables(empty, snapshots["built"], args.trace, n)
        print("probing (from the fleet built):")
        site_tables(snapshots["built"], snapshots["probed"], args.trace, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of RSS samples once all are probed")
    parser.add_argument("--tls", action="store_true", help="HTTPS target (trustme certificate)")
    parser.add_argument("--seed", action="store_true", help="start with every service's result ring full")
    parser.add_argument("--trace", type=int, default=0, metavar="K", help="tracemalloc: print the K top sites")
    parser.add_argument("--baseline", type=Path, help="also measure this checkout's core, after this one's")
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.url:
        asyncio.run(measure(args.url, args))
        return
    with tempfile.TemporaryDirectory() as directory:
        tls_dir = Path(directory) if args.tls else None
        target, url = start_server(tls_dir)
        env = dict(os.environ)
        if tls_dir is not None:
            env["SSL_CERT_FILE"] = str(tls_dir / "ca.pem")
        cores = [ROOT] + ([args.baseline.resolve()] if args.baseline else [])
        try:
            for core in cores:
                # The measured process is a fresh one: what it imports and allocates is its own.
                print(f"core from {core}:", flush=True)
                run_env = {**env, "PYTHONPATH": str(core), "LOOKOUT_BENCH_CORE": str(core)}
                command = [sys.executable, __file__, *sys.argv[1:], "--url", url]
                subprocess.run(command, env=run_env, cwd=ROOT, check=False)
        finally:
            target.terminate()
            target.wait(timeout=10)


if __name__ == "__main__":
    main()
