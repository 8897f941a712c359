"""The Alertmanager channel against a real Prometheus Alertmanager on loopback.

The alert must stay firing for the whole outage (longer than Alertmanager's
resolve_timeout and longer than one horizon, thanks to the resends), resolve at
once when the incident does, and expire by itself within the horizon when the
sender is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.alerts.channels.settings import AlertmanagerChannel
from core.alerts.dispatcher import Dispatcher
from core.alerts.notification import Transition
from core.history import open_history
from tests.fixtures_alerts import AlertmanagerServer
from tests.test_alerts_delivery import notification, wait_for

pytestmark = pytest.mark.slow
RESEND = 1.5


def ours(server: AlertmanagerServer) -> list[dict[str, Any]]:
    return [alert for alert in server.alerts() if alert["labels"].get("service") == "github"]


def ends_at(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00")).timestamp()


def channel(server: AlertmanagerServer) -> AlertmanagerChannel:
    return AlertmanagerChannel(url=server.url, resend=RESEND, timeout=5.0)


async def stays_firing(server: AlertmanagerServer, seconds: float) -> None:
    """Check, every half second for `seconds`, that the alert is still active (Alertmanager drops it otherwise)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        found = await asyncio.to_thread(ours, server)
        assert [alert["status"]["state"] for alert in found] == ["active"]
        await asyncio.sleep(0.5)


async def test_a_firing_alert_stays_firing_through_the_outage_and_resolves_after(
    alertmanager: AlertmanagerServer,
) -> None:
    dispatcher = Dispatcher({"am": channel(alertmanager)})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("am",)))
        await wait_for(lambda: len(ours(alertmanager)) == 1, "the alert in Alertmanager")
        [alert] = ours(alertmanager)
        assert alert["labels"] == {
            "alertname": "down",
            "service": "github",
            "kind": "http",
            "severity": "critical",
            "tags": "vendor,ci",
        }
        assert alert["annotations"] == {"summary": "github is down: connection refused", "reason": "connection refused"}
        assert alert["startsAt"].startswith("2026-01-01T00:00:00")  # the incident's since, not the first send
        # Longer than resolve_timeout (2s) and than one horizon (4 x 1.5s): only the resends keep it firing.
        await stays_firing(alertmanager, 4 * RESEND + 2)
        assert dispatcher.stats().counts.get(("am", "resent"), 0) >= 3
        dispatcher.enqueue(notification(Transition.RESOLVED, channels=("am",)))
        await wait_for(lambda: ours(alertmanager) == [], "the alert resolved")
        assert dispatcher.channel_health()["am"].firing == 0
    finally:
        await dispatcher.aclose()


async def test_flapping_and_reminders_are_not_separate_alertmanager_alerts(alertmanager: AlertmanagerServer) -> None:
    dispatcher = Dispatcher({"am": channel(alertmanager)})
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(Transition.REMINDER, channels=("am",), sequence=1))
        dispatcher.enqueue(notification(Transition.FLAPPING, channels=("am",)))
        assert dispatcher.recent(5) == []
        assert dispatcher.channel_health()["am"].pending == 0
    finally:
        await dispatcher.aclose()


async def test_resends_resume_after_a_restart(alertmanager: AlertmanagerServer, tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = open_history(db)
    first = Dispatcher({"am": channel(alertmanager)}, store=store)
    await first.start()
    first.enqueue(notification(channels=("am",)))
    await wait_for(lambda: first.channel_health()["am"].firing == 1, "the firing alert delivered")
    await first.aclose()
    store.close()
    store = open_history(db)
    second = Dispatcher({"am": channel(alertmanager)}, store=store)
    try:
        await second.start()
        assert second.channel_health()["am"].firing == 1
        await stays_firing(alertmanager, 4 * RESEND + 2)
        second.enqueue(notification(Transition.RESOLVED, channels=("am",)))
        await wait_for(lambda: ours(alertmanager) == [], "the alert resolved")
    finally:
        await second.aclose()
        store.close()
    store = open_history(db)
    third = Dispatcher({"am": channel(alertmanager)}, store=store)
    try:
        await third.start()
        assert third.channel_health()["am"].firing == 0  # a resolved incident is not resumed
    finally:
        await third.aclose()
        store.close()


SENDER = """
import asyncio, sys
from core.alerts.channels.settings import AlertmanagerChannel
from core.alerts.dispatcher import Dispatcher
from tests.test_alerts_delivery import notification

async def main():
    dispatcher = Dispatcher({{"am": AlertmanagerChannel(url={url!r}, resend={resend})}})
    await dispatcher.start()
    dispatcher.enqueue(notification(channels=("am",)))
    while dispatcher.stats().counts.get(("am", "resent"), 0) < 2:
        await asyncio.sleep(0.05)
    print("resending", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_kill_9_of_the_sender_leaves_the_alert_to_expire_within_the_horizon(
    alertmanager: AlertmanagerServer, tmp_path: Path
) -> None:
    script = tmp_path / "sender.py"
    script.write_text(textwrap.dedent(SENDER.format(url=alertmanager.url, resend=RESEND)))
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    sender = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=root, env=env)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(sender.stdout.readline), 60)  # type: ignore[union-attr]
        assert line.strip() == b"resending"
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
        killed = time.time()
        [alert] = ours(alertmanager)
        assert alert["status"]["state"] == "active"
        assert ends_at(alert) <= killed + 4 * RESEND + 0.5  # the horizon of the last resend before the kill
        await wait_for(lambda: ours(alertmanager) == [], "the alert expired", timeout=4 * RESEND + 20)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(10)
