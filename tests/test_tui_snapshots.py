"""How the monitor looks: a fixed fleet at a fixed time, at 80x24 and 120x40 (sync tests: snap_compare)."""

from __future__ import annotations

import fleet_samples
import pytest

from tui.app import LookoutApp
from tui.source import StaticSource


def make_app(*, ansi: bool = False) -> LookoutApp:
    source = StaticSource(fleet_samples.fleet(), fleet_samples.events(), clock=fleet_samples.clock())
    return LookoutApp(source, config_path="/etc/lookout/services.yaml", ansi=ansi, live=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, size) -> None:
    assert snap_compare(make_app(), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_detail_screen(snap_compare, size) -> None:
    assert snap_compare(make_app(), press=["enter"], terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_help_screen(snap_compare, size) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=size)


def test_main_screen_ansi_palette(snap_compare) -> None:
    assert snap_compare(make_app(ansi=True), terminal_size=(80, 24))


def notifications_app() -> LookoutApp:
    """The fixed fleet with alerting to show: one channel delivering, one whose breaker is open."""
    from core.alerts.evaluator import AlertView
    from core.alerts.health import ChannelHealth, DeliveryView, NotificationRecord
    from core.alerts.notification import Notification, Transition
    from core.alerts.overview import AlertsOverview
    from core.snapshot import BreakerSnapshot

    clock = fleet_samples.clock()
    now = clock.now().timestamp()

    def sent(service: str, transition: Transition, at: float, pager: DeliveryView) -> NotificationRecord:
        notification = Notification(
            f"down:{service}:1", transition, "down", service, "http", "critical", "down", "up", "refused", at, at,
            ("hook", "pager"),
        )  # fmt: skip
        return NotificationRecord(notification, (DeliveryView("hook", "delivered", 1, at + 1, False, ""), pager))

    error = "connection refused (127.0.0.1:9)"
    overview = AlertsOverview(
        channels=(
            ChannelHealth("hook", "webhook", "ok", "", now - 30, None, 0, 0, BreakerSnapshot()),
            ChannelHealth("pager", "alertmanager", "open", error, now - 3600, now - 20, 2, 1, BreakerSnapshot("open")),
        ),
        recent=(
            sent("billing-api", Transition.FIRING, now - 40, DeliveryView("pager", "pending", 3, None, True, error)),
            sent(
                "crashy-mcp", Transition.RESOLVED, now - 600, DeliveryView("pager", "delivered", 2, now - 500, True, "")
            ),
            sent(
                "crashy-mcp", Transition.FIRING, now - 900, DeliveryView("pager", "delivered", 1, now - 899, False, "")
            ),
        ),
        states={"billing-api": (AlertView("down", "firing", now - 40),)},
    )
    source = StaticSource(fleet_samples.fleet(), fleet_samples.events(), clock=clock, overview=overview)
    return LookoutApp(source, config_path="/etc/lookout/services.yaml", live=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_notifications_screen(snap_compare, size) -> None:
    assert snap_compare(notifications_app(), press=["N"], terminal_size=size)
