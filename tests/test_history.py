"""The history store: what it records from a real engine, how it rolls up, prunes, summarizes and survives."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import Config
from core.events import StatusChanged
from core.history import HistoryLocked, HistoryRecorder, HistoryUnavailable, default_history_path, open_history
from core.history.lock import read_holder
from core.history.rollups import HOUR, prune_step, roll_up_step, rolled_until
from core.history.rows import ResultRow, StatusRow
from core.history.store import Retention
from core.results import Status
from tests.helpers import idle_engine, make_config

NOW = 1_800_000_000.0  # a fixed "now" on an hour boundary + 0: windows are exact
DAY = 86400.0


def result(
    service: str, at: float, *, ok: bool = True, latency: float | None = 10.0, contacted: bool = True
) -> ResultRow:
    status = Status.UP if ok else Status.DOWN
    return ResultRow(
        service,
        at,
        status.value,
        ok,
        contacted,
        latency if ok else None,
        1,
        200 if ok else 500,
        "" if ok else "HTTP 500",
    )


def one_service() -> Config:
    return make_config({"a": {"kind": "http", "url": "http://127.0.0.1:9/"}})


def raw_count(path: Path, table: str = "results") -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_default_location_follows_xdg_state_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_history_path() == tmp_path / "lookout" / "history.db"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")  # the spec says: ignore a relative value
    assert default_history_path() == Path.home() / ".local" / "state" / "lookout" / "history.db"


def test_results_and_incidents_round_trip(tmp_path) -> None:
    store = open_history(tmp_path / "h.db")
    try:
        for i in range(10):
            store.submit(result("api", NOW - 600 + i * 30, ok=i not in (4, 5), latency=float(i + 1)))
        store.submit(StatusRow("api", NOW - 480, "up", "degraded", "slow"))
        store.submit(StatusRow("api", NOW - 470, "degraded", "down", "HTTP 500"))  # worse: same incident, now down
        store.submit(StatusRow("api", NOW - 420, "down", "up", ""))
        store.submit(StatusRow("db", NOW - 100, "unknown", "down", "refused"))  # still open
        assert store.flush()
        recent = store.recent_results("api", 3)
        assert [r.latency_ms for r in recent] == [8.0, 9.0, 10.0]  # oldest first, the newest three
        assert recent[-1].started_at == datetime.fromtimestamp(NOW - 600 + 270, UTC)
        assert recent[0].status is Status.UP
        incidents = store.incidents(since=NOW - DAY)
        assert [(i.service, i.status, i.reason, i.ended is None) for i in incidents] == [
            ("db", "down", "refused", True),
            ("api", "down", "slow", False),
        ]
        assert incidents[1].duration(NOW) == 60
        window = store.summary("api", now=NOW)["windows"]["1h"]
        assert (window["probes"], window["failures"], window["uptime"]) == (10, 2, 0.8)
        assert window["p50_ms"] == 4.0  # nearest rank over the 8 successes 1,2,3,4,7,8,9,10
        assert window["p99_ms"] == 10.0
    finally:
        store.close()


def test_an_open_incident_survives_a_restart_and_closes_on_recovery(tmp_path) -> None:
    path = tmp_path / "h.db"
    store = open_history(path)
    store.submit(StatusRow("api", NOW - 300, "unknown", "down", "refused"))
    store.close()
    store = open_history(path)
    try:
        store.submit(StatusRow("api", NOW - 200, "unknown", "down", "refused"))  # the new process sees it down
        store.submit(StatusRow("api", NOW - 100, "down", "up", ""))
        store.flush()
        [incident] = store.incidents()
        assert (incident.started, incident.ended) == (NOW - 300, NOW - 100)
    finally:
        store.close()


def test_roll_ups_keep_a_month_after_raw_results_are_pruned(tmp_path) -> None:
    path = tmp_path / "h.db"
    store = open_history(path, retention=Retention(raw=7 * DAY, rollups=400 * DAY))
    try:
        # 30 days, one result every 10 minutes; every 4th fails; latency = minute of the hour.
        rows = [
            result("api", NOW - 30 * DAY + k * 600, ok=k % 4 != 0, latency=float(k % 6 * 10)) for k in range(30 * 144)
        ]
        for row in rows:
            store.submit(row)
        store.flush()
    finally:
        store.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        while roll_up_step(conn, NOW):
            pass
        assert rolled_until(conn) == NOW - HOUR  # the last hour is within the grace period: not rolled yet
        while prune_step(conn, NOW, 7 * DAY, 400 * DAY):
            pass
    assert raw_count(path) == 7 * 144  # a week of raw rows left
    assert raw_count(path, "rollups") == 30 * 24 - 1
    reader = open_history(path, record=False)
    windows = reader.summary("api", now=NOW)["windows"]
    assert windows["30d"]["probes"] == 30 * 144
    assert windows["30d"]["uptime"] == pytest.approx(0.75)
    assert windows["7d"]["probes"] == 7 * 144
    assert windows["24h"]["probes"] == 144
    assert windows["1h"]["probes"] == 6
    assert (windows["30d"]["p50_ms"], windows["30d"]["p99_ms"]) == (30.0, 50.0)


def test_closed_alert_incidents_and_ended_silences_go_after_the_long_retention(tmp_path) -> None:
    """One row per alert incident and per silence: kept as long as roll-ups, never while open or running."""
    path = tmp_path / "h.db"
    open_history(path).close()
    old, recent = NOW - 500 * DAY, NOW - DAY
    with sqlite3.connect(path, isolation_level=None) as conn:
        for name, closed in (("old", old), ("recent", recent), ("open", None)):
            conn.execute(
                "INSERT INTO alert_incidents VALUES (?, 'r', 'api', ?, ?, 'down', 'up', '', 'firing', 1, 0, NULL, 0)",
                (name, old, closed),
            )
        for ends in (old, recent, NOW + DAY):
            conn.execute(
                "INSERT INTO silences (target, starts, ends, reason, created) VALUES ('api', ?, ?, '', ?)",
                (old, ends, old),
            )
        while prune_step(conn, NOW, 7 * DAY, 400 * DAY):
            pass
        assert {row[0] for row in conn.execute("SELECT id FROM alert_incidents")} == {"recent", "open"}
        assert sorted(row[0] for row in conn.execute("SELECT ends FROM silences")) == [recent, NOW + DAY]


def test_pruning_never_deletes_what_is_not_rolled_up(tmp_path) -> None:
    path = tmp_path / "h.db"
    store = open_history(path)
    store.submit(result("api", NOW - 10 * DAY))
    store.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        assert prune_step(conn, NOW, 7 * DAY, 400 * DAY) == 0
        roll_up_step(conn, NOW)
        assert prune_step(conn, NOW, 7 * DAY, 400 * DAY) == 1
    assert raw_count(path, "rollups") == 1


async def test_recorder_on_a_real_engine_stores_results_incidents_breaker_and_rate_limits(
    tmp_path, http_api, unique_key
) -> None:
    config = make_config(
        {
            "up": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"},
            "broken": {"kind": "http", "url": f"{http_api.url}/status/{unique_key}/503"},
            "quota": {"kind": "http", "url": f"{http_api.url}/github/{unique_key}/rate_limit"},
        },
        breaker={"fail_max": 2, "reset_timeout": "30s"},
    )
    store = open_history(tmp_path / "h.db")
    try:
        async with idle_engine(config) as engine:
            recorder = HistoryRecorder(store)
            engine.add_recorder(recorder)
            for _ in range(3):
                await engine.run_once()
            await recorder.aclose()
        results = {name: store.recent_results(name, 10) for name in ("up", "broken", "quota")}
        assert [r.status for r in results["up"]] == [Status.UP] * 3
        assert [r.http_status for r in results["broken"][:2]] == [503, 503]
        assert results["broken"][2].contacted is False  # the open breaker kept the third probe home
        [incident] = store.incidents("broken")
        assert incident.status == "down" and incident.ended is None and "503" in incident.reason
        assert store.incidents("up") == []
        with sqlite3.connect(tmp_path / "h.db") as conn:
            breaker = conn.execute("SELECT old, new FROM breaker_events WHERE service = 'broken'").fetchall()
            limits = conn.execute("SELECT resource, lim FROM rate_limits WHERE service = 'quota'").fetchall()
        assert breaker == [("closed", "open")]
        assert ("core", 60) in limits
        assert store.summary("broken")["windows"]["1h"]["uptime"] == 0.0
    finally:
        store.close()


async def test_seeded_engine_starts_from_stored_results(tmp_path, http_api, unique_key) -> None:
    from tui.source import EngineSource

    config = make_config({"up": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}}, interval="1h")
    store = open_history(tmp_path / "h.db")
    for i in range(5):
        store.submit(result("up", NOW + i, latency=float(i)))
    store.flush()
    source = EngineSource(config, history=store)
    try:
        await source.start()
        history = source.snapshot().get("up").history
        assert [r.latency_ms for r in history[:5]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    finally:
        await source.stop()
        store.close()


async def test_seed_history_is_refused_on_a_running_engine(http_api, unique_key) -> None:
    config = make_config({"up": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}}, interval="1h")
    async with idle_engine(config) as engine:
        engine.seed_history("gone", [])  # a service no longer in the config: ignored
        await engine.start()
        with pytest.raises(RuntimeError):
            engine.seed_history("up", [])


def test_one_recorder_per_file(tmp_path) -> None:
    path = tmp_path / "h.db"
    first = open_history(path)
    try:
        first.lock.set_address("127.0.0.1:9464")
        with pytest.raises(HistoryLocked) as caught:
            open_history(path)
        assert caught.value.holder.pid == read_holder(path).pid
        assert "127.0.0.1:9464" in str(caught.value)
        reader = open_history(path, record=False)  # readers need no lock
        assert reader.services() == []
    finally:
        first.close()
    open_history(path).close()  # released: the next process records


def test_a_corrupt_file_is_moved_aside_and_a_new_one_started(tmp_path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not a database, whatever it once was\n" * 200)
    warnings: list[str] = []
    store = open_history(path, on_warning=warnings.append)
    try:
        store.submit(result("api", NOW))
        store.flush()
        assert len(store.recent_results("api", 5)) == 1
    finally:
        store.close()
    [moved] = tmp_path.glob("history.db.corrupt-*")
    assert moved.read_bytes().startswith(b"this is not a database")
    assert len(warnings) == 1 and moved.name in warnings[0] and "starting a new one" in warnings[0]


def test_a_full_disk_warns_once_and_recording_goes_on(tmp_path) -> None:
    warnings: list[str] = []

    def tiny(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own SQLITE_FULL, as on a full disk

    store = open_history(tmp_path / "h.db", on_warning=warnings.append, connection_hook=tiny)
    try:
        for batch in range(3):
            for i in range(2000):
                store.submit(ResultRow("api", NOW + batch * 10_000 + i, "up", True, True, 1.0, 1, 200, "x" * 200))
            assert store.flush()
        assert store.write_failures >= 1
        assert len(warnings) == 1 and "full" in warnings[0]
        assert store.recording  # still taking writes: the next batch may fit again
    finally:
        store.close()


def test_a_read_only_database_warns_once_and_monitoring_goes_on(tmp_path, http_api, unique_key) -> None:
    import asyncio

    warnings: list[str] = []

    def read_only(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA query_only = ON")  # SQLite refuses every write, as on a read-only file system

    store = open_history(tmp_path / "h.db", on_warning=warnings.append, connection_hook=read_only)
    config = make_config({"up": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}})

    async def monitor() -> list[Status]:
        async with idle_engine(config) as engine:
            recorder = HistoryRecorder(store)
            engine.add_recorder(recorder)
            statuses = [(await engine.run_once()).get("up").status for _ in range(3)]
            await recorder.aclose()
            return statuses

    try:
        assert asyncio.run(monitor()) == [Status.UP] * 3
        assert store.write_failures >= 1
        assert len(warnings) == 1 and "readonly" in warnings[0]
    finally:
        store.close()


@pytest.mark.skipif(
    hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0,
    reason="root writes into a read-only directory regardless; the full-disk test covers failing writes",
)
def test_a_read_only_directory_means_no_history_and_one_message(tmp_path, capsys) -> None:
    from tui.cli import open_recording

    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert open_recording(str(locked / "history.db"), one_service()) is None
    finally:
        locked.chmod(0o755)
    assert capsys.readouterr().err.count("cannot record history") == 1


def test_an_unusable_location_means_no_history_and_one_message(tmp_path, capsys) -> None:
    from tui.cli import open_recording

    (tmp_path / "file").write_text("a file where a directory should be")
    assert open_recording(str(tmp_path / "file" / "history.db"), one_service()) is None
    err = capsys.readouterr().err
    assert err.count("lookout:") == 1 and "cannot record history" in err
    with pytest.raises(HistoryUnavailable):
        open_history(tmp_path / "missing.db", record=False)


def test_second_monitor_says_once_it_does_not_record(tmp_path, capsys) -> None:
    from tui.cli import open_recording

    path = tmp_path / "h.db"
    holder = open_history(path)
    try:
        assert open_recording(str(path), one_service()) is None
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"process {__import__('os').getpid()}" in err and "without recording" in err


def test_status_changed_events_feed_incidents_through_the_recorder(tmp_path) -> None:
    import asyncio

    store = open_history(tmp_path / "h.db")

    async def feed() -> None:
        recorder = HistoryRecorder(store)
        at = datetime.fromtimestamp(NOW, UTC)
        recorder.record(StatusChanged(at=at, service="api", old=Status.UP, new=Status.DOWN, reason="HTTP 502"))
        await recorder.aclose()

    try:
        asyncio.run(feed())
        [incident] = store.incidents()
        assert (incident.started, incident.reason) == (NOW, "HTTP 502")
    finally:
        store.close()


@pytest.mark.slow  # an MCP server over stdio
async def test_inventory_fingerprints_are_stored_when_they_change(tmp_path, tag) -> None:
    import asyncio
    import json

    from fixtures_mcp import stdio_service

    config = make_config({"changing": stdio_service("changing", "--every", "1.5", tag=tag)}, timeout="15s")
    store = open_history(tmp_path / "h.db")
    try:
        async with idle_engine(config) as engine:
            recorder = HistoryRecorder(store)
            engine.add_recorder(recorder)
            await engine.run_once()
            await engine.run_once()  # same tools: no new row
            await asyncio.sleep(1.6)
            await engine.run_once()  # a tool added, another changed
            await recorder.aclose()
        with sqlite3.connect(tmp_path / "h.db") as conn:
            rows = conn.execute("SELECT fingerprint, tools, changes FROM inventory ORDER BY at").fetchall()
    finally:
        store.close()
    assert [tools for _, tools, _ in rows] == [2, 3]
    assert rows[0][0] != rows[1][0]
    [change] = json.loads(rows[1][2])
    assert change["kind"] == "tools" and change["added"] == ["beta-feature"] and change["changed"] == ["search-docs"]


def test_the_recorders_page_cache_is_bounded_below_sqlites_default(tmp_path) -> None:
    """Its connection lives as long as the process: SQLite's default 2000 KiB cache filled as the file grew."""
    from core.history.store import RECORDER_CACHE_KIB

    seen: list[int] = []
    store = open_history(
        tmp_path / "h.db", connection_hook=lambda conn: seen.append(conn.execute("PRAGMA cache_size").fetchone()[0])
    )
    try:
        for i in range(3000):
            store.submit(ResultRow("api", NOW + i, "up", True, True, 1.0, 1, 200, ""))
        assert store.flush()
        assert store.rows_written == 3000
    finally:
        store.close()
    assert seen == [-RECORDER_CACHE_KIB] and RECORDER_CACHE_KIB < 2000
