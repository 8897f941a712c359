"""The attached monitor's fleet document: size per service, and what building and reading it costs.

    python bench/fleet.py [--services 1000]

An attached `lookout` re-reads `/api/v1/fleet` whenever the daemon's event stream says something
happened (one read at a time, however many events), and asks for it with `?recent=1` once per
connection; the document's size and the time to build it (the daemon, in a worker thread) and to
read it back into snapshots (the monitor) bound how fresh a large attached fleet can be. Every
service here has a full ring (120 results) and breaker transitions: the most `live` ever holds.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.results import ProbeResult, Status  # noqa: E402
from core.serve.api import fleet_document  # noqa: E402
from core.serve.client import parse_fleet  # noqa: E402
from core.snapshot import FleetSnapshot, LatencyStats, ProbeTally, ServiceInfo, ServiceSnapshot  # noqa: E402

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def full_service(i: int) -> ServiceSnapshot:
    name = f"svc-{i:04d}"
    results = tuple(
        ProbeResult(name, NOW - timedelta(seconds=30 * (120 - k)), Status.UP if k % 17 else Status.DOWN,
                    reason="" if k % 17 else "HTTP 503 Service Unavailable", latency_ms=40.0 + k % 23, attempts=1,
                    http_status=200 if k % 17 else 503)
        for k in range(120)
    )  # fmt: skip
    return ServiceSnapshot(
        info=ServiceInfo(name, "http", f"http://127.0.0.1:9/{name}", tags=("core",)),
        status=Status.UP,
        reason="",
        tally=ProbeTally(probes=5000, retries=12, last_checked=results[-1].started_at),
        last_result=results[-1],
        history=results,
        latency=LatencyStats(last_ms=41.0, p50_ms=50.0, p95_ms=61.0, p99_ms=62.0, samples=113),
        uptime=0.94,
        breaker_history=tuple((NOW - timedelta(minutes=m), "closed", "open") for m in range(20, 0, -1)),
    )


def encode(document: dict[str, Any]) -> str:
    """As the daemon sends it (core.serve.app: compact)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def best_of(runs: int, work):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(runs):
        began = time.perf_counter()
        out = work()
        best = min(best, time.perf_counter() - began)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()
    snapshot = FleetSnapshot(taken_at=NOW, services=tuple(full_service(i) for i in range(args.services)))
    for label, recent in (("as re-read on events", False), ("with ?recent=1, once per connection", True)):
        build, body = best_of(3, lambda recent=recent: encode(fleet_document(snapshot, recent=recent)))
        read, parsed = best_of(3, lambda body=body: parse_fleet(json.loads(body)))
        assert len(parsed.services) == args.services
        size = len(body.encode())
        print(f"/api/v1/fleet {label}, {args.services} services with full rings: {size / 1024**2:.2f} MiB "
              f"({size / args.services / 1024:.1f} KiB per service); built and encoded by the daemon (worker "
              f"thread) {build * 1000:.0f} ms, read into snapshots by the monitor {read * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
