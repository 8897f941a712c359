"""Notification channels: one module per channel type, plus their settings (`settings`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.alerts.channels.base import Channel, DeliveryError
from core.alerts.channels.settings import (
    AlertmanagerChannel,
    AppriseChannel,
    ChannelBase,
    CommandChannel,
    WebhookChannel,
)


def build_channel(
    name: str, settings: ChannelBase, redact: Callable[[str], str], now: Callable[[], datetime]
) -> Channel:
    """The channel for one `alerts.channels` entry. Apprise is imported only when a channel uses it."""
    if isinstance(settings, WebhookChannel):
        from core.alerts.channels.webhook import Webhook

        return Webhook(name, settings, redact)
    if isinstance(settings, AlertmanagerChannel):
        from core.alerts.channels.alertmanager import Alertmanager

        return Alertmanager(name, settings, redact, now)
    if isinstance(settings, CommandChannel):
        from core.alerts.channels.command import Command

        return Command(name, settings, redact)
    if isinstance(settings, AppriseChannel):
        from core.alerts.channels.apprise import AppriseSender

        return AppriseSender(name, settings, redact)
    raise TypeError(f"no channel type for {type(settings).__name__}")


__all__ = ["Channel", "DeliveryError", "build_channel"]
