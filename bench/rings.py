"""What a fleet's full result rings cost the process: memory, tracked objects, a full GC pass, recording.

    python bench/rings.py [--services 1000] [--history 120]

`lookout serve` keeps the last HISTORY results of every service (sparklines, percentiles, the status
API's recent results). At 1000 HTTP services on a 10 s interval the rings are full after 20 minutes,
which bench/serve.py's short phases never reach; this builds that steady state in-process, with
results shaped as the HTTP probe and the pipeline make them (details, checks, timings, made safe
the same way), and prints:

- memory the rings hold (tracemalloc) and the objects the cyclic GC tracks for them;
- the CPU time of one full collection over them (what a generation-2 pass costs the event loop);
- the CPU time to record a result into a full ring (append + the oldest leaving);
- the CPU time of a fleet snapshot right after every service recorded one result, and of reading one
  service's whole history from it (what the TUI's detail screen and /api/v1/services/NAME do), and of
  rebuilding every result of a full ring from a new view (its first reader pays it).

CPU times, best of several runs: a loaded machine inflates them less than wall time. Figures, not
assertions.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.details import HttpDetails  # noqa: E402
from core.probes.expectations import latency_check, safe_checks, status_check  # noqa: E402
from core.results import ProbeResult, Status  # noqa: E402
from core.snapshot import BreakerSnapshot, ServiceInfo  # noqa: E402
from core.state import HISTORY, HistoryRing, ServiceState  # noqa: E402

START = datetime(2026, 12, 7, tzinfo=UTC)


def http_result(name: str, k: int) -> ProbeResult:
    """A result as ServicePipeline._result makes it from an HTTP probe's outcome (fresh objects each time)."""
    latency = 2.0 + (k * 7919 % 1000) / 100
    checks = (status_check(200, "OK", [200]), latency_check(latency, 2.0))
    return ProbeResult(
        service=name,
        started_at=START + timedelta(seconds=10 * k),
        status=Status.UP,
        reason="",
        latency_ms=latency,
        attempts=1,
        http_status=200,
        timings=dict({"request": latency}),
        details=HttpDetails(http_version="HTTP/1.1").safe(str),
        checks=safe_checks(checks, str),
    )


def fill(services: int, history: int) -> list[ServiceState]:
    states = [ServiceState(info=ServiceInfo(name=f"svc-{i}", kind="http", target="")) for i in range(services)]
    for k in range(history):
        for state in states:
            state.record(http_result(state.name, k))
    return states


def cpu_best(action, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(runs):
        began = time.process_time()
        action()
        best = min(best, time.process_time() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--history", type=int, default=HISTORY)
    args = parser.parse_args()

    gc.collect()
    gc.freeze()  # as `lookout serve` does after start: modules and config are out of the collector's sight
    gc.disable()
    tracked_before = len(gc.get_objects())
    tracemalloc.start()
    states = fill(args.services, args.history)
    gc.collect()
    gc.collect()  # a row holding tuples is untracked once they are: in a running process, after two passes
    memory, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracked = len(gc.get_objects()) - tracked_before
    full_gc = cpu_best(gc.collect)

    extra = [http_result(state.name, args.history + k) for k in range(5) for state in states]
    began = time.process_time()
    for index, result in enumerate(extra):
        states[index % len(states)].record(result)
    per_record = (time.process_time() - began) / len(extra)

    breaker = BreakerSnapshot

    def snapshot_all() -> None:
        for state in states:
            state.touch()
            state.snapshot(breaker, status=state.status, reason=state.reason)

    per_snapshot = cpu_best(snapshot_all) / len(states)
    shown = states[0].snapshot(breaker, status=states[0].status, reason=states[0].reason)
    read = cpu_best(lambda: [r.latency_ms for r in shown.history if r.ok], runs=20)
    ring = HistoryRing()  # a ring no snapshot holds a view of: each `view()` is new, its results not yet rebuilt
    ring.extend(http_result("alone", k) for k in range(args.history))
    rebuild = cpu_best(lambda: list(ring.view()), runs=20)

    n = args.services * args.history
    print(f"result rings: {args.services} services x {args.history} HTTP results ({n} results)")
    print(f"  memory held                  {memory / 2**20:8.1f} MiB   ({memory / n:6.0f} bytes per result)")
    print(f"  objects the GC tracks        {tracked:8d}       ({tracked / n:6.2f} per result)")
    print(f"  one full collection          {1000 * full_gc:8.1f} ms CPU")
    print(f"  record a result (full ring)  {1e6 * per_record:8.2f} us CPU")
    print(f"  snapshot of a changed service{1e6 * per_snapshot:8.2f} us CPU")
    print(f"  read one service's history   {1e6 * read:8.2f} us CPU   (every result, as the detail screen does)")
    print(f"  rebuild one full ring        {1e6 * rebuild:8.2f} us CPU   (a new view's first full read)")


if __name__ == "__main__":
    main()
