"""History benchmark: file size per service and day, insert rate, and `lookout history` over a month.

    python bench/history.py [--services 100] [--days 30] [--interval 30]

1. Bytes per service per day at a 30 s interval: one day of results for 10 services written
   through the store (the recorder's path), file size after a checkpoint, divided out.
2. Inserts per second: 200,000 results submitted to the store and committed (writer thread,
   batched transactions), wall time.
3. `lookout history` over `--services` x `--days` of generated data, in the state the recorder
   leaves a file (7 days of raw results, hourly roll-ups before the roll-up boundary), timed
   in-process and as the command a user runs (subprocess wall time, interpreter start included),
   best of 5 each. Target: < 0.5 s as a command.
Figures, not assertions: run on a quiet machine and read them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.history import open_history  # noqa: E402
from core.history.cli import main as history_main  # noqa: E402
from core.history.rollups import HOUR, ROLLUP_GRACE  # noqa: E402
from core.history.rows import ResultRow  # noqa: E402
from core.history.schema import connect, prepare  # noqa: E402

DAY = 86400.0


def fake_result(service: str, at: float, rng: random.Random) -> ResultRow:
    ok = rng.random() > 0.01
    return ResultRow(
        service, at, "up" if ok else "down", ok, True, rng.lognormvariate(4, 0.5) if ok else None, 1,
        200 if ok else 503, "" if ok else "HTTP 503",
    )  # fmt: skip


def bytes_per_service_day(tmp: Path, interval: float) -> float:
    services, rng = 10, random.Random(1)
    path = tmp / "size.db"
    store = open_history(path)
    start = time.time() - DAY
    for k in range(int(DAY / interval)):
        for s in range(services):
            store.submit(fake_result(f"service-{s}", start + k * interval, rng))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size / services


def inserts_per_second(tmp: Path, count: int = 200_000) -> float:
    store, rng = open_history(tmp / "rate.db"), random.Random(2)
    rows = [fake_result(f"service-{i % 100}", time.time() + i * 0.001, rng) for i in range(count)]
    began = time.perf_counter()
    for row in rows:
        store.submit(row)
    store.flush(timeout=600)
    elapsed = time.perf_counter() - began
    store.close()
    return count / elapsed


def generate_month(path: Path, services: int, days: int, interval: float) -> tuple[int, float]:
    """The file as a recorder running that long leaves it: raw results for the last 7 days (retention) and
    hourly roll-ups for every complete hour before the roll-up boundary, generated in SQL (a month of
    Python-made rows would take longer than the figure it feeds). Returns (raw rows, seconds spent)."""
    now = time.time()
    began = time.perf_counter()
    conn = connect(path)
    prepare(conn)
    boundary = (now - ROLLUP_GRACE) // HOUR * HOUR
    raw_start = now - min(days, 7) * DAY
    conn.execute("BEGIN")
    conn.execute(
        """
        WITH RECURSIVE
          s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?),
          k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j + 1 < ?)
        INSERT INTO results
        SELECT printf('service-%03d', i), ? + j * ?, 'up', 1, 1, 20 + abs(random() % 100), 1, 200, ''
        FROM k, s
        """,
        (services, int((now - raw_start) / interval), raw_start, interval),
    )
    conn.execute("UPDATE results SET status = 'down', ok = 0, latency_ms = NULL, reason = 'HTTP 503' "
                 "WHERE abs(random() % 100) = 0")  # fmt: skip
    per_hour = int(HOUR / interval)
    conn.execute(
        """
        WITH RECURSIVE
          s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?),
          h(hour) AS (SELECT ? UNION ALL SELECT hour + 3600 FROM h WHERE hour + 3600 < ?)
        INSERT INTO rollups
        SELECT printf('service-%03d', i), hour, ?, ?, abs(random() % 3), 60 + abs(random() % 10),
               110 + abs(random() % 10), 118 + abs(random() % 2), ? - 2
        FROM h, s
        """,
        (services, int((now - days * DAY) // HOUR * HOUR), boundary, per_hour, per_hour, per_hour),
    )
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('rolled_until', ?)", (repr(boundary),))
    conn.execute("INSERT INTO incidents (service, status, started, ended, reason) VALUES (?, ?, ?, ?, ?)",
                 ("service-007", "down", now - 2 * DAY, now - 2 * DAY + 300, "HTTP 503"))  # fmt: skip
    conn.execute("COMMIT")
    rows = conn.execute("SELECT count(*) FROM results").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return int(rows), time.perf_counter() - began


def time_history_command(path: Path) -> tuple[float, float, float]:
    """(in-process, as a command, a bare interpreter): each the best of five, so a busy moment of the
    machine does not become the figure. The command is what a user runs, interpreter start included."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            history_main(["--history", str(path)])
        best = min(best, time.perf_counter() - began)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tui.cli", "history", "--history", str(path)]
    return best, _best_wall(command, env), _best_wall([sys.executable, "-c", "pass"], env)


def _best_wall(command: list[str], env: dict[str, str], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        per_day = bytes_per_service_day(tmp, args.interval)
        print(f"bytes per service per day at {args.interval:g}s: {per_day / 1024:.0f} KiB (raw results)")
        print(f"  steady state per service (7 d raw + 400 d hourly roll-ups): ~{(per_day * 7) / 1024**2:.1f} MiB raw")
        print(f"inserts per second (store, batched): {inserts_per_second(tmp):,.0f}")
        path = tmp / "month.db"
        rows, spent = generate_month(path, args.services, args.days, args.interval)
        size = path.stat().st_size / 1024**2
        print(f"generated {args.services} services x {args.days} d ({rows:,} raw results in retention, "
              f"hourly roll-ups before) in {spent:.1f}s: {size:.0f} MiB")  # fmt: skip
        in_process, command, bare = time_history_command(path)
        print(f"`lookout history` over it: {in_process * 1000:.0f} ms in-process, {command * 1000:.0f} ms as a "
              f"command (wall time of the subprocess, interpreter start included; a bare `python -c pass`: "
              f"{bare * 1000:.0f} ms), best of 5 each; target < 500 ms")  # fmt: skip


if __name__ == "__main__":
    main()
