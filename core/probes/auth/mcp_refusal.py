"""A remote MCP server's 401/403, explained: the challenge, and the OAuth metadata it points at.

The failure's reason and retry decision are already made (`errors.http_status_failure`:
"unauthorized: ...", final); this adds what the challenge said and what the
server's protected-resource and authorization-server metadata say, read by
`metadata` (bounded, cached for an hour). A metadata fetch that fails says so
in `problems` and never hides the refusal itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx2

from core.details import AuthDetails, McpDetails
from core.probes.auth import metadata
from core.probes.auth.refusal import challenge_details, refusal_reason
from core.results import ProbeError

DISCOVERY_BUDGET = 5.0
"""Seconds all metadata requests of one refusal may take together; past it the refusal is shown without them."""


async def explain(
    failure: ProbeError,
    www_authenticate: str,
    client: httpx2.AsyncClient,
    server_url: str,
    transport: str,
    service_name: str,
) -> ProbeError:
    """`failure` (a 401/403) with the challenge in its reason and the whole story in its details.

    When the server names an OAuth authorization server, the reason ends with how to sign in.
    """
    status = failure.http_status or 401
    auth = challenge_details(status, www_authenticate)
    try:
        async with asyncio.timeout(DISCOVERY_BUDGET):
            found = await metadata.discover(client, server_url, auth.resource_metadata)
    except TimeoutError:
        found = AuthDetails(problems=(f"the OAuth metadata did not arrive within {DISCOVERY_BUDGET:g}s",))
    auth = replace(
        found,
        http_status=auth.http_status,
        scheme=auth.scheme,
        error=auth.error,
        error_description=auth.error_description,
        scope=auth.scope,
        resource_metadata=found.resource_metadata or auth.resource_metadata,
    )
    failure.reason = refusal_reason(failure.reason, auth)
    if auth.issuer or auth.authorization_servers:
        failure.reason += f"; sign in with `lookout login {service_name}`"
    failure.details = McpDetails(transport=transport, auth=auth)
    return failure
