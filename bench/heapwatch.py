"""Run `lookout` (its arguments follow) with tracemalloc on, writing heap snapshots at given minutes.

    python bench/heapwatch.py DIR 3,13 demo

bench/tui.py --demo --tracemalloc DIR runs the demo under it. A daemon thread sleeps until each minute
and writes DIR/heap-MM.snapshot (tracemalloc's own format), so what grew between two minutes can be
read by traceback with `python bench/heapwatch.py --diff A B`. Tracing costs CPU and memory of its own:
a run under it says where memory goes, never what the monitor costs.
"""

from __future__ import annotations

import gc
import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = 12
"""Frames kept per allocation: enough to reach from a deque append back to the view that made it."""


def watch(directory: Path, minutes: list[float], started: float) -> None:
    """Write a snapshot at each of `minutes` (from `started`), after a full collection (what is live only)."""
    directory.mkdir(parents=True, exist_ok=True)
    for minute in minutes:
        time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(directory / f"heap-{minute:05.1f}.snapshot"))
        traced, peak = tracemalloc.get_traced_memory()
        (directory / f"heap-{minute:05.1f}.txt").write_text(f"traced {traced} peak {peak}\n")


def diff(before: str, after: str, top: int = 25) -> None:
    """What grew from snapshot `before` to `after`, grouped by traceback, biggest first."""
    old = tracemalloc.Snapshot.load(before)
    new = tracemalloc.Snapshot.load(after)
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    old, new = old.filter_traces(ignore), new.filter_traces(ignore)
    total_old = sum(stat.size for stat in old.statistics("filename"))
    total_new = sum(stat.size for stat in new.statistics("filename"))
    print(
        f"traced: {total_old / 2**20:.2f} MB -> {total_new / 2**20:.2f} MB ({(total_new - total_old) / 2**20:+.2f} MB)"
    )
    print("\n== by line ==")
    for stat in new.compare_to(old, "lineno")[:top]:
        print(f"{stat.size_diff / 1024:+9.1f} KB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
    print("\n== by traceback ==")
    for stat in new.compare_to(old, "traceback")[:top]:
        if stat.size_diff <= 0:
            continue
        print(f"{stat.size_diff / 1024:+9.1f} KB {stat.count_diff:+7d} blocks (now {stat.size / 1024:.1f} KB)")
        for line in stat.traceback.format(limit=FRAMES, most_recent_first=True):
            print(f"    {line}")


def main() -> None:
    if sys.argv[1:2] == ["--diff"]:
        diff(sys.argv[2], sys.argv[3])
        return
    directory, minutes, *rest = sys.argv[1:]
    tracemalloc.start(FRAMES)
    started = time.monotonic()
    points = [float(m) for m in minutes.split(",")]
    threading.Thread(target=watch, args=(Path(directory), points, started), daemon=True).start()
    sys.argv = ["lookout", *rest]
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the checkout, not bench/ (whose tui.py is not tui/)
    runpy.run_module("tui.cli", run_name="__main__")


if __name__ == "__main__":
    main()
