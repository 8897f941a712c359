"""The http kind: a plain HTTP API (its findings are shown through the generic rows and rate limits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.config.models import HttpService
from core.kinds.auth import auth_json, auth_sections
from core.kinds.base import ProbeKind
from core.redact import Redactor

if TYPE_CHECKING:
    from core.snapshot import ServiceSnapshot


def describe_target(config: HttpService, redact: Redactor) -> str:
    """The URL, with the method in front unless it is GET; secrets masked."""
    method = config.method.upper()
    return redact(f"{method} {config.url}" if method != "GET" else config.url)


def report_fields(service: ServiceSnapshot) -> dict[str, Any]:
    """`auth`: why the credentials were refused, when they were (null otherwise)."""
    return {"auth": auth_json(service)}


KIND = ProbeKind(
    name="http",
    config_model=HttpService,
    probe="core.probes.http:HttpProbe",
    describe_target=describe_target,
    detail_sections=auth_sections,
    report_fields=report_fields,
)
