"""`--once --only NAME...`: a check of the named services, usable as a Nagios check.

Services left out are not part of the result (summary, exit code, JSON, nagios
line); what a named service depends on is still probed, so "depends on X,
which is down" stays true.
"""

from __future__ import annotations

import json

import pytest
from test_cli import lookout, write

pytestmark = pytest.mark.slow  # `lookout --once --only` as a subprocess, one per test


def test_only_reports_just_the_named_services(tmp_path, http_api, unique_key, free_port) -> None:
    path = write(
        tmp_path,
        {
            "api": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"},
            "other": {"kind": "http", "url": f"http://127.0.0.1:{free_port}/"},
            "elsewhere": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}-b"},
        },
    )
    done = lookout("--once", "--only", "api", "-c", str(path), "--format", "nagios")
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("LOOKOUT OK - ") and "unknown" not in first and "other" not in done.stdout
    report = json.loads(lookout("--once", "--only", "api", "-c", str(path), "--format", "json").stdout)
    assert [service["name"] for service in report["services"]] == ["api"]
    assert report["status"] == "up" and report["exit_code"] == 0
    assert report["counts"] == {"up": 1, "degraded": 0, "down": 0, "unknown": 0}


def test_only_keeps_the_exit_code_of_a_named_down_service(tmp_path, http_api, unique_key, free_port) -> None:
    path = write(
        tmp_path,
        {
            "api": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}"},
            "dead": {"kind": "http", "url": f"http://127.0.0.1:{free_port}/"},
        },
    )
    done = lookout("--once", "--only", "dead", "-c", str(path), "--format", "nagios")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith("LOOKOUT CRITICAL - ") and "connection refused" in done.stdout
    assert "api" not in done.stdout.splitlines()[0]


def test_only_probes_dependencies_without_reporting_them(tmp_path, http_api, unique_key, free_port) -> None:
    path = write(
        tmp_path,
        {
            "gateway": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}", "depends_on": ["backend"]},
            "backend": {"kind": "http", "url": f"http://127.0.0.1:{free_port}/", "depends_on": ["db"]},
            "db": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}-db"},
            "unrelated": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}-x"},
        },
    )
    report = json.loads(lookout("--once", "--only", "gateway", "-c", str(path), "--format", "json").stdout)
    assert [service["name"] for service in report["services"]] == ["gateway"]
    assert report["services"][0]["reason"] == "depends on backend, which is down"
    assert http_api.count("ok", f"{unique_key}-db") == 1  # the dependency's dependency was probed too
    assert http_api.count("ok", f"{unique_key}-x") == 0  # what nothing named needs was not
