"""One read of the alerting side, for a person: channel health, recent notifications, each service's alert state.

The TUI's notifications screen, `/api/v1/alerts` and a monitor attached to a
daemon all show this one record, so a standalone monitor and an attached one
say the same thing. It is built from the running dispatcher and evaluator
(never from the history file: what is shown is what this process delivers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from core.alerts.health import ChannelHealth, DeliveryView, NotificationRecord
from core.alerts.outbox import ABANDONED, DELIVERED
from core.sanitize import REASON_LIMIT, clean_line

if TYPE_CHECKING:
    from core.alerts.evaluator import AlertView
    from core.alerts.runtime import AlertRuntime

RECENT = 50
"""Notifications one overview lists, newest first (the dispatcher remembers a few hundred)."""

OUTCOMES = ("delivered", "late", "pending", "failed", "abandoned")
"""One notification on one channel, as a person reads it: delivered on time, delivered late, not tried yet,
its last round failed (it is retried), given up after the outbox's retention."""


def outcome(view: DeliveryView) -> str:
    """The word for one delivery (see OUTCOMES)."""
    if view.state == DELIVERED:
        return "late" if view.late else "delivered"
    if view.state == ABANDONED:
        return "abandoned"
    return "failed" if view.last_error else "pending"


@dataclass(frozen=True, slots=True)
class AlertsOverview:
    channels: tuple[ChannelHealth, ...] = ()
    recent: tuple[NotificationRecord, ...] = ()
    states: Mapping[str, tuple[AlertView, ...]] = field(default_factory=dict)
    """Services a rule has something to say about now (firing, pending, silenced...): the evaluator's view."""
    off: str | None = None
    """Why alerts are not evaluated here (None: they are)."""

    def failing(self) -> tuple[ChannelHealth, ...]:
        """Channels whose last round failed or whose breaker is open: what the header warns about."""
        return tuple(channel for channel in self.channels if channel.state != "ok")


def build_overview(
    runtime: AlertRuntime | None, names: Iterable[str], *, off: str, recent: int = RECENT
) -> AlertsOverview:
    """Read `runtime` now (on its event loop); `off` is said when there is no runtime."""
    if runtime is None:
        return AlertsOverview(off=off)
    states = {name: views for name in names if (views := runtime.evaluator.alert_state(name))}
    dispatcher = runtime.dispatcher
    if dispatcher is None:  # a sink the caller gave (tests, embedders): no channels of ours to show
        return AlertsOverview(states=states)
    channels = tuple(_cleaned(health) for health in dispatcher.channel_health().values())
    records = tuple(
        replace(
            record, deliveries=tuple(replace(view, last_error=_clean(view.last_error)) for view in record.deliveries)
        )
        for record in dispatcher.recent(recent)
    )
    return AlertsOverview(channels, records, states)


def _cleaned(health: ChannelHealth) -> ChannelHealth:
    return replace(health, last_error=_clean(health.last_error))


def _clean(text: str) -> str:
    """A channel's error may quote what a receiver answered: hostile text, one bounded line."""
    return clean_line(text, REASON_LIMIT)
