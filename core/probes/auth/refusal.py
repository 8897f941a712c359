"""A refused credential as a reason a person can act on, with what the server wants instead.

Every 401 or 403 (that is not a rate limit) is "unauthorized: HTTP 401 ...",
status down and never retried: the same token is refused the same way a
second later. The reason adds the challenge's `error` and description; the
details (`AuthDetails`) carry the whole challenge and, for a remote MCP server,
its OAuth metadata, for the detail screen and the JSON report.

Why down and not a status of its own: a refused credential means the service
is unusable by its clients (critical to Nagios, 2 to cron), every consumer
already knows the four statuses (exit codes, metrics state sets, history rows,
alert rules, the TUI), and "unauthorized:" at the start of the reason is
enough to tell it apart, with `details.auth` for machines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from core.details import AuthDetails, HttpDetails
from core.probes.auth.token_health import scopes_check
from core.probes.auth.www_authenticate import parse_challenge
from core.probes.errors import UNAUTHORIZED_PREFIX, UNAUTHORIZED_STATUSES
from core.ratelimit import RateLimitReading
from core.results import Check, ProbeError
from core.sanitize import NAME_LIMIT, clean_line


class ResponseHead(Protocol):
    """What a refusal is read from: the status line and the headers (an HTTP probe's `HttpAnswer`)."""

    @property
    def status_code(self) -> int: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def http_version(self) -> str: ...


def is_refusal(status: int | None) -> bool:
    return status in UNAUTHORIZED_STATUSES


def challenge_details(status: int, www_authenticate: str) -> AuthDetails:
    """What the refusal itself says (no metadata fetched)."""
    challenge = parse_challenge(www_authenticate)
    return AuthDetails(
        http_status=status,
        scheme=challenge.scheme or None,
        error=challenge.get("error"),
        error_description=challenge.get("error_description"),
        scope=challenge.scopes,
        resource_metadata=challenge.get("resource_metadata"),
    )


def refusal_reason(base: str, auth: AuthDetails) -> str:
    """ "unauthorized: HTTP 401 Unauthorized during the handshake: invalid_token (the token expired)"."""
    reason = base if base.startswith(UNAUTHORIZED_PREFIX) else UNAUTHORIZED_PREFIX + base
    said = [clean_line(auth.error, NAME_LIMIT)] if auth.error else []
    if auth.error_description:
        said.append(f"({clean_line(auth.error_description, NAME_LIMIT)})")
    if auth.scope:
        said.append("needs scope " + clean_line(" ".join(auth.scope), NAME_LIMIT))
    return f"{reason}: {' '.join(said)}" if said else reason


def http_refusal(
    response: ResponseHead, reading: RateLimitReading, latency_ms: float, checks: tuple[Check, ...]
) -> ProbeError:
    """An HTTP API's 401/403 (not a rate limit): unauthorized, final, with the challenge in the details."""
    code = response.status_code
    auth = challenge_details(code, response.headers.get("www-authenticate", ""))
    shown = f"HTTP {code} {response.reason_phrase}".strip()
    reason = refusal_reason(shown, auth)
    scopes = scopes_check(response.headers)
    if scopes is not None and not scopes.ok:
        reason += f"; {scopes.message}"  # GitHub's 403: the token lacks the scope this endpoint needs
    return ProbeError(
        reason,
        retryable=False,
        http_status=code,
        rate_limits=reading,
        latency_ms=latency_ms,
        details=HttpDetails(http_version=response.http_version, auth=auth),
        checks=checks,
    )
