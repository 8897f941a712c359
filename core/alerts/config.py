"""The `alerts:` block of services.yaml: channels, rules and recurring maintenance windows.

Validated like the rest of the config (unknown keys refused, `file:line` errors):
the shapes are checked here, references between them (a rule naming a channel or
a service that does not exist) by the loader, which knows the whole file.
"""

from __future__ import annotations

import re
from datetime import time as clock_time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from core.alerts.channels.settings import ChannelSettings
from core.config.messages import reword, show, suggest
from core.config.models import Duration, Fraction, PositiveDuration, Strict
from core.redact import MIN_FREE_TEXT_LENGTH, arg_secrets, env_secrets, header_secrets, url_secrets

CONDITIONS = ("down", "degraded", "breaker_open", "tools_changed")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
MAX_WINDOW = 7 * 86400.0
"""A maintenance window recurs at most weekly, so it may last at most a week."""


class RateLimitBelow(Strict):
    """Fires while any rate-limit resource of the service has less than this share left."""

    rate_limit_below: Fraction


class TokenExpiring(Strict):
    """Fires while the service's token runs out within this time (GitHub's expiry header, a JWT's `exp`)."""

    token_expiring: PositiveDuration


_MEASURED: dict[str, TypeAdapter[float]] = {
    "rate_limit_below": TypeAdapter(Fraction),
    "token_expiring": TypeAdapter(PositiveDuration),
}
"""The conditions written as a mapping, `{name: value}`, and what their value is."""


def _when(value: object) -> object:
    """One clear error for a mistaken `when`, rather than one per form of the union it failed to match
    ("must be a mapping", "must be one of ...", "unknown field" for each): the form is told from the value."""
    forms = ", ".join(CONDITIONS) + ", " + ", ".join(f"{{{name}: ...}}" for name in _MEASURED)
    if isinstance(value, str):
        if value not in CONDITIONS:
            raise ValueError(f"unknown condition {show(value)}{suggest(value, CONDITIONS) or '; use ' + forms}")
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"must be one condition: {forms} (got {show(value)})")
    [(name, measure)] = value.items()
    if name in CONDITIONS:
        raise ValueError(f"{name} takes no value: write `when: {name}`")
    adapter = _MEASURED.get(str(name))
    if adapter is None:
        hint = suggest(str(name), [*_MEASURED, *CONDITIONS])
        raise ValueError(f"unknown condition {show(name)}{hint or '; use ' + forms}")
    try:
        adapter.validate_python(measure)
    except ValidationError as error:
        raise ValueError(f"{name}: {reword(error.errors(include_url=False)[0], lambda loc: [])}") from None
    return value


def _start(value: object) -> str:
    if not isinstance(value, str) or not _HHMM.fullmatch(value.strip()):
        raise ValueError(f'{value!r} is not a time of day like "02:00"')
    return value.strip()


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (use names like UTC or Europe/Berlin)") from None
    return value


def _days(value: object) -> object:
    """`every: sunday` and `every: [saturday, sunday]` both read as a list; `daily` is every day."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        out: list[object] = []
        for day in value:
            if isinstance(day, str) and day.strip().lower() == "daily":
                out.extend(WEEKDAYS)
            else:
                out.append(day.strip().lower() if isinstance(day, str) else day)
        return out
    return value


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Selector(Strict):
    """Which services something applies to: by name, tag or kind. None of them given = every service."""

    services: list[str] = Field(default_factory=list, description="service names")
    tags: list[str] = Field(default_factory=list, description="services with any of these tags")
    kinds: list[str] = Field(default_factory=list, description="services of any of these kinds (http, mcp)")

    def selects(self, name: str, tags: list[str] | tuple[str, ...], kind: str) -> bool:
        if not (self.services or self.tags or self.kinds):
            return True
        return name in self.services or kind in self.kinds or any(tag in self.tags for tag in tags)


class Rule(Selector):
    """One alert rule: what is wrong, for whom, how long first, how it resolves, who is told."""

    name: str = Field(min_length=1, description="names the rule in notifications; unique")
    when: Annotated[
        Literal["down", "degraded", "breaker_open", "tools_changed"] | RateLimitBelow | TokenExpiring,
        BeforeValidator(_when),
    ] = Field(
        description="down; degraded (degraded or down); breaker_open; tools_changed (an MCP server's tools differ "
        "from the approved ones); {rate_limit_below: 10%}; or {token_expiring: 7d}"
    )
    for_: PositiveDuration | None = Field(
        None, alias="for", description="fire once the condition has held this long (not with `failures`)"
    )
    failures: int | None = Field(
        None, ge=1, le=1000, description="fire after this many bad probes in a row (default 1; not with `for`)"
    )
    successes: int = Field(1, ge=1, le=1000, description="good probes in a row that resolve the incident")
    repeat: PositiveDuration | None = Field(None, description="remind this often while still firing")
    send_resolved: bool = Field(True, description="tell the channels when the incident resolves")
    severity: str | None = Field(None, min_length=1, description='default "critical" for down, "warning" otherwise')
    channels: list[str] = Field(min_length=1, description="names from alerts.channels")
    flap_window: PositiveDuration | None = Field(
        None, description="flap damping: a reopening within this time of closing is 'flapping', told once"
    )

    @model_validator(mode="after")
    def _threshold(self) -> Rule:
        if self.for_ is not None and self.failures is not None:
            raise ValueError("give either `for` (a duration) or `failures` (a count), not both")
        return self

    @property
    def condition(self) -> str:
        """ "down", "degraded", "breaker_open", "tools_changed", "rate_limit_below" or "token_expiring"."""
        if isinstance(self.when, str):
            return self.when
        return "rate_limit_below" if isinstance(self.when, RateLimitBelow) else "token_expiring"

    @property
    def threshold_failures(self) -> int:
        return self.failures if self.failures is not None else 1

    @property
    def effective_severity(self) -> str:
        return self.severity or ("critical" if self.when == "down" else "warning")


class MaintenanceWindow(Selector):
    """A recurring stretch (every Sunday 02:00 for 1h, UTC) when notifications for its services stop."""

    every: Annotated[list[Weekday], BeforeValidator(_days)] = Field(
        min_length=1, description="daily, a weekday, or a list of weekdays"
    )
    start: Annotated[str, BeforeValidator(_start)] = Field(description='local time of day it starts, "02:00"')
    duration: Annotated[Duration, Field(gt=0, le=MAX_WINDOW)] = Field(description="how long it lasts, e.g. 1h")
    timezone: Annotated[str, AfterValidator(_timezone)] = Field("UTC", description="IANA zone name, e.g. UTC")

    @property
    def start_time(self) -> clock_time:
        hours, minutes = self.start.split(":")
        return clock_time(int(hours), int(minutes))


class AlertsSettings(Strict):
    """The `alerts:` block: where notifications go, when they are sent, when they are held back."""

    channels: dict[str, ChannelSettings] = Field(default_factory=dict, description="named notification channels")
    rules: list[Rule] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list, description="recurring quiet windows")

    def secrets(self) -> list[str]:
        """The channels' credentials, for the config's redactor: nothing printed, logged or served shows them.

        By position, as for services: credential headers, URL userinfo and query values, the HMAC key,
        a command's environment values and `--token`-style arguments. An Apprise URL carries its tokens
        in its host and path (`slack://TokenA/TokenB/TokenC`, `tgram://bottoken/chat`): every segment of
        those long enough to be one, except host names (with a dot), is a secret too.
        """
        found: list[str] = []
        for channel in self.channels.values():
            found += header_secrets(getattr(channel, "headers", None) or {})
            url = getattr(channel, "url", None)
            if url:
                found += url_secrets(url)
            for apprise in getattr(channel, "urls", None) or []:
                found += url_secrets(apprise)
                found += _apprise_tokens(apprise)
            hmac = getattr(channel, "hmac_secret", None)
            if hmac:
                found.append(hmac)
            found += env_secrets(getattr(channel, "env", None) or {})
            found += arg_secrets(getattr(channel, "args", None) or [])
        return found

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not name.strip() or not name.isprintable():
                raise ValueError(f"{name!r} is not a channel name: use printable text")
        return value


def _apprise_tokens(url: str) -> list[str]:
    _, _, rest = url.partition("://")
    rest = rest.split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    return [piece for piece in rest.split("/") if len(piece) >= MIN_FREE_TEXT_LENGTH and "." not in piece]


__all__ = ["CONDITIONS", "AlertsSettings", "MaintenanceWindow", "RateLimitBelow", "Rule", "Selector", "TokenExpiring"]
