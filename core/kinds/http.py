"""The http kind: a plain HTTP API (its findings are shown through the generic rows and rate limits)."""

from __future__ import annotations

from core.config.models import HttpService
from core.kinds.base import ProbeKind
from core.redact import Redactor


def describe_target(config: HttpService, redact: Redactor) -> str:
    """The URL, with the method in front unless it is GET; secrets masked."""
    method = config.method.upper()
    return redact(f"{method} {config.url}" if method != "GET" else config.url)


KIND = ProbeKind(
    name="http",
    config_model=HttpService,
    probe="core.probes.http:HttpProbe",
    describe_target=describe_target,
)
