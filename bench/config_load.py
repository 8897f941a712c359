"""Config loading benchmark: wall and CPU time to load a services.yaml of N services.

    python bench/config_load.py [--sizes 100,1000,10000] [--repeat 3]

Half the services are HTTP APIs with headers and expectations, half stdio MCP servers
with args and env, so every part of the loader (YAML events, interpolation, defaults,
validation, secret collection) is exercised. Figures, not assertions: run it on a
quiet machine and read the table (the best of `--repeat` runs is shown). Peak RSS is the
process's, sizes in ascending order: the largest config loaded so far, plus the interpreter.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402


def fleet_yaml(count: int) -> str:
    parts = ["defaults:\n  interval: 30s\n  timeout: 5s\nservices:\n"]
    for index in range(count):
        if index % 2:
            parts.append(
                f"  svc-{index}:\n    kind: http\n    url: http://127.0.0.1:{8000 + index % 1000}/health/{index}\n"
                "    headers: {Accept: application/json, Authorization: 'Bearer ${TOKEN:-}'}\n"
                "    expect: {status: [200, 204], max_latency: 2s}\n"
                f"    tags: [api, n{index % 7}]\n"
            )
        else:
            parts.append(
                f"  svc-{index}:\n    kind: mcp\n    command: python\n    args: [-m, server, --port, {index}]\n"
                "    env: {MODE: fast}\n    retry: {attempts: 2}\n"
            )
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{'services':>9} {'bytes':>10} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as directory:
        for size in (int(s) for s in options.sizes.split(",")):
            path = Path(directory) / f"services-{size}.yaml"
            path.write_text(fleet_yaml(size))
            walls, cpus = [], []
            config = None
            for _ in range(options.repeat):
                config = None  # one config alive at a time, as in Lookout
                wall, cpu = time.perf_counter(), time.process_time()
                config = load_config(path, env={})
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            assert config is not None and len(config.services) == size
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{size:>9} {path.stat().st_size:>10} {min(walls):>8.2f} {min(cpus):>8.2f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
