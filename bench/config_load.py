"""Config loading benchmark: CPU time and peak RSS to load a services.yaml of N services, in-process
and as the `lookout --check` command.

    python bench/config_load.py [--sizes 100,1000,10000] [--repeat 3] [--against DIR]

Half the services are HTTP APIs with headers and expectations, half stdio MCP servers
with args and env, so every part of the loader (YAML events, interpolation, defaults,
validation, secret collection) is exercised. Figures, not assertions: run it on a
quiet machine and read the table (the best of `--repeat` runs is shown).

Every figure comes from a fresh child process, so `--against DIR` (another checkout, e.g. the
main branch) is measured the same way in the same run, interleaved, for an A/B on a busy machine:
- `load cpu`: `load_config` alone in a warm process (imports done, the file read once before);
- `load RSS`: that process's peak RSS, interpreter and imports included;
- `check cpu` and `check RSS`: `python -m tui.cli -c FILE --check` as a whole (start, imports,
  load, exit), from the child's rusage. Its modules' bytecode is cached by a first, untimed run
  (PYTHONDONTWRITEBYTECODE is dropped for the children), as for an installed program.
CPU is process CPU (user + system): wall-clock time is inflated by whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_LOAD = """
import resource, sys, time
from core.config import load_config
path, repeat = sys.argv[1], int(sys.argv[2])
config = load_config(path, env={})  # imports, kinds and first-use caches out of the figure
best = None
for _ in range(repeat):
    config = None  # one config alive at a time, as in Lookout
    start = time.process_time()
    config = load_config(path, env={})
    spent = time.process_time() - start
    best = spent if best is None else min(best, spent)
assert len(config.services) == int(sys.argv[3])
print(best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


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


def _environment(root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "TOKEN")}
    env["PYTHONPATH"] = str(root)
    return env


def measure_load(root: Path, path: Path, size: int, repeat: int) -> tuple[float, float]:
    """(best CPU seconds of load_config, peak RSS MB) in a child process running `root`'s code."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD, str(path), str(repeat), str(size)],
        env=_environment(root),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def measure_check(root: Path, path: Path, repeat: int) -> tuple[float, float]:
    """(best CPU seconds, peak RSS MB) of the whole `--check` command running `root`'s code."""
    best_cpu, peak = float("inf"), 0.0
    command = [sys.executable, "-m", "tui.cli", "-c", str(path), "--check"]
    subprocess.run(command, env=_environment(root), cwd=root, capture_output=True, check=True)  # bytecode cached
    for _ in range(repeat):
        process = subprocess.Popen(
            command, env=_environment(root), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"--check failed ({process.returncode}) with {root}")
        best_cpu = min(best_cpu, usage.ru_utime + usage.ru_stime)
        peak = max(peak, usage.ru_maxrss / 1024)
    return best_cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout, measured the same way in the same run")
    options = parser.parse_args()
    roots = [("this", ROOT)]
    if options.against is not None:
        roots.append(("against", options.against.resolve()))
    print(
        f"{'code':>8} {'services':>9} {'bytes':>10} {'load cpu s':>11} {'load RSS MB':>12}"
        f" {'check cpu s':>12} {'check RSS MB':>13}"
    )
    with tempfile.TemporaryDirectory() as directory:
        for size in (int(s) for s in options.sizes.split(",")):
            path = Path(directory) / f"services-{size}.yaml"
            path.write_text(fleet_yaml(size))
            for label, root in roots:
                load_cpu, load_rss = measure_load(root, path, size, options.repeat)
                check_cpu, check_rss = measure_check(root, path, options.repeat)
                print(
                    f"{label:>8} {size:>9} {path.stat().st_size:>10} {load_cpu:>11.3f} {load_rss:>12.0f}"
                    f" {check_cpu:>12.3f} {check_rss:>13.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
