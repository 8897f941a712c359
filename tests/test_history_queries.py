"""The history's summaries against their definition, over a file shaped like a recorder leaves it.

`queries.summaries` reads columns and range scans for speed (`lookout history` over a month of a hundred
services must answer in well under a second); this checks it against a plain reading of what the
module's docstring defines, row by row: a window > 1 h counts the roll-up hours that end after its start
and the raw rows from the roll-up boundary on; the 1 h window counts raw rows only; a percentile is the
nearest rank with each hour weighted by its latency samples and each raw latency by one.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

from core.history import queries
from core.history.ranks import weighted_percentile
from core.history.rollups import HOUR, hour_rollups
from core.history.schema import connect, prepare

NOW = 1_800_000_000.0 + 1234.5
WINDOWS = dict(queries.WINDOWS)


def _build(path: Path, rng: random.Random) -> tuple[float, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Three services over 35 days with gaps; raw rows kept for the last 3 days; the boundary 2 h back."""
    boundary = (NOW - 2 * HOUR) // HOUR * HOUR
    raw: list[tuple[Any, ...]] = []
    for service in ("alpha", "beta", "gamma"):
        at = NOW - 35 * 86400 + rng.random() * 60
        while at < NOW:
            if rng.random() < 0.002:
                at += rng.uniform(HOUR, 30 * HOUR)  # the monitor was off for a while
                continue
            contacted = rng.random() > 0.05
            ok = contacted and rng.random() > (0.5 if service == "gamma" else 0.03)
            latency = round(rng.lognormvariate(4, 0.6), 1) if ok and rng.random() > 0.02 else None
            raw.append((service, at, "up" if ok else "down", int(ok), int(contacted), latency, 1, None, ""))
            at += rng.uniform(100, 500)
    conn = connect(path)
    prepare(conn)
    by_hour: dict[int, list[tuple[str, int, int, float | None]]] = {}
    for service, at, _, ok, contacted, latency, *_ in raw:
        if at < boundary:
            by_hour.setdefault(int(at // HOUR * HOUR), []).append((service, ok, contacted, latency))
    rollups = [
        (service, hour, *numbers) for hour, rows in by_hour.items() for service, numbers in hour_rollups(rows).items()
    ]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rollups)
    kept = [row for row in raw if row[1] >= NOW - 3 * 86400]
    conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", kept)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('rolled_until', ?)", (repr(boundary),))
    conn.execute("COMMIT")
    conn.close()
    return boundary, rollups, kept


def _expected(name: str, boundary: float, rollups: list[tuple[Any, ...]], raw: list[tuple[Any, ...]]) -> dict:
    windows = {}
    for label, seconds in WINDOWS.items():
        start = now_start = NOW - seconds
        hours = []
        if seconds > HOUR:
            oldest = (NOW - max(WINDOWS.values())) // HOUR * HOUR  # the longest window's first hour
            hours = [r for r in rollups if r[0] == name and oldest <= r[1] < boundary and r[1] > start - HOUR]
            now_start = max(start, boundary)
        rows = [r for r in raw if r[0] == name and r[1] >= now_start and r[4]]
        contacted = sum(h[3] for h in hours) + len(rows)
        failures = sum(h[4] for h in hours) + sum(1 for r in rows if not r[3])
        raw_latencies = [(r[5], 1) for r in rows if r[3] and r[5] is not None]
        window: dict[str, Any] = {
            "uptime": (contacted - failures) / contacted if contacted else None,
            "probes": contacted,
            "failures": failures,
        }
        for index, (key, fraction) in enumerate(queries.FRACTIONS):
            weighted = [(h[5 + index] or 0.0, h[8]) for h in hours]
            window[key] = weighted_percentile(weighted + raw_latencies, fraction)
        windows[label] = window
    return {"service": name, "windows": windows}


def test_summaries_follow_their_definition(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    boundary, rollups, raw = _build(path, random.Random(11))
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        everything = queries.summaries(conn, None, NOW)
        assert list(everything) == ["alpha", "beta", "gamma"]
        for name in everything:
            assert everything[name] == _expected(name, boundary, rollups, raw)
        assert everything["gamma"]["windows"]["30d"]["uptime"] < 0.7  # the data says something: a sick one
        assert everything["alpha"]["windows"]["30d"]["probes"] > 5000
        # one service, and one with nothing recorded: the same figures, and empty windows
        some = queries.summaries(conn, ["beta", "nobody"], NOW)
        assert some["beta"] == everything["beta"]
        assert some["nobody"] == queries.empty_summary("nobody")
        assert not conn.in_transaction  # the read transaction it opened is over
    finally:
        conn.close()


def test_services_lists_rolled_up_and_fresh_names(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    _build(path, random.Random(5))
    conn = connect(path)
    conn.execute("INSERT INTO results VALUES ('delta', ?, 'up', 1, 1, 3.0, 1, 200, '')", (NOW - 60,))
    conn.execute("INSERT INTO results VALUES ('old-raw', ?, 'up', 1, 1, 3.0, 1, 200, '')", (NOW - 30 * 86400,))
    assert queries.services(conn) == ["alpha", "beta", "delta", "gamma"]  # a raw row below the boundary is rolled
    conn.close()
