"""`lookout serve` benchmark: RSS, CPU per probe, /metrics scrape time, schedule lag during scrapes.

    python bench/serve.py [--services 1000] [--interval 10] [--seconds 20] [--scrape-every 1] [--fresh] [--seed]

A fleet of N HTTP services (the demo HTTP API's /ok route, served by uvicorn in its own
process, so its CPU is not counted) is monitored by a real `lookout serve` subprocess, recording
into a history file of its own (a temporary one: never the user's). With --fresh, every service
has `fresh_connection: true` (a new connection per probe, as blackbox_exporter makes).
After a warm-up (every service probed), two phases of `--seconds` each: a quiet one, then
one with /metrics scraped every --scrape-every seconds, gzipped as Prometheus asks
(answered from the cache the daemon refreshes; the first scrape, with nothing cached, shows
what one rendering takes). The quiet phase comes before any scrape: once scraped, the cache
renders every few seconds. Read from the daemon: the schedule's lag (ProbeStarted.schedule_lag)
from its own /api/v1/events stream; RSS (/proc/PID/status, in MiB and in MB, the issue's unit) a
round after ready, after the quiet phase and after the scrapes; CPU from /proc/PID/stat (it
includes serving that stream: every event, as JSON); probes from the stream's probe starts (quiet
phase) and lookout_probes_total (scraping phase). Every garbage collection in the daemon is timed
(gc.callbacks; CPU time, which load inflates less than lag).
With --seed the history file starts with a full ring of results per service (as after a restart),
which the phases are too short to fill by probing. Figures, not assertions: run it on a quiet
machine and read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent

SERVER_CODE = """
import socket, sys, uvicorn
from core.demo.http_api import create_http_api
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(4096)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(create_http_api(), log_level="error", access_log=False, backlog=4096)
uvicorn.Server(config).run(sockets=[sock])
"""
SCRAPER_CODE = """
import json, sys, time, httpx2
url, seconds, every = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
times, size, wire, end = [], 0, 0, time.monotonic() + seconds
with httpx2.Client(trust_env=False, timeout=60, headers={"Accept-Encoding": "gzip"}) as client:
    while time.monotonic() < end:
        began = time.perf_counter()
        answer = client.get(url)
        size, wire = len(answer.content), int(answer.headers.get("content-length", 0))
        times.append(time.perf_counter() - began)
        time.sleep(max(0.0, every - (time.perf_counter() - began)))
print(json.dumps({"times": times, "size": size, "wire": wire}))
"""
SERVE_CODE = """
import atexit, gc, json, sys, time
out = sys.argv.pop(1)
pauses, began = [], [0.0, 0.0]
def timed(phase, info):
    if phase == "start":
        began[:] = time.perf_counter(), time.thread_time()
    else:
        wall, cpu = time.perf_counter() - began[0], time.thread_time() - began[1]
        pauses.append((time.monotonic(), info["generation"], wall, cpu))
gc.callbacks.append(timed)
atexit.register(lambda: open(out, "w").write(json.dumps(pauses)))
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""`lookout serve` with every collection's pause timed (gc.callbacks: wall and the collecting thread's CPU),
written to a file at exit: CPU time in the collector is a figure a loaded machine inflates little."""
TICKS = os.sysconf("SC_CLK_TCK")


def start_api() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    return process, f"http://127.0.0.1:{int(process.stdout.readline())}"


def start_serve(config: Path, history: Path, pauses: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE_CODE,
            str(pauses),
            "serve",
            "-c",
            str(config),
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--history",
            str(history),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)["message"]
        if message.startswith("listening on "):
            threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
            return process, message.removeprefix("listening on ")
    raise SystemExit(f"lookout serve exited early ({process.wait()})")


def _drain(stream) -> None:  # type: ignore[no-untyped-def]
    for _ in stream:
        pass


MIB_TO_MB = 1024 * 1024 / 1e6
"""The issue's targets are in MB (10^6 bytes); /proc reports KiB."""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


class Lags:
    """ProbeStarted.schedule_lag from the daemon's event stream, stamped with when they arrived."""

    def __init__(self, url: str) -> None:
        self.samples: list[tuple[float, float]] = []
        self.resyncs = 0
        self._url = url
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with httpx2.Client(trust_env=False, timeout=None) as client, client.stream("GET", self._url) as response:
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "probe_started":
                    lag = json.loads(line[6:]).get("schedule_lag")
                    if lag is not None:
                        self.samples.append((time.monotonic(), lag))
                elif line.startswith("data: ") and event == "resync":
                    self.resyncs += 1

    def between(self, start: float, end: float) -> list[float]:
        return sorted(lag for at, lag in self.samples if start <= at <= end)


def seed(history: Path, names: list[str], interval: float) -> None:
    """HISTORY results per service in the history file, so the rings start full (as after a restart)."""
    from core.history import open_history
    from core.history.rows import ResultRow
    from core.state import HISTORY

    store, now = open_history(history), time.time()
    for k in range(HISTORY):
        for name in names:
            at = now - (HISTORY - k) * interval
            store.submit(ResultRow(name, at, "up", True, True, 2.0 + k % 7, 1, 200, ""))
    store.flush(timeout=300)
    store.close()


def gc_figures(pauses: list[list[float]], start: float, end: float) -> str:
    """Collections in [start, end]: count per generation, the full ones' worst pause, CPU in the collector."""
    inside = [p for p in pauses if start <= p[0] <= end]
    per_gen = [sum(1 for p in inside if p[1] == g) for g in range(3)]
    full = [p for p in inside if p[1] == 2]
    worst = max((p[2] for p in full), default=0.0)
    worst_cpu = max((p[3] for p in full), default=0.0)
    cpu = sum(p[3] for p in inside)
    seconds = max(1e-9, end - start)
    return (
        f"{per_gen[0]}/{per_gen[1]}/{per_gen[2]} (gen 0/1/2), worst full {1000 * worst:.1f} ms"
        f" ({1000 * worst_cpu:.1f} ms CPU), {1000 * cpu / seconds:.1f} ms CPU/s"
    )


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


def probes(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "lookout_probes"
        for sample in family.samples
        if sample.name == "lookout_probes_total"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between probes of one service")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument(
        "--scrape-every", type=float, default=1.0, help="seconds between scrape starts (0: back to back)"
    )
    parser.add_argument("--fresh", action="store_true", help="fresh_connection: true on every service")
    parser.add_argument(
        "--seed", action="store_true", help="start with full result rings (HISTORY results per service, as stored)"
    )
    args = parser.parse_args()
    extra = {"fresh_connection": True} if args.fresh else {}
    api, api_url = start_api()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = {f"svc-{i}": {"kind": "http", "url": f"{api_url}/ok/svc-{i}", **extra} for i in range(args.services)}
        config = Path(tmp) / "services.yaml"
        config.write_text(yaml.safe_dump({"defaults": {"interval": f"{args.interval}s"}, "services": fleet}))
        if args.seed:
            seed(Path(tmp) / "history.db", list(fleet), args.interval)
        pauses_file = Path(tmp) / "pauses.json"
        serve, url = start_serve(config, Path(tmp) / "history.db", pauses_file)
        client = httpx2.Client(base_url=url, trust_env=False, timeout=60)
        try:
            lags = Lags(f"{url}/api/v1/events")
            deadline = time.monotonic() + 120
            while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(args.interval)  # one full round after the first, so the schedule is in its steady state

            # Quiet: nothing scraped yet, so no rendering runs (the first scrape starts the cache's refresher,
            # which renders every few seconds from then on). Probes are counted by their starts in the stream.
            quiet_start, cpu0 = time.monotonic(), cpu_seconds(serve.pid)
            rss_ready, _ = rss_mib(serve.pid)
            time.sleep(args.seconds)
            quiet_end, cpu1 = time.monotonic(), cpu_seconds(serve.pid)
            rss_quiet, _ = rss_mib(serve.pid)
            began = time.perf_counter()
            first = client.get("/metrics")  # nothing cached yet: this scrape waits for a rendering
            cold = time.perf_counter() - began
            busy_start, cpu_scraping, probes1 = time.monotonic(), cpu_seconds(serve.pid), probes(first.text)

            # The scraper is a process of its own, so its work does not slow this one's reading of the events.
            scraper = subprocess.run(
                [sys.executable, "-c", SCRAPER_CODE, f"{url}/metrics", str(args.seconds), str(args.scrape_every)],
                capture_output=True,
                text=True,
                check=True,
            )
            scraped = json.loads(scraper.stdout)
            scrape_times, size, wire = scraped["times"], scraped["size"], scraped["wire"]
            busy_end, cpu2 = time.monotonic(), cpu_seconds(serve.pid)
            probes2 = probes(client.get("/metrics").text)
            rss, peak = rss_mib(serve.pid)
        finally:
            client.close()
            serve.terminate()
            serve.wait(30)
            api.terminate()
            api.wait(30)
        pauses = json.loads(pauses_file.read_text()) if pauses_file.exists() else []
    quiet, busy = lags.between(quiet_start, quiet_end), lags.between(busy_start, busy_end)
    scrapes = sorted(scrape_times)
    series = sum(1 for line in first.text.splitlines() if line and not line.startswith("#"))
    connections = "a fresh connection per probe" if args.fresh else "kept-alive connections"
    print(
        f"lookout serve: {args.services} HTTP services every {args.interval:g}s ({connections}), "
        f"phases of {args.seconds:g}s"
    )
    for point, mib in (("probing, a round after ready", rss_ready), ("after the quiet phase", rss_quiet)):
        print(f"  RSS {point:28} {mib:8.1f} MiB ({mib * MIB_TO_MB:.1f} MB)")
    print(f"  RSS {'after the scrapes':28} {rss:8.1f} MiB ({rss * MIB_TO_MB:.1f} MB; peak {peak:.1f} MiB)")
    print(
        f"  CPU per probe (quiet)        {1000 * (cpu1 - cpu0) / max(1, len(quiet)):8.3f} ms"
        f"   ({len(quiet)} probe starts)"
    )
    print(
        f"  CPU per probe (scraping)     {1000 * (cpu2 - cpu_scraping) / max(1, probes2 - probes1):8.3f} ms"
        f"   ({probes2 - probes1:.0f} probes, incl. {len(scrapes)} scrapes)"
    )
    print(
        f"  /metrics scrape              p50 {1000 * percentile(scrapes, 0.5):7.1f} ms"
        f"   p99 {1000 * percentile(scrapes, 0.99):7.1f} ms   max {1000 * scrapes[-1]:7.1f} ms"
    )
    print(f"  first scrape (renders)       {1000 * cold:8.1f} ms")
    print(f"  exposition                   {size / 1024:8.0f} KiB ({wire / 1024:.0f} KiB gzipped), {series} series")
    for phase, lags_of in (("quiet", quiet), ("scraping", busy)):
        print(
            f"  schedule lag ({phase + ')':9} p50 {1000 * percentile(lags_of, 0.5):7.1f} ms"
            f"   p99 {1000 * percentile(lags_of, 0.99):7.1f} ms   ({len(lags_of)} probe starts)"
        )
    print(f"  schedule lag max (scraping)  {1000 * (busy[-1] if busy else float('nan')):8.1f} ms")
    print(f"  event stream resyncs         {lags.resyncs:8d}")
    print(f"  GC (quiet)                   {gc_figures(pauses, quiet_start, quiet_end)}")
    print(f"  GC (scraping)                {gc_figures(pauses, busy_start, busy_end)}")


if __name__ == "__main__":
    main()
