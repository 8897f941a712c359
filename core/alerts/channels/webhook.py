"""The webhook channel: POST the versioned JSON body, signed if asked, with the idempotency key as a header.

The body is `Notification.to_json()` plus one field, `late` (true when the
notification could not be delivered when it was decided: the receiver was down,
or Lookout restarted in between). The HMAC-SHA256 signature covers the exact
bytes sent, so a receiver verifies the raw body before parsing it.
`Idempotency-Key` is the notification's key: delivery is at-least-once, and a
receiver that saw the key already can drop the repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx2

from core import __version__
from core.alerts.channels.base import DeliveryError, channel_redactor, safe_reason
from core.alerts.channels.settings import WebhookChannel
from core.alerts.notification import Notification
from core.redact import header_secrets

USER_AGENT = f"lookout/{__version__}"
RETRY_STATUSES = frozenset({408, 425, 429})
"""4xx answers that another attempt may fix; any other 4xx is the receiver refusing this body."""


def webhook_body(notification: Notification, *, late: bool) -> bytes:
    """The exact bytes POSTed (and signed): compact JSON, keys sorted, so a signature is reproducible."""
    document: dict[str, Any] = {**notification.to_json(), "late": late}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=<hex digest>` (GitHub's webhook convention)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    type = "webhook"

    def __init__(self, name: str, settings: WebhookChannel, redact: Callable[[str], str]) -> None:
        self.name = name
        self.settings = settings
        secrets = header_secrets(settings.headers) + ([settings.hmac_secret] if settings.hmac_secret else [])
        self._redact = channel_redactor(redact, [settings.url], secrets)
        self._client: httpx2.AsyncClient | None = None

    def accepts(self, notification: Notification) -> bool:
        return True

    async def send(self, notification: Notification, *, late: bool) -> None:
        body = webhook_body(notification, late=late)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.settings.headers,
            "Idempotency-Key": notification.key,
        }
        if self.settings.hmac_secret:
            headers[self.settings.hmac_header] = sign(self.settings.hmac_secret, body)
        await post(self._http(), self.settings.url, body, headers, self._redact)

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self.settings.timeout, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def post(
    client: httpx2.AsyncClient, url: str, body: bytes, headers: dict[str, str], redact: Callable[[str], str]
) -> None:
    """POST and judge the answer: 2xx delivered; otherwise a DeliveryError with a reason safe to show."""
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx2.TimeoutException:
        raise DeliveryError("timed out") from None
    except httpx2.HTTPError as error:
        raise DeliveryError(safe_reason(f"{type(error).__name__}: {error}", redact)) from None
    if 200 <= response.status_code < 300:
        return
    text = response.text[:200] if response.content else ""
    retryable = response.status_code >= 500 or response.status_code in RETRY_STATUSES
    reason = f"HTTP {response.status_code}" + (f": {text}" if text else "")
    raise DeliveryError(safe_reason(reason, redact), retryable=retryable)
