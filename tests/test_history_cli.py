"""`lookout history`, `--once --history`, `--no-history` and the `history:` settings, as a user meets them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from core.config import ConfigError, load_config
from core.history import open_history
from core.history.rows import ResultRow, StatusRow
from tui.cli import main

NOW = 1_800_000_000.0


def write_config(tmp_path: Path, services: dict, **defaults) -> Path:
    path = tmp_path / "services.yaml"
    fast = {"timeout": "2s", "retry": {"attempts": 1}, **defaults}
    path.write_text(yaml.safe_dump({"defaults": fast, "services": services}, sort_keys=False))
    return path


@pytest.fixture
def recorded(tmp_path) -> Path:
    path = tmp_path / "h.db"
    store = open_history(path)
    for i in range(120):
        store.submit(ResultRow("api", NOW - 3600 + i * 30, "up", True, True, float(10 + i % 10), 1, 200, ""))
        store.submit(ResultRow("db", NOW - 3600 + i * 30, "down" if i < 60 else "up", i >= 60, True, 5.0, 1, None, ""))
    store.submit(StatusRow("db", NOW - 3600, "unknown", "down", "connection refused"))
    store.submit(StatusRow("db", NOW - 1800, "down", "up", ""))
    store.close()
    return path


def run_history(capsys, *args: str) -> tuple[int, str, str]:
    from core.history.cli import main as history_main

    code = history_main(list(args), now=NOW)
    out, err = capsys.readouterr()
    return code, out, err


def test_history_json_has_uptime_by_window_and_incidents(recorded, capsys) -> None:
    code, out, _ = run_history(capsys, "--history", str(recorded), "--format", "json", "--since", "24h")
    assert code == 0
    document = json.loads(out)
    services = {s["service"]: s["windows"] for s in document["services"]}
    assert set(services) == {"api", "db"}
    assert services["api"]["1h"]["uptime"] == 1.0
    assert services["db"]["1h"]["uptime"] == 0.5
    assert services["api"]["1h"]["p50_ms"] == 14.0
    [incident] = document["incidents"]
    assert incident["service"] == "db" and incident["duration_s"] == 1800 and not incident["ongoing"]


def test_history_table_for_one_service(recorded, capsys) -> None:
    code, out, _ = run_history(capsys, "db", "--history", str(recorded))
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split()[:5] == ["SERVICE", "UP", "1h", "UP", "24h"]
    assert row.split()[:3] == ["db", "50.00%", "50.00%"]
    assert "api" not in out
    assert "connection refused" in out and "(30m)" in out


def test_history_says_what_is_missing(recorded, tmp_path, capsys) -> None:
    code, _, err = run_history(capsys, "nosuch", "--history", str(recorded))
    assert code == 3 and "no history for 'nosuch'" in err
    code, _, err = run_history(capsys, "--history", str(tmp_path / "none.db"))
    assert code == 3 and "no history recorded yet" in err
    code, _, err = run_history(capsys, "--history", str(recorded), "--since", "soon")
    assert code == 3 and "--since" in err


def test_history_subcommand_is_dispatched_and_reads_the_xdg_file(_private_state_home, capsys) -> None:
    store = open_history(_private_state_home / "lookout" / "history.db")
    store.submit(ResultRow("api", NOW, "up", True, True, 1.0, 1, 200, ""))
    store.close()
    assert main(["history", "--format", "json"]) == 0
    assert [s["service"] for s in json.loads(capsys.readouterr().out)["services"]] == ["api"]


def test_once_records_only_when_given_a_history(tmp_path, http_api, unique_key, _private_state_home, capsys) -> None:
    config = write_config(tmp_path, {"api": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}})
    assert main(["--once", "-c", str(config)]) == 0
    assert not (_private_state_home / "lookout").exists()  # cron's --once leaves no file unless asked
    path = tmp_path / "cron.db"
    assert main(["--once", "-c", str(config), "--history", str(path)]) == 0
    assert main(["--once", "-c", str(config), "--history", str(path)]) == 0
    assert main(["--once", "-c", str(config), "--history", str(path), "--no-history"]) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM results WHERE service = 'api'").fetchone()[0] == 2
    capsys.readouterr()


def test_once_runs_without_recording_when_another_process_records(tmp_path, http_api, unique_key, capsys) -> None:
    config = write_config(tmp_path, {"api": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}})
    path = tmp_path / "h.db"
    holder = open_history(path)
    try:
        assert main(["--once", "-c", str(config), "--history", str(path), "--format", "json"]) == 0
    finally:
        holder.close()
    out, err = capsys.readouterr()
    assert json.loads(out)["services"][0]["status"] == "up"
    assert err.count("without recording") == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 0


def test_history_settings_are_validated_with_file_and_line(tmp_path) -> None:
    good = write_config(
        tmp_path, {"a": {"kind": "http", "url": "http://127.0.0.1:9/"}}, history={"raw_retention": "3d"}
    )
    settings = load_config(good).defaults.history
    assert (settings.raw_retention, settings.rollup_retention) == (3 * 86400, 400 * 86400)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "defaults:\n  history:\n    rollup_retention: 1h\nservices:\n  a: {kind: http, url: 'http://127.0.0.1:9/'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert f"{bad}:3: defaults.history.rollup_retention" in str(caught.value)
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "defaults:\n  history:\n    raw_retentoin: 1d\nservices:\n  a: {kind: http, url: 'http://127.0.0.1:9/'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(typo)
    assert f"{typo}:3:" in str(caught.value)


def test_a_service_seen_only_long_ago_is_listed_without_figures(tmp_path, capsys) -> None:
    from core.history.rollups import roll_up_step

    path = tmp_path / "h.db"
    store = open_history(path)
    store.submit(ResultRow("old", NOW - 40 * 86400, "up", True, True, 3.0, 1, 200, ""))
    store.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        roll_up_step(conn, NOW)
    code, out, _ = run_history(capsys, "--history", str(path), "--format", "json")
    assert code == 0
    [old] = json.loads(out)["services"]
    assert old["service"] == "old" and old["windows"]["30d"] == {
        "uptime": None, "probes": 0, "failures": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None,
    }  # fmt: skip


def test_history_loads_only_what_it_reads_with(recorded) -> None:
    """Its start-up is most of its run: the command loads neither the config models, the engine, asyncio
    nor any UI or HTTP library (the bench's < 0.5 s over a month of a hundred services depends on it)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys, io, contextlib\n"
        "from tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['history', '--history', {str(recorded)!r}]) == 0\n"
        "heavy = ('pydantic', 'yaml', 'rich', 'textual', 'asyncio', 'httpx', 'httpx2', 'starlette', 'mcp')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)) + sorted(\n"
        "    m for m in sys.modules if m.startswith(('core.engine', 'core.config', 'core.serve', 'core.state'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
