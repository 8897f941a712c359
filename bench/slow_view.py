"""Schedule lag with a view that sleeps per event: does a slow consumer stall probing?

    python bench/slow_view.py [--services 20] [--interval 0.1] [--seconds 10] [--view-sleep 1.0] [--maxsize 2]

Runs the real engine over N HTTP services (the demo API's /ok route, served by a
separate process so its CPU is not the engine's), twice: with no view, then with
a view that sleeps `--view-sleep` seconds per event. A recorder collects every
ProbeStarted's schedule lag (actual start - due time, monotonic). Prints lag
percentiles for both runs and what the slow view dropped and resynced. Figures,
not assertions: the issue's target is p99 schedule lag under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import start_server  # bench/engine.py: the demo API in its own process  # noqa: E402

from core.bus import Resync  # noqa: E402
from core.events import Event, ProbeStarted  # noqa: E402


class LagRecorder:
    """Keeps the schedule lag of every scheduled probe start (a recorder: returns at once)."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    def record(self, event: Event) -> None:
        if isinstance(event, ProbeStarted) and event.schedule_lag is not None:
            self.lags.append(event.schedule_lag)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


async def run(url: str, args: argparse.Namespace, *, slow_view: bool) -> dict[str, float]:
    import yaml

    from core.config import parse_config
    from core.engine import Engine

    fleet = {f"svc-{i}": {"kind": "http", "url": f"{url}/ok/svc-{i}"} for i in range(args.services)}
    defaults = {"interval": args.interval, "timeout": "10s", "retry": {"attempts": 1}}
    config = parse_config(yaml.safe_dump({"defaults": defaults, "services": fleet}), source="bench.yaml", env={})
    engine = Engine(config)
    lags = LagRecorder()
    engine.add_recorder(lags)
    view = engine.subscribe(maxsize=args.maxsize)
    handled = 0

    async def read_slowly() -> None:
        nonlocal handled
        async for item in view:
            if not isinstance(item, Resync):
                handled += 1
                await asyncio.sleep(args.view_sleep)

    async with engine:
        reader = asyncio.create_task(read_slowly()) if slow_view else None
        await asyncio.sleep(args.seconds)
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    return {
        "probes": len(lags.lags),
        "p50": percentile(lags.lags, 0.50) * 1000,
        "p95": percentile(lags.lags, 0.95) * 1000,
        "p99": percentile(lags.lags, 0.99) * 1000,
        "max": max(lags.lags, default=float("nan")) * 1000,
        "events": engine.seq,
        "handled": handled,
        "dropped": view.dropped if slow_view else 0,
        "resyncs": view.resyncs if slow_view else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between probes of one service")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--view-sleep", type=float, default=1.0, help="seconds the slow view sleeps per event")
    parser.add_argument("--maxsize", type=int, default=2, help="the view's queue bound")
    args = parser.parse_args()
    server, url = start_server()
    try:
        rows = [("no view", asyncio.run(run(url, args, slow_view=False)))]
        rows.append((f"view sleeping {args.view_sleep:g}s/event", asyncio.run(run(url, args, slow_view=True))))
    finally:
        server.terminate()
        server.wait()
    print(
        f"{args.services} services every {args.interval:g}s for {args.seconds:g}s; "
        "schedule lag = probe start - due time (ms)"
    )
    print(
        f"{'':<28}{'probes':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}"
        f"{'events':>9}{'read':>7}{'dropped':>9}{'resyncs':>8}"
    )
    for name, r in rows:
        print(
            f"{name:<28}{r['probes']:>8.0f}{r['p50']:>8.2f}{r['p95']:>8.2f}{r['p99']:>8.2f}{r['max']:>8.2f}"
            f"{r['events']:>9.0f}{r['handled']:>7.0f}{r['dropped']:>9.0f}{r['resyncs']:>8.0f}"
        )


if __name__ == "__main__":
    main()
