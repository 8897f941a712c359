"""`kill -9` in the middle of recording leaves a readable history with everything committed before it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.history import open_history

pytestmark = pytest.mark.slow  # a recording subprocess

ROOT = Path(__file__).resolve().parent.parent

RECORDER = """
import asyncio, sys, time
from datetime import UTC, datetime
from core.events import ProbeCompleted, StatusChanged
from core.history import HistoryRecorder, open_history
from core.results import ProbeResult, Status

async def main(path):
    recorder = HistoryRecorder(open_history(path))
    n = 0
    while True:  # records until killed: every probe a result, every 10th a status change
        n += 1
        at = datetime.now(UTC)
        status = Status.UP if n % 20 < 10 else Status.DOWN
        result = ProbeResult(service="api", started_at=at, status=status, reason="x" * 50, latency_ms=float(n))
        recorder.record(ProbeCompleted(at=at, service="api", result=result, seq=n))
        if n % 10 == 0:
            old = Status.DOWN if status is Status.UP else Status.UP
            recorder.record(StatusChanged(at=at, service="api", old=old, new=status, reason="flip", seq=n))
        await asyncio.sleep(0.002)

asyncio.run(main(sys.argv[1]))
"""


def committed(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_kill_9_mid_write_loses_nothing_committed(tmp_path) -> None:
    path = tmp_path / "history.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", RECORDER, str(path)], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 500:  # at least a few batches committed, with the writer busy on the next one
            assert child.poll() is None, "the recorder died on its own"
            assert time.monotonic() < deadline, "the recorder committed nothing"
            time.sleep(0.05)
            seen = committed(path)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    store = open_history(path)  # the lock died with its holder; no corruption message either
    try:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            count = conn.execute("SELECT count(*) FROM results").fetchone()[0]
            incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
        assert count >= seen
        assert incidents >= 1
        assert not list(tmp_path.glob("*.corrupt-*"))
        latencies = [r.latency_ms for r in store.recent_results("api", count)]
        assert latencies == [float(n) for n in range(1, count + 1)]  # a prefix: no hole, no row twice
    finally:
        store.close()
