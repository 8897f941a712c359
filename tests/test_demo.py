"""`lookout demo`: the offline fleet shows every state, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest
from fixtures_mcp import tagged_processes
from helpers import make_config

from core.config import load_config
from core.demo.fleet import start_demo_fleet
from core.engine import Engine
from core.events import BreakerChanged

pytestmark = pytest.mark.slow  # `lookout demo` runs its whole fleet of processes


def test_demo_once_json_shows_every_state_and_leaves_nothing_behind(tag) -> None:
    env = {**os.environ, "LOOKOUT_TEST_TAG": tag}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "demo", "--once", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done.stderr  # something is down (the offline API, by design)
    report = json.loads(done.stdout)
    statuses = {service["status"] for service in report["services"]}
    assert {"up", "degraded", "down"} <= statuses
    assert report["status"] == "down"
    by_name = {service["name"]: service for service in report["services"]}
    assert by_name["offline-api"]["reason"] == "connection refused"
    assert by_name["agent-gateway"]["reason"] == "depends on offline-api, which is down"
    github = by_name["github-like-api"]
    core = next(limit for limit in github["rate_limits"] if limit["resource"] == "core")
    assert core["remaining"] / core["limit"] < 0.30 and github["status"] == "degraded"
    assert "core quota low" in github["reason"]
    assert by_name["docs-mcp"]["mcp"]["tool_count"] == 3
    assert tagged_processes(tag) == []


def test_demo_config_is_a_valid_example() -> None:
    with start_demo_fleet() as fleet:
        config = load_config(fleet.config_path)
        written = fleet.config_path
        assert {"flaky-api", "docs-mcp", "remote-mcp", "legacy-sse-mcp", "offline-api"} <= set(config.services)
    assert not written.exists()  # stop() removes what the demo wrote


async def test_flapping_api_breaker_opens_half_opens_and_closes() -> None:
    with start_demo_fleet() as fleet:
        api = fleet.api_url
        config = make_config(
            {
                "flaky-api": {
                    "kind": "http",
                    "url": f"{api}/flap/breaker-test?up=1.5&down=1.5",
                    "interval": "150ms",
                    "breaker": {"fail_max": 2, "reset_timeout": "1s"},
                }
            },
            retry={"attempts": 1},
        )
        transitions: list[tuple[str, str]] = []
        async with Engine(config) as engine:
            events = engine.subscribe()

            async def watch() -> None:
                async for event in events:
                    if isinstance(event, BreakerChanged):
                        transitions.append((event.old, event.new))
                        if ("closed", "open") in transitions and transitions[-1] == ("half-open", "closed"):
                            return

            try:
                await asyncio.wait_for(watch(), timeout=30)
            except TimeoutError:
                raise AssertionError(f"breaker went {transitions}") from None
    assert ("closed", "open") in transitions
    assert ("open", "half-open") in transitions
    assert transitions[-1] == ("half-open", "closed")


async def test_the_demo_records_its_own_history_and_alerts_into_its_own_webhook(tmp_path) -> None:
    """The monitor in `lookout demo` records a history file beside the demo's config (never the user's),
    so it evaluates the demo's rules: the offline service fires, delivered to the demo's webhook route."""
    import httpx2

    from core.history.recording import open_recording
    from tui.source import EngineSource

    with start_demo_fleet(tmp_path) as fleet:
        config = load_config(fleet.config_path)
        history = open_recording(fleet.config_path.with_name("history.db"), config, warn=print)
        assert history is not None
        source = EngineSource(config, history=history)
        await source.start()
        try:

            def delivered() -> list[str]:
                recent = source.alerts_overview().recent
                return [
                    record.notification.service
                    for record in recent
                    if any(view.state == "delivered" for view in record.deliveries)
                ]

            for _ in range(600):
                if "offline-api" in delivered():
                    break
                await asyncio.sleep(0.1)
            assert "offline-api" in delivered(), source.alerts_overview()
            async with httpx2.AsyncClient() as client:
                counts = (await client.get(f"{fleet.api_url}/_control/counts")).json()
            assert counts.get("hooks/demo", 0) >= 1
        finally:
            await source.stop()
            history.close()


KILLED_DEMO = """
import sys, time
from core.demo.fleet import start_demo_fleet
fleet = start_demo_fleet()
print(fleet.upstreams.pid, fleet.api_url, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_the_demo_servers_process_never_outlives_the_demo(tag, signum) -> None:
    """The demo's servers run in a process of their own; however the demo ends (even SIGKILL, where nothing
    of ours runs), they end with it: their stdin closes and, on Linux, the kernel kills them."""
    env = {**os.environ, "LOOKOUT_TEST_TAG": tag}
    demo = subprocess.Popen([sys.executable, "-c", KILLED_DEMO], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert demo.stdout is not None
        servers_pid, api_url = demo.stdout.readline().split()
        assert int(servers_pid) in tagged_processes(tag)
        assert httpx2.get(f"{api_url}/ok/alive", trust_env=False, timeout=10).status_code == 200
    finally:
        demo.send_signal(signum)
        demo.wait(30)
    for _ in range(200):
        if not tagged_processes(tag):
            break
        time.sleep(0.05)
    assert tagged_processes(tag) == []


def test_stopping_the_fleet_stops_its_servers_process() -> None:
    with start_demo_fleet() as fleet:
        servers = fleet.upstreams
        assert servers is not None and servers.poll() is None
        url = fleet.api_url
    assert servers.returncode == 0  # stopped when asked (its stdin closed), not killed
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{url}/ok/gone", trust_env=False, timeout=5)


def test_the_servers_process_runs_this_core_whatever_the_current_directory_holds(tmp_path, monkeypatch) -> None:
    """A user's project may well have a `core` package of its own: the demo's servers never import it."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("raise ImportError('the wrong core')\n")
    monkeypatch.chdir(tmp_path)
    with start_demo_fleet() as fleet:
        assert httpx2.get(f"{fleet.api_url}/ok/here", trust_env=False, timeout=10).status_code == 200
