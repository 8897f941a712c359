"""The Apprise channel: one dependency for the long tail (Slack, Discord, Teams, Telegram, ntfy, email...).

Apprise's `notify` blocks (it uses requests and smtplib), so it runs in a worker
thread with Apprise's own deadline and ours around it. Apprise says why a
delivery failed only in its log; the log entries of the call are read from its
result (not from the global logger, which other deliveries share) and become the
reason, with the tokens of the channel's URLs masked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import apprise

from core.alerts.channels.base import DeliveryError, channel_redactor, safe_reason
from core.alerts.channels.settings import AppriseChannel
from core.alerts.notification import Notification, Transition

NOTIFY_TYPES = {
    Transition.FIRING: apprise.NotifyType.FAILURE,
    Transition.REMINDER: apprise.NotifyType.FAILURE,
    Transition.FLAPPING: apprise.NotifyType.WARNING,
    Transition.RESOLVED: apprise.NotifyType.SUCCESS,
    Transition.STABLE: apprise.NotifyType.SUCCESS,
    Transition.TEST: apprise.NotifyType.INFO,
}
REASON_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def render(notification: Notification, *, late: bool) -> tuple[str, str]:
    """(title, body) of the message a person reads: the summary first, then the facts."""
    title = f"[{notification.severity}] {notification.summary}" if notification.severity else notification.summary
    since = datetime.fromtimestamp(notification.since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"service: {notification.service} ({notification.kind})",
        f"status: {notification.status} (was {notification.previous_status})",
        f"rule: {notification.rule}",
        f"since: {since}",
    ]
    if notification.reason:
        lines.append(f"reason: {notification.reason}")
    if notification.dependants:
        lines.append("also failing because of it: " + ", ".join(notification.dependants))
    lines.extend(f"{name}: {url}" for name, url in notification.links.items())
    if late:
        lines.append("(delivered late: the channel was unreachable when this was decided)")
    lines.append(f"key: {notification.key}")
    return title, "\n".join(lines)


class AppriseSender:
    type = "apprise"

    def __init__(self, name: str, settings: AppriseChannel, redact: Callable[[str], str]) -> None:
        self.name = name
        self.settings = settings
        self._redact = channel_redactor(redact, settings.urls)
        self._apprise = apprise.Apprise()
        self._refused = [url for url in settings.urls if not self._apprise.add(url)]

    def accepts(self, notification: Notification) -> bool:
        return True

    async def send(self, notification: Notification, *, late: bool) -> None:
        if self._refused:
            shown = ", ".join(self._redact(url) for url in self._refused)
            raise DeliveryError(safe_reason(f"Apprise cannot use {shown}", self._redact), retryable=False)
        title, body = render(notification, late=late)
        kind = NOTIFY_TYPES.get(notification.transition, apprise.NotifyType.INFO)
        result = await asyncio.to_thread(self._notify, title, body, kind)
        if not result:
            raise DeliveryError(self._reason(result))

    def _notify(self, title: str, body: str, kind: apprise.NotifyType) -> Any:
        return self._apprise.notify(
            body=body, title=title, notify_type=kind, timeout=self.settings.timeout, log_level=logging.WARNING
        )

    def _reason(self, result: Any) -> str:
        messages = list(dict.fromkeys(_log_messages(result)))
        text = "; ".join(messages[-3:]) if messages else "Apprise could not deliver"
        return safe_reason(text, self._redact)

    async def aclose(self) -> None:
        return None


def _log_messages(result: Any) -> Iterator[str]:
    """Warnings and errors Apprise logged during this one call, oldest first."""
    for entry in result.logs():  # a failed result is falsy: never `result or ...`
        if str(entry.level).upper() in REASON_LEVELS:
            yield str(entry.message)
