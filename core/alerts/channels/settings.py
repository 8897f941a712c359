"""The settings of each channel type, as they appear under `alerts.channels` in services.yaml.

Secrets (tokens in Apprise URLs, webhook headers, the HMAC key) come from the
environment through the config's `${VAR}` interpolation, which registers their
values with the config's redactor, so nothing printed or served shows them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field

from core.config.models import Headers, PositiveDuration, ProcessText, Strict, Timeout, _check_http_url

HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
"""An http:// or https:// URL; an error never shows its userinfo or query values."""


class ChannelBase(Strict):
    timeout: Timeout = Field(10.0, description="one delivery attempt may take this long")
    attempts: int = Field(3, ge=1, le=10, description="tries per delivery round, with backoff and jitter between")
    breaker_failures: int = Field(
        5, ge=1, le=1000, description="consecutive failed deliveries that open this channel's breaker"
    )
    breaker_reset: PositiveDuration = Field(60.0, description="how long the breaker stays open before a trial")


class AppriseChannel(ChannelBase):
    """The long tail (Slack, Discord, Teams, Telegram, ntfy, email via mailto://, ...) through Apprise."""

    type: Literal["apprise"] = "apprise"
    urls: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Apprise URLs; put tokens in ${ENV} variables"
    )


class WebhookChannel(ChannelBase):
    """POST the versioned JSON body (core.alerts.notification) to a URL."""

    type: Literal["webhook"] = "webhook"
    url: HttpUrl
    headers: Headers = Field(default_factory=dict)
    hmac_secret: str | None = Field(
        None, description="with a key (from ${ENV}), the body is signed: HMAC-SHA256 in `hmac_header`"
    )
    hmac_header: str = "X-Lookout-Signature"


class AlertmanagerChannel(ChannelBase):
    """Prometheus Alertmanager's v2 API: firing alerts re-sent every `resend` with endsAt = now + 4 x resend."""

    type: Literal["alertmanager"] = "alertmanager"
    url: HttpUrl = Field(description="Alertmanager's base URL, e.g. http://127.0.0.1:9093")
    headers: Headers = Field(default_factory=dict)
    resend: PositiveDuration = Field(60.0, description="how often a firing alert is sent again")


class CommandChannel(ChannelBase):
    """Run a program with the alert in LOOKOUT_* environment variables and as JSON on stdin."""

    type: Literal["command"] = "command"
    command: ProcessText
    args: list[ProcessText] = Field(default_factory=list)
    env: dict[str, ProcessText] = Field(default_factory=dict)


AnyChannel = AppriseChannel | WebhookChannel | AlertmanagerChannel | CommandChannel
"""Any one channel's settings, validated (what `alerts.channels` maps names to)."""

ChannelSettings = Annotated[
    Union[AppriseChannel, WebhookChannel, AlertmanagerChannel, CommandChannel],  # noqa: UP007
    Field(discriminator="type"),
]

__all__ = [
    "AlertmanagerChannel",
    "AnyChannel",
    "AppriseChannel",
    "ChannelBase",
    "ChannelSettings",
    "CommandChannel",
    "WebhookChannel",
]
