"""TUI benchmark: 500 and 2,000 services whose state changes every second, rendered headless at 160x50;
or `lookout demo` idling in a real pseudo-terminal.

    python bench/tui.py [--services 500,2000] [--seconds 20] [--presses 60] [--no-log]
    python bench/tui.py --demo [--soak 10] [--size 160x45] [--profile FILE] [--keys 123] [--tracemalloc DIR]

For each fleet size: frames written per second and the process's CPU while watching; then key
presses (every third one a re-sort, the others cursor moves) with key-to-screen latency (from the
press to the first frame written after it: p50 and p95, for all presses and for re-sorts and cursor
moves apart) and the process CPU spent from the press to that frame (less inflated than wall time
on a loaded machine); RSS. CPU per round of changes divides the watching CPU by the rounds the fleet
actually changed: a starved event loop does fewer rounds, so "% of a core" alone flatters a slow
build on a busy machine. --no-log hides the log pane.

`--demo` runs a real `lookout demo` in a pseudo-terminal of the given size (a real terminal size,
real escape sequences; this script reads and discards what it draws) and leaves it idle for
`--soak` minutes, printing every minute its RSS and the CPU it used in that minute: all of it, and
the main thread's alone (the UI and the engine; the other threads are Textual's output writer and
the history writer), and apart, the CPU of the demo's own HTTP/MCP servers (`core.demo.upstreams`,
a process of their own, not counted in the app's). The stdio MCP servers are separate processes
and not counted. At the end: the CPU after the first minute, and the RSS slope (MB per
minute, least squares) from the third minute on. `--profile FILE` runs it under cProfile (main
thread; open with `python -m pstats FILE`). `--keys 123` types those keys 5 s in (1, 2, 3 hide the
three tables): to see what a panel costs by its absence. `--tracemalloc DIR[:3,13]` runs it under
bench/heapwatch.py, which writes heap snapshots at those minutes for `heapwatch.py --diff A B` (what grew,
by traceback). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import fcntl
import math
import os
import pty
import random
import resource
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.alerts.evaluator import AlertView
from core.alerts.overview import AlertsOverview
from core.bus import ViewItem
from core.clock import Clock, SystemClock
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
        self.clock: Clock = SystemClock()
        self.history: HistoryProvider | None = None
        self.silences_path: Path | None = None
        now = self.clock.now()
        self._services = [self._service(i, now) for i in range(size)]
        self._events: list[ViewItem] = []
        self.ticks = 0
        """Rounds of changes so far: on a loaded machine the loop may run fewer than one a second."""
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
            self.ticks += 1
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


PRESS_LIMIT = 10.0
"""Seconds to wait for the frame after a key press before the run is called stuck."""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


async def run(size: int, seconds: float, presses: int, *, log: bool = True, profile: str | None = None) -> None:
    """One fleet size: watch for `seconds`, then `presses` key presses (every third a re-sort)."""
    source = ChurningSource(size)
    app = LookoutApp(source, config_path="bench")
    frames: list[tuple[float, float]] = []
    """(wall, process CPU) of each frame written."""
    original = app._display

    def counting_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        original(screen, renderable)
        frames.append((time.perf_counter(), time.process_time()))

    app._display = counting_display  # type: ignore[method-assign]
    async with app.run_test(size=(160, 50)) as pilot:
        if not log:
            await pilot.press("4")  # hide the log pane: what the tables and the rest cost without it
        await pilot.pause(2.0)  # the first fill of every row
        frames.clear()
        wall = time.perf_counter()
        cpu0 = time.process_time()
        ticks0 = source.ticks
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        await asyncio.sleep(seconds)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{size}")
        fps = len(frames) / (time.perf_counter() - wall)
        watching = (time.process_time() - cpu0) / (time.perf_counter() - wall)
        per_tick = (time.process_time() - cpu0) / max(1, source.ticks - ticks0)
        latency: dict[str, list[float]] = {"down": [], "s": []}
        cpu: dict[str, list[float]] = {"down": [], "s": []}
        for i in range(presses):
            key = "s" if i % 3 == 0 else "down"
            before = len(frames)
            started, cpu_started = time.perf_counter(), time.process_time()
            await pilot.press(key)
            deadline = time.perf_counter() + PRESS_LIMIT
            while len(frames) == before:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"no frame {PRESS_LIMIT:.0f} s after pressing {key!r}")
                await asyncio.sleep(0.001)
            shown, cpu_shown = frames[before]
            latency[key].append((shown - started) * 1000)
            cpu[key].append((cpu_shown - cpu_started) * 1000)
            await asyncio.sleep(random.uniform(0.05, 0.2))
    every = latency["down"] + latency["s"]
    print(f"services                {size}" + ("" if log else "  (log pane hidden)"))
    print(f"frames per second       {fps:.1f}  (state changes 1/s, clocks tick 1/s)")
    print(f"CPU while watching      {watching * 100:.1f}% of one core")
    print(f"CPU per round of changes {per_tick * 1000:.0f} ms  (= % of a core /10 when the loop keeps up)")
    print(f"key -> screen p50       {statistics.median(every):.1f} ms")
    print(f"key -> screen p95       {percentile(every, 0.95):.1f} ms  (over {presses} presses: cursor moves, re-sorts)")
    for key, what in (("s", "re-sort"), ("down", "cursor move")):
        if latency[key]:
            p50, p95 = statistics.median(latency[key]), percentile(latency[key], 0.95)
            cpu50, count = statistics.median(cpu[key]), len(latency[key])
            print(f"  {what:<21} p50 {p50:.1f} ms, p95 {p95:.1f} ms (CPU p50 {cpu50:.1f} ms; {count} presses)")
    print(f"RSS                     {rss_mb():.0f} MB")


def rss_mb() -> float:
    """Resident memory now (not the peak: sizes run one after the other in this process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all its threads), or of one of its threads, from /proc."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path, encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def process_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm", encoding="ascii") as file:
        return int(file.read().split()[1]) * PAGE / 2**20


def servers_pid(parent: int) -> int | None:
    """The demo's servers' process (`core.demo.upstreams`), a child of `parent`: measured apart."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                cmdline = file.read()
            with open(f"/proc/{entry}/stat", encoding="ascii") as file:
                ppid = int(file.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"core.demo.upstreams" in cmdline:
            return int(entry)
    return None


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points."""
    if len(points) < 2:
        return 0.0
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def drain(fd: int, counter: list[int]) -> None:
    """Play the terminal: read everything the app draws (and count it), until the pty closes."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        counter[0] += len(chunk)


def run_demo(
    minutes: float, size: tuple[int, int], profile: str | None, keys: str = "", heap: str | None = None
) -> None:
    columns, rows = size
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    command = [sys.executable]
    if profile:
        command += ["-m", "cProfile", "-o", profile]
    if heap:
        directory, _, at = heap.partition(":")
        command += [str(ROOT / "bench" / "heapwatch.py"), directory, at or "3,13", "demo"]
    else:
        command += ["-m", "tui.cli", "demo"]
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True
    )
    os.close(slave)
    written = [0]
    threading.Thread(target=drain, args=(master, written), daemon=True).start()
    pid = process.pid
    profiled = f", profile {profile}" if profile else ""
    print(f"lookout demo at {columns}x{rows}, pid {pid}, {minutes:g} min idle{profiled}")
    print(f"{'min':>4} {'RSS MB':>8} {'dRSS':>6} {'CPU %':>6} {'main %':>7} {'out KB/s':>9} {'servers %':>10}")
    if keys:
        threading.Timer(5.0, os.write, args=(master, keys.encode())).start()
    rss_points: list[tuple[float, float]] = []
    cpu_after_first: list[float] = []
    main_after_first: list[float] = []
    servers_after_first: list[float] = []
    try:
        last_cpu, last_main, last_out, last_rss = cpu_seconds(pid), cpu_seconds(pid, pid), 0, process_rss_mb(pid)
        last = time.monotonic()
        servers, last_servers = None, 0.0
        for minute in range(1, int(minutes) + 1):
            time.sleep(max(0.0, last + 60 - time.monotonic()))
            if process.poll() is not None:
                print(f"the app exited early ({process.returncode})")
                return
            now = time.monotonic()
            cpu, main_cpu, out, rss = cpu_seconds(pid), cpu_seconds(pid, pid), written[0], process_rss_mb(pid)
            span = now - last
            share, main_share = (cpu - last_cpu) / span * 100, (main_cpu - last_main) / span * 100
            servers = servers or servers_pid(pid)
            servers_cpu = cpu_seconds(servers) if servers is not None else 0.0
            servers_share = (servers_cpu - last_servers) / span * 100
            print(
                f"{minute:>4} {rss:>8.1f} {rss - last_rss:>+6.1f} {share:>6.1f} {main_share:>7.1f}"
                f" {(out - last_out) / span / 1024:>9.1f} {servers_share:>10.1f}",
                flush=True,
            )
            last_servers = servers_cpu
            if minute > 1:
                cpu_after_first.append(share)
                main_after_first.append(main_share)
                servers_after_first.append(servers_share)
            if minute >= 3:
                rss_points.append((minute, rss))
            last_cpu, last_main, last_out, last_rss, last = cpu, main_cpu, out, rss, now
    finally:
        stop(process, master)
    if cpu_after_first:
        print(f"CPU after the first minute   {statistics.fmean(cpu_after_first):.1f}% of one core")
        print(f"  main thread (UI + engine)  {statistics.fmean(main_after_first):.1f}%")
        print(f"the demo's servers           {statistics.fmean(servers_after_first):.1f}% (their own process)")
    if len(rss_points) >= 2:
        print(f"RSS slope from minute 3      {slope(rss_points):+.2f} MB/min over {len(rss_points)} minutes")


async def run_fill(minutes: float, size: tuple[int, int]) -> None:
    """The demo's monitor in this process, headless: every minute, what its bounded stores hold.

    The RSS of an idle demo creeps up for its first tens of minutes; this says which store fills, and
    how far each is from its bound: the log pane's events (MAX_LINES), the tables' cell caches
    (CELL_CACHE each, then cleared) and row strips (one per row), the result rings (HISTORY results
    per service), SQLite's own heap (its page caches: the history file's writer and readers), and the
    objects the collector tracks.
    """
    import gc

    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]  # bench/mcp.py is not mcp
    from core.config import load_config
    from core.demo.fleet import start_demo_fleet
    from core.history.recording import open_recording
    from core.ring import HISTORY
    from tui.linetable import CELL_CACHE, LineTable
    from tui.logpane import MAX_LINES, LogPane
    from tui.source import EngineSource

    fleet = start_demo_fleet()
    history = None
    try:
        config = load_config(fleet.config_path)
        history = open_recording(fleet.config_path.with_name("history.db"), config, warn=print)
        app = LookoutApp(EngineSource(config, history=history), config_path=str(fleet.config_path))
        async with app.run_test(size=size):
            print(
                f"demo headless at {size[0]}x{size[1]}, {minutes:g} min; bounds: log {MAX_LINES} events, "
                f"cell caches {CELL_CACHE} entries a table, rings {HISTORY} results"
            )
            print(
                f"{'min':>4} {'RSS MB':>7} {'log':>5} {'rendered':>9} {'styled':>7} {'strips':>6}"
                f" {'rings min-max':>13} {'sqlite MB':>9} {'gc objects':>10}"
            )
            started = time.monotonic()
            for minute in range(1, int(minutes) + 1):
                await asyncio.sleep(max(0.0, started + 60 * minute - time.monotonic()))
                log = app.query_one(LogPane)
                tables = list(app.query(LineTable))
                rings = [len(service.history) for service in app.source.snapshot().services]
                print(
                    f"{minute:>4} {rss_mb():>7.1f} {len(log.events):>5}"
                    f" {sum(len(t._rendered) for t in tables):>9} {sum(len(t._styled) for t in tables):>7}"
                    f" {sum(len(t._strips) for t in tables):>6} {min(rings):>6}-{max(rings):<6}"
                    f" {sqlite_heap_mb():>9.2f} {len(gc.get_objects()):>10}",
                    flush=True,
                )
    finally:
        if history is not None:
            history.close()
        fleet.stop()


def sqlite_heap_mb() -> float:
    """Memory SQLite holds in this process (`sqlite3_memory_used`, from the library Python's sqlite3 loaded)."""
    import ctypes
    import ctypes.util

    library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return float(library.sqlite3_memory_used()) / 1e6


def stop(process: subprocess.Popen[bytes], master: int) -> None:
    """q, as a user quits (so a profile is written); SIGTERM if that does not do it."""
    try:
        os.write(master, b"q")
        process.wait(timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    os.close(master)


def parse_size(text: str) -> tuple[int, int]:
    columns, _, rows = text.partition("x")
    return int(columns), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default="500,2000", help="fleet sizes, comma-separated (default 500,2000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of watching per size")
    parser.add_argument("--presses", type=int, default=60, help="key presses per size (every third re-sorts)")
    parser.add_argument("--no-log", action="store_true", help="hide the log pane (the tables' share of the cost)")
    parser.add_argument("--demo", action="store_true", help="`lookout demo` idle in a pseudo-terminal")
    parser.add_argument("--soak", type=float, default=5.0, metavar="MINUTES", help="with --demo: how long")
    parser.add_argument("--size", type=parse_size, default=(160, 45), metavar="COLSxROWS", help="with --demo")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile into FILE (--demo: the whole run; else the watching window, into FILE.SIZE)",
    )
    parser.add_argument("--keys", default="", help="with --demo: keys to type 5 s in (e.g. 123: hide the tables)")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="with --demo: run it in this process, headless, printing what its bounded stores hold each minute",
    )
    parser.add_argument(
        "--tracemalloc",
        metavar="DIR[:MINUTES]",
        help="with --demo: trace allocations, heap snapshots into DIR at MINUTES (default 3,13; bench/heapwatch.py)",
    )
    args = parser.parse_args()
    if args.demo and args.headless:
        asyncio.run(run_fill(args.soak, args.size))
        return
    if args.demo:
        run_demo(args.soak, args.size, args.profile, args.keys, args.tracemalloc)
        return
    from core.collector import space_young_collections

    space_young_collections()  # as the `lookout` command does from its start (tui.cli.run)
    for i, size in enumerate(int(n) for n in args.services.split(",")):
        if i:
            print()
        asyncio.run(run(size, args.seconds, args.presses, log=not args.no_log, profile=args.profile))


if __name__ == "__main__":
    main()
