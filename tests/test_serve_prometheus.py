"""`lookout serve` as it runs in production: a subprocess over a loopback fleet, scraped by a real Prometheus.

The fleet: an up HTTP API, a 503 one, a GitHub-quota one (tests/fixtures_http.py) and an
SDK MCP server over stdio (core/demo/mcp_servers.py "docs"). The exposition is parsed with
prometheus_client's parser, linted with `promtool check metrics`, scraped by Debian's
`prometheus` and queried with PromQL through its HTTP API. The binaries come from the
`prometheus` package (.ci/run installs it); without them those tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from fixtures_mcp import stdio_service, tagged_processes
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
CONDITION_LIMIT = 60.0
"""How long to wait for a condition before failing: a bound on a failure, never a measured figure."""
SERVE_OPTIONS = ("--listen", "127.0.0.1:0", "--log-format", "json")
STOP_LIMIT = 15.0
"""A SIGTERM'd daemon must be gone by then (it is designed to take a few seconds at most)."""

pytestmark = pytest.mark.slow

WRAPPER = """
import atexit, json, sys
from pathlib import Path
report = Path(sys.argv.pop(1))
atexit.register(lambda: report.write_text(json.dumps(
    sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m == 'tui.app'))))
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Serve:
    process: subprocess.Popen[str]
    url: str
    modules_report: Path
    tag: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        return httpx2.get(self.url + path, trust_env=False, timeout=10, **kwargs)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_LIMIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def write_fleet(directory: Path, api_url: str, tag: str) -> Path:
    key = uuid.uuid4().hex[:12]
    fast = {"interval": "1s", "retry": {"attempts": 1}}
    services = {
        "up": {"kind": "http", "url": f"{api_url}/ok/{key}", "tags": ["core"], **fast},
        "broken": {"kind": "http", "url": f"{api_url}/status/{key}/503", **fast},
        "github": {"kind": "http", "url": f"{api_url}/github/{key}/rate_limit?limit=60", **fast},
        "docs": stdio_service("docs", tag=tag, interval="2s"),
    }
    path = directory / "services.yaml"
    path.write_text(yaml.safe_dump({"services": services}, sort_keys=False))
    return path


def start_serve(directory: Path, api_url: str, *options: str) -> Serve:
    tag = uuid.uuid4().hex
    config = write_fleet(directory, api_url, tag)
    report = directory / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(report), *("serve", "-c", str(config)), *SERVE_OPTIONS, *options],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=directory,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    parsed: list[dict[str, Any]] = []
    deadline = time.monotonic() + CONDITION_LIMIT
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, f"serve exited early ({process.wait()}): {parsed}"
        parsed.append(json.loads(line))
        message = parsed[-1]["message"]
        if message.startswith("listening on "):
            url = message.removeprefix("listening on ")
            break
    serve = Serve(process, url, report, tag, parsed)

    def keep_reading() -> None:
        while (line := lines.get()) is not None:
            serve.lines.append(json.loads(line))

    threading.Thread(target=keep_reading, daemon=True).start()
    return serve


def wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + CONDITION_LIMIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {CONDITION_LIMIT:.0f}s: {what}")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def settled(serve: Serve) -> str | None:
    """The exposition once every service has been probed twice (so counters have moved), else None."""
    if serve.get("/readyz").status_code != 200:
        return None
    text = serve.get("/metrics").text
    found = samples(text)
    counts = {
        name: sum(
            v
            for (metric, labels), v in found.items()
            if metric == "lookout_probes_total" and labels >= {("service", name)}
        )
        for name in ("up", "broken", "github", "docs")
    }
    return text if min(counts.values()) >= 2 else None


@pytest.fixture(scope="module")
def serve(http_api, tmp_path_factory) -> Iterator[Serve]:
    running = start_serve(tmp_path_factory.mktemp("serve"), http_api.url)
    try:
        yield running
    finally:
        running.stop()


def test_metrics_have_the_fleets_values(serve: Serve) -> None:
    text = wait_for(lambda: settled(serve), "every service probed twice")
    found = samples(text)
    status = serve.get("/api/v1/status").json()
    docs = next(s for s in status["services"] if s["name"] == "docs")
    assert value(found, "lookout_service_status", service="up", lookout_service_status="up") == 1
    assert value(found, "lookout_service_status", service="broken", lookout_service_status="down") == 1
    assert value(found, "lookout_service_status", service="broken", lookout_service_status="up") == 0
    assert value(found, "lookout_service_status", service="github", lookout_service_status="up") == 1
    assert value(found, "lookout_service_status", service="docs", lookout_service_status="up") == 1
    assert value(found, "lookout_probe_success", service="up") == 1
    assert value(found, "lookout_probe_success", service="broken") == 0
    assert value(found, "lookout_probes_total", service="broken", result="down") >= 2
    assert value(found, "lookout_probes_total", service="broken", result="up") == 0
    assert value(found, "lookout_probes_total", service="up", result="up") >= 2
    assert value(found, "lookout_probe_duration_seconds_count", service="up") >= 2
    assert value(found, "lookout_rate_limit_limit", service="github", resource="core") == 60
    assert 0 <= value(found, "lookout_rate_limit_remaining", service="github", resource="core") <= 58
    assert value(found, "lookout_rate_limit_reset_timestamp_seconds", service="github", resource="core") > time.time()
    assert value(found, "lookout_mcp_tools", service="docs") == docs["mcp"]["tool_count"] == 3
    assert value(found, "lookout_mcp_resources", service="docs") == docs["mcp"]["resource_count"]
    assert value(found, "lookout_mcp_prompts", service="docs") == docs["mcp"]["prompt_count"]
    assert value(found, "lookout_mcp_context_tokens", service="docs") == docs["mcp"]["context_tokens"] > 0
    assert value(found, "lookout_mcp_cold_start_seconds", service="docs") > 0
    assert value(found, "lookout_mcp_inventory_changes_total", service="docs", kind="tools") == 0
    assert value(found, "lookout_breaker_state", service="up", lookout_breaker_state="closed") == 1
    assert value(found, "lookout_service_info", service="docs", kind="mcp", transport="stdio", tags="") == 1
    assert value(found, "lookout_service_info", service="up", kind="http", transport="", tags="core") == 1
    assert any(name == "lookout_build_info" for name, _ in found)
    transitions = [line for line in serve.lines if line["service"] == "broken" and "-> down" in line["message"]]
    assert transitions and transitions[0]["level"] == "error", "the log has one JSON line per transition"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_accepts_the_exposition(serve: Serve) -> None:
    text = wait_for(lambda: settled(serve), "every service probed twice")
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == "", "no lint findings"


def promql(base: str, query: str) -> list[dict[str, Any]]:
    answer = httpx2.get(f"{base}/api/v1/query", params={"query": query}, trust_env=False, timeout=10).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed (Debian package prometheus)")
def test_a_real_prometheus_scrapes_serve_and_answers_promql(serve: Serve, tmp_path, free_port) -> None:
    target = serve.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "lookout", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    base = f"http://127.0.0.1:{free_port}"
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{free_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        wait_for(lambda: settled(serve), "every service probed twice")
        down = 'lookout_service_status{job="lookout",service="broken",lookout_service_status="down"}'
        result = wait_for(lambda: _scraped(base, down), "Prometheus has scraped lookout")
        assert result[0]["value"][1] == "1"
        assert promql(base, 'up{job="lookout"}')[0]["value"][1] == "1"
        core = promql(base, 'lookout_rate_limit_limit{service="github",resource="core"}')
        assert core[0]["value"][1] == "60"
        assert promql(base, 'lookout_mcp_tools{service="docs"}')[0]["value"][1] == "3"
        ups = promql(base, 'sum by (service) (lookout_service_status{lookout_service_status="up"})')
        assert {r["metric"]["service"]: r["value"][1] for r in ups} == {
            "up": "1",
            "broken": "0",
            "github": "1",
            "docs": "1",
        }
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(STOP_LIMIT)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait()


def _scraped(base: str, query: str) -> list[dict[str, Any]] | None:
    try:
        return promql(base, query) or None
    except (httpx2.HTTPError, ValueError):
        return None  # Prometheus still starting


def test_sigterm_stops_serve_with_no_child_left_and_textual_never_loaded(http_api, tmp_path) -> None:
    serve = start_serve(tmp_path, http_api.url)
    try:
        wait_for(lambda: tagged_processes(serve.tag), "the MCP server is running")
        wait_for(lambda: serve.get("/readyz").status_code == 200, "ready")
    finally:
        code = serve.stop()
    assert code == 0
    assert tagged_processes(serve.tag) == []
    assert json.loads(serve.modules_report.read_text()) == []
    messages = [line["message"] for line in serve.lines]
    assert "SIGTERM: stopping" in messages
    assert messages[-1] == "stopped"
