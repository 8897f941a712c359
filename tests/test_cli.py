"""`lookout --once`, `--check` and `schema` as scripts and cron see them: output, exit codes, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # `lookout` as a subprocess, one per test

ROOT = Path(__file__).resolve().parent.parent


def lookout(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def write(tmp_path: Path, services: dict, **defaults) -> Path:
    path = tmp_path / "services.yaml"
    fast = {"timeout": "2s", "retry": {"attempts": 1}, **defaults}
    path.write_text(yaml.safe_dump({"defaults": fast, "services": services}, sort_keys=False))
    return path


def test_exit_codes_follow_monitoring_plugins(tmp_path, http_api, unique_key, free_port) -> None:
    up = write(tmp_path, {"a": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"}})
    assert lookout("--once", "-c", str(up)).returncode == 0
    slow = write(
        tmp_path,
        {"a": {"kind": "http", "url": f"{http_api.url}/slow/{unique_key}?ms=200", "expect": {"max_latency": "50ms"}}},
    )
    assert lookout("--once", "-c", str(slow)).returncode == 1
    down = write(tmp_path, {"a": {"kind": "http", "url": f"http://127.0.0.1:{free_port}/"}})
    done = lookout("--once", "-c", str(down))
    assert done.returncode == 2 and "connection refused" in done.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9\n    retry: {attempts: 0}\n")
    done = lookout("--once", "-c", str(broken))
    assert done.returncode == 3
    assert done.stderr.strip() == f"{broken}:5: services.a.retry.attempts: must be >= 1 (got 0)"
    assert "Traceback" not in done.stderr
    monitor = lookout("-c", str(broken))  # the monitor refuses the same way, before opening any screen
    assert monitor.returncode == 3 and monitor.stderr == done.stderr and monitor.stdout == ""


def test_json_and_nagios_reports(tmp_path, http_api, unique_key) -> None:
    path = write(
        tmp_path,
        {
            "gh": {"kind": "http", "url": f"{http_api.url}/github/{unique_key}/rate_limit?limit=50&window=60"},
            "down": {"kind": "http", "url": f"{http_api.url}/status/{unique_key}/503"},
        },
    )
    report = json.loads(lookout("--once", "--format", "json", "-c", str(path)).stdout)
    assert report["status"] == "down" and report["exit_code"] == 2
    gh = next(s for s in report["services"] if s["name"] == "gh")
    assert gh["status"] == "up" and gh["breaker"] == {
        "state": "closed",
        "failures": 0,
        "fail_max": 5,
        "retry_in_s": None,
    }
    core = next(limit for limit in gh["rate_limits"] if limit["resource"] == "core")
    assert (core["limit"], core["remaining"]) == (50, 49) and core["reset_at"].endswith("Z")
    nagios = lookout("--once", "--format", "nagios", "-c", str(path))
    first = nagios.stdout.splitlines()[0]
    assert nagios.returncode == 2 and first.startswith("LOOKOUT CRITICAL - 1 down, 1 up")
    assert "'gh latency'=" in first and "'gh core remaining'=48;;;0;50" in first  # the second run of the same quota


def test_wall_time_is_the_slowest_not_the_sum_and_timeout_bounds_it(tmp_path, http_api, unique_key) -> None:
    slow = {f"s{i}": {"kind": "http", "url": f"{http_api.url}/slow/{unique_key}?ms=1000"} for i in range(8)}
    path = write(tmp_path, slow, timeout="5s")
    started = time.monotonic()
    assert lookout("--once", "-c", str(path)).returncode == 0
    assert time.monotonic() - started < 7  # 8 x 1s in sequence would be 8s+; concurrently about 1s plus start-up
    hung = write(tmp_path, {"h": {"kind": "http", "url": f"{http_api.url}/hang/{unique_key}"}}, timeout="60s")
    started = time.monotonic()
    done = lookout("--once", "--timeout", "1s", "-c", str(hung))
    assert time.monotonic() - started < 20
    assert done.returncode == 2 and "no answer within the overall time limit (1s)" in done.stdout


def test_check_and_schema() -> None:
    done = lookout("--check", "-c", "services.yaml")
    assert done.returncode == 0 and "config is valid" in done.stdout
    schema = json.loads(lookout("schema").stdout)
    assert schema == json.loads((ROOT / "core" / "services.schema.json").read_text())


def test_a_token_never_appears_in_any_output(tmp_path, http_api, unique_key) -> None:
    token = "ghp_TESTtoken0123456789abcdef"
    services = {
        "echo": {
            "kind": "http",
            "url": f"{http_api.url}/echo/{unique_key}",
            "headers": {"Authorization": "Bearer ${T}"},
        },
        "denied": {
            "kind": "http",
            "url": f"{http_api.url}/status/{unique_key}/401?token=${{T}}",
            "headers": {"Authorization": "token ${T}", "X-Api-Key": "${T}"},
        },
        "mcp": {
            "kind": "mcp",
            "command": "sh",
            "args": ["-c", 'echo "bad token $TOK" >&2; exit 1'],
            "env": {"TOK": "${T}"},
        },
    }
    path = write(tmp_path, services)
    env = {"T": token}
    outputs = []
    for fmt in ("table", "json", "nagios"):
        done = lookout("--once", "-v", "--format", fmt, "-c", str(path), env=env)
        outputs += [done.stdout, done.stderr]
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  x: {kind: http, url: 'http://127.0.0.1:9', headers: {A: '${T}'}, retyr: 1}\n")
    done = lookout("--once", "-c", str(bad), env=env)
    outputs += [done.stdout, done.stderr]
    assert done.returncode == 3
    assert http_api.count("echo", unique_key) == 3  # the token was really sent...
    joined = "\n".join(outputs)
    assert token not in joined  # ...and never shown
    assert "***" in joined
