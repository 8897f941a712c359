"""/metrics shows how alert deliveries go: counts per channel and result, and the pending backlog."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from datetime import UTC, datetime

import httpx2
import pytest
from helpers import make_config
from prometheus_client.parser import text_string_to_metric_families

from core.alerts.dispatcher import Dispatcher
from core.serve.daemon import Daemon, Listen
from core.serve.metrics import MetricsFrame, render
from core.snapshot import FleetSnapshot
from tests.fixtures_alerts import Receiver
from tests.test_alerts_delivery import notification, wait_for, webhook


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_deliveries_and_failures_are_counted_per_channel(receiver: Receiver, down_receiver: Receiver) -> None:
    channels = {"ok": webhook(receiver), "dead": webhook(down_receiver, attempts=2)}
    dispatcher = Dispatcher(channels, backoff_base=30, retry_initial=0.05)
    await dispatcher.start()
    try:
        dispatcher.enqueue(notification(channels=("ok", "dead")))
        await wait_for(lambda: dispatcher.stats().counts.get(("dead", "failed"), 0) == 1, "the dead channel failing")
        await wait_for(lambda: dispatcher.stats().pending["ok"] == 0, "the live channel delivered")
    finally:
        await dispatcher.aclose()
    frame = MetricsFrame(FleetSnapshot(taken_at=datetime.now(UTC), services=(), seq=1), {}, dispatcher.stats())
    text = render(frame)[0].decode()
    samples = _samples(text)
    assert samples[("lookout_notifications_total", (("channel", "ok"), ("result", "delivered")))] == 1
    assert samples[("lookout_notifications_total", (("channel", "ok"), ("result", "failed")))] == 0
    assert samples[("lookout_notifications_total", (("channel", "dead"), ("result", "failed")))] == 1
    assert samples[("lookout_notifications_total", (("channel", "dead"), ("result", "retried")))] == 1
    assert samples[("lookout_notifications_total", (("channel", "dead"), ("result", "delivered")))] == 0
    assert samples[("lookout_notifications_pending", (("channel", "dead"),))] == 1
    assert samples[("lookout_notifications_pending", (("channel", "ok"),))] == 0
    if shutil.which("promtool") is not None:
        checked = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stderr


def test_a_process_without_alerts_shows_no_notification_series() -> None:
    frame = MetricsFrame(FleetSnapshot(taken_at=datetime.now(UTC), services=(), seq=1), {})
    assert "lookout_notifications" not in render(frame)[0].decode()


@pytest.mark.slow
async def test_the_daemon_serves_the_dispatchers_counts(http_api, unique_key, receiver: Receiver) -> None:
    config = make_config({"up": {"kind": "http", "url": f"{http_api.url}/ok/{unique_key}", "interval": "1s"}})
    dispatcher = Dispatcher({"hook": webhook(receiver)})
    await dispatcher.start()
    daemon = Daemon(config, listen=Listen("127.0.0.1", 0), stream=io.StringIO())
    daemon.alert_stats = dispatcher.stats
    task = asyncio.create_task(daemon.run())
    try:
        dispatcher.enqueue(notification())
        await wait_for(lambda: dispatcher.stats().counts.get(("hook", "delivered")) == 1, "the delivery")
        await wait_for(lambda: daemon.port is not None, "the daemon listening")
        async with httpx2.AsyncClient(base_url=daemon.listen.url(daemon.port), trust_env=False) as client:
            text = (await client.get("/metrics")).text
    finally:
        daemon.stop()
        await task
        await dispatcher.aclose()
    samples = _samples(text)
    assert samples[("lookout_notifications_total", (("channel", "hook"), ("result", "delivered")))] == 1
    assert samples[("lookout_notifications_pending", (("channel", "hook"),))] == 0
