"""What the dispatcher shows the TUI, the status API and /metrics: frozen records, read at any time."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.alerts.notification import Notification
from core.snapshot import BreakerSnapshot

RESULTS = ("delivered", "retried", "failed", "refused", "resent")
"""`lookout_notifications_total{result}`: delivered (a notification arrived), retried (an attempt beyond the
first of a round), failed (a round failed: the notification stays pending), refused (the channel's breaker
was open: nothing was sent), resent (an Alertmanager alert's periodic resend arrived)."""


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One notification on one channel."""

    channel: str
    state: str
    """pending · delivered · abandoned"""
    attempts: int
    delivered_at: float | None
    late: bool
    last_error: str


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    notification: Notification
    deliveries: tuple[DeliveryView, ...]


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    name: str
    type: str
    state: str
    """ok · failing (the last round failed) · open (the breaker refuses rounds until it admits a trial)"""
    last_error: str
    last_success: float | None
    """Unix seconds of the last delivery that arrived (None: none since start)."""
    last_failure: float | None
    pending: int
    firing: int
    """Alertmanager: alerts being re-sent until their incident resolves."""
    breaker: BreakerSnapshot


@dataclass(frozen=True, slots=True)
class NotificationStats:
    """Counts since start, by (channel, result), and the pending backlog per channel: what /metrics shows."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
