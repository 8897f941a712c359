"""How a refused credential reads on the detail screen and in the JSON report (any kind with `details.auth`).

The record (`core.details.AuthDetails`) is already safe to show; this only
lays it out: the challenge first (what the server said), then the OAuth
metadata a remote MCP server published (who issues tokens, which scopes,
whether a client can register itself), then what could not be read.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from core.kinds.base import DetailSection

if TYPE_CHECKING:
    from core.details import AuthDetails
    from core.snapshot import ServiceSnapshot


def auth_of(service: ServiceSnapshot) -> AuthDetails | None:
    from core.details import AuthDetails  # here: the config loader reads this module before `--once` spawns a server

    auth = getattr(service.details, "auth", None)
    return auth if isinstance(auth, AuthDetails) else None


def auth_json(service: ServiceSnapshot) -> dict[str, Any] | None:
    """The `auth` block of the JSON report: null unless the last refusal explained itself."""
    auth = auth_of(service)
    if auth is None:
        return None
    found = asdict(auth)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in found.items()}


def auth_sections(service: ServiceSnapshot) -> tuple[DetailSection, ...]:
    """An "Authorization" section when the service refused the credentials, else none."""
    auth = auth_of(service)
    if auth is None:
        return ()
    facts: list[tuple[str, str]] = []
    if auth.http_status is not None:
        facts.append(("refused with", f"HTTP {auth.http_status}"))
    if auth.scheme:
        facts.append(("challenge", auth.scheme))
    if auth.error:
        facts.append(("error", auth.error))
    if auth.error_description:
        facts.append(("description", auth.error_description))
    if auth.scope:
        facts.append(("asks for scopes", " ".join(auth.scope)))
    if auth.resource_metadata:
        facts.append(("resource metadata", auth.resource_metadata))
    if auth.resource:
        facts.append(("resource", auth.resource))
    if auth.authorization_servers:
        facts.append(("authorization servers", ", ".join(auth.authorization_servers)))
    if auth.resource_scopes:
        facts.append(("resource scopes", " ".join(auth.resource_scopes)))
    if auth.issuer:
        facts.append(("issuer", auth.issuer))
    if auth.issuer_scopes:
        facts.append(("issuer scopes", " ".join(auth.issuer_scopes)))
    if auth.registration is not None:
        facts.append(("dynamic registration", "offered" if auth.registration else "not offered"))
    facts.extend(("not found", problem) for problem in auth.problems)
    return (DetailSection("Authorization", facts=tuple(facts)),)


def auth_from_json(given: Any) -> AuthDetails | None:
    """`auth_json` read back (an attached monitor reads a serve's report): a wrong type becomes nothing."""
    if not isinstance(given, dict):
        return None

    def text(name: str) -> str | None:
        value = given.get(name)
        return value if isinstance(value, str) else None

    def texts(name: str) -> tuple[str, ...]:
        value = given.get(name)
        return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()

    from core.details import AuthDetails

    status = given.get("http_status")
    registration = given.get("registration")
    return AuthDetails(
        http_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        scheme=text("scheme"),
        error=text("error"),
        error_description=text("error_description"),
        scope=texts("scope"),
        resource_metadata=text("resource_metadata"),
        resource=text("resource"),
        authorization_servers=texts("authorization_servers"),
        resource_scopes=texts("resource_scopes"),
        issuer=text("issuer"),
        issuer_scopes=texts("issuer_scopes"),
        registration=registration if isinstance(registration, bool) else None,
        problems=texts("problems"),
    )
