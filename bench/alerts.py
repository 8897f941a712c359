"""Alert evaluation benchmark: what one probe result costs the evaluator, by fleet size.

    python bench/alerts.py [--sizes 100,1000,10000] [--rounds 5]

A fleet of N HTTP services, every tenth depending on the one before it, two rules
(down with failures: 3, degraded with for: 2m) over all of them. Results (a fifth of them
down), `--rounds` per service, are fed straight to the evaluator's `handle`, as its queue would, and each is
followed by the evaluation the drained queue triggers; then one full tick is timed.
Figures, not assertions: read them on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.alerts.evaluator import AlertEvaluator  # noqa: E402
from core.alerts.notification import Notification  # noqa: E402
from core.clock import FakeClock  # noqa: E402
from core.config import parse_config  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.events import ProbeCompleted  # noqa: E402
from core.results import ProbeResult, Status  # noqa: E402


class Count:
    def __init__(self) -> None:
        self.sent = 0

    def enqueue(self, notification: Notification) -> None:
        self.sent += 1


def fleet_yaml(count: int) -> str:
    parts = ["services:\n"]
    for index in range(count):
        depends = f"    depends_on: [svc-{index - 1}]\n" if index % 10 == 1 else ""
        parts.append(f"  svc-{index}:\n    kind: http\n    url: http://127.0.0.1:9/{index}\n{depends}")
    parts.append(
        "alerts:\n  channels:\n    hook: {type: webhook, url: 'http://127.0.0.1:9/hook'}\n  rules:\n"
        "    - {name: down, when: down, failures: 3, channels: [hook]}\n"
        "    - {name: degraded, when: degraded, for: 2m, channels: [hook]}\n"
    )
    return "".join(parts)


async def run(size: int, rounds: int) -> tuple[float, float, int]:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    engine = Engine(parse_config(fleet_yaml(size), env={}), clock=clock)
    sink = Count()
    evaluator = AlertEvaluator(engine, sink)
    events = size * rounds
    started = time.perf_counter()
    for seq in range(1, events + 1):
        name = f"svc-{seq % size}"
        status = Status.DOWN if (seq % size) % 5 == 0 else Status.UP
        result = ProbeResult(service=name, started_at=clock.now(), status=status, reason="HTTP 503")
        await evaluator.handle(ProbeCompleted(at=clock.now(), service=name, result=result, seq=seq))
    per_event = (time.perf_counter() - started) / events
    ticks = []
    for _ in range(3):
        started = time.perf_counter()
        evaluator.evaluate()
        ticks.append(time.perf_counter() - started)
    tick = min(ticks)
    await engine.stop()
    return per_event, tick, sink.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=5, help="results per service")
    args = parser.parse_args()
    print(f"{'services':>9}  {'per result':>11}  {'full tick':>10}  {'sent':>6}  (sent: the firing ones, a fifth)")
    for size in (int(s) for s in args.sizes.split(",")):
        per_event, tick, sent = asyncio.run(run(size, args.rounds))
        print(f"{size:>9}  {per_event * 1e6:>9.1f}us  {tick * 1e3:>8.2f}ms  {sent:>6}")


if __name__ == "__main__":
    main()
