"""`alerts.channels` read straight from services.yaml, for `lookout alerts test` alone.

Stand-in until the `alerts:` block is part of the validated Config (the rules
half of the alerts work): then `lookout alerts test` reads
`config.alerts.channels` and this module goes. It interpolates `${VAR}` like the
loader does, collects the secrets it must never print (credential-named
variables, header credentials, URL userinfo and query values, the HMAC key), and
validates each channel with the same settings models, reporting file:line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from core.alerts.channels.settings import (
    AlertmanagerChannel,
    AnyChannel,
    AppriseChannel,
    ChannelSettings,
    WebhookChannel,
)
from core.config.errors import ConfigError, ConfigIssue
from core.config.interpolate import InterpolationError, interpolate
from core.config.loader import read_config_text
from core.config.yamlnodes import YamlProblem, load_with_lines
from core.redact import Redactor, header_secrets, is_credential_name, url_secrets

CHANNEL_TYPES = ("apprise", "webhook", "alertmanager", "command")
_ADAPTER: TypeAdapter[AnyChannel] = TypeAdapter(ChannelSettings)


def load_channels(path: Path, env: Mapping[str, str] | None = None) -> tuple[dict[str, AnyChannel], Redactor]:
    """The channels under `alerts.channels` (none when the file has no `alerts:`), and a redactor for their secrets.

    Raises ConfigError (file:line, field path, what is wrong)."""
    source = str(path)
    environment = os.environ if env is None else env
    try:
        data, lines, problems = load_with_lines(read_config_text(path))
    except YamlProblem as fatal:
        raise ConfigError([ConfigIssue(source, fatal.line, _dotted(fatal.path), fatal.message)]) from None
    issues = [ConfigIssue(source, item.line, _dotted(item.path), item.message) for item in problems]

    def line_of(where: tuple[Any, ...]) -> int | None:
        while where and where not in lines:
            where = where[:-1]
        return lines.get(where)

    alerts = data.get("alerts") if isinstance(data, dict) else None
    raw = alerts.get("channels") if isinstance(alerts, dict) else None
    if raw is None:
        if issues:
            raise ConfigError(issues)
        return {}, Redactor()
    if not isinstance(raw, dict):
        raise ConfigError.single(source, "must be a mapping of channel name -> settings", line=line_of(("alerts",)))
    secrets: list[str] = []
    channels: dict[str, AnyChannel] = {}
    for name, settings in raw.items():
        where = ("alerts", "channels", name)
        try:
            expanded = _interpolate(settings, environment, secrets)
            channel = _ADAPTER.validate_python(expanded)
        except InterpolationError as error:
            issues.append(ConfigIssue(source, line_of(where), _dotted(where), str(error)))
            continue
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                loc = detail["loc"]
                if loc and loc[0] in CHANNEL_TYPES:  # the union's tag, not a field of the file
                    loc = loc[1:]
                at = (*where, *loc)
                issues.append(ConfigIssue(source, line_of(at), _dotted(at), detail["msg"]))
            continue
        secrets.extend(_channel_secrets(channel))
        channels[str(name)] = channel
    if issues:
        raise ConfigError(issues)
    return channels, Redactor(secrets)


def _interpolate(value: Any, env: Mapping[str, str], secrets: list[str]) -> Any:
    if isinstance(value, str):
        result = interpolate(value, env)
        secrets.extend(item.value for item in result.expansions if is_credential_name(item.variable))
        return result.text
    if isinstance(value, dict):
        return {key: _interpolate(item, env, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env, secrets) for item in value]
    return value


def _channel_secrets(channel: AnyChannel) -> list[str]:
    found: list[str] = []
    if isinstance(channel, WebhookChannel):
        found += url_secrets(channel.url) + header_secrets(channel.headers)
        found += [channel.hmac_secret] if channel.hmac_secret else []
    elif isinstance(channel, AlertmanagerChannel):
        found += url_secrets(channel.url) + header_secrets(channel.headers)
    elif isinstance(channel, AppriseChannel):
        for url in channel.urls:
            found += url_secrets(url)
    return found


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)
