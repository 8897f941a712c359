"""`lookout serve` records its history by default: the status API reads summaries from it, a restart
starts from what was stored, and the lock names the daemon's address for a monitor opened later."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_serve_prometheus import start_serve, wait_for

pytestmark = pytest.mark.slow


def _recent(serve: Any, name: str) -> list[dict[str, Any]]:
    return serve.get(f"/api/v1/services/{name}").json()["recent"]


def test_serve_records_history_and_starts_from_it_after_a_restart(tmp_path: Path, http_api: Any) -> None:
    db = tmp_path / "history.db"
    serve = start_serve(tmp_path, http_api.url, "--history", str(db))
    try:
        wait_for(lambda: len(_recent(serve, "up")) >= 3, "three results of the up service")
        lock = json.loads((tmp_path / "history.db.lock").read_text())
        assert lock["address"] == serve.url and lock["pid"] == serve.process.pid
        document = wait_for(
            lambda: (d := serve.get("/api/v1/services/up").json())["history"]["windows"]["1h"]["probes"] >= 1 and d,
            "the recorded summary in the service document",
        )
        assert document["history"]["windows"]["1h"]["uptime"] == 1.0
    finally:
        assert serve.stop() == 0
    before = _count_results(db, "up")
    assert before >= 3

    again = start_serve(tmp_path, http_api.url, "--history", str(db))
    try:
        # The ring starts from what was stored: the first document already lists the earlier results.
        assert len(_recent(again, "up")) >= min(before, 3)
    finally:
        assert again.stop() == 0


def _count_results(db: Path, name: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM results WHERE service = ?", (name,)).fetchone()[0])
