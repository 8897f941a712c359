"""The Alertmanager channel: Prometheus Alertmanager's v2 API (`POST /api/v2/alerts`).

Alertmanager forgets an alert whose `endsAt` has passed, so a firing alert is
sent again every `resend` with `endsAt` = now + 4 x resend, the horizon
Prometheus itself uses: it stays firing however long the outage lasts, and if
Lookout dies it expires by itself within the horizon instead of firing forever.
(Sending it once without `endsAt` would let Alertmanager resolve it after its
`resolve_timeout` during a long outage, and fire it again on the real resolve.)
A resolve is sent once, with `endsAt` = now. Reminders, flapping and stable-again
are not separate alerts here: Alertmanager repeats and groups by itself.

The dispatcher decides when to resend (it keeps the firing incidents, also
across restarts); this module only renders and posts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx2

from core.alerts.channels.base import channel_redactor
from core.alerts.channels.settings import AlertmanagerChannel
from core.alerts.channels.webhook import USER_AGENT, post
from core.alerts.notification import Notification, Transition
from core.redact import header_secrets

HORIZON = 4
"""endsAt is this many `resend` intervals ahead of each send."""
TEST_ALERTNAME = "LookoutTest"
SENT = frozenset({Transition.FIRING, Transition.RESOLVED, Transition.TEST})


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def labels(notification: Notification) -> dict[str, str]:
    """The alert's identity in Alertmanager: the same for its firing, resends and resolve."""
    if notification.transition is Transition.TEST:
        return {"alertname": TEST_ALERTNAME, "service": "lookout", "severity": notification.severity}
    found = {
        "alertname": notification.rule,
        "service": notification.service,
        "kind": notification.kind,
        "severity": notification.severity,
    }
    if notification.tags:
        found["tags"] = ",".join(notification.tags)
    return {name: value for name, value in found.items() if value}


def alert(notification: Notification, now: datetime, resend: float, *, resolved: bool = False) -> dict[str, Any]:
    """One alert of the v2 API: startsAt = when the incident opened; endsAt = now (resolved) or the horizon."""
    ends = now if resolved else now + timedelta(seconds=HORIZON * resend)
    starts = datetime.fromtimestamp(notification.since, tz=now.tzinfo)
    document: dict[str, Any] = {
        "labels": labels(notification),
        "annotations": {"summary": notification.summary, "reason": notification.reason},
        "startsAt": _iso(min(starts, ends)),
        "endsAt": _iso(ends),
    }
    link = next(iter(notification.links.values()), None)
    if link:
        document["generatorURL"] = link
    return document


class Alertmanager:
    type = "alertmanager"

    def __init__(
        self, name: str, settings: AlertmanagerChannel, redact: Callable[[str], str], now: Callable[[], datetime]
    ) -> None:
        self.name = name
        self.settings = settings
        self.resend_every = settings.resend
        self._now = now
        self._url = settings.url.rstrip("/") + "/api/v2/alerts"
        self._redact = channel_redactor(redact, [settings.url], header_secrets(settings.headers))
        self._client: httpx2.AsyncClient | None = None

    def accepts(self, notification: Notification) -> bool:
        return notification.transition in SENT

    async def send(self, notification: Notification, *, late: bool) -> None:
        resolved = notification.transition is Transition.RESOLVED
        await self._post([alert(notification, self._now(), self.settings.resend, resolved=resolved)])

    async def resend(self, firing: Sequence[Notification]) -> None:
        """Every alert still firing, with its horizon moved on: one request for all of them."""
        now = self._now()
        await self._post([alert(item, now, self.settings.resend) for item in firing])

    async def _post(self, alerts: list[dict[str, Any]]) -> None:
        body = json.dumps(alerts, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **self.settings.headers}
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self.settings.timeout, follow_redirects=False)
        await post(self._client, self._url, body, headers, self._redact)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
