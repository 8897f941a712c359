"""TUI benchmark: 500 services whose state changes every second, rendered headless.

    python bench/tui.py [--services 500] [--seconds 20] [--presses 60]

Prints frames rendered per second, key-press-to-screen latency (p50/p95: from the
key press to the first frame written after its handler ran), CPU use of the
process and peak RSS. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.alerts.evaluator import AlertView
from core.alerts.overview import AlertsOverview
from core.bus import ViewItem
from core.clock import SystemClock
from core.details import McpDetails, ServerInfo, ToolInfo
from core.events import LogEvent, LogLevel
from core.ratelimit import RateLimit
from core.results import ProbeResult, Status
from core.serve.api import HistoryProvider
from core.snapshot import FleetSnapshot, LatencyStats, ProbeTally, ServiceInfo, ServiceLive, ServiceSnapshot
from tui.app import LookoutApp

STATUSES = (Status.UP, Status.UP, Status.UP, Status.DEGRADED, Status.DOWN)
BENCH_MCP = McpDetails(
    protocol_version="2026-07-28",
    server=ServerInfo(version="1.0"),
    tools=tuple(ToolInfo(f"tool-{n}") for n in range(12)),
    resources=("a", "b", "c"),
    prompts=("p",),
)


class ChurningSource:
    """A fleet of N services; every second a tenth of them change status, latency and quota."""

    def __init__(self, size: int) -> None:
        self.clock = SystemClock()
        self.history: HistoryProvider | None = None
        self.silences_path: Path | None = None
        now = self.clock.now()
        self._services = [self._service(i, now) for i in range(size)]
        self._events: list[ViewItem] = []
        self._task: asyncio.Task[None] | None = None

    def _service(self, i: int, now: datetime) -> ServiceSnapshot:
        mcp = i % 2 == 0
        latency = random.uniform(5, 400)
        return ServiceSnapshot(
            info=ServiceInfo(
                name=f"svc-{i:03d}", kind="mcp" if mcp else "http", target="bench", transport="stdio" if mcp else None
            ),
            status=random.choice(STATUSES),
            reason="",
            latency=LatencyStats(latency, latency, latency * 1.5, latency * 2, 10),
            history=tuple(
                ProbeResult(f"svc-{i:03d}", now, Status.UP, latency_ms=random.uniform(5, 400)) for _ in range(10)
            ),
            uptime=random.random(),
            tally=ProbeTally(last_checked=now, details=BENCH_MCP if mcp else None),
            live=ServiceLive(
                rate_limits=()
                if mcp
                else (RateLimit("core", 5000, random.randint(0, 5000), None, now + timedelta(minutes=30), "github"),)
            ),
        )

    async def _churn(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self.clock.now()
            for index in random.sample(range(len(self._services)), k=len(self._services) // 10):
                old = self._services[index]
                latency = random.uniform(5, 400)
                self._services[index] = replace(
                    old,
                    status=random.choice(STATUSES),
                    reason=random.choice(["", "HTTP 503 Service Unavailable (expected 200)", "slow: 2.1s > 2s"]),
                    latency=LatencyStats(latency, latency, latency * 1.5, latency * 2, 10),
                    tally=replace(old.tally, last_checked=now),
                )
                self._events.append(LogEvent(now, LogLevel.INFO, "changed", old.name))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._churn())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def snapshot(self) -> FleetSnapshot:
        return FleetSnapshot(datetime.now(UTC), tuple(self._services))

    def take_events(self) -> list[ViewItem]:
        events, self._events = self._events, []
        return events

    def probe_now(self, name: str | None) -> None:
        return None

    def toggle_pause(self, name: str) -> bool:
        return False

    def reset_breaker(self, name: str) -> None:
        return None

    async def approve_tools(self, name: str, fingerprint: str) -> str:
        return "nothing to approve in a bench"

    def alert_state(self, name: str) -> tuple[AlertView, ...]:
        return ()

    def alerts_overview(self) -> AlertsOverview:
        return AlertsOverview(off="a bench fleet")

    def refresh_alerts(self) -> None:
        return None


async def run(size: int, seconds: float, presses: int) -> None:
    app = LookoutApp(ChurningSource(size), config_path="bench")
    frames: list[float] = []
    original = app._display

    def counting_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        frames.append(time.perf_counter())
        original(screen, renderable)

    app._display = counting_display  # type: ignore[method-assign]
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(2.0)  # first fill of 500 rows
        frames.clear()
        wall = time.perf_counter()
        cpu0 = time.process_time()
        await asyncio.sleep(seconds)
        fps = len(frames) / (time.perf_counter() - wall)
        idle_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall)
        latencies = []
        by_key: dict[str, list[float]] = {"down": [], "s": []}
        for i in range(presses):
            key = "down" if i % 10 else "s"
            before = len(frames)
            started = time.perf_counter()
            await pilot.press(key)
            while len(frames) == before:
                await asyncio.sleep(0.001)
            latencies.append((frames[before] - started) * 1000)
            by_key[key].append(latencies[-1])
            await asyncio.sleep(random.uniform(0.05, 0.2))
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"services                {size}")
    print(f"frames per second       {fps:.1f}  (state changes 1/s, clocks tick 1/s)")
    print(f"key -> screen p50       {statistics.median(latencies):.1f} ms")
    print(f"key -> screen p95       {p95:.1f} ms  (over {presses} presses: cursor moves and re-sorts)")
    for key, values in by_key.items():
        if values:
            values.sort()
            what = "cursor move" if key == "down" else "re-sort"
            print(f"  {what:<21} p50 {statistics.median(values):.1f} ms, max {values[-1]:.1f} ms ({len(values)})")
    print(f"CPU while watching      {idle_cpu * 100:.1f}% of one core")
    total = (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)
    print(f"CPU total               {total:.1f} s")
    print(f"peak RSS                {cpu_end.ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--presses", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(run(args.services, args.seconds, args.presses))


if __name__ == "__main__":
    main()
