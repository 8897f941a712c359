"""What every channel is: something that delivers one notification or says why it could not.

A channel does one attempt and nothing more: the breaker, the retries and the
timeout around it are core.alerts.delivery's, so every channel type is guarded
the same way. A failure is a `DeliveryError` whose `reason` is already safe to
show (bounded, controls stripped, secrets of the channel masked): the receiver's
answer is text from outside, like a monitored server's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from core.alerts.notification import Notification
from core.redact import Redactor, url_secrets
from core.sanitize import REASON_LIMIT, clean_line


class DeliveryError(Exception):
    """One delivery attempt failed; `retryable` says whether another attempt of the same round may help."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Channel(Protocol):
    """One configured channel, ready to deliver."""

    name: str
    type: str

    def accepts(self, notification: Notification) -> bool:
        """Whether this channel sends anything for `notification` (Alertmanager has no "flapping" alert)."""
        ...

    async def send(self, notification: Notification, *, late: bool) -> None:
        """One attempt. Raises DeliveryError (never anything else but cancellation)."""
        ...

    async def aclose(self) -> None:
        """Release what the channel holds (an HTTP client)."""
        ...


def safe_reason(text: str, redact: Callable[[str], str]) -> str:
    """A failure's text as it may be shown: secrets masked first, then one bounded line."""
    return clean_line(redact(text), REASON_LIMIT)


def channel_redactor(base: Callable[[str], str], urls: Iterable[str] = (), secrets: Iterable[str] = ()) -> Redactor:
    """Masks what a channel's own settings hold (tokens in Apprise URL paths, headers, the HMAC key),
    on top of the config's redactor: an Apprise URL carries its token in the path, which no general rule knows."""
    values: list[str] = list(secrets)
    for url in urls:
        values.extend(url_secrets(url))
        values.extend(_path_parts(url))
    return _Chained(base, values)


class _Chained(Redactor):
    def __init__(self, base: Callable[[str], str], secrets: Iterable[str]) -> None:
        super().__init__(secrets)
        self._base = base

    def __call__(self, text: str) -> str:
        return super().__call__(self._base(text))


def _path_parts(url: str) -> list[str]:
    """The parts of a URL where Apprise keeps tokens: its path segments, its userinfo, and its "host" when
    that is no host name (slack://TokenA/TokenB/TokenC: a host has a dot, is localhost or an IPv6 literal)."""
    _, sep, rest = url.partition("://")
    if not sep:
        return []
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    authority, _, path = rest.partition("/")
    parts = [part for part in path.split("/") if part]
    userinfo, _, host = authority.rpartition("@")
    if userinfo:
        parts.extend(piece for piece in userinfo.split(":") if piece)
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if name and "." not in name and not name.startswith("[") and name.lower() != "localhost":
        parts.append(name)
    return parts
