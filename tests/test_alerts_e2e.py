"""Alerts end to end, as users run them: a real `lookout serve` process records the history and
evaluates the rules, a loopback service goes down and comes back, a real webhook receiver counts what
arrives by idempotency key; then the same outage across a restart of the daemon.

The other alert tests take the parts one at a time (the evaluator into a list, the dispatcher into
receivers); this one checks that the daemon joins them: one FIRING and one RESOLVED per incident,
and a restart neither re-fires nor leaves the incident open.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_alert_rules import Upstream
from fixtures_alerts import Receiver
from fixtures_procs import ROOT, wait_for

pytestmark = pytest.mark.slow

WAIT = 60.0
"""Generous: the suite also runs beside CPU burners on two cores. Never a timing assertion."""

CONFIG = """\
defaults:
  interval: 200ms
  timeout: 2s
  retry: {{attempts: 1}}
  breaker: {{fail_max: 1000, reset_timeout: 30s}}
services:
  api: {{kind: http, url: "{upstream}"}}
alerts:
  channels:
    hook: {{type: webhook, url: "{hook}/hook", attempts: 1}}
  rules:
    - {{name: api-down, when: down, failures: 2, successes: 2, channels: [hook]}}
"""


def start(config: Path, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "-c", str(config), "--listen", "127.0.0.1:0", "--history", str(db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=WAIT)


def transitions(receiver: Receiver) -> list[str]:
    return [body["transition"] for body in receiver.bodies("/hook")]


@pytest.fixture
def config(tmp_path: Path, upstream: Upstream, receiver: Receiver, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(CONFIG.format(upstream=upstream.at(request.node.name), hook=receiver.url))
    return path


def test_an_outage_sends_one_firing_and_one_resolved(
    config: Path, tmp_path: Path, upstream: Upstream, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    key = request.node.name
    upstream.set(503, key)
    process = start(config, tmp_path / "history.db")
    try:
        assert wait_for(lambda: transitions(receiver) == ["firing"], WAIT), transitions(receiver)
        hits = upstream.hits.get(key, 0)
        upstream.set(200, key)
        assert wait_for(lambda: "resolved" in transitions(receiver), WAIT), transitions(receiver)
        # Probing went on and nothing more was said about the same incident.
        assert wait_for(lambda: upstream.hits.get(key, 0) > hits + 4, WAIT)
    finally:
        assert stop(process) == 0
    assert transitions(receiver) == ["firing", "resolved"]
    firing, resolved = receiver.bodies("/hook")
    assert firing["service"] == "api" and firing["status"] == "down" and firing["rule"] == "api-down"
    assert resolved["incident_id"] == firing["incident_id"] and resolved["status"] == "up"
    assert set(receiver.keys().values()) == {1}


def test_an_incident_spanning_a_restart_is_neither_fired_again_nor_left_open(
    config: Path, tmp_path: Path, upstream: Upstream, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    key = request.node.name
    db = tmp_path / "history.db"
    upstream.set(503, key)
    first = start(config, db)
    try:
        assert wait_for(lambda: transitions(receiver) == ["firing"], WAIT), transitions(receiver)
    finally:
        assert stop(first) == 0

    second = start(config, db)
    try:
        hits = upstream.hits.get(key, 0)
        # Still down after the restart: probed again, and no second FIRING for the open incident.
        assert wait_for(lambda: upstream.hits.get(key, 0) > hits + 4, WAIT)
        assert transitions(receiver) == ["firing"]
        upstream.set(200, key)
        assert wait_for(lambda: transitions(receiver) == ["firing", "resolved"], WAIT), transitions(receiver)
    finally:
        assert stop(second) == 0
    firing, resolved = receiver.bodies("/hook")
    assert resolved["incident_id"] == firing["incident_id"]
    assert set(receiver.keys().values()) == {1}
