"""CPU per scheduled HTTP probe: Lookout's engine next to Prometheus' blackbox_exporter, same target, same run.

    python bench/blackbox.py [--services 200] [--seconds 10] [--warmup 3] [--rounds 3] [--baseline /path/to/checkout]

One loopback HTTP target (bench/http_target.py, a bare asyncio Protocol in its own process, which
also counts the requests it answers) is probed at N requests per second by each contender in turn:

* Lookout: the engine in its own process, run as `lookout serve` runs it (`core.collector`: young
  collections spaced, what the fleet built frozen once every service has a first result), N HTTP
  services on a 1 s interval, with its default connection reuse, and again with
  `fresh_connection: true` (a new connection per probe, as blackbox_exporter always does) when
  this Lookout has that per-service option;
* blackbox_exporter (`/usr/bin/prometheus-blackbox-exporter`, Debian's package), module
  `http_2xx`, driven by a separate driver process sending N `/probe?target=...` requests per
  second over keep-alive connections. The exporter serves that request *and* runs the probe.
  The driver reads each answer whole (a successful probe's is chunked) before it sends the next
  request on that connection, so no /probe waits behind another, and it reports how many probes
  failed (probe_success 0): a figure for failed probes would not be a figure for probes.

`--baseline PATH` adds Lookout from another checkout (rows `@base`), against the same target in the
same run. Each contender's CPU is read from /proc/<pid>/stat (utime + stime) over the measured window and
divided by the requests the target answered in that window; the target's and the driver's CPU
are not counted. Each round runs every contender once, in turn; with several rounds the medians
and their ratios are printed, so a noisy minute moves one row, not the verdict. Figures, not
assertions: run it on a quiet machine. Without the exporter installed only Lookout's figures are
printed.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
TICKS = os.sysconf("SC_CLK_TCK")

LOOKOUT_CODE = r"""
import asyncio, sys, yaml
try:
    from core.collector import freeze_once_settled
except ImportError:  # a --baseline checkout from before it
    freeze_once_settled = None
from core.config import parse_config
from core.engine import Engine
url, services, fresh = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "fresh"
service = {"kind": "http"}
if fresh:
    service["fresh_connection"] = True
fleet = {f"svc-{i}": {**service, "url": f"{url}/ok/svc-{i}"} for i in range(services)}
text = yaml.safe_dump({"defaults": {"interval": "1s", "timeout": "10s"}, "services": fleet})

async def main():
    async with Engine(parse_config(text, source="bench.yaml", env={})) as engine:
        # As `lookout serve` runs its engine: young collections spaced, what the fleet built frozen (core.collector).
        if freeze_once_settled is not None:
            await freeze_once_settled(engine, limit=10.0)
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""

DRIVER_CODE = r"""
import asyncio, signal, sys, time
exporter, target, services = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = exporter.split(":")
idle, answered, failed = [], 0, 0

async def read_body(reader, head):
    # The exporter answers a successful probe (> 2 KiB of metrics) chunked, a short one with a length.
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")  # the empty trailer
        return body
    return await reader.readexactly(int(fields.get(b"content-length", b"0")))

async def probe(index):
    global answered, failed
    if idle:
        reader, writer = idle.pop()
    else:
        reader, writer = await asyncio.open_connection(host, int(port))
    path = f"/probe?module=http_2xx&target={target}/ok/svc-{index}"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {exporter}\r\n\r\n".encode())
    body = await read_body(reader, await reader.readuntil(b"\r\n\r\n"))
    answered += 1
    failed += b"\nprobe_success 1" not in body
    idle.append((reader, writer))  # only once its answer is read: no request waits behind another

def report_and_exit(*_):
    print(f"answered {answered} failed {failed}", flush=True)
    sys.exit(0)

async def main():
    signal.signal(signal.SIGTERM, report_and_exit)
    print("ready", flush=True)
    start, tick, tasks = time.perf_counter(), 0, set()
    while True:
        tick += 1
        await asyncio.sleep(max(0.0, start + tick / services - time.perf_counter()))
        task = asyncio.create_task(probe(tick % services))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

asyncio.run(main())
"""

EXPORTER_CONFIG = "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n"


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (psutil is not a dependency)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def target_count(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return int(data.partition(b"\r\n\r\n")[2])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process listening on {port} exited with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout:.0f}s")


def measure(pid: int, target_port: int, warmup: float, seconds: float) -> tuple[float, int]:
    """(CPU seconds of `pid`, requests the target answered) over `seconds`, after `warmup`."""
    time.sleep(warmup)
    cpu0, count0 = cpu_seconds(pid), target_count(target_port)
    time.sleep(seconds)
    return cpu_seconds(pid) - cpu0, target_count(target_port) - count0


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_lookout(
    url: str, target_port: int, services: int, fresh: bool, options: argparse.Namespace, root: Path = ROOT
) -> tuple:
    """Lookout's engine from the checkout at `root` (this one, or --baseline's) probing the target."""
    process = subprocess.Popen(
        [sys.executable, "-c", LOOKOUT_CODE, url, str(services), "fresh" if fresh else "reuse"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the Lookout engine process did not start")
        return measure(process.pid, target_port, options.warmup, options.seconds)
    finally:
        stop(process)


def run_exporter(url: str, target_port: int, services: int, options: argparse.Namespace) -> tuple:
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "blackbox.yml"
        config.write_text(EXPORTER_CONFIG)
        exporter = subprocess.Popen(
            [EXPORTER, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        driver = None
        try:
            wait_listening(port, exporter)
            driver = subprocess.Popen(
                [sys.executable, "-c", DRIVER_CODE, f"127.0.0.1:{port}", url, str(services)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert driver.stdout is not None
            driver.stdout.readline()
            figures = measure(exporter.pid, target_port, options.warmup, options.seconds)
            stop(driver)
            print(f"  (driver: {driver.stdout.read().strip()} /probe requests; a failed probe is probe_success 0)")
            return figures
        finally:
            if driver is not None and driver.poll() is None:
                stop(driver)
            stop(exporter)


def has_fresh_connection_option() -> bool:
    from core.config.models import HttpService

    return "fresh_connection" in HttpService.model_fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200, help="services (= probes per second), 1 s interval")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per contender")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window opens")
    parser.add_argument("--rounds", type=int, default=3, help="every contender in turn, this many times; medians")
    parser.add_argument("--baseline", type=Path, help="also run Lookout from this checkout (e.g. main), same target")
    options = parser.parse_args()
    target_command = [sys.executable, str(ROOT / "bench" / "http_target.py")]
    target = subprocess.Popen(target_command, stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout is not None
        target_port = int(target.stdout.readline())
        url = f"http://127.0.0.1:{target_port}"
        print(
            f"{options.services} services @1s, {options.seconds:g}s window, {options.rounds} round(s), "
            f"target {url} (its CPU not counted)"
        )
        print(f"{'contender':<46} {'probes/s':>9} {'CPU ms/probe':>13}")
        contenders = contenders_of(url, target_port, options)
        runs: dict[str, list[float]] = {label: [] for label, _ in contenders}
        for round_number in range(1, options.rounds + 1):
            if options.rounds > 1:
                print(f"round {round_number}")
            for label, run in contenders:
                cpu, probes = run()
                runs[label].append(report(label, cpu, probes, options.seconds))
        medians = {label: statistics.median(figures) for label, figures in runs.items()}
        if options.rounds > 1:
            print("median")
            for label, ms in medians.items():
                print(f"{label:<46} {'':>9} {ms:>13.3f}")
        if not has_fresh_connection_option():
            print("  (no fresh_connection option in this Lookout: only the connection-reuse figure)")
        exporter_ms = medians.pop(EXPORTER_LABEL, None)
        if exporter_ms is None:
            print(f"{EXPORTER} is not installed: apt-get install prometheus-blackbox-exporter for the comparison")
            return
        for label, ms in medians.items():
            if exporter_ms > 0:
                who, _, how = label.partition(", ")
                print(f"ratio {who.removesuffix(' engine')}/blackbox_exporter, {how}: {ms / exporter_ms:.2f}")
    finally:
        stop(target)


EXPORTER_LABEL = "blackbox_exporter http_2xx (+ serving /probe)"


def contenders_of(url: str, target_port: int, options: argparse.Namespace) -> list[tuple[str, Callable[[], tuple]]]:
    """(label, run) of every contender, in the order each round runs them."""
    lookouts: list[tuple[str, bool, Path]] = [("Lookout engine, connection reuse (default)", False, ROOT)]
    if has_fresh_connection_option():
        lookouts.append(("Lookout engine, fresh_connection: true", True, ROOT))
    if options.baseline is not None:
        lookouts += [
            ("Lookout @base, connection reuse (default)", False, options.baseline),
            ("Lookout @base, fresh_connection: true", True, options.baseline),
        ]
    contenders: list[tuple[str, Callable[[], tuple]]] = [
        (label, functools.partial(run_lookout, url, target_port, options.services, fresh, options, root))
        for label, fresh, root in lookouts
    ]
    if shutil.which(EXPORTER) or Path(EXPORTER).exists():
        contenders.append(
            (EXPORTER_LABEL, functools.partial(run_exporter, url, target_port, options.services, options))
        )
    return contenders


def report(label: str, cpu: float, probes: int, seconds: float) -> float:
    per_probe = cpu / probes * 1000 if probes else float("nan")
    print(f"{label:<46} {probes / seconds:>9.0f} {per_probe:>13.3f}", flush=True)
    return per_probe


if __name__ == "__main__":
    main()
