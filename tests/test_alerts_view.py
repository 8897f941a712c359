"""The view of alerting: the monitor's `N` screen, `GET /api/v1/alerts`, and an attached monitor reading it.

Real parts: a real engine probing a loopback service that is down, the real dispatcher delivering to a
uvicorn webhook receiver on loopback (and to a port that refuses, for a failing channel), a real daemon.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from fixtures_alert_rules import FAST, Upstream
from fixtures_alerts import Receiver
from rich.console import Console, Group
from test_alerts_rules import serving

from core.alerts.evaluator import AlertView
from core.alerts.health import ChannelHealth, DeliveryView, NotificationRecord
from core.alerts.notification import Notification, Transition
from core.alerts.overview import AlertsOverview, outcome
from core.config import parse_config
from core.history import open_history
from core.serve.api import alerts_document
from core.serve.client import parse_alerts
from core.snapshot import BreakerSnapshot
from tui.app import LookoutApp
from tui.attached import AttachedSource
from tui.notifications import NotificationsScreen, overview_sections
from tui.source import EngineSource

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WAIT = 60.0
"""Generous: the suite also runs beside CPU burners on two cores. Never a timing assertion."""


def render(renderables: list[Any], width: int = 120) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(Group(*renderables))
    return out.getvalue()


def text_of(app: LookoutApp) -> str:
    screen = app.screen
    return render(screen.sections) if isinstance(screen, NotificationsScreen) else ""


def summary_of(app: LookoutApp) -> str:
    return str(app.query_one("#summary").render())


async def wait_for(condition: Any, pilot: Any = None, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        if pilot is not None:
            await pilot.pause(0.05)
        else:
            await asyncio.sleep(0.05)


def config_text(upstream: Upstream, key: str, channels: dict[str, str]) -> str:
    """`api` down on `upstream` (as the test sets it), one rule sending to every channel (name -> URL)."""
    return yaml.safe_dump(
        {
            "defaults": {**FAST, "interval": "200ms"},
            "services": {"api": {"kind": "http", "url": upstream.at(key)}},
            "alerts": {
                "channels": {name: {"type": "webhook", "url": url, "attempts": 1} for name, url in channels.items()},
                "rules": [{"name": "api-down", "when": "down", "channels": list(channels)}],
            },
        }
    )


# -- the parts ---------------------------------------------------------------------------------


def test_each_delivery_reads_as_one_outcome() -> None:
    def view(state: str, *, late: bool = False, error: str = "") -> DeliveryView:
        return DeliveryView("hook", state, 1, None, late, error)

    assert outcome(view("delivered")) == "delivered"
    assert outcome(view("delivered", late=True)) == "late"
    assert outcome(view("pending")) == "pending"
    assert outcome(view("pending", error="connection refused")) == "failed"
    assert outcome(view("abandoned", error="connection refused")) == "abandoned"


def sample_overview(error: str = "HTTP 500") -> AlertsOverview:
    opened = (NOW - timedelta(minutes=5)).timestamp()
    notification = Notification(
        incident_id="api-down:api:1",
        transition=Transition.FIRING,
        rule="api-down",
        service="api",
        kind="http",
        severity="critical",
        status="down",
        previous_status="up",
        reason="HTTP 503",
        since=opened,
        at=opened + 1,
        channels=("hook", "pager"),
    )
    deliveries = (
        DeliveryView("hook", "delivered", 1, opened + 2, False, ""),
        DeliveryView("pager", "pending", 3, None, True, error),
    )
    channels = (
        ChannelHealth("hook", "webhook", "ok", "", opened + 2, None, 0, 0, BreakerSnapshot()),
        ChannelHealth("pager", "webhook", "open", error, None, opened + 3, 1, 0, BreakerSnapshot(state="open")),
    )
    states = {"api": (AlertView("api-down", "firing", opened),)}
    return AlertsOverview(channels, (NotificationRecord(notification, deliveries),), states)


def test_the_alerts_document_reads_back_as_the_overview_it_came_from() -> None:
    overview = sample_overview()
    document = alerts_document(overview, NOW)
    assert document["schema_version"] == 1 and document["enabled"] is True
    assert [d["outcome"] for d in document["notifications"][0]["deliveries"]] == ["delivered", "failed"]
    back = parse_alerts(document)
    assert back.off is None
    assert [(c.name, c.type, c.state, c.pending, c.last_error) for c in back.channels] == [
        ("hook", "webhook", "ok", 0, ""),
        ("pager", "webhook", "open", 1, "HTTP 500"),
    ]
    assert back.channels[0].last_success == overview.channels[0].last_success
    assert back.channels[1].breaker.state == "open"
    assert back.recent == overview.recent
    assert back.states == overview.states


def test_the_document_says_why_alerts_are_off() -> None:
    document = alerts_document(AlertsOverview(off="alerts are off: --no-history"), NOW)
    assert (document["enabled"], document["off"], document["channels"]) == (False, "alerts are off: --no-history", [])
    assert parse_alerts(document).off == "alerts are off: --no-history"


def test_hostile_errors_reach_the_screen_as_plain_text_on_one_line() -> None:
    """A receiver's answer may be quoted in an error: through the API and the client it stays one safe line."""
    hostile = "refused \x1b[2J\x1b]8;;http://evil\x07click\x1b]8;;\x07 [bold]not markup[/bold]\nsecond line"
    text = render(overview_sections(parse_alerts(alerts_document(sample_overview(hostile), NOW)), NOW), width=300)
    assert "\x1b" not in text and "\x07" not in text
    assert "[bold]not markup[/bold]" in text, "a server's brackets are text, never markup"
    assert not any(line.strip().startswith("second line") for line in text.splitlines()), "one line per channel"
    pager = next(line for line in text.splitlines() if line.split()[:1] == ["pager"])
    assert "breaker open" in pager


def test_the_screen_lists_channels_then_notifications_and_says_when_there_is_nothing() -> None:
    text = render(overview_sections(sample_overview(), NOW))
    lines = text.splitlines()
    assert lines[0].strip() == "Channels"
    hook = next(line for line in lines if line.split()[:1] == ["hook"])
    assert hook.split()[:5] == ["hook", "webhook", "●", "ok", "0"]
    row = next(line for line in lines if "api" in line.split())
    assert row.split() == ["4m50s", "ago", "api", "firing", "hook", "delivered", "pager", "failed"]
    assert render(overview_sections(AlertsOverview(), NOW)).split() == [
        *["Channels", "no", "channels", "configured", "(alerts.channels", "in", "the", "config)"],
        *["Recent", "notifications", "none", "sent", "since", "start"],
    ]
    assert render(overview_sections(AlertsOverview(off="alerts are off: x"), NOW)).strip() == "alerts are off: x"


# -- the monitor, with a real engine and real receivers ------------------------------------------


@pytest.mark.slow
async def test_n_shows_a_delivered_and_a_failing_channel_and_the_summary_names_the_failing_one(
    upstream: Upstream, receiver: Receiver, down_receiver: Receiver, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key = request.node.name
    upstream.set(503, key)
    text = config_text(upstream, key, {"hook": f"{receiver.url}/hook", "dead": f"{down_receiver.url}/hook"})
    store = open_history(tmp_path / "history.db")
    source = EngineSource(parse_config(text, env={}), history=store)
    app = LookoutApp(source, config_path="test.yaml")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: [b["transition"] for b in receiver.bodies("/hook")] == ["firing"], pilot)
            await wait_for(lambda: "dead failing (N)" in summary_of(app), pilot)
            await pilot.press("N")
            assert isinstance(app.screen, NotificationsScreen)

            def shown() -> bool:
                lines = text_of(app).splitlines()
                row = next((line for line in lines if "firing" in line.split()), "")
                dead = next((line for line in lines if line.split()[:1] == ["dead"]), "")
                return "hook delivered" in row and "dead failed" in row and "failing" in dead

            await wait_for(shown, pilot)
            dead = next(line for line in text_of(app).splitlines() if line.split()[:1] == ["dead"])
            assert "webhook" in dead and "never" in dead, "it never delivered; its error is shown"
            assert any(line.startswith(" dead: ") for line in text_of(app).splitlines()), "its last error"

            down_receiver.start()  # the channel comes back: its next round delivers, late; the hint goes
            await wait_for(lambda: "dead late" in text_of(app), pilot)
            await wait_for(lambda: "failing" not in summary_of(app), pilot)
            assert [b["transition"] for b in down_receiver.bodies("/hook")] == ["firing"]
            assert down_receiver.bodies("/hook")[0]["late"] is True
            await pilot.press("escape")
            assert not isinstance(app.screen, NotificationsScreen)
    finally:
        store.close()


async def test_without_a_history_the_screen_says_why_alerts_are_off(upstream: Upstream) -> None:
    text = config_text(upstream, "view-off", {"hook": "http://127.0.0.1:9/hook"})
    source = EngineSource(parse_config(text, env={}), alerts_off="--no-history")
    app = LookoutApp(source, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("N")
        await wait_for(lambda: "alerts are off" in text_of(app), pilot)
        assert "--no-history" in text_of(app)


# -- serve and an attached monitor -----------------------------------------------------------------


@pytest.mark.slow
async def test_serve_documents_its_alerts_and_an_attached_monitor_shows_the_same(
    upstream: Upstream, receiver: Receiver, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key = request.node.name
    upstream.set(503, key)
    config = parse_config(config_text(upstream, key, {"hook": f"{receiver.url}/hook"}), env={})
    history = open_history(tmp_path / "history.db")
    try:
        async with serving(config, record_into=history, token="s3cret") as (daemon, _log):
            url = f"http://127.0.0.1:{daemon.port}"
            await wait_for(lambda: [b["transition"] for b in receiver.bodies("/hook")] == ["firing"])
            async with httpx2.AsyncClient(base_url=url, trust_env=False) as http:
                assert (await http.get("/api/v1/alerts")).status_code == 401

                async def document() -> dict[str, Any]:
                    answer = await http.get("/api/v1/alerts", headers={"Authorization": "Bearer s3cret"})
                    assert answer.status_code == 200
                    return dict(answer.json())

                got = await document()
                while not (got["notifications"] and got["notifications"][0]["deliveries"][0]["outcome"] == "delivered"):
                    await asyncio.sleep(0.1)
                    got = await document()
            assert got["schema_version"] == 1 and got["enabled"] is True
            assert [(c["name"], c["type"], c["state"], c["pending"]) for c in got["channels"]] == [
                ("hook", "webhook", "ok", 0)
            ]
            assert got["notifications"][0]["notification"]["transition"] == "firing"
            assert got["notifications"][0]["notification"]["service"] == "api"
            assert [view["state"] for view in got["services"]["api"]] == ["firing"]

            app = LookoutApp(AttachedSource(url, token="s3cret"), config_path="test.yaml")
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(lambda: [v.state for v in app.source.alert_state("api")] == ["firing"], pilot)
                await pilot.press("N")
                await wait_for(lambda: "hook delivered" in text_of(app), pilot)
                hook = next(line for line in text_of(app).splitlines() if line.split()[:1] == ["hook"])
                assert hook.split()[:4] == ["hook", "webhook", "●", "ok"]
    finally:
        history.close()
