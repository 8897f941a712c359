"""Is the token about to stop working? GitHub's expiry and scope headers, and a JWT's `exp`.

A token that expires on Friday is a Friday outage that can be avoided: a probe
reports it as degraded `token_warn` ahead. Three sources, each optional:

- GitHub's `github-authentication-token-expiration` header (fine-grained and
  expiring classic tokens): "token expires in 5 days";
- `X-OAuth-Scopes` (what the token has) against `X-Accepted-OAuth-Scopes` (what
  the endpoint accepts): when the token has none of the accepted scopes, the
  missing ones are named;
- a JWT bearer's `exp` claim, decoded but not verified (Lookout holds no key, and
  only wants the date): past it the token is refused before it is sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from core.durations import format_duration
from core.probes.errors import UNAUTHORIZED_PREFIX
from core.results import Check, ProbeError, TokenExpiry

EXPIRY_HEADER = "github-authentication-token-expiration"
GRANTED_HEADER = "x-oauth-scopes"
ACCEPTED_HEADER = "x-accepted-oauth-scopes"
HEALTH_HEADERS = (EXPIRY_HEADER, GRANTED_HEADER, ACCEPTED_HEADER)
"""The response headers token health reads (a probe keeps only these)."""
JWT_LIMIT = 16 * 1024
"""A bearer longer than this is not decoded as a JWT."""
_GITHUB_FORMATS = ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S")
GITHUB_SOURCE = "GitHub token expiration header"
JWT_SOURCE = "JWT exp claim"
_PARENT_SCOPES = {"repo": ("repo:", "public_repo"), "user": ("read:user", "user:"), "project": ("read:project",)}


def github_expiry(value: str) -> datetime | None:
    """ "2026-12-01 10:00:00 UTC" (or with a -0700 offset) as an aware datetime; None if unreadable."""
    text = value.strip()[:64]
    for pattern in _GITHUB_FORMATS:
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def jwt_expiry(token: str) -> datetime | None:
    """A JWT's `exp` claim (not verified), or None when the token is no JWT or has no `exp`."""
    parts = token.split(".")
    if len(token) > JWT_LIMIT or len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def expiry_check(expires_at: datetime, now: datetime, warn: float, source: str, what: str = "token") -> Check:
    """Degraded when `expires_at` is within `warn` seconds of `now`. The date rides along on the check
    (`expiry`), so an alert rule with its own horizon (`token_expiring: 14d`) judges it without a parse."""
    left = (expires_at - now).total_seconds()
    condition = f"{what} valid for more than {format_duration(warn)}"
    expiry = TokenExpiry(expires_at, source)
    if left <= 0:
        return Check(condition, False, f"{what} expired {format_duration(-left)} ago", expiry)
    return Check(condition, left > warn, f"{what} expires in {coarse(left)}", expiry)


def scopes_check(headers: Mapping[str, str]) -> Check | None:
    """The token's scopes against the endpoint's accepted ones; None when the server sends either not."""
    accepted = _scopes(headers.get(ACCEPTED_HEADER))
    granted_header = headers.get(GRANTED_HEADER)
    if not accepted or granted_header is None:
        return None
    granted = _scopes(granted_header)
    condition = "token has one of the scopes " + ", ".join(accepted)
    if any(_covers(have, want) for want in accepted for have in granted):
        return Check(condition, True, "token scopes: " + (", ".join(granted) or "none"))
    has = ", ".join(granted) or "none"
    return Check(condition, False, f"token lacks scope {' or '.join(accepted)} (has {has})")


def token_checks(
    bearer: str | None, response_headers: Mapping[str, str], now: datetime, warn: float
) -> tuple[Check, ...]:
    """Every token-health check the answer and the token allow (none for a service without either)."""
    checks: list[Check] = []
    github = response_headers.get(EXPIRY_HEADER)
    expires = github_expiry(github) if github else None
    if expires is not None:
        checks.append(expiry_check(expires, now, warn, GITHUB_SOURCE))
    if (scopes := scopes_check(response_headers)) is not None:
        checks.append(scopes)
    jwt = jwt_expiry(bearer) if bearer else None
    if jwt is not None and expires is None:
        checks.append(expiry_check(jwt, now, warn, JWT_SOURCE, "JWT"))
    return tuple(checks)


def refuse_expired_jwt(bearer: str | None, now: datetime) -> None:
    """A JWT past its `exp` is not sent: "unauthorized: the bearer JWT expired 3h ago", final for this probe."""
    expires = jwt_expiry(bearer) if bearer else None
    if expires is not None and expires <= now:
        ago = format_duration((now - expires).total_seconds())
        raise ProbeError(f"{UNAUTHORIZED_PREFIX}the bearer JWT expired {ago} ago (not sent)", retryable=False)


def bearer_of(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if the request sends one."""
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def _scopes(value: str | None) -> tuple[str, ...]:
    return tuple(scope.strip() for scope in (value or "").split(",") if scope.strip())[:50]


def _covers(have: str, want: str) -> bool:
    """GitHub's scope tree: `repo` covers `repo:status`, `admin:org` covers `read:org`, `write:x` covers `read:x`."""
    if have == want or want.startswith(_PARENT_SCOPES.get(have, ("\0",))):
        return True
    kind, _, rest = want.partition(":")
    return bool(rest and have in (f"admin:{rest}", f"write:{rest}") and kind in ("read", "write"))


def coarse(seconds: float) -> str:
    """ "5 days", "3 hours", "12 minutes": how a person says when a token runs out."""
    left = timedelta(seconds=seconds)
    if left >= timedelta(days=2):
        return f"{left.days} days"
    if left >= timedelta(hours=2):
        return f"{int(left.total_seconds() // 3600)} hours"
    return f"{max(1, int(left.total_seconds() // 60))} minutes"
