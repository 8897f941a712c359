"""An MCP server's OAuth metadata: which authorization server, which scopes, whether clients may register.

A remote MCP server that refuses a token points at its protected-resource
metadata (RFC 9728: `resource_metadata=` in the challenge, else the well-known
URLs), which names its authorization server, whose own metadata (RFC 8414)
says the issuer, the scopes and whether dynamic client registration is
offered. Lookout reads both so a refusal says what to do next, the way the
SDK's OAuth client discovers them (its URL rules are reused).

Everything fetched is the server's: each document is read up to `BODY_LIMIT`
bytes with its own short timeout, no redirect is followed, no credential is
sent, an https server's metadata must be https too, and at most a few URLs
are tried. What was found is cached for `CACHE_TTL` per server and challenge,
so a fleet refused every 30 s does not fetch it every 30 s.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
)

from core.details import AUTH_LIST_LIMIT, AuthDetails
from core.probes.http_body import read_capped

CACHE_TTL = 3600.0
"""Seconds a server's metadata is reused before it is fetched again."""
CACHE_SIZE = 256
"""Servers remembered at most (the oldest is forgotten first)."""
BODY_LIMIT = 64 * 1024
"""Bytes of a metadata document read at most."""
FETCH_TIMEOUT = 3.0
"""Seconds one metadata request may take."""
MAX_URLS = 3
"""Discovery URLs tried at most per document."""


class MetadataCache:
    """Found metadata per (server URL, resource_metadata URL), for `ttl` seconds of `clock`."""

    def __init__(self, ttl: float = CACHE_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._found: OrderedDict[tuple[str, str], tuple[float, AuthDetails]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> AuthDetails | None:
        entry = self._found.get(key)
        if entry is None or self.clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def put(self, key: tuple[str, str], found: AuthDetails) -> None:
        self._found[key] = (self.clock(), found)
        self._found.move_to_end(key)
        while len(self._found) > CACHE_SIZE:
            self._found.popitem(last=False)


CACHE = MetadataCache()
"""Shared by every MCP probe of the process: one fetch per server an hour, across reloads."""


async def discover(
    client: httpx2.AsyncClient, server_url: str, resource_metadata: str | None, cache: MetadataCache = CACHE
) -> AuthDetails:
    """The OAuth metadata fields of `AuthDetails` for the MCP server at `server_url` (cached)."""
    key = (server_url, resource_metadata or "")
    found = cache.get(key)
    if found is None:
        found = await _fetch(client, server_url, resource_metadata)
        cache.put(key, found)
    return found


async def _fetch(client: httpx2.AsyncClient, server_url: str, resource_metadata: str | None) -> AuthDetails:
    problems: list[str] = []
    urls = build_protected_resource_metadata_discovery_urls(resource_metadata, server_url)
    where, resource = await _first_document(client, server_url, urls, problems, "protected-resource metadata")
    found = AuthDetails(resource_metadata=where or resource_metadata)
    issuer_url: str | None = None
    if resource is not None:
        servers = _strings(resource.get("authorization_servers"))
        found = replace(
            found,
            resource=_string(resource.get("resource")),
            authorization_servers=servers,
            resource_scopes=_strings(resource.get("scopes_supported")),
        )
        issuer_url = servers[0] if servers else None
    as_urls = build_oauth_authorization_server_metadata_discovery_urls(issuer_url, server_url)
    _, issuer = await _first_document(client, server_url, as_urls, problems, "authorization server metadata")
    if issuer is not None:
        found = replace(
            found,
            issuer=_string(issuer.get("issuer")),
            issuer_scopes=_strings(issuer.get("scopes_supported")),
            registration=isinstance(issuer.get("registration_endpoint"), str),
        )
    return replace(found, problems=tuple(problems))


async def _first_document(
    client: httpx2.AsyncClient, server_url: str, urls: list[str], problems: list[str], what: str
) -> tuple[str | None, dict[str, Any] | None]:
    """The first of `urls` that answers 200 with a JSON object, and where; else a problem noted."""
    tried = [url for url in urls if _allowed(url, server_url)][:MAX_URLS]
    for url in tried:
        document = await _get_json(client, url)
        if document is not None:
            return url, document
    problems.append(f"no {what} at {tried[0]}" if tried else f"no usable URL for the {what}")
    return None, None


async def _get_json(client: httpx2.AsyncClient, url: str) -> dict[str, Any] | None:
    try:
        request = client.build_request(
            "GET",
            url,
            headers={"Accept": "application/json", "MCP-Protocol-Version": "2025-06-18"},
            timeout=FETCH_TIMEOUT,
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        if response.status_code != 200:
            await response.aclose()
            return None
        body = await read_capped(response, BODY_LIMIT)
    except (httpx2.HTTPError, OSError):
        return None
    if not body.complete:
        return None
    try:
        document = json.loads(body.content)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _allowed(url: str, server_url: str) -> bool:
    """http(s) only, and never down from https: the server's own scheme or a safer one."""
    try:
        target, server = httpx2.URL(url), httpx2.URL(server_url)
    except httpx2.InvalidURL:
        return False
    if target.scheme not in ("http", "https") or not target.host:
        return False
    return not (server.scheme == "https" and target.scheme != "https")


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value[:AUTH_LIST_LIMIT] if isinstance(item, str) and item)
