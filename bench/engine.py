"""Engine benchmark: probes/s, CPU per probe, schedule lag and peak RSS, Lookout vs bare HTTP loops.

    python bench/engine.py [--seconds 8] [--sizes 10,100,1000,2000] [--concurrency 50]
                           [--only lookout,lookout-fresh] [--tls] [--baseline /path/to/other/checkout] [--windows 6]

The target runs in its own process (bench/http_target.py: a bare asyncio Protocol answering
HTTP/1.1 keep-alive requests, many times faster than any client here, so the figures are the
client's), and its CPU is not counted. `--tls` serves HTTPS instead, with a certificate for
127.0.0.1 made by trustme (the client processes trust its CA through SSL_CERT_FILE).
`--baseline PATH` runs the Lookout scenarios a second time with the `core` package of another
checkout (e.g. the main branch), in the same run, rows marked `@base`: A against B under the same
load. Each scenario runs in a fresh subprocess so CPU time and peak RSS belong to that scenario
alone. The scheduled rows print the schedule's lag (ProbeStarted.schedule_lag, p50 and p99 over
the measured window). `--windows N` splits each scheduled Lookout run's window into N equal parts
and prints each part's CPU per probe: how far one process drifts from itself on this machine, the
bound on any A/B closer than that. Figures, not assertions: run it on a quiet machine and read the
table.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_server(tls_dir: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """bench/http_target.py in its own process; with `tls_dir`, HTTPS (its CA written to tls_dir/ca.pem)."""
    command = [sys.executable, str(ROOT / "bench" / "http_target.py")]
    if tls_dir is not None:
        command += ["--tls", str(tls_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"{'https' if tls_dir else 'http'}://127.0.0.1:{port}"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- scenarios (each runs in its own process) ----------------------------------


async def lookout_scheduled(url: str, services: int, seconds: float, concurrency: int, fresh: bool = False) -> dict:
    """The real engine, scheduling N services on a 1s interval for `seconds` (`fresh`: fresh_connection)."""
    import yaml

    from core.collector import freeze_once_settled
    from core.config import parse_config
    from core.engine import Engine

    extra = {"fresh_connection": True} if fresh else {}
    fleet = {f"svc-{i}": {"kind": "http", "url": f"{url}/ok/svc-{i}", **extra} for i in range(services)}
    text = yaml.safe_dump(
        {"defaults": {"interval": "1s", "timeout": "10s", "concurrency": concurrency}, "services": fleet}
    )
    from core.events import ProbeStarted

    config = parse_config(text, source="bench.yaml", env={})
    lags: list[float] = []

    class Lags:
        """ProbeStarted.schedule_lag of every scheduled probe while `measuring` (a recorder: sees every event)."""

        measuring = False

        def record(self, event: object) -> None:
            if self.measuring and isinstance(event, ProbeStarted) and event.schedule_lag is not None:
                lags.append(event.schedule_lag)

    recorder = Lags()
    engine = Engine(config)
    engine.add_recorder(recorder)
    async with engine:
        # As `lookout serve` does: what the fleet built to run (and each service's first session) is frozen out
        # of the cyclic collector's sight once every service has a first result (core.collector).
        await freeze_once_settled(engine, limit=10.0)
        await asyncio.sleep(0.5)
        before = sum(s.probes for s in engine.snapshot().services)
        profile_to = os.environ.get("LOOKOUT_BENCH_PROFILE")
        profiler = cProfile.Profile() if profile_to else None
        recorder.measuring = True
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        windows = int(os.environ.get("LOOKOUT_BENCH_WINDOWS", "1"))
        per_window: list[float] = []
        for _ in range(windows):
            window_cpu, window_probes = time.process_time(), sum(s.probes for s in engine.snapshot().services)
            await asyncio.sleep(seconds / windows)
            window_probes = sum(s.probes for s in engine.snapshot().services) - window_probes
            per_window.append((time.process_time() - window_cpu) / max(window_probes, 1) * 1000)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        recorder.measuring = False
        if profiler is not None and profile_to:
            profiler.dump_stats(profile_to)
        probes = sum(s.probes for s in engine.snapshot().services) - before
        statuses = [s.status.value for s in engine.snapshot().services]
        failed = sum(1 for status in statuses if status not in ("up", "unknown"))
        unprobed = statuses.count("unknown")
    return {
        "probes": probes,
        "cpu": cpu,
        "wall": wall,
        "failed_services": failed,
        "unprobed_services": unprobed,
        "lag_p50": percentile(lags, 0.5),
        "lag_p99": percentile(lags, 0.99),
        "window_ms": per_window if windows > 1 else [],
    }


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
    name, _, base = name.partition("@")
    if base:  # the same scenario with another checkout's `core` (its path in LOOKOUT_BASELINE)
        sys.path.insert(0, os.environ["LOOKOUT_BASELINE"])
    if name in ("lookout", "lookout-fresh"):
        result = asyncio.run(lookout_scheduled(url, services, seconds, concurrency, fresh=name == "lookout-fresh"))
    elif name == "lookout-saturated":
        result = asyncio.run(lookout_saturated(url, services, seconds, concurrency))
    else:
        result = asyncio.run(bare_loop(name, url, services, seconds, concurrency))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


SCENARIOS = ("httpx2", "aiohttp", "lookout-saturated", "lookout", "lookout-fresh")
"""httpx 0.28 (`httpx`) is a scenario too, when asked for with --only: it is ~10x httpx2's cost here."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sizes", default="10,100,1000,2000")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated scenarios (default: {','.join(SCENARIOS)})"
    )
    parser.add_argument("--tls", action="store_true", help="HTTPS target (trustme certificate)")
    parser.add_argument("--baseline", type=Path, help="also run the lookout scenarios with this checkout's core")
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the measured window of the (last) plain `lookout` run into this file, print its top entries",
    )
    parser.add_argument(
        "--windows", type=int, default=1, help="print the CPU/probe of N equal parts of each scheduled Lookout window"
    )
    parser.add_argument("--scenario", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        run_scenario(args.scenario)
        return
    with tempfile.TemporaryDirectory() as directory:
        tls_dir = Path(directory) if args.tls else None
        server, url = start_server(tls_dir)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOOKOUT_BENCH_WINDOWS": str(max(args.windows, 1))}
        if tls_dir is not None:
            env["SSL_CERT_FILE"] = str(tls_dir / "ca.pem")
        if args.baseline is not None:
            env["LOOKOUT_BASELINE"] = str(args.baseline.resolve())
        if args.profile is not None:
            env["LOOKOUT_BENCH_PROFILE_TO"] = str(args.profile.resolve())
        names = args.only.split(",")
        if args.baseline is not None:
            names += [f"{name}@base" for name in names if name.startswith("lookout")]
        try:
            table(url, names, args, env)
            if args.profile is not None and args.profile.exists():
                print_profile(args.profile)
        finally:
            server.terminate()
            server.wait(timeout=10)


def table(url: str, names: list[str], args: argparse.Namespace, env: dict[str, str]) -> None:
    print(f"target {url} (bench/http_target.py, own process); {os.cpu_count()} cores; concurrency {args.concurrency}")
    if args.baseline is not None:
        print(f"@base rows: core from {args.baseline}")
    head = f"{'scenario':<24}{'N':>6}{'probes/s':>10}{'CPU ms/probe':>14}{'vs httpx2':>11}"
    print(f"{head}{'lag p50 ms':>12}{'lag p99 ms':>12}{'peak RSS MB':>13}")
    for size in [int(s) for s in args.sizes.split(",")]:
        rows = {}
        for name in names:
            scenario = [name, url, str(size), str(args.seconds), str(args.concurrency)]
            run_env = env
            if name == "lookout" and "LOOKOUT_BENCH_PROFILE_TO" in env:
                run_env = {**env, "LOOKOUT_BENCH_PROFILE": env["LOOKOUT_BENCH_PROFILE_TO"]}
            out = subprocess.run(
                [sys.executable, __file__, "--scenario", *scenario],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=run_env,
            )
            if out.returncode != 0:
                print(f"{name:<24}{size:>6}  failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
        base = rows.get("httpx2")
        for name, row in rows.items():
            per_probe = row["cpu"] / max(row["probes"], 1) * 1000
            ratio = ""
            if base and name.startswith("lookout"):
                ratio = f"{per_probe / (base['cpu'] / max(base['probes'], 1) * 1000):.2f}x"
            rate = row["probes"] / row["wall"]
            lag = ""
            if "lag_p99" in row:
                lag = f"{1000 * row['lag_p50']:>12.1f}{1000 * row['lag_p99']:>12.1f}"
                if row.get("failed_services") or row.get("unprobed_services"):
                    lag += f"  ({row['failed_services']} not up, {row.get('unprobed_services', 0)} never probed)"
            else:
                lag = f"{'':>24}"
            print(f"{name:<24}{size:>6}{rate:>10.0f}{per_probe:>14.3f}{ratio:>11}{lag}{row['peak_rss_mb']:>13.1f}")
            if row.get("window_ms"):
                parts = ", ".join(f"{ms:.3f}" for ms in row["window_ms"])
                print(f"{'':<24}windows of {args.seconds / args.windows:g} s, CPU ms/probe: {parts}")
    print("lookout = scheduled engine (1s interval, all N services: N probes/s expected), lookout-fresh = the same")
    print("with fresh_connection: true (a new connection per probe, as blackbox_exporter makes);")
    print("lookout-saturated = run_once over all N back to back;")
    print("bare loops = the same GETs with no engine. CPU is the client process only.")


def print_profile(path: Path) -> None:
    """The functions the profiled window spent most time in, by own time and by cumulative time."""
    import pstats

    print(f"\nprofile of the last `lookout` window ({path}); cProfile slows what it watches: shares, not times")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
