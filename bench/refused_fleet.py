"""A fleet on a closed port, with retries: how long until every service says "connection refused".

    python bench/refused_fleet.py [--services 1000] [--concurrency 256] [--timeout 20]

Each refusal is instant, so the run should last about as long as the retry back-off (a few
seconds), however many services share the fleet's concurrency slots: slots are taken per
attempt, never through a back-off sleep. Prints wall and CPU time and how the services ended.
Figures, not assertions: CPU per refused attempt is mostly httpx2/anyio connection setup.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import parse_config  # noqa: E402
from core.demo.fleet import unused_port  # noqa: E402
from core.engine import Engine  # noqa: E402


async def run(services: int, concurrency: int, timeout: float) -> None:
    url = f"http://127.0.0.1:{unused_port()}/health"
    lines = [
        "defaults:",
        f"  concurrency: {concurrency}",
        "  retry: {attempts: 3, initial: 500ms, max: 8s, multiplier: 2, jitter: 500ms}",
        "services:",
        *(f"  svc-{i:05d}: {{kind: http, url: '{url}'}}" for i in range(services)),
    ]
    config = parse_config("\n".join(lines) + "\n", source="bench.yaml", env={})
    engine = Engine(config)
    try:
        wall, cpu = time.monotonic(), time.process_time()
        snapshot = await engine.run_once(timeout=timeout)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    finally:
        await engine.stop()
    ended = Counter(service.reason for service in snapshot.services)
    print(f"{services} services, concurrency {concurrency}: {wall:.1f}s wall, {cpu:.1f}s CPU")
    for reason, count in ended.most_common():
        print(f"  {count:6d}  {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.services, args.concurrency, args.timeout))


if __name__ == "__main__":
    main()
